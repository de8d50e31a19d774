"""MXAccess data types as Sparkplug B metric types: chosen once, at birth, and never changed.

Every metric's Sparkplug type comes from the Galaxy's description of its attribute
(data type and whether it is an array), not from the values that happen to arrive,
so a metric keeps the type its DBIRTH declared for the whole session. Values are
converted to that type; arrays use the Sparkplug 3.0 array types, packed little
endian in ``bytes_value``:

==============================================  ==========================
MXAccess                                        Sparkplug (array)
==============================================  ==========================
BOOLEAN                                         Boolean (BooleanArray)
INTEGER, DATA_TYPE_ENUM, SECURITY_CLASSIFICATION Int32 (Int32Array)
_ENUM, DATA_QUALITY
FLOAT                                           Float (FloatArray)
DOUBLE                                          Double (DoubleArray)
ELAPSED_TIME (seconds)                          Double (DoubleArray)
STRING, BIG_STRING, INTERNATIONALIZED_STRING,   String (StringArray)
REFERENCE
TIME (ms since the epoch, UTC)                  DateTime (DateTimeArray)
STATUS, QUALIFIED_ENUM, QUALIFIED_STRUCT        Bytes (String: JSON list of base64)
NO_DATA, unknown                                String (String: JSON)
==============================================  ==========================
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from mxgateway import DataType
from mxgateway.generated import sparkplug_b_pb2 as spb

__all__ = ["MetricKind", "command_value", "encoded_value", "metric_kind", "set_value", "varint"]

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def varint(value: int) -> bytes:
    """The protobuf varint of a non-negative integer."""
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def millis(value: dt.datetime) -> int:
    """Milliseconds since the epoch of an aware datetime (UTC)."""
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def _seconds(value: Any) -> float:
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


def _pack(code: str, convert: Callable[[Any], Any]) -> Callable[[Sequence[Any]], bytes]:
    def pack(values: Sequence[Any]) -> bytes:
        return struct.pack(f"<{len(values)}{code}", *(convert(v) for v in values))

    return pack


def _pack_booleans(values: Sequence[Any]) -> bytes:
    # A 4-byte little-endian count, then the bits, the first value in the highest bit of the first byte.
    out = bytearray(len(values).to_bytes(4, "little"))
    for start in range(0, len(values), 8):
        byte = 0
        for offset, flag in enumerate(values[start : start + 8]):
            if flag:
                byte |= 0x80 >> offset
        out.append(byte)
    return bytes(out)


def _pack_strings(values: Sequence[Any]) -> bytes:
    return b"".join(str(v).encode("utf-8") + b"\x00" for v in values)


def _json_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(_jsonable(value), separators=(",", ":"))


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def _int32(value: Any) -> int:
    number = int(value)
    if not -(2**31) <= number < 2**31:
        raise ValueError(f"{number} does not fit Int32")
    return number & 0xFFFFFFFF


@dataclass(frozen=True)
class MetricKind:
    """A metric's Sparkplug type and how a Python value becomes its protobuf value field."""

    datatype: int
    field: str
    convert: Callable[[Any], Any]

    @property
    def name(self) -> str:
        """The Sparkplug name of the type (``DoubleArray``)."""
        return _type_name(self.datatype)


def _type_name(datatype: int) -> str:
    for name, number in spb.DataType.items():
        if number == datatype:
            return name
    return str(datatype)


_INT32 = MetricKind(spb.Int32, "int_value", _int32)
_DOUBLE_SECONDS = MetricKind(spb.Double, "double_value", _seconds)
_TEXT = MetricKind(spb.String, "string_value", _json_text)

_SCALARS: dict[DataType, MetricKind] = {
    DataType.BOOLEAN: MetricKind(spb.Boolean, "boolean_value", bool),
    DataType.INTEGER: _INT32,
    DataType.DATA_TYPE_ENUM: _INT32,
    DataType.SECURITY_CLASSIFICATION_ENUM: _INT32,
    DataType.DATA_QUALITY: _INT32,
    DataType.FLOAT: MetricKind(spb.Float, "float_value", float),
    DataType.DOUBLE: MetricKind(spb.Double, "double_value", float),
    DataType.ELAPSED_TIME: _DOUBLE_SECONDS,
    DataType.STRING: MetricKind(spb.String, "string_value", str),
    DataType.BIG_STRING: MetricKind(spb.String, "string_value", str),
    DataType.INTERNATIONALIZED_STRING: MetricKind(spb.String, "string_value", str),
    DataType.REFERENCE: MetricKind(spb.String, "string_value", str),
    DataType.TIME: MetricKind(spb.DateTime, "long_value", millis),
    DataType.STATUS: MetricKind(spb.Bytes, "bytes_value", bytes),
    DataType.QUALIFIED_ENUM: MetricKind(spb.Bytes, "bytes_value", bytes),
    DataType.QUALIFIED_STRUCT: MetricKind(spb.Bytes, "bytes_value", bytes),
}
_INT32_ARRAY = MetricKind(spb.Int32Array, "bytes_value", _pack("i", int))
_STRING_ARRAY = MetricKind(spb.StringArray, "bytes_value", _pack_strings)
_ARRAYS: dict[DataType, MetricKind] = {
    DataType.BOOLEAN: MetricKind(spb.BooleanArray, "bytes_value", _pack_booleans),
    DataType.INTEGER: _INT32_ARRAY,
    DataType.DATA_TYPE_ENUM: _INT32_ARRAY,
    DataType.SECURITY_CLASSIFICATION_ENUM: _INT32_ARRAY,
    DataType.DATA_QUALITY: _INT32_ARRAY,
    DataType.FLOAT: MetricKind(spb.FloatArray, "bytes_value", _pack("f", float)),
    DataType.DOUBLE: MetricKind(spb.DoubleArray, "bytes_value", _pack("d", float)),
    DataType.ELAPSED_TIME: MetricKind(spb.DoubleArray, "bytes_value", _pack("d", _seconds)),
    DataType.STRING: _STRING_ARRAY,
    DataType.BIG_STRING: _STRING_ARRAY,
    DataType.INTERNATIONALIZED_STRING: _STRING_ARRAY,
    DataType.REFERENCE: _STRING_ARRAY,
    DataType.TIME: MetricKind(spb.DateTimeArray, "bytes_value", _pack("q", millis)),
}


def metric_kind(data_type: DataType, is_array: bool) -> MetricKind:
    """The Sparkplug type of an attribute; where none fits, the documented string form."""
    table = _ARRAYS if is_array else _SCALARS
    return table.get(data_type, _TEXT)


def kind_of_value(value: Any, data_type: DataType) -> MetricKind:
    """The type of a tag the Galaxy did not describe, from its first value (fixed from then on)."""
    if value is None and data_type in (DataType.UNSPECIFIED, DataType.NO_DATA):
        return _TEXT
    return metric_kind(data_type, isinstance(value, list))


def set_value(metric: spb.Payload.Metric, value: Any, kind: MetricKind) -> bool:
    """Set the value of ``metric`` (its type is ``kind``); False when the value does not fit it.

    A value that does not fit (an MXAccess value of another type than the Galaxy
    said) is sent as null: the type declared at birth never changes.
    """
    if value is None:
        metric.is_null = True
        return True
    try:
        setattr(metric, kind.field, kind.convert(value))
    except (TypeError, ValueError, OverflowError, struct.error):
        metric.is_null = True
        return False
    return True


def _length_delimited(tag: bytes) -> Callable[[bytes], bytes]:
    def encode(data: bytes) -> bytes:
        return tag + varint(len(data)) + data

    return encode


def _unsigned(tag: bytes) -> Callable[[int], bytes]:
    def encode(number: int) -> bytes:
        if number < 0:
            raise ValueError(f"{number} is negative")
        return tag + varint(number)

    return encode


_F32, _F64 = struct.Struct("<f").pack, struct.Struct("<d").pack
_STRING = _length_delimited(b"\x7a")
#: Metric value field -> its encoded bytes (field number and wire type, as sparkplug_b.proto numbers them).
_FIELD_BYTES: dict[str, Callable[[Any], bytes]] = {
    "int_value": _unsigned(b"\x50"),
    "long_value": _unsigned(b"\x58"),
    "float_value": lambda v: b"\x65" + _F32(v),
    "double_value": lambda v: b"\x69" + _F64(v),
    "boolean_value": lambda v: b"\x70\x01" if v else b"\x70\x00",
    "string_value": lambda v: _STRING(v.encode("utf-8")),
    "bytes_value": _length_delimited(b"\x82\x01"),
}
_NULL = b"\x38\x01"


def encoded_value(value: Any, kind: MetricKind) -> bytes:
    """A metric's value field, encoded as ``set_value`` would set it (``is_null`` when it does not fit)."""
    if value is None:
        return _NULL
    try:
        return _FIELD_BYTES[kind.field](kind.convert(value))
    except (TypeError, ValueError, OverflowError, struct.error, UnicodeEncodeError):
        return _NULL


def _unpack(code: str, data: bytes) -> list[Any]:
    size = struct.calcsize(code)
    if len(data) % size:
        raise ValueError(f"{len(data)} bytes are not a whole number of {size}-byte elements")
    return list(struct.unpack(f"<{len(data) // size}{code}", data))


def _unpack_booleans(data: bytes) -> list[bool]:
    if len(data) < 4:
        raise ValueError("a BooleanArray starts with a 4-byte count")
    count = int.from_bytes(data[:4], "little")
    bits = [bool(byte & (0x80 >> i)) for byte in data[4:] for i in range(8)]
    if len(bits) < count:
        raise ValueError(f"a BooleanArray of {count} values needs {(count + 7) // 8} bytes")
    return bits[:count]


def _from_millis(ms: int) -> dt.datetime:
    # Whole numbers only: timedelta(milliseconds=...) goes through a float and can be off by 1 us.
    return _EPOCH + dt.timedelta(seconds=ms // 1000, microseconds=ms % 1000 * 1000)


def _signed(value: int, bits: int) -> int:
    return value - (1 << bits) if value >= 1 << (bits - 1) else value


def command_value(metric: spb.Payload.Metric, declared: MetricKind) -> Any:
    """The Python value a command metric (NCMD/DCMD) writes; ``ValueError`` when it has none that fits.

    The metric's own ``datatype`` (when a host sends one) must be the type the
    birth declared; the value field must be the one that type uses.
    """
    if metric.is_null:
        raise ValueError("the command carries a null value")
    if metric.HasField("datatype") and metric.datatype not in (0, declared.datatype):
        sent = _type_name(metric.datatype)
        raise ValueError(f"the command is {sent} but the metric is {declared.name}")
    case = metric.WhichOneof("value")
    if case != declared.field:
        raise ValueError(
            f"a {declared.name} metric takes {declared.field}, the command has {case or 'no value'}"
        )
    raw = getattr(metric, case)
    datatype = declared.datatype
    if datatype == spb.Int32:
        return _signed(raw, 32)
    if datatype == spb.DateTime:
        return _from_millis(raw)
    if datatype in _ARRAY_DECODERS:
        return _ARRAY_DECODERS[datatype](raw)
    if declared is _DOUBLE_SECONDS:
        return dt.timedelta(seconds=raw)
    return raw


_ARRAY_DECODERS: dict[int, Callable[[bytes], list[Any]]] = {
    spb.BooleanArray: _unpack_booleans,
    spb.Int32Array: lambda data: _unpack("i", data),
    spb.FloatArray: lambda data: _unpack("f", data),
    spb.DoubleArray: lambda data: _unpack("d", data),
    spb.StringArray: lambda data: [s.decode("utf-8") for s in data.split(b"\x00")[:-1]],
    spb.DateTimeArray: lambda data: [_from_millis(v) for v in _unpack("q", data)],
}
