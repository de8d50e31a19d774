"""Values a subscription re-read, and which later changes are older than them.

After a gap a subscription re-reads its tags and delivers the values it read as
``DataChange`` objects with ``worker_sequence`` 0. The gateway may still replay
changes older than those values afterwards: they are delivered (they happened)
but must not turn ``Subscription.latest`` back in time. ``ReadFence`` tells them
apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from mxgateway._model.events import DataChange
from mxgateway._model.results import ReadResult
from mxgateway.generated import mxaccess_gateway_pb2 as pb

__all__ = ["ReadFence", "change_from_read", "changes_from_reads"]

_DATA_CHANGE = pb.MX_EVENT_FAMILY_ON_DATA_CHANGE


class ReadFence:
    """Where the last re-read stood in the event stream: see ``keeps_latest``."""

    __slots__ = ("_fence", "_stamps", "_window")

    def __init__(self) -> None:
        #: Events up to ``_fence`` were received before the read was sent, those up to
        #: ``_window`` before its reply; ``_stamps`` holds each read value's source time.
        self._fence = 0
        self._window = 0
        self._stamps: dict[str, tuple[int, int]] = {}

    @property
    def active(self) -> bool:
        """True after a re-read on the current session."""
        return bool(self._window)

    def reset(self) -> None:
        """A new session numbers its events from 1: no earlier read applies."""
        self._fence = self._window = 0
        self._stamps = {}

    def record(self, fence: int, window: int, changes: Iterable[DataChange]) -> None:
        """A read sent after event ``fence`` and answered after event ``window`` gave ``changes``."""
        self._fence = fence
        self._window = window
        stamps: dict[str, tuple[int, int]] = {}
        for change in changes:
            stamp = change.raw.source_timestamp
            stamps[change.tag or ""] = (stamp.seconds, stamp.nanos)
        self._stamps = stamps

    def keeps_latest(self, tag: str, change: DataChange) -> bool:
        """True when ``change`` is older than the value the read put in ``latest``.

        A change received before the read was sent is older. One received while the
        read was under way may be older (the gateway replays what it kept after a
        gap) or newer: its source time decides. Later ones are newer.
        """
        sequence = change.worker_sequence
        if sequence > self._window:
            return False
        if sequence <= self._fence:
            return True
        stamp = self._stamps.get(tag)
        raw = change.raw.source_timestamp
        return stamp is not None and (raw.seconds, raw.nanos) < stamp


def change_from_read(result: ReadResult, server_handle: int, item_handle: int) -> DataChange:
    """A ``DataChange`` (``worker_sequence`` 0) carrying what a read of the item returned.

    A failed read gives the change of a bad value: quality and statuses as read, no value.
    """
    raw = result.raw
    event = pb.MxEvent(
        family=_DATA_CHANGE,
        server_handle=server_handle,
        item_handle=item_handle,
        value=raw.value,
        quality=raw.quality,
        statuses=raw.statuses,
        on_data_change=pb.OnDataChangeEvent(),
    )
    if raw.HasField("source_timestamp"):
        event.source_timestamp.CopyFrom(raw.source_timestamp)
    return DataChange(event, result.tag)


def changes_from_reads(
    results: Iterable[ReadResult], server_handle: int, handles: Mapping[str, int], *, failed_too: bool
) -> list[DataChange]:
    """The changes of the reads of tags in ``handles`` (the failed ones too when ``failed_too``)."""
    return [
        change_from_read(result, server_handle, handles[result.tag])
        for result in results
        if result.tag in handles and (result.ok or failed_too)
    ]
