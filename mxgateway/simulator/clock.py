"""The simulator's time: real by default, or a ``ManualClock`` that moves only when told to.

Everything the simulator times goes through its clock: the value schedules of
``update_rate_hz``, leases, the detach grace, the age of the replay ring, injected
latency and the time stamps it puts on events. A test gives the simulator a
``ManualClock`` and moves it on instead of sleeping::

    clock = ManualClock()
    async with Simulator(clock=clock, detach_grace_s=30) as sim:
        ...                           # a session's last stream goes away
        await clock.advance(30)       # the grace runs out now, not in 30 s

Network behaviour stays real: ``restart(downtime_s)`` and ``FaultProxy`` cuts
last real seconds, because the clients on the other side live in real time.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from typing import Protocol

__all__ = ["Clock", "ManualClock", "Timer"]


class Timer(Protocol):
    """A callback scheduled with ``Clock.call_later``."""

    def cancel(self) -> None:
        """Do not run the callback (no effect once it ran)."""


class Clock:
    """Real time, on the running event loop: what a ``Simulator`` uses unless given another clock."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (only differences mean anything)."""
        return time.monotonic()

    def time_ns(self) -> int:
        """Wall-clock time in nanoseconds since the epoch, for time stamps."""
        return time.time_ns()

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        """Run ``callback`` on the running loop after ``delay`` seconds."""
        return asyncio.get_running_loop().call_later(delay, callback)

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds``."""
        await asyncio.sleep(seconds)


class _ManualTimer:
    __slots__ = ("callback", "cancelled", "order", "when")

    def __init__(self, when: float, order: int, callback: Callable[[], None]) -> None:
        self.when = when
        self.order = order
        self.callback = callback
        self.cancelled = False

    def __lt__(self, other: _ManualTimer) -> bool:
        return (self.when, self.order) < (other.when, other.order)

    def cancel(self) -> None:
        self.cancelled = True


class ManualClock(Clock):
    """Time that stands still until ``advance()``; for tests that must not wait for the simulator.

    Timers and sleeps fire in order of their due time as ``advance()`` passes it,
    each seeing ``monotonic()`` at its own due time. Wall-clock time stamps start
    at ``start_ns`` (now, by default) and move with the clock. Use it from the
    simulator's event loop only: ``await clock.advance(s)`` in a test on that
    loop, or ``bg.call(clock.advance, s)`` for a background simulator.
    """

    def __init__(self, start_ns: int | None = None) -> None:
        self._now = 0.0
        self._start_ns = time.time_ns() if start_ns is None else start_ns
        self._timers: list[_ManualTimer] = []
        self._order = itertools.count()

    def __repr__(self) -> str:
        return f"ManualClock(at {self._now:g} s, {self.pending} timers pending)"

    def monotonic(self) -> float:
        """Seconds advanced so far."""
        return self._now

    def time_ns(self) -> int:
        """``start_ns`` plus the time advanced so far."""
        return self._start_ns + round(self._now * 1e9)

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        """Run ``callback`` when ``advance()`` passes ``delay`` seconds from now."""
        timer = _ManualTimer(self._now + max(0.0, delay), next(self._order), callback)
        heapq.heappush(self._timers, timer)
        return timer

    async def sleep(self, seconds: float) -> None:
        """Wait until ``advance()`` has moved the clock ``seconds`` on."""
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        woken = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not woken.done():
                woken.set_result(None)

        timer = self.call_later(seconds, wake)
        try:
            await woken
        finally:
            timer.cancel()

    @property
    def pending(self) -> int:
        """Timers and sleeps still waiting for their time."""
        return sum(1 for timer in self._timers if not timer.cancelled)

    async def advance(self, seconds: float) -> None:
        """Move the clock ``seconds`` on, firing every timer due on the way at its own time.

        After each timer the tasks it woke run up to their next wait, so a task
        sleeping in a loop is woken once for every period passed.
        """
        if seconds < 0:
            raise ValueError(f"a clock cannot go back: {seconds!r}")
        target = self._now + seconds
        while self._timers and self._timers[0].when <= target:
            timer = heapq.heappop(self._timers)
            if timer.cancelled:
                continue
            self._now = max(self._now, timer.when)
            timer.callback()
            await asyncio.sleep(0)
        self._now = target
        await asyncio.sleep(0)
