"""The simulator's clock: a ManualClock fires timers in order as a test moves it on."""

from __future__ import annotations

import asyncio

import pytest
from mx_raw import read_events, serve

from mxgateway.simulator import Clock, ManualClock

pytestmark = pytest.mark.anyio


async def test_timers_fire_in_order_each_at_its_own_time() -> None:
    clock = ManualClock(start_ns=1_000_000_000)
    fired: list[tuple[str, float, int]] = []

    def note(name: str) -> None:
        fired.append((name, clock.monotonic(), clock.time_ns()))

    clock.call_later(2.0, lambda: note("late"))
    clock.call_later(0.5, lambda: note("early"))
    cancelled = clock.call_later(1.0, lambda: note("cancelled"))
    clock.call_later(0.5, lambda: note("early, second"))
    cancelled.cancel()
    assert clock.pending == 3
    await clock.advance(1.5)
    assert fired == [("early", 0.5, 1_500_000_000), ("early, second", 0.5, 1_500_000_000)]
    assert clock.monotonic() == 1.5
    await clock.advance(0.5)
    assert fired[-1] == ("late", 2.0, 3_000_000_000)
    assert clock.pending == 0


async def test_a_task_sleeping_in_a_loop_wakes_once_per_period_passed() -> None:
    clock = ManualClock()
    woken: list[float] = []

    async def tick() -> None:
        for _ in range(100):
            await clock.sleep(0.25)
            woken.append(clock.monotonic())

    task = asyncio.create_task(tick())
    await asyncio.sleep(0)  # the task starts and waits for its first period
    await clock.advance(1.0)
    assert woken == [0.25, 0.5, 0.75, 1.0]
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert clock.pending == 0  # a cancelled sleep leaves no timer behind


async def test_a_clock_does_not_go_back() -> None:
    with pytest.raises(ValueError, match="cannot go back"):
        await ManualClock().advance(-1)


async def test_the_real_clock_is_the_default() -> None:
    async with serve() as (sim, _):
        assert type(sim.clock) is Clock


async def test_values_move_with_the_clock_at_the_update_rate() -> None:
    clock = ManualClock()
    async with serve(update_rate_hz=2, clock=clock) as (sim, raw):
        call = raw.stream()
        await call.initial_metadata()
        handle = await raw.register()
        await raw.advise(handle, await raw.add(handle, "AppEngine_001.Heartbeat"))
        (first,) = await read_events(call, 1)
        await clock.advance(3.0)  # six updates of half a simulated second
        changes = await read_events(call, 3)
        call.cancel()
    # The heartbeat counts whole simulated seconds: each second is one change.
    assert [e.value.int32_value for e in [first, *changes]] == [0, 1, 2, 3]
    assert sim.stats.events_published == 4
