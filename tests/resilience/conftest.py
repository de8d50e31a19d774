"""Fixtures of the resilience tests: a simulator behind a fault proxy, and event producers."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest

from mxgateway import ClientOptions, ReconnectPolicy
from mxgateway.simulator.faultproxy import FaultProxy
from mxgateway.simulator.server import Simulator

#: Reconnect quickly in tests (the default caps the back-off at 3 s).
FAST = ReconnectPolicy(initial_backoff_s=0.05, max_backoff_s=0.5)
TAGS = ["Tank_001.Level", "Tank_001.Volume", "Pump_001.Speed"]


@dataclass
class Plant:
    """A simulator and the proxy its clients go through."""

    simulator: Simulator
    proxy: FaultProxy

    def options(self, **changes: object) -> ClientOptions:
        base = ClientOptions(endpoint=self.proxy.endpoint, default_timeout=5.0, reconnect=FAST)
        return base.replace(**changes) if changes else base


@pytest.fixture
async def plant(anyio_backend: object) -> AsyncIterator[Plant]:
    async with Simulator(update_rate_hz=0) as sim, FaultProxy(sim.host, sim.port) as proxy:
        yield Plant(sim, proxy)


@contextlib.asynccontextmanager
async def producing(simulator: Simulator, period: float = 0.02, limit: int = 5_000) -> AsyncIterator[None]:
    """Values move every ``period`` seconds (a bounded number of times) until the block ends."""

    async def run() -> None:
        for _ in range(limit):
            await simulator.advance(0.1)
            await asyncio.sleep(period)

    task = asyncio.create_task(run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Wait (bounded) until ``predicate()`` holds."""
    deadline = time.monotonic() + timeout
    for _ in range(int(timeout / 0.01) + 1):
        if predicate():
            return
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


async def within(awaitable: Awaitable[object], timeout: float) -> object:
    return await asyncio.wait_for(awaitable, timeout)
