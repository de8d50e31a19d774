"""Typed session events: what ``Session.events()`` and ``Subscription`` deliver.

Each ``MxEvent`` becomes one immutable object, which keeps the message as ``raw``:

- ``DataChange`` (OnDataChange): the value in Python form, its quality and time;
- ``WriteComplete`` (OnWriteComplete): the real outcome of an earlier write;
- ``OperationComplete``; ``BufferedDataChange`` (several samples of one item);
- ``UnknownEvent``: a family this SDK does not know yet.

Markers tell a consumer what happened to the stream itself, in order:

- ``ReplayGap``: the gateway's sentinel when a resume point is older than its
  replay ring (drop cached state, re-read, resume after ``resume_after``);
- ``SequenceGap``: ``worker_sequence`` skipped numbers, i.e. the gateway dropped
  events on the way; it comes right before the event after the gap;
- ``EventsDropped``: this consumer fell behind and its own queue shed its oldest
  events (other consumers and the session are unaffected);
- ``SessionRecovered``: the session was lost and replaced by a new one; every
  item was added and advised again, and ``worker_sequence`` starts afresh.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from mxgateway._model import display
from mxgateway._model.status import MxStatus, Quality, is_failure_status, statuses_of
from mxgateway._model.values import MxPythonValue, from_mx_value, timestamp_to_datetime
from mxgateway._model.views import ValueView
from mxgateway.generated import mxaccess_gateway_pb2 as pb

__all__ = [
    "BufferedDataChange",
    "BufferedSample",
    "DataChange",
    "Event",
    "EventsDropped",
    "OperationComplete",
    "ReplayGap",
    "SequenceGap",
    "SessionRecovered",
    "TagLookup",
    "UnknownEvent",
    "WriteComplete",
    "event_from_proto",
    "is_marker",
]

_UTC = dt.timezone.utc
_DATA_CHANGE = pb.MX_EVENT_FAMILY_ON_DATA_CHANGE
_WRITE_COMPLETE = pb.MX_EVENT_FAMILY_ON_WRITE_COMPLETE
_OPERATION_COMPLETE = pb.MX_EVENT_FAMILY_OPERATION_COMPLETE
_BUFFERED = pb.MX_EVENT_FAMILY_ON_BUFFERED_DATA_CHANGE
_UNSPECIFIED_FAMILY = pb.MX_EVENT_FAMILY_UNSPECIFIED


def _time(ts: Any, present: bool) -> dt.datetime | None:
    return timestamp_to_datetime(ts) if present else None


class DataChange(ValueView[pb.MxEvent]):
    """A new value of an advised item. ``tag`` is known when this SDK added the item.

    A view of the raw ``MxEvent`` (``raw``): ``value``, ``source_timestamp`` and
    ``statuses`` are converted on first access and kept, so a fast stream pays only
    for what its reader uses. Immutable; equal when the raw events and tags are.
    """

    __slots__ = ("_tag",)
    __match_args__ = (
        "worker_sequence",
        "server_handle",
        "item_handle",
        "value",
        "quality",
        "source_timestamp",
        "statuses",
        "tag",
    )

    def __init__(self, raw: pb.MxEvent, tag: str | None = None) -> None:
        self._raw = raw
        self._tag = tag

    @property
    def tag(self) -> str | None:
        """The tag this SDK added the item as (None when another client added it)."""
        return self._tag

    # Read from ``raw`` when asked: a subscription of 10,000 tags keeps no extra
    # int objects per change, and a fast stream sets one field less per event.
    @property
    def worker_sequence(self) -> int:
        """The event's number in the session (0 for a value re-read after a gap)."""
        return self._raw.worker_sequence

    @property
    def server_handle(self) -> int:
        """The server handle of the item."""
        return self._raw.server_handle

    @property
    def item_handle(self) -> int:
        """The item handle."""
        return self._raw.item_handle

    def _fields(self) -> tuple[object, ...]:
        return (self._raw, self._tag)

    def __repr__(self) -> str:
        return display.data_change_repr(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


@dataclass(frozen=True, slots=True)
class WriteComplete:
    """The outcome of a write (OnWriteComplete): ``ok`` tells."""

    worker_sequence: int
    server_handle: int
    item_handle: int
    hresult: int
    statuses: tuple[MxStatus, ...]
    tag: str | None
    raw: pb.MxEvent = field(repr=False)

    @property
    def ok(self) -> bool:
        """No HRESULT failure and no failed status."""
        return self.hresult == 0 and not any(is_failure_status(s) for s in self.raw.statuses)

    def __repr__(self) -> str:
        return display.write_complete_repr(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


@dataclass(frozen=True, slots=True)
class OperationComplete:
    """An asynchronous MXAccess operation finished."""

    worker_sequence: int
    server_handle: int
    operation_id: str
    hresult: int
    statuses: tuple[MxStatus, ...]
    raw: pb.MxEvent = field(repr=False)


@dataclass(frozen=True, slots=True)
class BufferedSample:
    """One sample of a buffered data change."""

    value: MxPythonValue
    quality: Quality
    source_timestamp: dt.datetime | None


@dataclass(frozen=True, slots=True)
class BufferedDataChange:
    """Several samples of one item delivered at once (OnBufferedDataChange)."""

    worker_sequence: int
    server_handle: int
    item_handle: int
    data_type: int
    samples: tuple[BufferedSample, ...]
    statuses: tuple[MxStatus, ...]
    tag: str | None
    raw: pb.MxEvent = field(repr=False)


@dataclass(frozen=True, slots=True)
class ReplayGap:
    """The gateway no longer holds the events after ``requested_after_sequence``.

    Cached state is stale: re-read it. Resuming after ``resume_after`` is gap-free.
    """

    requested_after_sequence: int
    oldest_available_sequence: int
    raw: pb.MxEvent = field(repr=False)

    @property
    def resume_after(self) -> int:
        """The ``after_worker_sequence`` that resumes without a further gap."""
        return max(0, self.oldest_available_sequence - 1)

    @property
    def missed(self) -> int:
        """How many events the gateway no longer holds."""
        return max(0, self.oldest_available_sequence - self.requested_after_sequence - 1)


@dataclass(frozen=True, slots=True)
class SequenceGap:
    """Events ``expected_sequence`` up to ``received_sequence - 1`` never arrived."""

    expected_sequence: int
    received_sequence: int
    raw: pb.MxEvent = field(repr=False)

    @property
    def missed(self) -> int:
        """How many events were lost."""
        return self.received_sequence - self.expected_sequence


@dataclass(frozen=True, slots=True)
class UnknownEvent:
    """An event family this SDK does not model (alarm transitions, future families)."""

    worker_sequence: int
    family: int
    raw: pb.MxEvent = field(repr=False)


@dataclass(frozen=True, slots=True)
class EventsDropped:
    """A consumer fell behind: its own queue shed ``count`` of its oldest events.

    ``first_sequence`` and ``last_sequence`` are the ``worker_sequence`` range they
    spanned (0 when unknown). Only this consumer lost them; values it caches may
    be stale until their next change (a ``Subscription`` re-reads its tags).
    """

    count: int
    first_sequence: int
    last_sequence: int

    @property
    def missed(self) -> int:
        """How many events this consumer lost (same as ``count``)."""
        return self.count


@dataclass(frozen=True, slots=True)
class SessionRecovered:
    """The gateway lost the session; a new one replaced it.

    Handles from before are dead: the tag-level API (``Client``, ``subscribe``,
    ``read``, ``write_tag``) added and advised every tag again on the new session,
    whose ``worker_sequence`` starts again at 1.
    """

    old_session_id: str
    new_session_id: str


#: Every typed event or marker a session's event stream yields.
Event = (
    DataChange
    | WriteComplete
    | OperationComplete
    | BufferedDataChange
    | ReplayGap
    | SequenceGap
    | EventsDropped
    | SessionRecovered
    | UnknownEvent
)

#: The markers: what happened to the stream rather than in the plant.
_MARKERS = (ReplayGap, SequenceGap, EventsDropped, SessionRecovered)


def is_marker(event: object) -> bool:
    """True for ``ReplayGap``, ``SequenceGap``, ``EventsDropped`` and ``SessionRecovered``."""
    return isinstance(event, _MARKERS)


class TagLookup(Protocol):
    """What ``event_from_proto`` asks of its tag names: a mapping's ``get`` (and truth)."""

    def get(self, key: tuple[int, int], /) -> str | None:
        """The tag of (server handle, item handle), or None."""

    def __bool__(self) -> bool:
        """False when it knows no tag at all."""


_NO_TAGS: Mapping[tuple[int, int], str] = {}


def event_from_proto(event: pb.MxEvent, tags: TagLookup | Mapping[tuple[int, int], str] = _NO_TAGS) -> Event:
    """The typed form of an ``MxEvent``; ``tags`` maps (server, item) handles to tag names."""
    family = event.family
    if family == _DATA_CHANGE:
        return DataChange(event, tags.get((event.server_handle, event.item_handle)) if tags else None)
    if family == _WRITE_COMPLETE:
        return WriteComplete(
            event.worker_sequence,
            event.server_handle,
            event.item_handle,
            event.hresult,
            statuses_of(event.statuses),
            tags.get((event.server_handle, event.item_handle)),
            event,
        )
    if family == _OPERATION_COMPLETE:
        return OperationComplete(
            event.worker_sequence,
            event.server_handle,
            event.operation_complete.operation_id,
            event.hresult,
            statuses_of(event.statuses),
            event,
        )
    if family == _BUFFERED:
        body = event.on_buffered_data_change
        return BufferedDataChange(
            event.worker_sequence,
            event.server_handle,
            event.item_handle,
            body.data_type,
            tuple(
                BufferedSample(
                    from_mx_value(s.value),
                    Quality(s.quality),
                    _time(s.source_timestamp, s.HasField("source_timestamp")),
                )
                for s in body.samples
            ),
            statuses_of(event.statuses),
            tags.get((event.server_handle, event.item_handle)),
            event,
        )
    if family == _UNSPECIFIED_FAMILY and event.HasField("replay_gap"):
        gap = event.replay_gap
        return ReplayGap(gap.requested_after_sequence, gap.oldest_available_sequence, event)
    return UnknownEvent(event.worker_sequence, family, event)
