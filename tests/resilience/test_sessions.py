"""Lost sessions without a stream, fail-over at open, gaps in a subscription, the gateway's stream rules."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from mxgateway import (
    Client,
    ClientOptions,
    DataChange,
    GatewayClient,
    MxGatewayInvalidRequestError,
    MxGatewaySessionLostError,
    ReconnectPolicy,
)
from mxgateway.generated import mxaccess_gateway_pb2 as pb
from mxgateway.generated import mxaccess_gateway_pb2_grpc as pb_grpc
from mxgateway.simulator.faultproxy import FaultProxy
from mxgateway.simulator.server import Simulator
from tests.loopback import closed_port

from .conftest import FAST, TAGS, producing, until

pytestmark = pytest.mark.anyio


async def test_a_client_opens_on_the_next_endpoint_when_the_first_is_down(anyio_backend: object) -> None:
    async with Simulator(update_rate_hz=0) as sim:
        endpoint = f"127.0.0.1:{closed_port()},{sim.endpoint}"
        async with Client(endpoint=endpoint, default_timeout=3.0) as client:
            (result,) = await client.read(["Tank_001.Level"])
            assert result.ok
            assert sim.session_ids() == [client.session_id]


async def test_the_tag_level_api_recovers_a_session_the_gateway_lost(anyio_backend: object) -> None:
    async with Simulator(update_rate_hz=0) as sim, Client(endpoint=sim.endpoint) as client:
        server = await client.register("my own handles")
        await client.write_tag("Tank_001.Notes", "before")
        old_id = client.session_id
        async with GatewayClient.connect(sim.endpoint) as other:
            await other.close_session_raw(old_id)  # as a gateway restart that lost it would
        (result,) = await client.read(["Tank_001.Notes"])
        assert result.ok
        assert result.value == "before"
        assert client.session_id != old_id
        assert sim.session_ids() == [client.session_id]
        await client.write_tag("Tank_001.Notes", "after")
        outcome = await client.write_and_confirm("Tank_001.Notes", "confirmed")
        assert outcome.ok
        with pytest.raises(MxGatewaySessionLostError) as info:
            await client.add_item(server, "Tank_001.Level")
        assert f"server handle {server}" in str(info.value)
        mine = await client.register("registered again")  # new handles work
        assert await client.add_item(mine, "Tank_001.Level") > 0


async def test_a_subscription_re_reads_its_tags_after_a_replay_gap(anyio_backend: object) -> None:
    async with (
        Simulator(update_rate_hz=0, replay_capacity=8) as sim,
        FaultProxy(sim.host, sim.port) as proxy,
        GatewayClient.connect(options=ClientOptions(endpoint=proxy.endpoint, reconnect=FAST)) as client,
    ):
        session = await client.open_session("gap")
        async with session.subscribe(TAGS) as subscription:
            seen: list[DataChange] = []

            async def read_changes() -> None:
                async for change in subscription:
                    seen.append(change)

            reader = asyncio.create_task(read_changes())
            await until(lambda: len(seen) >= len(TAGS), 5, "the first values")
            await proxy.cut(1.0)
            for _ in range(10):  # far more events than the gateway's ring keeps
                await sim.advance(1.0)
            await until(lambda: subscription.missed > 0, 10, "the gap to be noticed")
            await until(
                lambda: {c.tag for c in seen if c.worker_sequence == 0} == set(TAGS), 5, "every re-read value"
            )
            reader.cancel()
        current = {r.tag: r.value for r in await session.read(TAGS)}
        assert {tag: subscription.latest[tag].value for tag in TAGS} == current


async def test_older_changes_replayed_after_a_re_read_do_not_turn_latest_back(anyio_backend: object) -> None:
    # After a gap the tags are re-read (the current values), then the changes the
    # gateway still had come through, all older than the re-read: delivered, but
    # ``latest`` must keep the re-read values, wherever the reader stops.
    async with (
        Simulator(update_rate_hz=0, replay_capacity=8) as sim,
        FaultProxy(sim.host, sim.port) as proxy,
        GatewayClient.connect(options=ClientOptions(endpoint=proxy.endpoint, reconnect=FAST)) as client,
    ):
        session = await client.open_session("gap")
        async with session.subscribe(TAGS) as subscription:
            for _ in TAGS:
                await asyncio.wait_for(subscription.__anext__(), 5)
            await proxy.cut(1.0)
            for _ in range(10):  # far more events than the gateway's ring keeps
                await sim.advance(1.0)
            after_reread: list[DataChange] = []
            for _ in range(100):
                change = await asyncio.wait_for(subscription.__anext__(), 10)
                if change.worker_sequence == 0 or after_reread:
                    after_reread.append(change)
                if len(after_reread) == len(TAGS) + 1:
                    break
            assert [c.worker_sequence for c in after_reread[: len(TAGS)]] == [0] * len(TAGS)
            current = {r.tag: r.value for r in await session.read(TAGS)}  # values stand still
            replayed = after_reread[-1]
            assert replayed.worker_sequence > 0
            assert replayed.value != current[replayed.tag]  # an older change, delivered
            assert {tag: subscription.latest[tag].value for tag in TAGS} == current


async def test_the_gateway_allows_one_event_stream_per_session(anyio_backend: object) -> None:
    async with Simulator(update_rate_hz=0) as sim, GatewayClient.connect(sim.endpoint) as client:
        session = await client.open_session("one subscriber")
        stream = session.events()
        await stream.wait_connected()
        stub = pb_grpc.MxAccessGatewayStub(client.channel)
        second = stub.StreamEvents(pb.StreamEventsRequest(session_id=session.session_id))
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await second.read()
        assert info.value.code() is grpc.StatusCode.FAILED_PRECONDITION
        assert "MaxEventSubscribersPerSession 1" in (info.value.details() or "")
        fresh = await client.open_session("nothing happened yet")
        with pytest.raises(MxGatewayInvalidRequestError, match="beyond the newest event 0"):
            async with client.stream_events_raw(fresh.session_id, after_worker_sequence=5) as raw:
                await raw.__anext__()


async def test_the_simulator_can_allow_more_event_streams(anyio_backend: object) -> None:
    async with (
        Simulator(update_rate_hz=0, max_event_subscribers=8) as sim,
        GatewayClient.connect(sim.endpoint) as client,
    ):
        session = await client.open_session("many subscribers")
        raws = [client.stream_events_raw(session.session_id) for _ in range(8)]
        for raw in raws:
            await raw.wait_connected()
        assert sim.stats.streams_opened == 8
        ninth = client.stream_events_raw(session.session_id)
        with pytest.raises(MxGatewayInvalidRequestError, match="limit"):
            await ninth.wait_connected()
    with pytest.raises(ValueError, match="1 to 8"):
        Simulator(max_event_subscribers=9)


async def test_within_the_window_a_cut_costs_no_session(anyio_backend: object) -> None:
    async with Simulator(update_rate_hz=0) as sim, FaultProxy(sim.host, sim.port) as proxy:
        policy = ReconnectPolicy(initial_backoff_s=0.05, max_backoff_s=0.2)
        async with GatewayClient.connect(
            options=ClientOptions(endpoint=proxy.endpoint, reconnect=policy)
        ) as client:
            session = await client.open_session("window")
            async with session.subscribe(TAGS[:1]) as subscription:
                first = await asyncio.wait_for(subscription.__anext__(), 5)
                await proxy.cut(0.5)
                async with producing(sim):
                    change = await asyncio.wait_for(subscription.__anext__(), 10)
            assert change.worker_sequence == first.worker_sequence + 1
            assert sim.stats.sessions_opened == 1
            assert subscription.recoveries == 0
