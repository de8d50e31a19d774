"""A session's event log: contiguous sequence numbers, the replay ring and subscribers.

Publishing never waits: every subscriber has a bounded queue, and an event that
does not fit is dropped for that subscriber only, which then sees a gap in
``worker_sequence``. A slow client therefore never slows the value updater or
another session.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import AsyncIterator

import grpc

from mxgateway.generated import mxaccess_gateway_pb2 as pb
from mxgateway.simulator.clock import Clock
from mxgateway.simulator.stats import SimulatorStats
from mxgateway.simulator.values import timestamp_from_ns


class Subscriber:
    """One open ``StreamEvents`` call: a bounded queue of events still to send."""

    def __init__(self, capacity: int, stats: SimulatorStats) -> None:
        self._pending: deque[pb.MxEvent] = deque()
        self._capacity = capacity
        self._stats = stats
        self._wakeup = asyncio.Event()
        self._ended = False
        #: Set when the stream must fail rather than end normally.
        self.abort_code: grpc.StatusCode | None = None
        self.abort_message = ""
        self.dropped = 0

    def offer(self, event: pb.MxEvent) -> None:
        """Queue ``event``, or drop it when the queue is full."""
        if len(self._pending) >= self._capacity:
            self.dropped += 1
            self._stats.events_dropped += 1
            return
        self._pending.append(event)
        self._wakeup.set()

    def end(self, code: grpc.StatusCode | None = None, message: str = "") -> None:
        """Finish the stream: normally (``code`` None), or failing with ``code``."""
        self._ended = True
        if code is not None:
            self.abort_code = code
            self.abort_message = message
            self._pending.clear()
        self._wakeup.set()

    async def batches(self) -> AsyncIterator[list[pb.MxEvent]]:
        """Queued events in batches, as they arrive, until the stream is ended."""
        while True:
            if self.abort_code is not None:
                return
            if self._pending:
                batch = list(self._pending)
                self._pending.clear()
                yield batch
                continue
            if self._ended:
                return
            self._wakeup.clear()
            await self._wakeup.wait()


class EventLog:
    """Numbering, retention and fan-out of one session's events."""

    def __init__(
        self,
        session_id: str,
        *,
        replay_capacity: int,
        replay_max_age_s: float,
        subscriber_queue_size: int,
        stats: SimulatorStats,
        clock: Clock | None = None,
    ) -> None:
        self.session_id = session_id
        self._clock = clock if clock is not None else Clock()
        self.last_sequence = 0
        self._ring: deque[tuple[float, pb.MxEvent]] = deque(maxlen=max(1, replay_capacity))
        self._max_age_s = replay_max_age_s
        self._queue_size = max(1, subscriber_queue_size)
        self._stats = stats
        self._subscribers: set[Subscriber] = set()
        self._drained_through = 0

    @property
    def subscriber_count(self) -> int:
        """Open streams on this log."""
        return len(self._subscribers)

    @property
    def oldest_available_sequence(self) -> int:
        """The oldest retained sequence (the next one to come when nothing is retained)."""
        self._prune()
        return self._ring[0][1].worker_sequence if self._ring else self.last_sequence + 1

    def publish(self, event: pb.MxEvent) -> None:
        """Number, stamp, retain and fan out ``event`` (which must not be changed afterwards)."""
        self.last_sequence += 1
        now_ns = self._clock.time_ns()
        stamp = timestamp_from_ns(now_ns)
        event.session_id = self.session_id
        event.worker_sequence = self.last_sequence
        event.worker_timestamp.CopyFrom(stamp)
        event.gateway_receive_timestamp.CopyFrom(stamp)
        now = self._clock.monotonic()
        self._ring.append((now, event))
        self._stats.events_published += 1
        for subscriber in self._subscribers:
            subscriber.offer(event)
        if self._max_age_s > 0 and self._ring[0][0] < now - self._max_age_s:
            self._prune()

    def subscribe(self, after_sequence: int) -> tuple[list[pb.MxEvent], Subscriber]:
        """Attach a subscriber; returns the events to send before the live ones.

        With ``after_sequence`` N > 0 these are the retained events > N, preceded by
        the gap sentinel when events N+1 ... are no longer retained. Nothing awaits
        between taking them and attaching, so replay and live events join without
        gap or duplicate.
        """
        subscriber = Subscriber(self._queue_size, self._stats)
        replay: list[pb.MxEvent] = []
        if after_sequence > 0:
            oldest = self.oldest_available_sequence
            if after_sequence + 1 < oldest:
                replay.append(
                    pb.MxEvent(
                        replay_gap=pb.ReplayGap(
                            requested_after_sequence=after_sequence, oldest_available_sequence=oldest
                        )
                    )
                )
            start = max(0, after_sequence + 1 - oldest)
            replay.extend(event for _, event in itertools.islice(self._ring, start, None))
        self._subscribers.add(subscriber)
        return replay, subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        """Detach a subscriber (its stream is over)."""
        self._subscribers.discard(subscriber)

    def drain(self, max_events: int) -> list[pb.MxEvent]:
        """Retained events not drained before, oldest first; ``max_events`` 0 means all."""
        self._prune()
        start_sequence = max(self._drained_through + 1, self.oldest_available_sequence)
        start = start_sequence - self.oldest_available_sequence
        stop = None if max_events <= 0 else start + max_events
        events = [event for _, event in itertools.islice(self._ring, start, stop)]
        if events:
            self._drained_through = events[-1].worker_sequence
        return events

    def end_streams(self, code: grpc.StatusCode | None = None, message: str = "") -> None:
        """End every open stream: normally, or failing with ``code``."""
        for subscriber in list(self._subscribers):
            subscriber.end(code, message)

    def _prune(self) -> None:
        if self._max_age_s <= 0:
            return
        horizon = self._clock.monotonic() - self._max_age_s
        while self._ring and self._ring[0][0] < horizon:
            self._ring.popleft()
