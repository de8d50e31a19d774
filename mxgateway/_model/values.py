"""Python values to and from ``MxValue``.

===========================  ===========================  ======================
Python                       ``MxValue`` case             ``data_type`` / VARIANT
===========================  ===========================  ======================
``None``                     ``is_null = true``           requested / ``VT_NULL``
``bool``                     ``bool_value``               BOOLEAN / ``VT_BOOL``
``int`` in int32 range       ``int32_value``              INTEGER / ``VT_I4``
``int`` in int64 range       ``int64_value``              INTEGER / ``VT_I8``
``float``                    ``double_value``             DOUBLE / ``VT_R8``
``float`` (FLOAT requested)  ``float_value``              FLOAT / ``VT_R4``
``str``                      ``string_value``             STRING / ``VT_BSTR``
aware ``datetime``           ``timestamp_value``          TIME / ``VT_DATE``
``timedelta``                ``duration_value``           ELAPSED_TIME / ``VT_I8``
``bytes``                    ``bytes_value`` (opaque)     requested / ``VT_RECORD``
``list`` or ``tuple``        ``array_value``              element type / ``VT_ARRAY``
===========================  ===========================  ======================

``to_mx_value(value, data_type)`` takes an optional ``MxDataType`` (the value of a
``mxaccess_gateway_pb2.MX_DATA_TYPE_*`` constant) to convert for an attribute of that
type: an ``int`` for FLOAT or DOUBLE becomes a float, STRING-like types
(REFERENCE, BIG_STRING, INTERNATIONALIZED_STRING) take ``str``, the enum-like
integer types (DATA_TYPE_ENUM, SECURITY_CLASSIFICATION_ENUM, DATA_QUALITY) take
``int``, and the record types (STATUS, QUALIFIED_ENUM, QUALIFIED_STRUCT) take
``bytes``. INTEGER is 32-bit in MXAccess: a larger number is a ``ValueError``; with
no requested type an integer is int32 when it fits, else int64, else ``ValueError``.

Rejected, as ``MxGatewayArgumentError`` naming ``value`` (also a ``ValueError``
and a ``TypeError``): nan and ±inf, integers past int64, text with an unpaired
surrogate, naive datetimes, durations past ±10,000 years, a value whose Python
type does not fit the requested type, nested, mixed-type or None-holding arrays,
and unsupported types (a dict, a set, any other object). A ``bool`` is never
taken for an ``int``. ``check_value`` says the same about a value before its
attribute's type is known, without converting it.

``from_mx_value(mx)`` returns ``None`` for null (or a value with no case set),
``bool``, ``int``, ``float``, ``str``, a UTC ``datetime``, ``timedelta``, ``bytes``
or a ``list`` for an array.
"""

from __future__ import annotations

import datetime as dt
import math
import reprlib
from collections.abc import Callable
from typing import Any

from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp

from mxgateway.errors import MxGatewayArgumentError
from mxgateway.generated import mxaccess_gateway_pb2 as pb

__all__ = [
    "MxPythonValue",
    "check_value",
    "data_type_name",
    "from_mx_value",
    "tag_value",
    "timestamp_to_datetime",
    "to_mx_value",
]

#: What ``from_mx_value`` returns.
MxPythonValue = bool | int | float | str | dt.datetime | dt.timedelta | bytes | list[Any] | None

_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_FLOAT32_MAX = 3.4028234663852886e38
_UTC = dt.timezone.utc
#: What a protobuf Duration holds: about ±10,000 years.
_DURATION_MAX = dt.timedelta(seconds=315_576_000_000)
#: What a value may be, for the message of one that is not.
_FORMS = "None, a bool, int, float, str, aware datetime, timedelta, bytes, or a list of one of them"

_UNSPECIFIED = pb.MX_DATA_TYPE_UNSPECIFIED
_BOOLEAN = pb.MX_DATA_TYPE_BOOLEAN
_INTEGER = pb.MX_DATA_TYPE_INTEGER
_FLOAT = pb.MX_DATA_TYPE_FLOAT
_DOUBLE = pb.MX_DATA_TYPE_DOUBLE
_STRING = pb.MX_DATA_TYPE_STRING
_TIME = pb.MX_DATA_TYPE_TIME
_ELAPSED = pb.MX_DATA_TYPE_ELAPSED_TIME
_NO_DATA = pb.MX_DATA_TYPE_NO_DATA

_STRING_TYPES = frozenset(
    {
        _STRING,
        pb.MX_DATA_TYPE_REFERENCE,
        pb.MX_DATA_TYPE_BIG_STRING,
        pb.MX_DATA_TYPE_INTERNATIONALIZED_STRING,
    }
)
_INTEGER_TYPES = frozenset(
    {
        _INTEGER,
        pb.MX_DATA_TYPE_DATA_TYPE_ENUM,
        pb.MX_DATA_TYPE_SECURITY_CLASSIFICATION_ENUM,
        pb.MX_DATA_TYPE_DATA_QUALITY,
    }
)
_RECORD_TYPES = frozenset(
    {pb.MX_DATA_TYPE_STATUS, pb.MX_DATA_TYPE_QUALIFIED_ENUM, pb.MX_DATA_TYPE_QUALIFIED_STRUCT}
)


def data_type_name(data_type: int) -> str:
    """``"DOUBLE"`` for ``MX_DATA_TYPE_DOUBLE`` (the number itself when unknown)."""
    try:
        return pb.MxDataType.Name(data_type).removeprefix("MX_DATA_TYPE_")  # type: ignore[arg-type]
    except ValueError:
        return str(data_type)


class _Unfit(Exception):
    """What is wrong with a value (its message), raised inside the conversion."""


def _check_finite(value: float) -> None:
    if not math.isfinite(value):
        raise _Unfit("it is not a finite number")


def _scalar_problem(value: object) -> str | None:
    """What makes ``value`` impossible as a scalar whatever the attribute's type; None when nothing."""
    if value is None or isinstance(value, (bool, bytes, bytearray, memoryview)):
        return None
    if isinstance(value, int):
        # Past int64 it may still be a DOUBLE or FLOAT attribute's value, as a float.
        try:
            float(value)
        except OverflowError:
            return "it is too large for any MXAccess number"
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else "it is not a finite number"
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "it is not valid text (it holds an unpaired surrogate)"
        return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            return "a naive datetime is ambiguous: give it a timezone (e.g. datetime.timezone.utc)"
        try:
            value.astimezone(_UTC)
        except OverflowError:
            return "it is out of the range of a UTC time"
        return None
    if isinstance(value, dt.timedelta):
        return None if -_DURATION_MAX <= value <= _DURATION_MAX else "it is out of the range of a duration"
    if isinstance(value, (list, tuple)):
        return "MXAccess arrays are one-dimensional: nested lists are not allowed"
    return f"{type(value).__name__} has no MXAccess form (give {_FORMS})"


def _shape_problem(value: object) -> str | None:
    """What makes ``value`` impossible to write whatever the attribute's type; None when nothing."""
    if not isinstance(value, (list, tuple)):
        return _scalar_problem(value)
    if _plainly_fine(value):
        return None
    kinds = {_element_kind(v) for v in value}
    if len(kinds) > 1 and not kinds <= {int, float}:  # ints and floats: a FLOAT or DOUBLE array
        return f"an array must hold one type, got {', '.join(sorted(k.__name__ for k in kinds))}"
    if type(None) in kinds:
        return "array elements cannot be None"
    for index, element in enumerate(value):  # find the first bad one, for its message
        problem = _scalar_problem(element)
        if problem is not None:
            return f"element {index}: {problem}"
    return None


def _plainly_fine(values: list[Any] | tuple[Any, ...]) -> bool:
    """True when every element is certainly fine, found in C-level passes.

    A 10,000-element array checked element by element in Python cost half as much
    again as converting it. False sends the caller element by element.
    """
    exact = set(map(type, values))
    if not exact or exact in ({bool}, {bytes}, {bytearray}):
        return True
    if exact == {float}:
        return all(map(math.isfinite, values))
    if exact <= {int, float}:
        try:
            return all(map(math.isfinite, map(float, values)))
        except OverflowError:
            return False
    if exact == {str}:
        joined = "".join(values)
        return joined.isascii() or _encodes(joined)
    return False


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_value(name: str, value: object) -> None:
    """Raise ``MxGatewayArgumentError`` naming ``name`` when no attribute could take ``value``.

    A ready ``MxValue`` passes. Whether the value fits the attribute's type is known
    only with that type: ``to_mx_value`` and ``tag_value`` say so, in the same words.
    """
    if isinstance(value, pb.MxValue):
        return
    problem = _shape_problem(value)
    if problem is not None:
        raise _argument_error(name, value, problem)


def _argument_error(name: str, value: object, problem: str, tag: str = "") -> MxGatewayArgumentError:
    where = f"written to {tag}" if tag else "sent to MXAccess"
    return MxGatewayArgumentError(f"{name} {reprlib.repr(value)} cannot be {where}: {problem}", argument=name)


def _scalar(value: object, data_type: int, out: pb.MxValue) -> None:
    """Fill ``out`` with the scalar ``value`` for ``data_type`` (UNSPECIFIED: infer)."""
    if value is None:
        out.is_null = True
        out.variant_type = pb.VT_NULL
        out.data_type = data_type  # type: ignore[assignment]
        return
    if isinstance(value, bool):
        if data_type not in (_UNSPECIFIED, _BOOLEAN):
            raise _Unfit(f"a bool cannot be written as {data_type_name(data_type)}")
        out.data_type = _BOOLEAN
        out.variant_type = pb.VT_BOOL
        out.bool_value = value
    elif isinstance(value, int):
        if data_type in (_FLOAT, _DOUBLE):
            _raise_if_problem(value)
            _float(float(value), data_type, out)
            return
        if data_type != _UNSPECIFIED and data_type not in _INTEGER_TYPES:
            raise _Unfit(f"an int cannot be written as {data_type_name(data_type)}")
        out.data_type = data_type or _INTEGER  # type: ignore[assignment]
        if _INT32_MIN <= value <= _INT32_MAX:
            out.variant_type = pb.VT_I4
            out.int32_value = value
        elif data_type == _UNSPECIFIED and _INT64_MIN <= value <= _INT64_MAX:
            out.variant_type = pb.VT_I8
            out.int64_value = value
        else:
            limit = "int32" if data_type != _UNSPECIFIED else "int64"
            raise _Unfit(f"it is out of the {limit} range of {data_type_name(out.data_type)}")
    elif isinstance(value, float):
        if data_type not in (_UNSPECIFIED, _FLOAT, _DOUBLE):
            raise _Unfit(f"a float cannot be written as {data_type_name(data_type)}")
        _float(value, data_type or _DOUBLE, out)
    elif isinstance(value, str):
        if data_type != _UNSPECIFIED and data_type not in _STRING_TYPES:
            raise _Unfit(f"a str cannot be written as {data_type_name(data_type)}")
        _raise_if_problem(value)
        out.data_type = data_type or _STRING  # type: ignore[assignment]
        out.variant_type = pb.VT_BSTR
        out.string_value = value
    elif isinstance(value, dt.datetime):
        if data_type not in (_UNSPECIFIED, _TIME):
            raise _Unfit(f"a datetime cannot be written as {data_type_name(data_type)}")
        _raise_if_problem(value)
        out.data_type = _TIME
        out.variant_type = pb.VT_DATE
        out.timestamp_value.FromDatetime(value.astimezone(_UTC))
    elif isinstance(value, dt.timedelta):
        if data_type not in (_UNSPECIFIED, _ELAPSED):
            raise _Unfit(f"a timedelta cannot be written as {data_type_name(data_type)}")
        _raise_if_problem(value)
        out.data_type = _ELAPSED
        out.variant_type = pb.VT_I8
        out.duration_value.FromTimedelta(value)
    elif isinstance(value, (bytes, bytearray, memoryview)):
        if data_type != _UNSPECIFIED and data_type not in _RECORD_TYPES:
            raise _Unfit(f"bytes cannot be written as {data_type_name(data_type)}")
        out.data_type = data_type  # type: ignore[assignment]
        out.variant_type = pb.VT_RECORD
        out.bytes_value = bytes(value)
    else:
        _raise_if_problem(value)
        raise _Unfit(f"{type(value).__name__} has no MXAccess form (give {_FORMS})")  # pragma: no cover


def _raise_if_problem(value: object) -> None:
    problem = _scalar_problem(value)
    if problem is not None:
        raise _Unfit(problem)


def _float(value: float, data_type: int, out: pb.MxValue) -> None:
    _check_finite(value)
    out.data_type = data_type  # type: ignore[assignment]
    if data_type == _FLOAT:
        if abs(value) > _FLOAT32_MAX:
            raise _Unfit("it is out of the range of FLOAT (32-bit)")
        out.variant_type = pb.VT_R4
        out.float_value = value
    else:
        out.variant_type = pb.VT_R8
        out.double_value = value


def _element_kind(value: object) -> type:
    """The Python type arrays must agree on (bytes-likes count as one)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes
    if isinstance(value, dt.datetime):
        return dt.datetime
    return type(value)


def _array(values: list[Any] | tuple[Any, ...], data_type: int, out: pb.MxValue) -> None:
    kinds = {_element_kind(v) for v in values}
    if data_type in (_FLOAT, _DOUBLE) and kinds <= {int, float}:
        kinds = {float}  # the requested type settles it: ints widen to float
    if len(kinds) > 1:
        names = ", ".join(sorted(k.__name__ for k in kinds))
        raise _Unfit(f"an array must hold one type, got {names}")
    kind = next(iter(kinds), None)
    if kind in (list, tuple):
        raise _Unfit("MXAccess arrays are one-dimensional: nested lists are not allowed")
    if kind is type(None):
        raise _Unfit("array elements cannot be None")
    element_type = data_type
    if kind is int and data_type == _UNSPECIFIED and not all(_INT32_MIN <= v <= _INT32_MAX for v in values):
        # One wide element makes the whole array int64 so the elements agree.
        element_type = _UNSPECIFIED
        elements = out.array_value.elements
        for v in values:
            if not _INT64_MIN <= v <= _INT64_MAX:
                raise _Unfit(f"element {v} is out of the int64 range")
            elements.add(data_type=_INTEGER, variant_type=pb.VT_I8, int64_value=v)
        out.data_type = _INTEGER
        out.variant_type = pb.VT_ARRAY
        out.array_value.element_data_type = _INTEGER
        out.array_value.element_variant_type = pb.VT_I8
        return
    elements = out.array_value.elements
    for v in values:
        _scalar(v, element_type, elements.add())
    first = elements[0] if values else None
    resolved = first.data_type if first is not None else data_type
    out.data_type = resolved  # type: ignore[assignment]
    out.variant_type = pb.VT_ARRAY
    out.array_value.element_data_type = resolved  # type: ignore[assignment]
    out.array_value.element_variant_type = first.variant_type if first is not None else pb.VT_EMPTY
    if first is None:
        out.array_value.SetInParent()


def to_mx_value(value: object, data_type: int | None = None, *, argument: str = "value") -> pb.MxValue:
    """The ``MxValue`` for a Python value (see the module docstring for the mapping).

    ``data_type`` is an ``MxDataType`` value to convert for; None infers it. A value
    MXAccess cannot hold, or one that does not fit ``data_type``, raises
    ``MxGatewayArgumentError`` (a ``ValueError`` and a ``TypeError``) naming
    ``argument`` and what is wrong.
    """
    try:
        return _convert(value, data_type)
    except _Unfit as exc:
        raise _argument_error(argument, value, str(exc)) from None


def _convert(value: object, data_type: int | None) -> pb.MxValue:
    requested = data_type or _UNSPECIFIED
    if requested == _NO_DATA:
        if value is not None:
            raise _Unfit("NO_DATA holds no value: only None can be written")
        return pb.MxValue(data_type=_NO_DATA, variant_type=pb.VT_EMPTY, is_null=True)
    out = pb.MxValue()
    if isinstance(value, (list, tuple)):
        _array(value, requested, out)
    else:
        _scalar(value, requested, out)
    return out


def tag_value(tag: str, value: object, data_type: int | None) -> pb.MxValue:
    """``to_mx_value`` for a write of ``tag``: a value that does not fit names the tag and the value."""
    if isinstance(value, pb.MxValue):
        return value
    try:
        return _convert(value, data_type)
    except _Unfit as exc:
        raise _argument_error("value", value, str(exc), tag) from None


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=_UTC)
#: timedelta(days, seconds, microseconds), called positionally: keywords cost more per call.
_timedelta = dt.timedelta


def timestamp_to_datetime(ts: Timestamp) -> dt.datetime:
    """An aware UTC datetime for a protobuf Timestamp (microsecond precision)."""
    # Twice as fast as Timestamp.ToDatetime, which matters once per event.
    return _EPOCH + _timedelta(0, ts.seconds, ts.nanos // 1000)


def _duration(d: Duration) -> dt.timedelta:
    return d.ToTimedelta()


def _array_value(array: pb.MxArray) -> list[Any]:
    return [from_mx_value(e) for e in array.elements]


_READERS: dict[str, Callable[[Any], Any]] = {
    "bool_value": bool,
    "int32_value": int,
    "int64_value": int,
    "float_value": float,
    "double_value": float,
    "string_value": str,
    "timestamp_value": timestamp_to_datetime,
    "duration_value": _duration,
    "bytes_value": bytes,
    "array_value": _array_value,
}


def from_mx_value(mx: pb.MxValue) -> MxPythonValue:
    """The Python value of an ``MxValue`` (None for null)."""
    if mx.is_null:
        return None
    case = mx.WhichOneof("value")
    if case is None:
        return None
    result: MxPythonValue = _READERS[case](getattr(mx, case))
    return result
