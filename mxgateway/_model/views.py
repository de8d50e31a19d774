"""Read-only views of raw messages that carry a value, converted on first access.

``BulkReadResult`` and ``MxEvent`` both carry ``value``, ``quality``,
``source_timestamp`` and ``statuses``. Turning them into Python objects costs a
few microseconds per message; a 10,000-tag read or a fast event stream pays that
only for the fields the caller actually reads, once.
"""

from __future__ import annotations

import datetime as dt
from typing import Generic, TypeVar

from mxgateway._model.datatypes import DataType
from mxgateway._model.status import MxStatus, Quality, statuses_of
from mxgateway._model.values import MxPythonValue, from_mx_value, timestamp_to_datetime
from mxgateway.generated import mxaccess_gateway_pb2 as pb

__all__ = ["ValueView", "restored_view"]

#: The messages that carry a value, a quality, a source timestamp and statuses.
MessageT = TypeVar("MessageT", pb.BulkReadResult, pb.MxEvent)
ViewT = TypeVar("ViewT")


def restored_view(view_type: type[ViewT], message_name: str, data: bytes, *args: object) -> ViewT:
    """A view unpickled: its message parsed from ``data``, then ``view_type(message, *args)``."""
    message = getattr(pb, message_name).FromString(data)
    return view_type(message, *args)  # type: ignore[call-arg]


class ValueView(Generic[MessageT]):
    """Immutable view of a message with a value; subclasses add their own fields.

    Built by one plain assignment: a 10,000-tag read or a fast event stream makes
    one per message, and a frozen ``__setattr__`` (which would force
    ``object.__setattr__`` per field) tripled that cost. Every public field is a
    read-only property, so assigning one raises ``AttributeError`` all the same;
    the cached conversions are slots left empty until first read.
    """

    __slots__ = ("_raw", "_source_timestamp", "_statuses", "_value")

    _raw: MessageT
    _value: MxPythonValue
    _source_timestamp: dt.datetime | None
    _statuses: tuple[MxStatus, ...]

    def __init__(self, raw: MessageT) -> None:
        self._raw = raw

    @property
    def raw(self) -> MessageT:
        """The message as received."""
        return self._raw

    def _convert_value(self) -> MxPythonValue:
        return from_mx_value(self._raw.value)

    @property
    def value(self) -> MxPythonValue:
        """The value as a Python object."""
        try:
            return self._value
        except AttributeError:
            value = self._value = self._convert_value()
            return value

    @property
    def quality(self) -> Quality:
        """The OPC-DA style quality (192 good, 0x40-0x7F uncertain, below bad)."""
        return Quality(self._raw.quality)

    @property
    def source_timestamp(self) -> dt.datetime | None:
        """When the source produced the value (aware, UTC), if the gateway says."""
        try:
            return self._source_timestamp
        except AttributeError:
            raw = self._raw
            stamp = timestamp_to_datetime(raw.source_timestamp) if raw.HasField("source_timestamp") else None
            self._source_timestamp = stamp
            return stamp

    @property
    def statuses(self) -> tuple[MxStatus, ...]:
        """The MXSTATUS_PROXY entries, never collapsed."""
        try:
            return self._statuses
        except AttributeError:
            raw_statuses = self._raw.statuses
            statuses = self._statuses = statuses_of(raw_statuses) if raw_statuses else ()
            return statuses

    @property
    def data_type(self) -> DataType:
        """The value's MXAccess data type."""
        return DataType.of(self._raw.value.data_type)

    def _fields(self) -> tuple[object, ...]:
        return (self._raw,)

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        # The message as bytes: the generated classes cannot be pickled by reference.
        raw = self._raw
        after_raw: tuple[object, ...] = self._fields()[1:]
        return restored_view, (type(self), type(raw).__name__, raw.SerializeToString(), *after_raw)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._fields() == other._fields()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__match_args__)
        return f"{type(self).__name__}({shown})"

    __match_args__: tuple[str, ...] = ("value", "quality", "source_timestamp", "statuses")
