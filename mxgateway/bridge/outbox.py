"""Store-and-forward: every message the bridge publishes passes through the outbox, in order.

Each message gets a sequence number when it is queued; the order is that number,
wherever the message waits. While the broker is connected, messages wait in a small
memory queue and cost no disk write; while it is not (and whenever memory would
exceed its limit), they go to the ``DiskQueue``, keyed by their number. ``take``
merges the two by number, so the broker sees them in the order they were queued,
however often they moved between memory and disk.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import NamedTuple

from mxgateway.bridge.store import DiskQueue
from mxgateway.bridge.topics import Message

__all__ = ["Entry", "Outbox"]

_log = logging.getLogger("mxgateway.bridge")
_FULL = "the queue is full (store.max_messages)"
#: At most one log line about dropped messages per this many seconds (with the count since the last).
DROP_LOG_INTERVAL_S = 10.0


class DropLog:
    """Logs dropped messages as one WARNING line per interval with their count, never one per message."""

    def __init__(
        self, interval_s: float = DROP_LOG_INTERVAL_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._interval_s = interval_s
        self._clock = clock
        self._last = -interval_s
        self._pending: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"DropLog(pending={sum(self._pending.values())})"

    def add(self, count: int, reason: str) -> None:
        """Count a drop; logs at once when the last line is older than the interval."""
        self._pending[reason] = self._pending.get(reason, 0) + count
        self.flush(due_only=True)

    def flush(self, *, due_only: bool = False) -> None:
        """Log what was counted since the last line (only when the interval is over, with ``due_only``)."""
        now = self._clock()
        if not self._pending or (due_only and now - self._last < self._interval_s):
            return
        self._last = now
        for reason, count in self._pending.items():
            _log.warning("store-and-forward dropped %d message(s): %s", count, reason)
        self._pending.clear()


class Entry(NamedTuple):
    """A queued message, its sequence number, when it was queued and whether it is on disk."""

    seq: int
    message: Message
    enqueued: float
    stored: bool = False


class Outbox:
    """The ordered queue between the gateway side and the MQTT publisher."""

    def __init__(
        self,
        disk: DiskQueue,
        *,
        memory_limit: int = 2_000,
        on_drop: Callable[[int, str], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._disk = disk
        self._memory: deque[Entry] = deque()
        self._memory_limit = memory_limit
        self._on_drop = on_drop
        self._clock = clock
        self._connected = False
        self._wakeup = asyncio.Event()
        self._next_seq = disk.last_id + 1
        #: The highest disk row handed out by ``take`` (and not returned since).
        self._disk_cursor: int | None = None
        self._drop_log = DropLog()

    def __repr__(self) -> str:
        return f"Outbox(memory={len(self._memory)}, disk={len(self._disk)}, connected={self._connected})"

    @property
    def queued(self) -> int:
        """Messages waiting (including those handed out and not yet acknowledged on disk)."""
        return len(self._memory) + len(self._disk)

    @property
    def stored(self) -> int:
        """Messages waiting on disk."""
        return len(self._disk)

    @property
    def last_seq(self) -> int:
        """The number of the newest message queued (0 before any)."""
        return self._next_seq - 1

    def oldest_enqueued(self) -> float | None:
        """When the oldest waiting message was queued (None when none waits)."""
        first = self._disk.oldest_enqueued()
        if self._memory:
            head = self._memory[0].enqueued
            first = head if first is None else min(first, head)
        return first

    def _dropped(self, count: int, reason: str) -> None:
        if count:
            self._drop_log.add(count, reason)
            if self._on_drop is not None:
                self._on_drop(count, reason)

    def _to_disk(self, entries: Sequence[Entry]) -> None:
        self._dropped(self._disk.push([(e.seq, e.message, e.enqueued) for e in entries]), _FULL)

    def put(self, messages: Sequence[Message]) -> int:
        """Queue messages behind everything queued before them; returns how many went to disk."""
        if not messages:
            return 0
        now = self._clock()
        first = self._next_seq
        self._next_seq += len(messages)
        entries = [Entry(first + i, m, now) for i, m in enumerate(messages)]
        stored = 0
        if not self._connected:
            self._to_disk(entries)
            stored = len(entries)
        else:
            if len(self._memory) + len(entries) > self._memory_limit:
                # The broker is slower than the gateway: what waits in memory moves to disk.
                stored = len(self._memory)
                self._to_disk(list(self._memory))
                self._memory.clear()
            self._memory.extend(entries)
        self._wakeup.set()
        return stored

    def set_connected(self, connected: bool) -> None:
        """The publisher's connection state; losing it moves memory to disk."""
        self._connected = connected
        if not connected:
            self.spill()

    def spill(self) -> None:
        """Move what waits in memory to disk (on disconnect and on close)."""
        if self._memory:
            self._to_disk(list(self._memory))
            self._memory.clear()
        self._disk_cursor = None

    async def take(self, limit: int, interrupt: asyncio.Event | None = None) -> list[Entry]:
        """The oldest messages not yet handed out, waiting until there is one (or ``interrupt`` is set)."""
        while True:
            entries = self._take_now(limit)
            if entries or (interrupt is not None and interrupt.is_set()):
                return entries
            self._wakeup.clear()
            await self._wakeup.wait()

    def wake(self) -> None:
        """Make a waiting ``take`` look again (at its ``interrupt``)."""
        self._wakeup.set()

    def _take_now(self, limit: int) -> list[Entry]:
        self._drop_log.flush(due_only=True)
        rows: list[Entry] = []
        if len(self._disk):
            self._dropped(self._disk.expire(), "older than store.max_age_s")
            rows = [Entry(i, m, at, True) for i, m, at in self._disk.peek(limit, self._disk_cursor)]
        out: list[Entry] = []
        memory = self._memory
        r = 0
        while len(out) < limit and (memory or r < len(rows)):
            if r < len(rows) and (not memory or rows[r].seq < memory[0].seq):
                out.append(rows[r])
                self._disk_cursor = rows[r].seq
                r += 1
            else:
                out.append(memory.popleft())
        return out

    def done(self, entries: Sequence[Entry]) -> None:
        """Entries the broker acknowledged (a prefix of what ``take`` returned, in order)."""
        last = max((e.seq for e in entries if e.stored), default=None)
        if last is not None:
            # Every row up to it was handed out before it and acknowledged: take merges in order.
            self._disk.remove_through(last)

    def give_back(self, entries: Sequence[Entry]) -> None:
        """Entries taken but not acknowledged: they go out again first, in the same order."""
        self._memory.extendleft(reversed([e for e in entries if not e.stored]))
        # Disk rows were never removed: reading from the start finds them again.
        self._disk_cursor = None
        self._wakeup.set()

    def close(self) -> None:
        """Persist what waits in memory and close the disk queue."""
        self.spill()
        self._drop_log.flush()
        self._disk.close()
