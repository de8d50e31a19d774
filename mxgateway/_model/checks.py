"""Argument checks: a bad argument is a typed error naming it, raised before anything is sent.

``@checked`` looks at a method's parameter names once, when the class is defined,
and checks each call's arguments by the rule its name has here (``server_handle``
is an int32 handle, ``tags`` a list of tag names, ``timeout`` at most a year of
seconds or None, ``value`` anything MXAccess can hold ...). What depends on more
than the argument itself (a value against the attribute's data type) is checked
where it is converted, with the same error. The failure is ``MxGatewayArgumentError``, which is
also a ``TypeError`` and a ``ValueError``, so existing ``except`` clauses still work.
"""

from __future__ import annotations

import datetime as dt
import functools
import inspect
import math
import operator
import os
from collections.abc import Callable, Iterable, Iterator, Sequence, Sized
from typing import Any, TypeVar

from mxgateway.errors import MxGatewayArgumentError
from mxgateway.options import MAX_TIMEOUT_S, USE_CLIENT_DEFAULT

__all__ = [
    "MAX_FILTER_ITEMS",
    "MAX_FILTER_TEXT",
    "MAX_TIMEOUT_S",
    "MAX_WAIT_S",
    "RULES",
    "check_timeout",
    "checked",
]

F = TypeVar("F", bound=Callable[..., Any])

INT32_MAX = 2**31 - 1
UINT64_MAX = 2**64 - 1
#: The longest ``wait`` of a read: the gateway takes it as an int32 of milliseconds.
MAX_WAIT_S = INT32_MAX / 1000
#: The longest text of a Galaxy filter (a glob, a tag name, a contained path, a
#: template name) or name: Galaxy tag names hold at most 32 characters and
#: hierarchical names a few hundred, so this refuses only mistakes.
MAX_FILTER_TEXT = 1024
#: The most entries of a Galaxy filter's list (category ids, template names).
MAX_FILTER_ITEMS = 1000
#: A file path's limits on common file systems (Linux PATH_MAX and NAME_MAX).
MAX_PATH_BYTES = 4096
MAX_PATH_PART_BYTES = 255
_MISSING = object()
_STR_ONLY = frozenset({str})
_INT_ONLY = frozenset({int})


def _fail(name: str, expected: str, value: object) -> MxGatewayArgumentError:
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return MxGatewayArgumentError(f"{name} must be {expected}, not {shown}", argument=name)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int_in(label: str, low: int, high: int, expected: str) -> Callable[[str, object], None]:
    def check(name: str, value: object) -> None:
        if not _is_int(value) or not low <= value <= high:  # type: ignore[operator]
            raise _fail(name, expected, value)

    check.__name__ = check.__qualname__ = label
    return check


handle = _int_in("handle", 0, INT32_MAX, "an int32 handle (0 to 2**31-1)")
user_id = _int_in("user_id", 0, INT32_MAX, "an int32 user id (0 to 2**31-1, 0 for none)")
count32 = _int_in("count32", 0, INT32_MAX, "a count from 0 to 2**31-1")
sequence64 = _int_in("sequence64", 0, UINT64_MAX, "a worker sequence from 0 to 2**64-1")


def text(name: str, value: object) -> None:
    """A string (empty allowed)."""
    if not isinstance(value, str):
        raise _fail(name, "a string", value)
    _check_utf8(name, value)


def nonempty_text(name: str, value: object) -> None:
    """A non-empty string."""
    text(name, value)
    if not value:
        raise _fail(name, "a non-empty string", value)


def tag(name: str, value: object) -> None:
    """One tag reference such as ``Tank_001.Level``."""
    if not isinstance(value, str) or not value.strip():
        raise _fail(name, "a tag name such as 'Tank_001.Level'", value)
    _check_utf8(name, value)


def tags(name: str, value: object) -> None:
    """A tag name, or a list of them (not empty)."""
    if isinstance(value, str):
        tag(name, value)
        return
    if not isinstance(value, Sequence) or isinstance(value, (bytes, bytearray)):
        raise _fail(name, "a list of tag names", value)
    if not value:
        raise _fail(name, "a list of at least one tag name", value)
    if _all_tags(value):
        return
    for index, item in enumerate(value):  # find the first bad one, for its message
        tag(f"{name}[{index}]", item)


def _all_tags(value: Sequence[object]) -> bool:
    """True when every item is a non-blank ``str`` that encodes as UTF-8.

    C-level passes over the whole list: a 10,000-tag call checked item by item in
    Python cost more than the call itself. False sends the caller item by item.
    """
    if not set(map(type, value)) <= _STR_ONLY:
        return False
    if not all(map(str.strip, value)):  # type: ignore[arg-type]
        return False
    joined = "".join(value)  # type: ignore[arg-type]
    if joined.isascii():
        return True
    try:
        joined.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def handles(name: str, value: object) -> None:
    """A list of item handles."""
    if not isinstance(value, Sequence) or isinstance(value, (str, bytes, bytearray)):
        raise _fail(name, "a list of int32 handles", value)
    if not value or (set(map(type, value)) <= _INT_ONLY and min(value) >= 0 and max(value) <= INT32_MAX):
        return  # the usual case, in C-level passes
    for index, item in enumerate(value):  # find the first bad one, for its message
        handle(f"{name}[{index}]", item)


def _index(value: object) -> int | None:
    """``value`` as an int when it is one (numpy's integers too), never a bool."""
    if isinstance(value, bool):
        return None
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        return None


def optional_count32(name: str, value: object) -> None:
    """A count from 0 to 2**31-1 (any integer type), or None."""
    if value is None:
        return
    number = _index(value)
    if number is None or not 0 <= number <= INT32_MAX:
        raise _fail(name, "a count from 0 to 2**31-1", value)


positive32 = _int_in("positive32", 1, INT32_MAX, "a whole number from 1 to 2**31-1")


def _collection(name: str, value: object, expected: str) -> Iterable[object]:
    """The items to check; none for a one-shot iterator (checking would use it up)."""
    if isinstance(value, (str, bytes, bytearray)) or not isinstance(value, Iterable):
        raise _fail(name, expected, value)
    return () if isinstance(value, Iterator) else value


def ids(name: str, value: object) -> None:
    """Any collection of int32 ids (0 to 2**31-1; numpy's integers too)."""
    for index, item in enumerate(_collection(name, value, "a list of int32 ids")):
        number = _index(item)
        if number is None or not 0 <= number <= INT32_MAX:
            raise _fail(f"{name}[{index}]", "an int32 id (0 to 2**31-1)", item)


def file_path(name: str, value: object) -> None:
    """A file name the system can take: a ``str`` or an ``os.PathLike`` of one, not blank.

    No NUL, at most ``MAX_PATH_BYTES`` in all and ``MAX_PATH_PART_BYTES`` per
    name (in the file system's encoding): the limits of common file systems,
    checked before any work that would be lost when the file cannot be made.
    """
    path = os.fspath(value) if isinstance(value, os.PathLike) else value
    if not isinstance(path, str):
        raise _fail(name, "a file path (str or pathlib.Path)", value)
    if not path.strip():
        raise _fail(name, "a file path that is not blank", value)
    if "\0" in path:
        raise _fail(name, "a file path without NUL characters", value)
    try:
        encoded = os.fsencode(path)
    except UnicodeEncodeError:
        raise _fail(name, "a file path the file system's encoding can hold", value) from None
    if os.altsep:  # Windows: either slash separates names
        encoded = encoded.replace(os.fsencode(os.altsep), os.fsencode(os.sep))
    parts = encoded.split(os.fsencode(os.sep))
    if len(encoded) > MAX_PATH_BYTES or any(len(part) > MAX_PATH_PART_BYTES for part in parts):
        raise _fail(
            name,
            f"a file path of at most {MAX_PATH_BYTES} bytes, each name at most {MAX_PATH_PART_BYTES}",
            value,
        )


def label(name: str, value: object) -> None:
    """A name to show (a Galaxy file's name): non-blank text of at most ``MAX_FILTER_TEXT`` characters."""
    text(name, value)
    if not value.strip():  # type: ignore[attr-defined]
        raise _fail(name, "a non-blank string", value)
    if len(value) > MAX_FILTER_TEXT:  # type: ignore[arg-type]
        raise _fail(name, f"at most {MAX_FILTER_TEXT} characters long", value)


def filter_text(name: str, value: object) -> None:
    """A Galaxy filter's text (a glob, a tag name, a contained path): at most ``MAX_FILTER_TEXT`` characters."""
    text(name, value)
    if len(value) > MAX_FILTER_TEXT:  # type: ignore[arg-type]
        raise _fail(name, f"at most {MAX_FILTER_TEXT} characters long", value)


def optional_filter_text(name: str, value: object) -> None:
    """A Galaxy filter's text, or None."""
    if value is not None:
        filter_text(name, value)


def filter_texts(name: str, value: object) -> None:
    """A filter text, or a collection of at most ``MAX_FILTER_ITEMS`` of them."""
    if isinstance(value, str):
        filter_text(name, value)
        return
    items = list(_collection(name, value, "a string or a list of strings"))
    if len(items) > MAX_FILTER_ITEMS:
        raise _fail(name, f"at most {MAX_FILTER_ITEMS} strings", value)
    for index, item in enumerate(items):
        filter_text(f"{name}[{index}]", item)


def filter_ids(name: str, value: object) -> None:
    """A collection of at most ``MAX_FILTER_ITEMS`` int32 ids."""
    ids(name, value)
    if isinstance(value, Sized) and len(value) > MAX_FILTER_ITEMS:
        raise _fail(name, f"at most {MAX_FILTER_ITEMS} ids", value)


def optional_callable(name: str, value: object) -> None:
    """A callable, or None."""
    if value is not None and not callable(value):
        raise _fail(name, "a callable or None", value)


def optional_timestamp(name: str, value: object) -> None:
    """A ``datetime``, or None."""
    if value is not None:
        timestamp(name, value)


def boolean(name: str, value: object) -> None:
    """True or False."""
    if not isinstance(value, bool):
        raise _fail(name, "True or False", value)


def optional_boolean(name: str, value: object) -> None:
    """True, False or None."""
    if value is not None:
        boolean(name, value)


def _seconds_in(value: float, low: float, high: float, *, low_allowed: bool) -> bool:
    """``low < value <= high`` (``low <= value`` when ``low_allowed``); any int size, nan and inf out."""
    if isinstance(value, float) and not math.isfinite(value):
        return False
    return (low <= value if low_allowed else low < value) and value <= high


def check_timeout(name: str, value: object) -> None:
    """A call's deadline: seconds up to ``MAX_TIMEOUT_S``, None (no deadline) or ``USE_CLIENT_DEFAULT``."""
    if value is None or value is USE_CLIENT_DEFAULT:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(name, "a number of seconds, None or USE_CLIENT_DEFAULT", value)
    if not _seconds_in(value, 0, MAX_TIMEOUT_S, low_allowed=False):
        raise _fail(
            name, f"more than 0 and at most {MAX_TIMEOUT_S} seconds (a year; None: no deadline)", value
        )


def _seconds_up_to(label: str, high: float, meaning: str) -> Callable[[str, object], None]:
    def check(name: str, value: object) -> None:
        if value is None:
            return
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _fail(name, "a number of seconds or None", value)
        if not _seconds_in(value, 0, high, low_allowed=True):
            raise _fail(name, f"from 0 to {high:g} seconds ({meaning}; None: no limit)", value)

    check.__name__ = check.__qualname__ = label
    return check


#: A wait: seconds from 0 up to a year, or None.
seconds_or_none = _seconds_up_to("seconds_or_none", MAX_TIMEOUT_S, "a year")
#: MXAccess's own wait for values: it travels as an int32 of milliseconds.
wait_seconds = _seconds_up_to(
    "wait_seconds", MAX_WAIT_S, "what an int32 of milliseconds holds, about 24.8 days"
)


def write_value(name: str, value: object) -> None:
    """A value to write: one MXAccess can hold, whatever the attribute's type (see ``values``)."""
    from mxgateway._model.values import check_value

    check_value(name, value)


def optional_positive(name: str, value: object) -> None:
    """A count of at least 1, or None (no limit)."""
    if value is None:
        return
    if not _is_int(value) or not 1 <= value <= INT32_MAX:  # type: ignore[operator]
        raise _fail(name, "a positive int or None (no limit)", value)


def positive_seconds(name: str, value: object) -> None:
    """A positive, finite number of seconds."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(name, "a number of seconds", value)
    if not math.isfinite(value) or value <= 0:
        raise _fail(name, "a positive, finite number of seconds", value)


def timestamp(name: str, value: object) -> None:
    """A ``datetime``."""
    if not isinstance(value, dt.datetime):
        raise _fail(name, "a datetime", value)


def optional_data_type(name: str, value: object) -> None:
    """An ``MxDataType`` number, or None."""
    if value is not None and (not _is_int(value) or not 0 <= value <= 255):  # type: ignore[operator]
        raise _fail(name, "an MxDataType (such as DataType.DOUBLE) or None", value)


def entries(name: str, value: object) -> None:
    """A list of ``WriteEntry``."""
    from mxgateway._model.results import WriteEntry

    if not isinstance(value, Sequence) or isinstance(value, (str, bytes)):
        raise _fail(name, "a list of WriteEntry", value)
    for index, entry in enumerate(value):
        if not isinstance(entry, WriteEntry):
            raise _fail(f"{name}[{index}]", "a WriteEntry", entry)
        handle(f"{name}[{index}].item_handle", entry.item_handle)
        user_id(f"{name}[{index}].user_id", entry.user_id)
        user_id(f"{name}[{index}].current_user_id", entry.current_user_id)
        user_id(f"{name}[{index}].verifier_user_id", entry.verifier_user_id)
        optional_data_type(f"{name}[{index}].data_type", entry.data_type)
        write_value(f"{name}[{index}].value", entry.value)
        if entry.timestamp is not None:
            timestamp(f"{name}[{index}].timestamp", entry.timestamp)


def command(name: str, value: object) -> None:
    """A generated ``MxCommand``."""
    from mxgateway.generated import mxaccess_gateway_pb2 as pb

    if not isinstance(value, pb.MxCommand):
        raise _fail(name, "an MxCommand", value)


def command_request(name: str, value: object) -> None:
    """A generated ``MxCommandRequest``."""
    from mxgateway.generated import mxaccess_gateway_pb2 as pb

    if not isinstance(value, pb.MxCommandRequest):
        raise _fail(name, "an MxCommandRequest", value)


def _check_utf8(name: str, value: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _fail(name, "valid text (it holds an unpaired surrogate)", value) from None


#: The rule for each parameter name of the public API.
RULES: dict[str, Callable[[str, Any], None]] = {
    "server_handle": handle,
    "item_handle": handle,
    "item_handles": handles,
    "client_name": text,
    "item_context": text,
    "user_name": nonempty_text,
    "password": text,
    "tags": tags,
    "tag": tag,
    "user_id": user_id,
    "current_user_id": user_id,
    "verifier_user_id": user_id,
    "max_events": count32,
    "timeout_ms": count32,
    "page_size": count32,
    "timeout": check_timeout,
    "wait": wait_seconds,
    "outcome_timeout": seconds_or_none,
    # Recordings and trends.
    "seconds": seconds_or_none,
    "max_changes": optional_positive,
    "refresh": positive_seconds,
    "supervisory": boolean,
    "value": write_value,
    "recover": optional_boolean,
    "entries": entries,
    "timestamp": timestamp,
    "data_type": optional_data_type,
    "after_worker_sequence": sequence64,
    "client_session_name": text,
    "client_correlation_id": text,
    "session_id": nonempty_text,
    "command": command,
    "request": command_request,
    # The Galaxy Repository's filters and walks.
    "root_gobject_id": optional_count32,
    "parent_gobject_id": optional_count32,
    "root_tag_name": optional_filter_text,
    "parent_tag_name": optional_filter_text,
    "root_contained_path": optional_filter_text,
    "parent_contained_path": optional_filter_text,
    "max_depth": optional_count32,
    "category_ids": filter_ids,
    "template_chain_contains": filter_texts,
    "tag_name_glob": filter_text,
    "glob": filter_text,
    "include_attributes": boolean,
    "alarm_bearing_only": boolean,
    "historized_only": boolean,
    "path": file_path,
    "name": label,
    "on_progress": optional_callable,
    "last_seen_deploy_time": optional_timestamp,
    # Alarms.
    "prefix": text,
    "reference": nonempty_text,
    "comment": text,
    "operator": text,
    "operator_node": text,
    "operator_domain": text,
    "operator_full_name": text,
    "queue_size": positive32,
}


def checked(function: F) -> F:
    """Check ``function``'s arguments by ``RULES`` before it runs (sync, or returning a coroutine)."""
    signature = inspect.signature(function)
    plan: list[tuple[int, str, Callable[[str, Any], None], object]] = []
    for position, parameter in enumerate(signature.parameters.values()):
        rule = RULES.get(parameter.name)
        if rule is None:
            continue
        index = position if parameter.kind is parameter.POSITIONAL_OR_KEYWORD else -1
        default = parameter.default if parameter.default is not parameter.empty else _MISSING
        plan.append((index, parameter.name, rule, default))

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        for index, name, rule, default in plan:
            if 0 <= index < len(args):
                value = args[index]
            else:
                value = kwargs.get(name, default)
                if value is _MISSING:
                    continue  # left to Python's own "missing argument" error
            if value is not default or default is _MISSING:
                rule(name, value)
        return function(*args, **kwargs)

    if inspect.iscoroutinefunction(function) and hasattr(inspect, "markcoroutinefunction"):
        inspect.markcoroutinefunction(wrapper)
    return wrapper  # type: ignore[return-value]
