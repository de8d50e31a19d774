"""``Sequencer``: puts one session's raw events in order and hands them on typed.

The event pump reads the StreamEvents call and gives every message to its
sequencer, which keeps the high-water mark (the last ``worker_sequence``
received), drops duplicates (a resumed stream replays from the mark), turns a
jump in the sequence into a ``SequenceGap`` and the gateway's gap sentinel into a
``ReplayGap``, types the event and publishes it to the session's fan-out. It is
on the path of every event: a data change costs one constructor call here.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from mxgateway._events.fanout import Fanout
from mxgateway._model.events import (
    DataChange,
    ReplayGap,
    SequenceGap,
    TagLookup,
    UnknownEvent,
    WriteComplete,
    event_from_proto,
)
from mxgateway.generated import mxaccess_gateway_pb2 as pb

__all__ = ["Sequencer"]

_log = logging.getLogger("mxgateway.events")

_GAP_FAMILY = pb.MX_EVENT_FAMILY_UNSPECIFIED
_DATA_CHANGE = pb.MX_EVENT_FAMILY_ON_DATA_CHANGE


class Sequencer:
    """Orders, types and publishes the events of the session it follows (see ``follow``).

    ``expect_from_start`` is True when the session's first event is sequence 1
    (the session was seen to open), so a stream starting later is a gap.
    """

    __slots__ = (
        "_fanout",
        "_session_id",
        "_tags",
        "duplicates_dropped",
        "expect_from_start",
        "high_water",
        "typing_errors",
    )

    def __init__(self, fanout: Fanout, *, expect_from_start: bool) -> None:
        self._fanout = fanout
        self._tags: TagLookup | Mapping[tuple[int, int], str] = {}
        self._session_id = ""
        #: The last ``worker_sequence`` received on the current session.
        self.high_water = 0
        self.expect_from_start = expect_from_start
        self.duplicates_dropped = 0
        self.typing_errors = 0

    def follow(self, session_id: str, tags: TagLookup) -> None:
        """Events come from ``session_id`` now; ``tags`` names its items."""
        self._session_id = session_id
        self._tags = tags

    def start_afresh(self) -> None:
        """A new session: its events number from 1 again."""
        self.high_water = 0
        self.expect_from_start = True

    def skip(self, message: pb.MxEvent) -> None:
        """Publish ``message`` untyped (typing it failed, a bug): readers hear of it, the order holds."""
        self.typing_errors += 1
        _log.log(
            logging.ERROR if self.typing_errors == 1 else logging.DEBUG,
            "session %s: event %s could not be typed; delivered as UnknownEvent",
            self._session_id,
            message.worker_sequence,
            exc_info=True,
        )
        self.high_water = max(self.high_water, message.worker_sequence)
        self._fanout.publish(UnknownEvent(message.worker_sequence, message.family, message))

    def dispatch(self, message: pb.MxEvent) -> None:
        """Publish ``message`` typed, after a ``SequenceGap`` when numbers were skipped; drop a duplicate."""
        sequence = message.worker_sequence
        family = message.family
        fanout = self._fanout
        if family == _GAP_FAMILY and message.HasField("replay_gap"):
            gap = message.replay_gap
            replay = ReplayGap(gap.requested_after_sequence, gap.oldest_available_sequence, message)
            if fanout.awaiting_writes:
                fanout.events_lost(self._session_id, replay.requested_after_sequence + 1, replay.resume_after)
            self.high_water = max(self.high_water, replay.resume_after)
            fanout.publish(replay)
            return
        high = self.high_water
        if sequence <= high:
            self.duplicates_dropped += 1
            return
        if sequence != high + 1 and (high or self.expect_from_start):
            if fanout.awaiting_writes:
                fanout.events_lost(self._session_id, high + 1, sequence - 1)
            fanout.publish(SequenceGap(high + 1, sequence, message))
        self.high_water = sequence
        if family == _DATA_CHANGE:  # nearly every event: built here, in one call
            fanout.publish(DataChange(message, self._tags.get((message.server_handle, message.item_handle))))
            return
        event = event_from_proto(message, self._tags)
        if type(event) is WriteComplete and fanout.awaiting_writes:
            fanout.complete_write(self._session_id, event)
        fanout.publish(event)
