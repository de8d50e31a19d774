"""Consumers of the event pump: the first event is kept, loops lose nothing, slow readers shed alone."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from mxgateway import (
    ClientOptions,
    DataChange,
    EventsDropped,
    GatewayClient,
    WriteComplete,
)
from mxgateway.simulator.clock import ManualClock
from mxgateway.simulator.server import Simulator

from .conftest import TAGS, Plant, until

pytestmark = pytest.mark.anyio


async def test_the_readme_flow_gets_the_advise_value(plant: Plant) -> None:
    async with GatewayClient.connect(options=plant.options()) as client:
        session = await client.open_session("readme")
        server = await session.register("readme")
        item = await session.add_item(server, "Tank_001.Level")
        await session.advise(server, item)
        async for event in session.events():  # opened after ADVISE: its value is still there
            assert isinstance(event, DataChange)
            assert (event.worker_sequence, event.tag) == (1, "Tank_001.Level")
            break
        notes = await session.add_item(server, "Tank_001.Notes")
        await session.write(server, notes, "between two loops")
        async for event in session.events():
            assert isinstance(event, WriteComplete)
            assert event.item_handle == notes
            assert event.worker_sequence == 2
            break


async def test_a_slow_reader_sheds_alone_and_learns_at_once(plant: Plant) -> None:
    sim = plant.simulator
    async with GatewayClient.connect(options=plant.options(event_queue_size=50)) as client:
        session = await client.open_session("slow")
        server = await session.default_server_handle()
        item = await session.add_item(server, "Tank_001.Notes")
        fast, slow = session.events(), session.events()
        await fast.wait_connected()
        fast_seen: list[int] = []

        async def read_fast() -> None:
            async for event in fast:
                fast_seen.append(event.worker_sequence)  # type: ignore[union-attr]

        reader = asyncio.create_task(read_fast())
        await session.write(server, item, "n0")
        first = await asyncio.wait_for(slow.__anext__(), 5)
        for i in range(1, 300):
            await session.write(server, item, f"n{i}")
        await until(lambda: len(fast_seen) == 300, 10, "the fast reader")
        overflowed_by = time.monotonic()
        marker = await asyncio.wait_for(slow.__anext__(), 5)
        latency = time.monotonic() - overflowed_by
        reader.cancel()
        assert first.worker_sequence == 1  # type: ignore[union-attr]
        assert isinstance(marker, EventsDropped)
        assert latency < 1.0
        # The slow reader lost exactly the oldest events; the newest 50 follow, in order.
        assert (marker.first_sequence, marker.last_sequence, marker.count) == (2, 250, 249)
        rest = [(await asyncio.wait_for(slow.__anext__(), 5)).worker_sequence for _ in range(50)]  # type: ignore[union-attr]
        assert rest == list(range(251, 301))
        # The fast reader and the session were untouched.
        assert fast_seen == list(range(1, 301))
        assert session.session_id in sim.session_ids()


async def test_a_session_whose_reader_left_outlives_the_grace(anyio_backend: object) -> None:
    clock = ManualClock()
    async with (
        Simulator(update_rate_hz=0, detach_grace_s=0.3, clock=clock) as sim,
        GatewayClient.connect(options=ClientOptions(endpoint=sim.endpoint)) as client,
    ):
        session = await client.open_session("unary only afterwards")
        async with session.subscribe(TAGS[:1]) as subscription:
            async for _change in subscription:
                break
        # A round trip behind whatever the subscription's end sent, then three times the grace.
        (result,) = await session.read(TAGS[:1])
        assert result.ok
        await clock.advance(1.0)
        (result,) = await session.read(TAGS[:1])
        assert result.ok
        assert sim.session_ids() == [session.session_id]
        assert sim.stats.sessions_expired == 0


async def test_state_changes_are_logged_at_info(plant: Plant, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="mxgateway")
    async with GatewayClient.connect(options=plant.options()) as client:
        session = await client.open_session("logged")
        stream = session.events()
        await stream.wait_connected()
        await plant.proxy.cut(0.5)
        await until(lambda: "reconnecting" in caplog.text, 5, "the reconnecting line")
        await until(lambda: "connected: resumed after sequence" in caplog.text, 10, "the resumed line")
    lines = [r for r in caplog.records if r.name == "mxgateway.events"]
    assert all(r.levelno == logging.INFO for r in lines if "reconnecting" in r.getMessage())


async def test_every_consumer_shares_one_stream_and_a_read_opens_none(plant: Plant) -> None:
    sim = plant.simulator
    async with GatewayClient.connect(options=plant.options()) as client:
        session = await client.open_session("one stream")
        (result,) = await session.read(["Tank_001.Level"])
        assert result.ok
        assert sim.stats.streams_opened == 0
        first, second = session.events(), session.events()
        async with session.subscribe(TAGS) as subscription:
            change = await asyncio.wait_for(subscription.__anext__(), 5)
            outcome = await session.write_and_confirm("Tank_001.Notes", "shared")
            assert outcome.ok
            assert change.tag in TAGS
            seen_first = await asyncio.wait_for(first.__anext__(), 5)
            seen_second = await asyncio.wait_for(second.__anext__(), 5)
        assert seen_first == seen_second  # both readers got the same first event
        assert sim.stats.streams_opened == 1
