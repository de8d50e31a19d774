"""Fixtures of the alarm tests: a simulator whose values move only on ``advance()``, and helpers."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import anyio
import pytest

from mxgateway.simulator.server import Simulator

GALAXY = "demo-water-plant!"
#: Tank_001.Level follows 60 + 20 sin(2 pi t / 60): Hi (72) raises at t = 6.1 s, clears at 23.9 s.
TANK1_HI = GALAXY + "Intake.Tank_001.Level.Hi"
TANK1_HIHI = GALAXY + "Intake.Tank_001.Level.HiHi"
#: FlowMeter_001.Flow follows 120 + 30 sin(2 pi t / 45): LoLo (93) holds around t = 34 s.
FLOW_LOLO = GALAXY + "Treatment.FlowMeter_001.Flow.LoLo"
#: Channel arguments that let a test's client reconnect within half a second of a fault ending.
FAST_RECONNECT = (("grpc.initial_reconnect_backoff_ms", 100), ("grpc.max_reconnect_backoff_ms", 400))


# The simulator and client fixtures are the root conftest's.


class PlantClock:
    """The simulated time of a fresh simulator, moved on in evaluated steps."""

    def __init__(self, simulator: Simulator) -> None:
        self.simulator = simulator
        self.elapsed_s = 0.0

    async def advance_to(self, elapsed_s: float, step_s: float = 1.0) -> None:
        """Move the schedules on to ``elapsed_s`` seconds, one step at a time (each is evaluated)."""
        for _ in range(100_000):
            remaining = elapsed_s - self.elapsed_s
            if remaining <= 1e-9:
                return
            step = min(step_s, remaining)
            await self.simulator.advance(step)
            self.elapsed_s += step
        raise AssertionError("advance_to did not reach its time")


@pytest.fixture
def clock(simulator: Simulator) -> PlantClock:
    return PlantClock(simulator)


async def wait_for(condition: Callable[[], bool | Awaitable[bool]], *, timeout: float = 10.0) -> None:
    """Poll ``condition`` until it holds (bounded in polls and time)."""
    deadline = time.monotonic() + timeout
    for _ in range(int(timeout / 0.02) + 1):
        result = condition()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            break
        await anyio.sleep(0.02)
    raise AssertionError("condition not met in time")
