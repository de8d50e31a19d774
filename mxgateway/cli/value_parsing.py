"""Turning ``--type`` and ``--value`` text into the Python value a write sends.

===========  =========================================  ==============
``--type``   ``--value`` text                           MXAccess type
===========  =========================================  ==============
bool         true/false, 1/0, yes/no, on/off            BOOLEAN
int32        decimal or 0x hex, 32-bit range            INTEGER
int64        decimal or 0x hex, 64-bit range            INTEGER (I8)
float        a finite number in the 32-bit float range  FLOAT
double       a finite number                            DOUBLE
string       any text, taken as is                      STRING
time         ISO-8601 with a time zone (``Z`` or ±hh:mm) TIME
elapsed      seconds, e.g. ``90`` or ``1.5``            ELAPSED_TIME
bytes        base64                                     opaque record
T[]          a JSON array of T, e.g. ``[1, 2]``         array of T
===========  =========================================  ==============

Every failure is a :class:`ValueParseError` that names the text and the type.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["TYPE_NAMES", "ParsedValue", "ValueParseError", "parse_value"]

_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
_FLOAT32_MAX = 3.4028234663852886e38
#: ASCII digits only: int() and float() also take "1_000" and other scripts' digits.
_INTEGER_TEXT = re.compile(r"[+-]?(?:[0-9]+|0[xX][0-9a-fA-F]+)")
_NUMBER_TEXT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


class ValueParseError(ValueError):
    """A ``--value`` that does not parse as its ``--type`` (a usage error)."""


@dataclass(frozen=True)
class ParsedValue:
    """A parsed value: ``value`` in Python form, ``type_name`` the scalar ``--type``.

    ``data_type_name`` is the ``MxDataType`` name (without prefix) to convert
    for, or None to let the value's Python type decide.
    """

    value: Any
    type_name: str
    is_array: bool

    @property
    def data_type_name(self) -> str | None:
        """``"DOUBLE"`` for ``double``; None for ``int64`` and ``bytes``."""
        return _DATA_TYPES[self.type_name]


def _shown(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:57] + "...")


def _bool(text: str) -> bool:
    word = text.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ValueParseError(f"{_shown(text)} is not a bool (use true/false, 1/0, yes/no or on/off)")


def _integer(text: str, bits: int) -> int:
    low, high = _INT32 if bits == 32 else _INT64
    stripped = text.strip()
    if not _INTEGER_TEXT.fullmatch(stripped):
        raise ValueParseError(f"{_shown(text)} is not an int{bits} (a whole number, decimal or 0x hex)")
    number = int(stripped, 0) if "x" in stripped.lower() else int(stripped, 10)
    if not low <= number <= high:
        raise ValueParseError(f"{_shown(text)} is out of the int{bits} range {low} to {high}")
    return number


def _int32(text: str) -> int:
    return _integer(text, 32)


def _int64(text: str) -> int:
    return _integer(text, 64)


def _finite(text: str, name: str) -> float:
    # Python's float() also takes "1_000" and non-ASCII digits; a plant value does not.
    stripped = text.strip()
    if not _NUMBER_TEXT.fullmatch(stripped) and stripped.lower().lstrip("+-") not in (
        "nan",
        "inf",
        "infinity",
    ):
        raise ValueParseError(f"{_shown(text)} is not a {name} (a number such as 1.5 or -2e3)")
    try:
        number = float(stripped)
    except ValueError:
        raise ValueParseError(f"{_shown(text)} is not a {name} (a number such as 1.5 or -2e3)") from None
    if not math.isfinite(number):
        raise ValueParseError(f"{_shown(text)} is not a finite number: MXAccess takes no nan or infinity")
    return number


def _float(text: str) -> float:
    number = _finite(text, "float")
    if abs(number) > _FLOAT32_MAX:
        raise ValueParseError(f"{_shown(text)} is out of the range of a 32-bit float")
    return number


def _double(text: str) -> float:
    return _finite(text, "double")


def _string(text: str) -> str:
    return text


def _time(text: str) -> dt.datetime:
    stripped = text.strip()
    # fromisoformat takes a trailing "Z" only from Python 3.11 on.
    normalized = stripped[:-1] + "+00:00" if stripped[-1:] in ("Z", "z") else stripped
    try:
        when = dt.datetime.fromisoformat(normalized)
    except ValueError:
        raise ValueParseError(
            f"{_shown(text)} is not an ISO-8601 time (e.g. 2024-05-01T12:00:00Z or 2024-05-01T14:00:00+02:00)"
        ) from None
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueParseError(f"{_shown(text)} has no time zone: add Z or an offset such as +02:00")
    try:
        when.astimezone(dt.timezone.utc).timestamp()
    except (OverflowError, ValueError, OSError):
        raise ValueParseError(f"{_shown(text)} is outside the times MXAccess can carry") from None
    return when


def _elapsed(text: str) -> dt.timedelta:
    seconds = _finite(text, "number of seconds")
    try:
        return dt.timedelta(seconds=seconds)
    except OverflowError:
        raise ValueParseError(f"{_shown(text)} seconds is out of range for an elapsed time") from None


def _bytes(text: str) -> bytes:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueParseError(f"{_shown(text)} is not base64") from None


_PARSERS: dict[str, Callable[[str], Any]] = {
    "bool": _bool,
    "int32": _int32,
    "int64": _int64,
    "float": _float,
    "double": _double,
    "string": _string,
    "time": _time,
    "elapsed": _elapsed,
    "bytes": _bytes,
}

_DATA_TYPES: dict[str, str | None] = {
    "bool": "BOOLEAN",
    "int32": "INTEGER",
    # MXAccess INTEGER is 32-bit: a 64-bit value is sent by its Python type (VT_I8).
    "int64": None,
    "float": "FLOAT",
    "double": "DOUBLE",
    "string": "STRING",
    "time": "TIME",
    "elapsed": "ELAPSED_TIME",
    "bytes": None,
}

_ALIASES = {"boolean": "bool", "int": "int32", "integer": "int32", "str": "string", "datetime": "time"}

#: Every ``--type`` accepted, scalar and array.
TYPE_NAMES: tuple[str, ...] = (*_PARSERS, *(f"{name}[]" for name in _PARSERS))


def _element(item: object, type_name: str, index: int) -> Any:
    if isinstance(item, str):
        text = item
    elif type_name == "string":
        raise ValueParseError(f"element {index} of the array is not a JSON string")
    elif isinstance(item, (bool, int, float)):
        text = json.dumps(item)
    else:
        raise ValueParseError(
            f"element {index} of the array is not a {type_name}: arrays are one-dimensional"
        )
    try:
        return _PARSERS[type_name](text)
    except ValueParseError as exc:
        raise ValueParseError(f"element {index} of the array: {exc}") from None


def parse_value(text: str, type_name: str) -> ParsedValue:
    """Parse ``text`` as ``type_name`` (see the module table); raise ``ValueParseError``."""
    requested = type_name.strip().lower()
    is_array = requested.endswith("[]")
    scalar = requested[:-2] if is_array else requested
    scalar = _ALIASES.get(scalar, scalar)
    parser = _PARSERS.get(scalar)
    if parser is None:
        raise ValueParseError(f"unknown type {type_name!r}; use one of: {', '.join(TYPE_NAMES)}")
    if not is_array:
        return ParsedValue(parser(text), scalar, False)
    try:
        items = json.loads(text)
    except (ValueError, RecursionError):
        items = None
    if not isinstance(items, list):
        raise ValueParseError(f'{_shown(text)} is not a JSON array (e.g. [1, 2, 3] or ["a", "b"])')
    return ParsedValue([_element(item, scalar, i) for i, item in enumerate(items)], scalar, True)
