"""Every event survives real outages: a cut connection, a stopped gateway, a killed stream.

Each test keeps values moving on the simulator during the outage and then asserts on
``worker_sequence``: what the client delivered is contiguous, free of duplicates and
exactly what the simulator produced.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from mxgateway import (
    ConnectionState,
    DataChange,
    EventStream,
    GatewayClient,
    Session,
    StateChange,
)

from .conftest import TAGS, Plant, producing, until

pytestmark = pytest.mark.anyio


async def collect_through(stream: EventStream, last_sequence: int, timeout: float) -> list[int]:
    """Sequences delivered until ``last_sequence`` arrived."""
    sequences: list[int] = []

    async def run() -> None:
        async for event in stream:
            sequence = getattr(event, "worker_sequence", None)
            assert sequence is not None, f"unexpected marker {event!r}"
            sequences.append(sequence)
            if sequence >= last_sequence:
                return

    await asyncio.wait_for(run(), timeout)
    return sequences


async def advise_all(session: Session) -> None:
    server = await session.default_server_handle()
    for tag in TAGS:
        await session.advise(server, await session.add_item(server, tag))


async def outage(plant: Plant, kind: str, seconds: float) -> None:
    if kind == "cut":
        await plant.proxy.cut(seconds)
        await asyncio.sleep(seconds)
    elif kind == "restart":
        await plant.simulator.restart(downtime_s=seconds)
    else:
        await plant.simulator.drop_event_streams()
        await asyncio.sleep(seconds)


OUTAGES = [
    pytest.param("cut", 0.3, id="cut-0.3s"),
    pytest.param("cut", 2.0, id="cut-2s"),
    pytest.param("cut", 20.0, id="cut-20s", marks=pytest.mark.slow),
    pytest.param("restart", 2.0, id="restart-2s"),
    pytest.param("killed", 0.2, id="killed-0.2s"),
]


@pytest.mark.parametrize(("kind", "seconds"), OUTAGES)
async def test_events_keep_every_event_across_an_outage(plant: Plant, kind: str, seconds: float) -> None:
    sim = plant.simulator
    async with GatewayClient.connect(options=plant.options()) as client:
        session = await client.open_session("outage")
        changes: list[StateChange] = []

        async def watch() -> None:
            async for change in session.state_changes():
                changes.append(change)

        watcher = asyncio.create_task(watch())
        await advise_all(session)
        stream = session.events()
        # Slow enough that a 20 s outage stays within the gateway's replay ring (1,024 events).
        async with producing(sim, period=0.1):
            await until(lambda: sim.stats.events_published > 20, 10, "events before the outage")
            await outage(plant, kind, seconds)
            published_after_outage = sim.stats.events_published
            await until(lambda: sim.stats.events_published > published_after_outage + 20, 10, "events after")
        target = sim.stats.events_published
        started = time.monotonic()
        sequences = await collect_through(stream, target, timeout=15)
        watcher.cancel()
        # Every event, in order, none twice, from the ADVISE values on.
        assert sequences == list(range(1, target + 1))
        assert session.session_id in sim.session_ids()
        assert time.monotonic() - started < 15
        if kind != "killed":
            states = [c.state for c in changes]
            assert ConnectionState.RECONNECTING in states, states
            assert states[-1] is ConnectionState.CONNECTED, states


@pytest.mark.parametrize(("kind", "seconds"), [("cut", 2.0), ("restart", 2.0)], ids=["cut-2s", "restart-2s"])
async def test_subscribe_keeps_every_change_across_an_outage(plant: Plant, kind: str, seconds: float) -> None:
    sim = plant.simulator
    async with GatewayClient.connect(options=plant.options()) as client:
        session = await client.open_session("subscribe-outage")
        async with session.subscribe(TAGS) as subscription:
            seen: list[DataChange] = []

            async def read_changes() -> None:
                async for change in subscription:
                    seen.append(change)

            reader = asyncio.create_task(read_changes())
            async with producing(sim):
                await until(lambda: len(seen) > 20, 10, "changes before the outage")
                await outage(plant, kind, seconds)
                count = len(seen)
                await until(lambda: len(seen) > count + 20, 15, "changes after the outage")
            target = sim.stats.events_published
            await until(lambda: bool(seen) and seen[-1].worker_sequence >= target, 10, "the last change")
            reader.cancel()
        sequences = [c.worker_sequence for c in seen]
        assert sequences == list(range(1, target + 1))
        assert subscription.missed == 0
        assert {c.tag for c in seen} == set(TAGS)
