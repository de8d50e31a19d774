"""Read-only views of raw messages that carry a value, converted on first access.

``BulkReadResult`` and ``MxEvent`` both carry ``value``, ``quality``,
``source_timestamp`` and ``statuses``. Turning them into Python objects costs a
few microseconds per message; a 10,000-tag read or a fast event stream pays that
only for the fields the caller actually reads, once.
"""

from __future__ import annotations

import datetime as dt
from typing import Final, Generic, TypeVar, cast

from mxgateway.datatypes import DataType
from mxgateway.generated import mxaccess_gateway_pb2 as pb
from mxgateway.status import MxStatus, Quality, statuses_of
from mxgateway.values import MxPythonValue, from_mx_value, timestamp_to_datetime

__all__ = ["ValueView"]

#: A field not converted yet (None is a valid converted value).
_UNSET: Final = object()


#: The messages that carry a value, a quality, a source timestamp and statuses.
MessageT = TypeVar("MessageT", pb.BulkReadResult, pb.MxEvent)


class ValueView(Generic[MessageT]):
    """Immutable view of a message with a value; subclasses add their own fields."""

    __slots__ = ("_source_timestamp", "_statuses", "_value", "raw")

    raw: MessageT
    _value: object
    _source_timestamp: object
    _statuses: object

    def __init__(self, raw: MessageT) -> None:
        setattr_ = object.__setattr__
        setattr_(self, "raw", raw)
        setattr_(self, "_value", _UNSET)
        setattr_(self, "_source_timestamp", _UNSET)
        setattr_(self, "_statuses", _UNSET)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable: cannot set {name!r}")

    def _convert_value(self) -> MxPythonValue:
        return from_mx_value(self.raw.value)

    @property
    def value(self) -> MxPythonValue:
        """The value as a Python object."""
        value = self._value
        if value is _UNSET:
            value = self._convert_value()
            object.__setattr__(self, "_value", value)
        return cast(MxPythonValue, value)

    @property
    def quality(self) -> Quality:
        """The OPC-DA style quality (192 good, 0x40-0x7F uncertain, below bad)."""
        return Quality(self.raw.quality)

    @property
    def source_timestamp(self) -> dt.datetime | None:
        """When the source produced the value (aware, UTC), if the gateway says."""
        stamp = self._source_timestamp
        if stamp is _UNSET:
            raw = self.raw
            stamp = timestamp_to_datetime(raw.source_timestamp) if raw.HasField("source_timestamp") else None
            object.__setattr__(self, "_source_timestamp", stamp)
        return cast("dt.datetime | None", stamp)

    @property
    def statuses(self) -> tuple[MxStatus, ...]:
        """The MXSTATUS_PROXY entries, never collapsed."""
        statuses = self._statuses
        if statuses is _UNSET:
            raw_statuses = self.raw.statuses
            statuses = statuses_of(raw_statuses) if raw_statuses else ()
            object.__setattr__(self, "_statuses", statuses)
        return cast("tuple[MxStatus, ...]", statuses)

    @property
    def data_type(self) -> DataType:
        """The value's MXAccess data type."""
        return DataType.of(self.raw.value.data_type)

    def _fields(self) -> tuple[object, ...]:
        return (self.raw,)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._fields() == other._fields()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__match_args__)
        return f"{type(self).__name__}({shown})"

    __match_args__: tuple[str, ...] = ("value", "quality", "source_timestamp", "statuses")
