"""Store-and-forward: every message the bridge publishes passes through the outbox, in order.

While the broker is connected and nothing waits on disk, messages stay in a small
memory queue and cost no disk write. While it is not (or when the memory queue is
full), they go to the ``DiskQueue``. One rule keeps the order: memory holds only
messages older than everything on disk, so the publisher sends memory first, then
disk; when the connection drops, memory moves to the front of the disk queue.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from mxgateway.bridge.store import DiskQueue
from mxgateway.bridge.topics import Message

__all__ = ["Entry", "Outbox"]

_log = logging.getLogger("mxgateway.bridge")


@dataclass(frozen=True)
class Entry:
    """A message taken for publishing: ``row_id`` is set when it came from disk."""

    message: Message
    enqueued: float
    row_id: int | None = None

    @property
    def stored(self) -> bool:
        """True when the message waited on disk (Sparkplug flags it historical)."""
        return self.row_id is not None


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
        self._memory: deque[tuple[Message, float]] = deque()
        self._memory_limit = memory_limit
        self._on_drop = on_drop
        self._clock = clock
        self._connected = False
        self._wakeup = asyncio.Event()
        #: Highest disk row handed out and not yet acknowledged or returned.
        self._disk_cursor: int | None = None

    def __repr__(self) -> str:
        return f"Outbox(memory={len(self._memory)}, disk={len(self._disk)}, connected={self._connected})"

    @property
    def queued(self) -> int:
        """Messages waiting, in memory and on disk."""
        return len(self._memory) + len(self._disk)

    @property
    def stored(self) -> int:
        """Messages waiting on disk."""
        return len(self._disk)

    def _dropped(self, count: int, reason: str) -> None:
        if count:
            _log.warning("store-and-forward dropped %d message(s): %s", count, reason)
            if self._on_drop is not None:
                self._on_drop(count, reason)

    def put(self, messages: Sequence[Message]) -> None:
        """Queue messages behind everything queued before them."""
        if not messages:
            return
        now = self._clock()
        fits = len(self._memory) + len(messages) <= self._memory_limit
        if self._connected and not len(self._disk) and fits:
            self._memory.extend((m, now) for m in messages)
        else:
            self._dropped(self._disk.push(messages, now), "the queue is full (store.max_messages)")
        self._wakeup.set()

    def set_connected(self, connected: bool) -> None:
        """The publisher's connection state; losing it moves memory to the front of the disk queue."""
        self._connected = connected
        if not connected:
            self.spill()

    def spill(self) -> None:
        """Move what waits in memory to disk, ahead of what is there (on disconnect and on close)."""
        if self._memory:
            pending = list(self._memory)
            self._memory.clear()
            self._dropped(self._disk.push_front(pending), "the queue is full (store.max_messages)")
        self._disk_cursor = None

    async def take(self, limit: int) -> list[Entry]:
        """The oldest messages not yet handed out (memory first), waiting until there is one."""
        while True:
            entries = self._take_now(limit)
            if entries:
                return entries
            self._wakeup.clear()
            await self._wakeup.wait()

    def _take_now(self, limit: int) -> list[Entry]:
        out: list[Entry] = []
        memory = self._memory
        while memory and len(out) < limit:
            message, at = memory.popleft()
            out.append(Entry(message, at))
        if len(out) < limit and len(self._disk):
            self._dropped(self._disk.expire(), "older than store.max_age_s")
            for row_id, message, at in self._disk.peek(limit - len(out), self._disk_cursor):
                out.append(Entry(message, at, row_id))
                self._disk_cursor = row_id
        return out

    def done(self, entries: Sequence[Entry]) -> None:
        """Entries the broker acknowledged (a prefix of what ``take`` returned, in order)."""
        last = max((e.row_id for e in entries if e.row_id is not None), default=None)
        if last is not None:
            self._disk.remove_through(last)
            if self._disk_cursor is not None and self._disk_cursor <= last and not len(self._disk):
                self._disk_cursor = None

    def give_back(self, entries: Sequence[Entry]) -> None:
        """Entries taken but not acknowledged: they go out again first, in the same order."""
        from_memory = [(e.message, e.enqueued) for e in entries if e.row_id is None]
        self._memory.extendleft(reversed(from_memory))
        # Disk rows were never removed: reading from the start finds them again.
        self._disk_cursor = None
        self._wakeup.set()

    def close(self) -> None:
        """Persist what waits in memory and close the disk queue."""
        self.spill()
        self._disk.close()
