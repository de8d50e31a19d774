"""Argument checks: a bad argument is a typed error naming it, raised before anything is sent.

``@checked`` looks at a method's parameter names once, when the class is defined,
and checks each call's arguments by the rule its name has here (``server_handle``
is an int32 handle, ``tags`` a list of tag names, ``timeout`` a finite
number of seconds or None ...). Parameters without a rule (``value``) are left to
the code that converts them. The failure is ``MxGatewayArgumentError``, which is
also a ``TypeError`` and a ``ValueError``, so existing ``except`` clauses still work.
"""

from __future__ import annotations

import datetime as dt
import functools
import inspect
import math
import operator
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

from mxgateway.errors import MxGatewayArgumentError
from mxgateway.options import USE_CLIENT_DEFAULT

__all__ = ["RULES", "checked", "check_timeout"]

F = TypeVar("F", bound=Callable[..., Any])

INT32_MAX = 2**31 - 1
UINT64_MAX = 2**64 - 1
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


def optional_text(name: str, value: object) -> None:
    """A string, or None."""
    if value is not None:
        text(name, value)


def _collection(name: str, value: object, expected: str) -> Iterable[object]:
    """The items to check; none for a one-shot iterator (checking would use it up)."""
    if isinstance(value, (str, bytes, bytearray)) or not isinstance(value, Iterable):
        raise _fail(name, expected, value)
    return () if isinstance(value, Iterator) else value


def texts(name: str, value: object) -> None:
    """A string, or any collection of strings."""
    if isinstance(value, str):
        text(name, value)
        return
    for index, item in enumerate(_collection(name, value, "a string or a list of strings")):
        text(f"{name}[{index}]", item)


def ids(name: str, value: object) -> None:
    """Any collection of int32 ids (0 to 2**31-1; numpy's integers too)."""
    for index, item in enumerate(_collection(name, value, "a list of int32 ids")):
        number = _index(item)
        if number is None or not 0 <= number <= INT32_MAX:
            raise _fail(f"{name}[{index}]", "an int32 id (0 to 2**31-1)", item)


def file_path(name: str, value: object) -> None:
    """A file name: a ``str`` or an ``os.PathLike``."""
    if isinstance(value, str):
        nonempty_text(name, value)
    elif not isinstance(value, os.PathLike):
        raise _fail(name, "a file path (str or pathlib.Path)", value)


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


def check_timeout(name: str, value: object) -> None:
    """A call's deadline: positive finite seconds, None (no deadline) or ``USE_CLIENT_DEFAULT``."""
    if value is None or value is USE_CLIENT_DEFAULT:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(name, "a number of seconds, None or USE_CLIENT_DEFAULT", value)
    if not math.isfinite(value) or value <= 0:
        raise _fail(name, "a positive, finite number of seconds (None: no deadline)", value)


def seconds_or_none(name: str, value: object) -> None:
    """A wait: finite seconds not below 0, or None."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(name, "a number of seconds or None", value)
    if not math.isfinite(value) or value < 0:
        raise _fail(name, "a finite number of seconds, not negative (None: no limit)", value)


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
    "wait": seconds_or_none,
    "outcome_timeout": seconds_or_none,
    # Recordings and trends.
    "seconds": seconds_or_none,
    "max_changes": optional_positive,
    "refresh": positive_seconds,
    "supervisory": boolean,
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
    "root_tag_name": optional_text,
    "parent_tag_name": optional_text,
    "root_contained_path": optional_text,
    "parent_contained_path": optional_text,
    "max_depth": optional_count32,
    "category_ids": ids,
    "template_chain_contains": texts,
    "tag_name_glob": text,
    "glob": text,
    "include_attributes": boolean,
    "alarm_bearing_only": boolean,
    "historized_only": boolean,
    "path": file_path,
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
