"""Never silent: every reader hears an event, a marker or a typed error within the liveness bound.

Half-open connections (a black hole the loopback proxy makes of the open
connection, while new ones work), streams refused because a dead stream holds
the session's one subscriber slot, readers that start during an outage or just
before the gateway restarts, and subscriptions bigger than the gateway's
per-subscriber queue.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from mxgateway import (
    ClientOptions,
    ConnectionState,
    DataChange,
    GatewayClient,
    ReconnectPolicy,
    SessionRecovered,
)
from mxgateway.simulator.demo_plant import generate_galaxy
from mxgateway.simulator.faultproxy import FaultProxy
from mxgateway.simulator.server import Simulator
from tests.resilience.conftest import FAST, TAGS, Plant, producing, until

#: Keepalive and window small enough for a test: the liveness bound is their sum (see docs/events.md).
QUICK = ReconnectPolicy(initial_backoff_s=0.05, max_backoff_s=0.3, window_s=2.0)


def _quick_options(endpoint: str) -> ClientOptions:
    return ClientOptions(
        endpoint=endpoint, reconnect=QUICK, keepalive_time_s=1.0, keepalive_timeout_s=1.0, default_timeout=5.0
    )


async def _next_change(reader: object, timeout: float) -> object:
    return await asyncio.wait_for(reader.__anext__(), timeout)  # type: ignore[attr-defined]


async def test_a_half_open_connection_is_noticed_and_the_stream_resumes(anyio_backend: object) -> None:
    # The server notices the dead connection quickly here, so its subscriber slot frees
    # and the stream resumes on the same session: nothing lost, no marker needed.
    async with (
        Simulator(update_rate_hz=0, keepalive_time_s=1.0, keepalive_timeout_s=1.0) as sim,
        FaultProxy(sim.host, sim.port) as proxy,
        GatewayClient.connect(options=_quick_options(proxy.endpoint)) as client,
    ):
        session = await client.open_session("half-open, resumed")
        changes_seen: list[tuple[ConnectionState, float]] = []

        async def record() -> None:
            async for change in session.state_changes():
                changes_seen.append((change.state, time.monotonic()))

        recorder = asyncio.create_task(record())
        async with session.subscribe(TAGS[:1]) as changes, producing(sim, period=0.05):
            await _next_change(changes, 5)
            assert proxy.black_hole() >= 1
            started = time.monotonic()
            await until(
                lambda: any(s is ConnectionState.RECONNECTING for s, _ in changes_seen), 6, "keepalive"
            )
            change = await _next_change(changes, 10)
            heard = time.monotonic() - started
        recorder.cancel()
        noticed = next(at for state, at in changes_seen if state is ConnectionState.RECONNECTING) - started
        assert isinstance(change, DataChange)
        assert noticed < 1.0 + 1.0 + 2.0  # keepalive time + timeout, with room for a loaded machine
        assert heard < 1.0 + 1.0 + 2.0 + 4.0
        assert session.connection_state is ConnectionState.CONNECTED
        assert session.session_id in sim.session_ids()


async def test_a_stream_slot_held_by_a_dead_connection_ends_in_recovery_within_the_window(
    anyio_backend: object,
) -> None:
    # The server keeps the dead stream as the session's one subscriber for a long time:
    # every resume is refused (FAILED_PRECONDITION). After the window the client moves
    # to a new session, says so with SessionRecovered, and closes the old one.
    async with (
        Simulator(update_rate_hz=0, keepalive_time_s=120.0, keepalive_timeout_s=60.0) as sim,
        FaultProxy(sim.host, sim.port) as proxy,
        GatewayClient.connect(options=_quick_options(proxy.endpoint)) as client,
    ):
        session = await client.open_session("half-open, slot held")
        old_id = session.session_id
        async with session.events() as events:
            await session.write_tag("Tank_001.Notes", "before the black hole")
            first = await _next_change(events, 5)
            assert first is not None
            proxy.black_hole()
            started = time.monotonic()
            heard: list[object] = []
            for _ in range(20):  # bounded: the marker comes within the bound
                item = await _next_change(events, 15)
                heard.append(item)
                if isinstance(item, SessionRecovered):
                    break
            elapsed = time.monotonic() - started
        assert isinstance(heard[-1], SessionRecovered), heard
        assert heard[-1].old_session_id == old_id
        # keepalive (1 + 1) + window (2) + recovery, on a loaded machine.
        assert elapsed < 1.0 + 1.0 + 2.0 + 6.0
        assert session.connection_state is ConnectionState.RECOVERED
        await until(lambda: old_id not in sim.session_ids(), 5, "the old session to be closed")
        assert session.session_id in sim.session_ids()
        proxy.heal()


async def test_a_reader_started_during_a_cut_waits_and_reconnects(plant: Plant) -> None:
    proxy = plant.proxy
    async with GatewayClient.connect(options=plant.options()) as client:
        session = await client.open_session("reader during a cut")
        await session.write_tag("Tank_001.Notes", "attached before the cut")
        await proxy.cut(1.0)
        async with session.events(after_worker_sequence=0) as events:
            first = await _next_change(events, 5)  # from the backlog, at once
            assert type(first).__name__ == "WriteComplete"
            waiting = asyncio.create_task(_next_change(events, 10))
            await until(lambda: not proxy.is_cut, 5, "the link to be back")
            await until(lambda: session.connection_state is ConnectionState.CONNECTED, 10, "the resume")
            await session.write_tag("Tank_001.Notes", "after the cut")
            change = await waiting
        assert type(change).__name__ == "WriteComplete"
        assert change.worker_sequence == first.worker_sequence + 1  # type: ignore[attr-defined]


async def test_an_events_reader_on_a_fresh_session_during_a_cut_does_not_fail(plant: Plant) -> None:
    proxy = plant.proxy
    async with GatewayClient.connect(options=plant.options()) as client:
        session = await client.open_session("first reader during a cut")
        await proxy.cut(0.8)
        async with session.events() as events:
            reading = asyncio.create_task(_next_change(events, 10))
            await until(lambda: not proxy.is_cut, 5, "the link to be back")
            await until(lambda: session.connection_state is ConnectionState.CONNECTED, 10, "the attach")
            await session.write_tag("Tank_001.Notes", "after the cut")
            item = await reading
        assert type(item).__name__ == "WriteComplete"


async def test_a_subscription_entered_as_the_gateway_restarts_recovers(anyio_backend: object) -> None:
    async with Simulator(update_rate_hz=0) as sim:
        options = ClientOptions(endpoint=sim.endpoint, reconnect=FAST, default_timeout=5.0)
        async with GatewayClient.connect(options=options) as client:
            session = await client.open_session("entered before a restart")
            subscription = session.subscribe(TAGS)
            entering = asyncio.create_task(subscription.start())
            await sim.restart(0.3)  # the gateway forgets every session
            await asyncio.wait_for(entering, 15)
            async with subscription:
                seen = {(await _next_change(subscription, 10)).tag for _ in TAGS}  # type: ignore[attr-defined]
            assert seen == set(TAGS)
            assert session.session_id in sim.session_ids()


async def test_a_subscription_bigger_than_the_gateways_queue_gets_every_first_value(
    anyio_backend: object,
) -> None:
    # The gateway's per-subscriber queue holds 50 events: without flow control 250 of the
    # 300 first values would be dropped, and with values frozen nothing would reveal it.
    galaxy = generate_galaxy(80, attributes_per_object=4)
    tags = [a.full_tag_reference for o in galaxy.objects for a in o.attributes][:300]
    assert len(tags) == 300
    async with Simulator(galaxy=galaxy, update_rate_hz=0, subscriber_queue_size=50) as sim:
        async with (
            GatewayClient.connect(sim.endpoint) as client,
            await client.open_session("big") as session,
            session.subscribe(tags) as subscription,
        ):
            seen: set[str] = set()
            for _ in range(len(tags)):
                change = await _next_change(subscription, 10)
                assert isinstance(change, DataChange)
                seen.add(change.tag or "")
        assert seen == set(tags)
        assert sim.stats.events_dropped > 0  # the gateway did drop first values


async def test_chunks_in_flight_never_outgrow_a_queue_that_holds_two_of_them(
    anyio_backend: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mxgateway._session import subscription as subscriptions

    # Chunks of 40 against a queue of 90: the next chunk goes out while the last one's
    # values still arrive, and nothing the gateway sends is ever dropped or read again.
    monkeypatch.setattr(subscriptions, "SUBSCRIBE_CHUNK", 40)
    galaxy = generate_galaxy(110, attributes_per_object=4)
    tags = [a.full_tag_reference for o in galaxy.objects for a in o.attributes][:400]
    assert len(tags) == 400
    async with Simulator(galaxy=galaxy, update_rate_hz=0, subscriber_queue_size=90) as sim:
        async with (
            GatewayClient.connect(sim.endpoint) as client,
            await client.open_session("chunks") as session,
            session.subscribe(tags) as subscription,
        ):
            changes = [await _next_change(subscription, 10) for _ in tags]
            assert [c.tag for c in changes if isinstance(c, DataChange)] == tags
            assert all(c.worker_sequence > 0 for c in changes)  # every value streamed, none read
            assert len(subscription.latest) == len(tags)
        assert sim.stats.events_dropped == 0
        assert sim.stats.invoke_calls["MX_COMMAND_KIND_SUBSCRIBE_BULK"] == 10
        assert sim.stats.invoke_calls["MX_COMMAND_KIND_READ_BULK"] == 0


async def test_a_replay_reader_leaves_the_next_reader_nothing_skipped_without_a_marker(
    anyio_backend: object,
) -> None:
    async with Simulator(update_rate_hz=0) as sim:
        options = ClientOptions(endpoint=sim.endpoint, event_backlog_size=3)
        async with GatewayClient.connect(options=options) as client:
            session = await client.open_session("small backlog")
            for n in range(6):
                await session.write_and_confirm("Tank_001.Notes", f"write {n}")
            async with session.events(after_worker_sequence=1) as replay:
                marker = await _next_change(replay, 5)
            assert type(marker).__name__ == "ReplayGap"
            async with session.events() as events:
                items = [await _next_change(events, 5) for _ in range(4)]
        dropped, *rest = items
        assert type(dropped).__name__ == "EventsDropped"
        assert dropped.count == 3  # type: ignore[attr-defined]
        assert [i.worker_sequence for i in rest] == [4, 5, 6]  # type: ignore[attr-defined]


async def test_an_event_raised_while_a_stream_without_events_yet_resumes_is_not_lost(
    anyio_backend: object,
) -> None:
    # Resuming after sequence 0 is live-only: a command that raises the session's first
    # event while the stream is away must wait for it, as it does before the first attach.
    async with Simulator(update_rate_hz=0) as sim:
        options = ClientOptions(endpoint=sim.endpoint, reconnect=FAST, default_timeout=5.0)
        async with GatewayClient.connect(options=options) as client:
            session = await client.open_session("first event during a resume")
            async with session.events() as events:
                await events.wait_connected()
                sim.faults.stream_latency_s = 0.5  # the resume takes a while to attach
                await sim.drop_event_streams()
                await until(lambda: session.connection_state is ConnectionState.RECONNECTING, 5, "the drop")
                await session.write_tag("Tank_001.Notes", "raised while the stream is away")
                item = await _next_change(events, 5)
        assert type(item).__name__ == "WriteComplete"
        assert item.worker_sequence == 1  # type: ignore[attr-defined]
