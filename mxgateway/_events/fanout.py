"""``Fanout``: hands each event of a session to every reader, and keeps a backlog.

The event pump publishes; the fan-out numbers each item (its pump index), keeps
the newest ``backlog_size`` of them for the next ``Session.events()`` reader, offers
each to every consumer's bounded queue, and completes ``write_and_confirm``'s
waiters. The cursor is the last item an ``events()`` reader got: a new
``events()`` continues right after it, so nothing falls between two loops.

OnWriteComplete names only the item, so outcomes are paired with writes in the
order the writes were sent, per item: every write in flight holds a place in its
item's line, a waited-for one as a future, any other as an ``_Unwatched`` mark.
Without the marks, a plain write's outcome could complete a ``write_and_confirm``
of the same item sent after it, which would then report the wrong outcome.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable, Iterator

from mxgateway._events.queue import EventConsumer
from mxgateway._model.events import DataChange, ReplayGap, WriteComplete
from mxgateway.generated import mxaccess_gateway_pb2 as pb

__all__ = ["Fanout"]

WriteKey = tuple[str, int, int]

#: Writes in flight on one item beyond which the oldest unwatched marks are dropped:
#: their outcome never came, and a line that only grows would pair outcomes ever later.
MAX_WRITES_IN_FLIGHT_PER_ITEM = 1024


class _Unwatched:
    """Holds the place of a write nobody waits on in its item's line of outcomes."""

    __slots__ = ()


Pending = asyncio.Future[WriteComplete] | _Unwatched


class Fanout:
    """The consumers, the backlog, the ``events()`` cursor and the write waiters of one session."""

    def __init__(self, *, queue_size: int, backlog_size: int) -> None:
        self.queue_size = queue_size
        #: The newest items; the first has index ``_backlog_first`` and the rest follow on.
        self._backlog: deque[object] = deque()
        self._backlog_first = 0
        self._backlog_size = backlog_size
        self._evicted_last_sequence = 0
        #: Replaced, never changed in place: ``publish`` loops over the tuple it read, so a
        #: reader that closes meanwhile can never make it skip another.
        self._consumers: tuple[EventConsumer, ...] = ()
        self._waiters: dict[WriteKey, list[Pending]] = {}
        self._next_index = 0
        self._cursor_index = -1
        self._cursor_sequence = 0

    @property
    def consumer_count(self) -> int:
        """Readers being fed."""
        return len(self._consumers)

    @property
    def backlog_empty(self) -> bool:
        """True before anything was published."""
        return not self._backlog

    # ------------------------------------------------------------------ publishing

    def publish(self, item: object) -> None:
        """Number ``item``, keep it in the backlog and offer it to every consumer."""
        index = self._next_index
        self._next_index = index + 1
        backlog = self._backlog
        if len(backlog) >= self._backlog_size:
            evicted = backlog.popleft()
            self._backlog_first += 1
            sequence = (
                evicted._raw.worker_sequence
                if type(evicted) is DataChange
                else getattr(evicted, "worker_sequence", 0)
            )
            self._evicted_last_sequence = sequence or self._evicted_last_sequence
        backlog.append(item)
        for consumer in self._consumers:
            consumer.offer(index, item)

    # ------------------------------------------------------------------ consumers

    def new_consumer(
        self, *, after_worker_sequence: int | None, from_cursor: bool, session_id: str, high_water: int
    ) -> EventConsumer:
        """A consumer fed from now on, after what it gets first from the backlog.

        ``after_worker_sequence`` N starts after sequence N of ``session_id`` (a
        ``ReplayGap`` first when the backlog no longer reaches back that far);
        ``from_cursor`` after the last item any ``events()`` reader got.
        """
        consumer = EventConsumer(self.queue_size)
        if after_worker_sequence:
            self.replay_to(consumer, after_worker_sequence, session_id, high_water)
        elif from_cursor:
            self.fill_from_cursor(consumer)
        self.attach(consumer)
        return consumer

    def attach(self, consumer: EventConsumer) -> None:
        """Feed ``consumer`` from now on."""
        self._consumers = (*self._consumers, consumer)

    def remove(self, consumer: EventConsumer) -> None:
        """Stop feeding ``consumer`` (it was closed)."""
        if consumer in self._consumers:
            self._consumers = tuple(c for c in self._consumers if c is not consumer)

    def end_all(self, error: BaseException | None = None) -> None:
        """End every consumer: after its queue, with ``error`` when given."""
        for consumer in self._consumers:
            consumer.end(error)

    def fill_from_cursor(self, consumer: EventConsumer) -> None:
        """Queue what the backlog holds after the cursor (noting what it no longer holds)."""
        start = self._cursor_index + 1
        oldest = self._backlog_first
        if start < oldest:
            last = self._evicted_last_sequence
            first = self._cursor_sequence + 1 if self._cursor_sequence and last else 0
            consumer.note_missing(oldest - start, first, last)
        for index, item in self._indexed():
            if index >= start:
                consumer.offer(index, item)

    def _indexed(self) -> Iterator[tuple[int, object]]:
        return enumerate(self._backlog, self._backlog_first)

    def replay_to(self, consumer: EventConsumer, after: int, session_id: str, high_water: int) -> None:
        """Queue the backlog's events of ``session_id`` after sequence ``after``, or a gap first."""
        current = [(i, e) for i, e in self._indexed() if _of_session(e, session_id)]
        sequences = [getattr(e, "worker_sequence", 0) for _, e in current]
        oldest = next((s for s in sequences if s), high_water + 1)
        if after + 1 < oldest:
            gap = pb.MxEvent(
                replay_gap=pb.ReplayGap(requested_after_sequence=after, oldest_available_sequence=oldest)
            )
            consumer.offer_marker(ReplayGap(after, oldest, gap))
        for (index, item), sequence in zip(current, sequences, strict=True):
            if sequence > after:
                consumer.offer(index, item)

    def mark_consumed(self, consumer: EventConsumer, sequence: int) -> None:
        """An ``events()`` reader got its item (``sequence``, 0 for a marker): the next ``events()`` continues after it."""
        index = consumer.last_index
        if index > self._cursor_index:
            self._cursor_index = index
            self._cursor_sequence = sequence or self._cursor_sequence

    # ------------------------------------------------------------------ write outcomes

    def expect_write(
        self, session_id: str, server_handle: int, item_handle: int
    ) -> asyncio.Future[WriteComplete]:
        """A future for the outcome of the write about to be sent to this item of ``session_id``."""
        future: asyncio.Future[WriteComplete] = asyncio.get_running_loop().create_future()
        self._enqueue((session_id, server_handle, item_handle), future)
        return future

    def note_write(self, session_id: str, server_handle: int, item_handle: int) -> Pending:
        """Hold the place of a write nobody waits on (register before sending it)."""
        mark = _Unwatched()
        self._enqueue((session_id, server_handle, item_handle), mark)
        return mark

    def _enqueue(self, key: WriteKey, pending: Pending) -> None:
        line = self._waiters.get(key)
        if line is None:
            self._waiters[key] = [pending]
            return
        line.append(pending)
        if len(line) > MAX_WRITES_IN_FLIGHT_PER_ITEM:
            oldest_mark = next((p for p in line if type(p) is _Unwatched), None)
            if oldest_mark is not None:
                line.remove(oldest_mark)

    def forget_write(self, session_id: str, server_handle: int, item_handle: int, pending: Pending) -> None:
        """Drop a place whose outcome will not come or is no longer waited for."""
        key = (session_id, server_handle, item_handle)
        waiters = self._waiters.get(key)
        if waiters:
            for index, held in enumerate(waiters):
                if held is pending:
                    del waiters[index]
                    break
            if not waiters:
                del self._waiters[key]

    def unwatch_write(
        self, session_id: str, server_handle: int, item_handle: int, future: asyncio.Future[WriteComplete]
    ) -> None:
        """Nobody waits on ``future`` any more, but its write was sent: keep its place as a mark.

        Its outcome is still to come (late, or replayed after a reconnect); without
        the place it would pair with the next write to the item.
        """
        line = self._waiters.get((session_id, server_handle, item_handle))
        if line:
            for index, held in enumerate(line):
                if held is future:
                    line[index] = _Unwatched()
                    break

    def events_lost(self, session_id: str, first: int, last: int) -> None:
        """Events ``first``..``last`` of ``session_id`` were lost: no place can be paired safely any more.

        Any write in flight may have had its outcome among them, so the places are
        all given up, and a ``write_and_confirm`` still waiting gets an error: the
        next outcome of its item may be another write's.
        """
        from mxgateway.errors import MxGatewayUnavailableError

        self.fail_writes(
            MxGatewayUnavailableError(
                f"events {first}..{last} of session {session_id} were lost before the write's "
                "outcome arrived; the outcome is unknown",
                method="StreamEvents",
            ),
            session_id,
        )

    @property
    def awaiting_writes(self) -> bool:
        """True while some write's outcome is still to come."""
        return bool(self._waiters)

    def complete_write(self, session_id: str, event: WriteComplete) -> None:
        """Hand ``event`` to the oldest write in flight on its item (nothing to do for a plain one)."""
        key = (session_id, event.server_handle, event.item_handle)
        waiters = self._waiters.get(key)
        if waiters:
            oldest = waiters.pop(0)
            if not waiters:
                del self._waiters[key]
            if isinstance(oldest, asyncio.Future) and not oldest.done():
                oldest.set_result(event)

    def fail_writes(self, error: BaseException, session_id: str | None = None) -> None:
        """Fail the waiters of ``session_id`` (None: all of them) with ``error``."""
        keys: Iterable[WriteKey] = [k for k in self._waiters if session_id is None or k[0] == session_id]
        for key in list(keys):
            for pending in self._waiters.pop(key):
                if isinstance(pending, asyncio.Future) and not pending.done():
                    pending.set_exception(error)
                    pending.exception()  # retrieved: a write refused in its reply no longer awaits it

    def close_writes(self, error: BaseException) -> None:
        """Fail every waiter with ``error`` (the session is closing).

        An exception, not ``cancel()``: the writer's task was not cancelled, and a
        CancelledError escaping into it would look like one to its callers.
        """
        for waiters in self._waiters.values():
            for pending in waiters:
                if isinstance(pending, asyncio.Future) and not pending.done():
                    pending.set_exception(error)
                    pending.exception()  # retrieved: a writer that gave up must not warn
        self._waiters.clear()


def _of_session(item: object, session_id: str) -> bool:
    raw = getattr(item, "raw", None)
    return raw is None or getattr(raw, "session_id", session_id) in ("", session_id)
