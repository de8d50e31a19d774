"""Galaxy values to and from ``MxValue``, the way the simulated worker converts them.

This is the server's own conversion: it mirrors what the production worker puts on
the wire (``data_type`` = native number + 1, the COM ``VARIANT`` tag, the native
number in ``raw_data_type``) and how it type-checks a written value against the
attribute it is written to.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from mxgateway.generated import mxaccess_gateway_pb2 as pb
from mxgateway.simulator import galaxy as gx
from mxgateway.simulator.galaxy import GalaxyAttribute, Value

_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
_FLOAT32_MAX = 3.4028234663852886e38

_INTEGER_TYPES = frozenset(
    {gx.MX_INTEGER, gx.MX_DATA_TYPE_ENUM, gx.MX_SECURITY_CLASSIFICATION_ENUM, gx.MX_DATA_QUALITY}
)
_STRING_TYPES = frozenset({gx.MX_STRING, gx.MX_REFERENCE, gx.MX_INTERNATIONALIZED_STRING, gx.MX_BIG_STRING})
_RECORD_TYPES = frozenset({gx.MX_STATUS, gx.MX_QUALIFIED_ENUM, gx.MX_QUALIFIED_STRUCT})

#: The COM VARIANT tag each native data type travels as.
VARIANT_TYPES: dict[int, pb.VariantType.ValueType] = {
    gx.MX_NO_DATA: pb.VT_EMPTY,
    gx.MX_BOOLEAN: pb.VT_BOOL,
    gx.MX_INTEGER: pb.VT_I4,
    gx.MX_FLOAT: pb.VT_R4,
    gx.MX_DOUBLE: pb.VT_R8,
    gx.MX_STRING: pb.VT_BSTR,
    gx.MX_TIME: pb.VT_DATE,
    gx.MX_ELAPSED_TIME: pb.VT_I8,
    gx.MX_REFERENCE: pb.VT_BSTR,
    gx.MX_STATUS: pb.VT_RECORD,
    gx.MX_DATA_TYPE_ENUM: pb.VT_I4,
    gx.MX_SECURITY_CLASSIFICATION_ENUM: pb.VT_I4,
    gx.MX_DATA_QUALITY: pb.VT_I4,
    gx.MX_QUALIFIED_ENUM: pb.VT_RECORD,
    gx.MX_QUALIFIED_STRUCT: pb.VT_RECORD,
    gx.MX_INTERNATIONALIZED_STRING: pb.VT_BSTR,
    gx.MX_BIG_STRING: pb.VT_BSTR,
}


def mx_data_type(native: int) -> pb.MxDataType.ValueType:
    """The contract's ``MxDataType`` of a native MXAccess data type number."""
    return pb.MxDataType.ValueType(native + 1)


class ValueTypeMismatch(ValueError):
    """A written ``MxValue`` that the attribute's data type cannot take."""


def timestamp_from_datetime(value: dt.datetime) -> Timestamp:
    """A protobuf Timestamp for an aware datetime."""
    stamp = Timestamp()
    stamp.FromDatetime(value.astimezone(dt.timezone.utc))
    return stamp


def timestamp_from_ns(ns: int) -> Timestamp:
    """A protobuf Timestamp for nanoseconds since the epoch."""
    return Timestamp(seconds=ns // 1_000_000_000, nanos=ns % 1_000_000_000)


def to_mx_value(value: Value, data_type: int, *, is_array: bool = False) -> pb.MxValue:
    """The ``MxValue`` of an attribute value (or of one element when ``is_array`` is false)."""
    if is_array:
        elements = value if isinstance(value, list) else []
        return pb.MxValue(
            data_type=mx_data_type(data_type),
            variant_type=pb.VT_ARRAY,
            raw_data_type=data_type,
            array_value=pb.MxArray(
                element_data_type=mx_data_type(data_type),
                element_variant_type=VARIANT_TYPES.get(data_type, pb.VT_VARIANT),
                elements=[to_mx_value(element, data_type) for element in elements],
            ),
        )
    mx = pb.MxValue(
        data_type=mx_data_type(data_type),
        variant_type=VARIANT_TYPES.get(data_type, pb.VT_VARIANT),
        raw_data_type=data_type,
    )
    if value is None or data_type == gx.MX_NO_DATA:
        mx.is_null = True
        if data_type != gx.MX_NO_DATA:
            mx.variant_type = pb.VT_NULL
    elif data_type == gx.MX_BOOLEAN:
        mx.bool_value = bool(value)
    elif data_type in _INTEGER_TYPES:
        mx.int32_value = int(value)  # type: ignore[arg-type]
    elif data_type == gx.MX_FLOAT:
        mx.float_value = float(value)  # type: ignore[arg-type]
    elif data_type == gx.MX_DOUBLE:
        mx.double_value = float(value)  # type: ignore[arg-type]
    elif data_type in _STRING_TYPES:
        mx.string_value = str(value)
    elif data_type == gx.MX_TIME and isinstance(value, dt.datetime):
        mx.timestamp_value.CopyFrom(timestamp_from_datetime(value))
    elif data_type == gx.MX_ELAPSED_TIME and isinstance(value, dt.timedelta):
        mx.duration_value.FromTimedelta(value)
    elif data_type == gx.MX_ELAPSED_TIME and isinstance(value, (int, float)):
        # A counter schedule drives some ElapsedTime attributes with plain seconds.
        mx.duration_value.FromTimedelta(dt.timedelta(seconds=float(value)))
    elif data_type in _RECORD_TYPES and isinstance(value, bytes):
        mx.bytes_value = value
    else:
        mx.is_null = True
        mx.variant_type = pb.VT_NULL
        mx.raw_diagnostic = f"no wire form for {type(value).__name__} as data type {data_type}"
    return mx


def attribute_mx_value(attribute: GalaxyAttribute, value: Value, index: int | None) -> pb.MxValue:
    """The ``MxValue`` an item on ``attribute`` reports (``index``: 1-based element or None)."""
    if attribute.is_array and index is None:
        return to_mx_value(value, attribute.mx_data_type, is_array=True)
    return to_mx_value(value, attribute.mx_data_type)


def element_of(value: Value, index: int | None) -> Value:
    """The 1-based element ``index`` of an array value, or the value itself for None."""
    if index is None:
        return value
    if isinstance(value, list) and 0 < index <= len(value):
        element: Value = value[index - 1]
        return element
    return None


def from_mx_value(mx: pb.MxValue, attribute: GalaxyAttribute, index: int | None) -> Value:
    """The Python value of a written ``MxValue`` for an item on ``attribute``.

    Raises ``ValueTypeMismatch`` when the value's case does not fit the attribute's
    data type (integers widen to Float and Double; nothing else converts).
    """
    if attribute.is_array and index is None:
        if mx.WhichOneof("value") != "array_value":
            raise ValueTypeMismatch(f"{attribute.full_tag_reference} is an array: write an array value")
        elements = mx.array_value.elements
        if len(elements) != attribute.array_dimension:
            raise ValueTypeMismatch(
                f"{attribute.full_tag_reference} holds {attribute.array_dimension} elements, "
                f"got {len(elements)}"
            )
        return [_scalar_from_mx(e, attribute.mx_data_type, attribute.full_tag_reference) for e in elements]
    return _scalar_from_mx(mx, attribute.mx_data_type, attribute.full_tag_reference)


def _scalar_from_mx(mx: pb.MxValue, data_type: int, reference: str) -> Value:
    case = mx.WhichOneof("value")
    if mx.is_null or case is None:
        raise ValueTypeMismatch(f"{reference}: a null value cannot be written")
    raw: Any = getattr(mx, case)
    if data_type == gx.MX_BOOLEAN and case == "bool_value":
        return bool(raw)
    if data_type in _INTEGER_TYPES and case in ("int32_value", "int64_value"):
        if not _INT32_MIN <= raw <= _INT32_MAX:
            raise ValueTypeMismatch(f"{reference}: {raw} is out of the Integer range")
        return int(raw)
    if data_type in (gx.MX_FLOAT, gx.MX_DOUBLE) and case in (
        "float_value",
        "double_value",
        "int32_value",
        "int64_value",
    ):
        number = float(raw)
        if not math.isfinite(number) or (data_type == gx.MX_FLOAT and abs(number) > _FLOAT32_MAX):
            raise ValueTypeMismatch(f"{reference}: {number} is not a finite value of its type")
        return number
    if data_type in _STRING_TYPES and case == "string_value":
        return str(raw)
    if data_type == gx.MX_TIME and case == "timestamp_value":
        return mx.timestamp_value.ToDatetime(tzinfo=dt.timezone.utc)
    if data_type == gx.MX_ELAPSED_TIME and case == "duration_value":
        return mx.duration_value.ToTimedelta()
    if data_type in _RECORD_TYPES and case == "bytes_value":
        return bytes(raw)
    type_name = gx.DATA_TYPE_NAMES.get(data_type, str(data_type))
    raise ValueTypeMismatch(f"{reference} is {type_name}: cannot write {case.removesuffix('_value')}")


def timestamp_of(mx: pb.MxValue) -> dt.datetime:
    """The time carried by Write2's ``timestamp_value`` (raises ``ValueTypeMismatch`` otherwise)."""
    if mx.WhichOneof("value") != "timestamp_value":
        raise ValueTypeMismatch("the write timestamp must be a Time value")
    return mx.timestamp_value.ToDatetime(tzinfo=dt.timezone.utc)
