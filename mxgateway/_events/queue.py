"""``EventConsumer``: one reader's bounded queue of a session's events.

The event pump offers every event to every consumer; a consumer never blocks the
pump. When its queue is full it sheds the oldest event and counts it, and its
reader's very next ``get()`` is an ``EventsDropped`` marker for all it shed, so a
slow reader learns of its loss at once rather than after a backlog. Markers
(gaps, a recovered session) are never shed.

A waiting reader is woken in batches: at once for the first item after a quiet
spell, and while items keep coming, at most once per ``WAKE_INTERVAL_S`` for all
that arrived meanwhile. Each wake-up costs the loop a turn and the reader a task
step; during a burst that is paid once per interval instead of once per event,
and the reader then takes every queued item without waiting. The order of items
and markers is the queue's; the end and a reader's own markers wake it at once.
"""

from __future__ import annotations

import asyncio
import copy
from collections import deque

from mxgateway._model.events import EventsDropped, ReplayGap, SequenceGap, SessionRecovered

__all__ = ["EMPTY", "EventConsumer"]

#: ``get_nowait()``'s answer when there is nothing to return yet.
EMPTY: object = object()
#: While items arrive closer together than this (seconds), a waiting reader is
#: woken at most once per interval, for all of them.
WAKE_INTERVAL_S = 0.001


class EventConsumer:
    """One reader's bounded queue of events; fed by the pump, read with ``get()``.

    When full, the oldest queued event is shed and counted; the next ``get()``
    returns an ``EventsDropped`` marker for everything shed so far. Markers are
    never shed: a reader must always learn of gaps and of a recovered session.
    """

    __slots__ = (
        "_capacity",
        "_drop_count",
        "_drop_first",
        "_drop_last",
        "_ended",
        "_error",
        "_head",
        "_kept_markers",
        "_loop",
        "_queue",
        "_tail",
        "_waiter",
        "_wake_due",
        "_woken_at",
        "last_index",
    )

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._queue: deque[object] = deque()
        #: Index of the last item offered, and of the item at the head of the queue.
        self._tail = -2
        self._head = 0
        self._kept_markers: deque[object] = deque()
        self._waiter: asyncio.Future[None] | None = None
        #: When the reader was last woken for an item, and whether a batched wake-up is scheduled.
        self._woken_at = -WAKE_INTERVAL_S
        self._wake_due = False
        self._drop_count = 0
        self._drop_first = 0
        self._drop_last = 0
        self._ended = False
        self._error: BaseException | None = None
        self._loop = asyncio.get_running_loop()
        #: Pump index of the last item ``get()`` returned (-1: none yet).
        self.last_index = -1

    def offer(self, index: int, item: object) -> None:
        """Queue ``item`` (the pump's ``index``-th), shedding the oldest when full."""
        queue = self._queue
        if len(queue) >= self._capacity:
            self._shed(self._pop()[1])
        # Indexes run on from the previous one almost always: store the item alone
        # then, and the pair only where the numbering jumps (no tuple per event).
        queue.append(item if index == self._tail + 1 else (index, item))
        self._tail = index
        if self._waiter is not None and not self._wake_due:
            loop = self._loop
            now = loop.time()
            if now - self._woken_at >= WAKE_INTERVAL_S:
                self._woken_at = now
                self._wake()
            else:
                # Items are coming fast: one wake-up for all that arrive until then.
                self._wake_due = True
                loop.call_at(self._woken_at + WAKE_INTERVAL_S, self._wake_batch)

    def _wake_batch(self) -> None:
        self._wake_due = False
        self._woken_at = self._loop.time()
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def _pop(self) -> tuple[int, object]:
        entry = self._queue.popleft()
        if type(entry) is tuple:
            index, item = entry
        else:
            index, item = self._head, entry
        self._head = index + 1
        return index, item

    def note_missing(self, count: int, first_sequence: int, last_sequence: int) -> None:
        """Record events this consumer never got (older than the pump's backlog)."""
        if count > 0:
            self._drop_count += count
            self._drop_first = self._drop_first or first_sequence
            self._drop_last = max(self._drop_last, last_sequence)

    def _shed(self, item: object) -> None:
        if isinstance(item, (SessionRecovered, ReplayGap, SequenceGap, EventsDropped)):
            self._kept_markers.append(item)
            return
        sequence = getattr(item, "worker_sequence", 0)
        self._drop_count += 1
        if sequence:
            self._drop_first = self._drop_first or sequence
            self._drop_last = max(self._drop_last, sequence)

    def end(self, error: BaseException | None = None) -> None:
        """No more items: ``get()`` drains the queue, then raises ``error`` or returns None."""
        self._ended = True
        if error is not None and self._error is None:
            self._error = error
        self._wake()

    def offer_marker(self, marker: object) -> None:
        """Queue a marker meant for this reader alone, ahead of everything offered later.

        It has no place in the pump's numbering: reading it moves no cursor. Offered
        to a new consumer before its first item (a ``ReplayGap`` for a resume point
        the backlog no longer reaches).
        """
        self._kept_markers.append(marker)
        self._wake()

    def close_now(self) -> None:
        """Stop at once, dropping what is queued (the reader closed it)."""
        self._queue.clear()
        self._kept_markers.clear()
        self._drop_count = 0
        self._error = None
        self.end()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop the consumer (and its pump) belongs to."""
        return self._loop

    @property
    def queued(self) -> int:
        """Items waiting in the queue."""
        return len(self._queue)

    def get_nowait(self) -> object | None:
        """What ``get()`` would return without waiting, or ``EMPTY`` when it would wait.

        A reader that keeps up finds its event already queued most of the time;
        taking it here spares a coroutine per event.
        """
        if self._drop_count:
            marker = EventsDropped(self._drop_count, self._drop_first, self._drop_last)
            self._drop_count = self._drop_first = self._drop_last = 0
            return marker
        if self._kept_markers:
            return self._kept_markers.popleft()
        queue = self._queue
        if queue:
            item: object
            entry = queue.popleft()
            if type(entry) is tuple:
                index, item = entry
            else:
                index, item = self._head, entry
            self.last_index = index
            self._head = index + 1
            return item
        if self._ended:
            error = self._error
            if error is not None:
                self._error = None
                raise _fresh(error)
            return None
        return EMPTY

    def wait(self) -> asyncio.Future[None]:
        """A future done when ``get_nowait()`` may have something new (an item, or the end).

        Awaited straight from the reader's own coroutine, with no coroutine of its
        own in between; cancelling the wait leaves the queue as it was.
        """
        waiter = self._waiter
        if waiter is None or waiter.done():
            waiter = self._waiter = self._loop.create_future()
        return waiter

    async def get(self) -> object | None:
        """The next item, None when the consumer has ended; raises the pump's error at the end."""
        while (item := self.get_nowait()) is EMPTY:
            await self.wait()
        return item


def _fresh(error: BaseException) -> BaseException:
    # One error ends every reader: each raises its own copy, or their tracebacks would pile up on it.
    copied = copy.copy(error)
    copied.__traceback__ = None
    return copied
