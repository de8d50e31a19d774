"""Data types of Galaxy attributes: MXAccess type numbers, default values and the JSON form of values.

Also the classification and category numbers a Galaxy file uses, and the error a
file that does not follow the format raises.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

#: Native MXAccess data type numbers and their names.
MX_NO_DATA = 0
MX_BOOLEAN = 1
MX_INTEGER = 2
MX_FLOAT = 3
MX_DOUBLE = 4
MX_STRING = 5
MX_TIME = 6
MX_ELAPSED_TIME = 7
MX_REFERENCE = 8
MX_STATUS = 9
MX_DATA_TYPE_ENUM = 10
MX_SECURITY_CLASSIFICATION_ENUM = 11
MX_DATA_QUALITY = 12
MX_QUALIFIED_ENUM = 13
MX_QUALIFIED_STRUCT = 14
MX_INTERNATIONALIZED_STRING = 15
MX_BIG_STRING = 16

DATA_TYPE_NAMES: dict[int, str] = {
    MX_NO_DATA: "NoData",
    MX_BOOLEAN: "Boolean",
    MX_INTEGER: "Integer",
    MX_FLOAT: "Float",
    MX_DOUBLE: "Double",
    MX_STRING: "String",
    MX_TIME: "Time",
    MX_ELAPSED_TIME: "ElapsedTime",
    MX_REFERENCE: "Reference",
    MX_STATUS: "Status",
    MX_DATA_TYPE_ENUM: "DataTypeEnum",
    MX_SECURITY_CLASSIFICATION_ENUM: "SecurityClassificationEnum",
    MX_DATA_QUALITY: "DataQuality",
    MX_QUALIFIED_ENUM: "QualifiedEnum",
    MX_QUALIFIED_STRUCT: "QualifiedStruct",
    MX_INTERNATIONALIZED_STRING: "InternationalizedString",
    MX_BIG_STRING: "BigString",
}

#: ArchestrA security classifications (GalaxyAttribute.security_classification).
SECURITY_FREE_ACCESS = 0
SECURITY_OPERATE = 1
SECURITY_SECURED_WRITE = 2
SECURITY_VERIFIED_WRITE = 3
SECURITY_TUNE = 4
SECURITY_CONFIGURE = 5
SECURITY_VIEW_ONLY = 6

#: Galaxy category of an area object.
CATEGORY_AREA = 13
CATEGORY_APPLICATION_OBJECT = 10
CATEGORY_ENGINE = 3

#: Python value of a simulated attribute: scalar, or a list for an array.
Value = bool | int | float | str | dt.datetime | dt.timedelta | bytes | list[Any] | None

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


class GalaxyFormatError(ValueError):
    """A Galaxy file that does not follow the format."""


def default_value(data_type: int, is_array: bool = False, dimension: int = 0) -> Value:
    """The value an attribute of this type holds before anything is written."""
    if is_array:
        return [default_value(data_type) for _ in range(dimension)]
    if data_type == MX_BOOLEAN:
        return False
    if data_type in (MX_INTEGER, MX_DATA_TYPE_ENUM, MX_SECURITY_CLASSIFICATION_ENUM, MX_DATA_QUALITY):
        return 0
    if data_type in (MX_FLOAT, MX_DOUBLE):
        return 0.0
    if data_type in (MX_STRING, MX_REFERENCE, MX_INTERNATIONALIZED_STRING, MX_BIG_STRING):
        return ""
    if data_type == MX_TIME:
        return EPOCH
    if data_type == MX_ELAPSED_TIME:
        return dt.timedelta(0)
    if data_type in (MX_QUALIFIED_STRUCT, MX_STATUS, MX_QUALIFIED_ENUM):
        return b""
    return None


def format_time(value: dt.datetime | None) -> str | None:
    """A Galaxy file's time: ISO-8601 in UTC with a ``Z`` (None stays None)."""
    if value is None:
        return None
    return value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def parse_time(text: str) -> dt.datetime:
    """Parse a Galaxy file's time (naive means UTC)."""
    parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed


def value_to_json(value: Value) -> Any:
    """The JSON form of a simulated value (see the module docstring)."""
    if isinstance(value, dt.datetime):
        return format_time(value)
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, list):
        return [value_to_json(v) for v in value]
    return value


def value_from_json(data: Any, data_type: int, is_array: bool) -> Value:
    """Parse the JSON form of a value of ``data_type``."""
    if data is None:
        return None
    if is_array:
        if not isinstance(data, list):
            raise GalaxyFormatError("an array attribute needs a list as initial_value")
        return [value_from_json(v, data_type, False) for v in data]
    if data_type == MX_BOOLEAN:
        return bool(data)
    if data_type in (MX_INTEGER, MX_DATA_TYPE_ENUM, MX_SECURITY_CLASSIFICATION_ENUM, MX_DATA_QUALITY):
        return int(data)
    if data_type in (MX_FLOAT, MX_DOUBLE):
        return float(data)
    if data_type == MX_TIME:
        return parse_time(str(data))
    if data_type == MX_ELAPSED_TIME:
        return dt.timedelta(seconds=float(data))
    if data_type in (MX_QUALIFIED_STRUCT, MX_STATUS, MX_QUALIFIED_ENUM):
        return base64.b64decode(str(data))
    return str(data)
