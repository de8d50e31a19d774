"""A session lost for good: the tag-level API recovers on a new session, handles do not."""

from __future__ import annotations

import asyncio

import pytest

from mxgateway import (
    ClientOptions,
    ConnectionState,
    DataChange,
    GatewayClient,
    MxGatewaySessionLostError,
    ReconnectPolicy,
    SessionRecovered,
)
from mxgateway.simulator.faultproxy import FaultProxy
from mxgateway.simulator.server import Simulator

from .conftest import FAST, TAGS, producing, until

pytestmark = pytest.mark.anyio


async def test_outage_longer_than_the_grace_recovers_on_a_new_session(anyio_backend: object) -> None:
    async with (
        Simulator(update_rate_hz=0, detach_grace_s=0.5) as sim,
        FaultProxy(sim.host, sim.port) as proxy,
        GatewayClient.connect(options=ClientOptions(endpoint=proxy.endpoint, reconnect=FAST)) as client,
    ):
        session = await client.open_session("recovering")
        server = await session.register("handles of my own")
        item = await session.add_item(server, "Tank_001.Level")
        events = session.events()
        async with session.subscribe(TAGS) as subscription:
            seen: list[DataChange] = []

            async def read_changes() -> None:
                async for change in subscription:
                    seen.append(change)

            reader = asyncio.create_task(read_changes())
            await until(lambda: len(seen) >= len(TAGS), 5, "the first values")
            old_id = session.session_id
            await proxy.cut(2.0)
            await until(lambda: old_id not in sim.session_ids(), 5, "the grace to close the session")
            await until(lambda: session.session_id in sim.session_ids(), 15, "the new session")
            assert session.session_id != old_id
            count = len(seen)
            async with producing(sim):
                await until(lambda: len(seen) > count + 10, 10, "changes on the new session")
            await asyncio.sleep(0.3)  # the last changes of the producer arrive
            # ``latest`` is the simulator's own current value of every tag.
            current = await session.read(TAGS)
            for result in current:
                assert subscription.latest[result.tag].value == result.value, result.tag
            reader.cancel()
        assert session.connection_state is ConnectionState.RECOVERED
        # Handle-level callers held handles that died with the old session.
        with pytest.raises(MxGatewaySessionLostError, match="register again"):
            await session.advise(server, item)
        # The events() reader learned of it in order, with both ids.
        markers = []
        for _ in range(10_000):
            event = await asyncio.wait_for(events.__anext__(), 5)
            if isinstance(event, SessionRecovered):
                markers.append(event)
                break
        assert markers == [SessionRecovered(old_id, session.session_id)]
        # The recovered session is the client's: closing closes it on the gateway.
        await client.close()
        assert sim.session_ids() == []


async def test_without_recovery_the_handle_level_session_is_lost(anyio_backend: object) -> None:
    async with (
        Simulator(update_rate_hz=0, detach_grace_s=0.3) as sim,
        FaultProxy(sim.host, sim.port) as proxy,
    ):
        options = ClientOptions(
            endpoint=proxy.endpoint, recover_sessions=False, reconnect=ReconnectPolicy(max_backoff_s=0.3)
        )
        async with GatewayClient.connect(options=options) as client:
            session = await client.open_session("no recovery")
            server = await session.register("mine")
            item = await session.add_item(server, "Tank_001.Level")
            await session.advise(server, item)
            stream = session.events()
            first = await asyncio.wait_for(stream.__anext__(), 5)
            assert isinstance(first, DataChange)
            old_id = session.session_id
            await proxy.cut(1.5)
            await until(lambda: old_id not in sim.session_ids(), 5, "the grace to close the session")

            async def read_until_it_ends() -> None:
                for _ in range(1000):
                    await asyncio.wait_for(stream.__anext__(), 10)

            with pytest.raises(MxGatewaySessionLostError) as info:
                await read_until_it_ends()
            assert info.value.old_session_id == old_id
            assert session.connection_state is ConnectionState.LOST
            with pytest.raises(MxGatewaySessionLostError):
                await session.read(["Tank_001.Level"])


async def test_fail_over_to_a_second_gateway(anyio_backend: object) -> None:
    async with (
        Simulator(update_rate_hz=0) as primary,
        Simulator(update_rate_hz=0) as backup,
        FaultProxy(primary.host, primary.port) as proxy,
    ):
        policy = ReconnectPolicy(initial_backoff_s=0.05, max_backoff_s=0.3, endpoint_attempts=2)
        options = ClientOptions(endpoint=f"{proxy.endpoint},{backup.endpoint}", reconnect=policy)
        async with GatewayClient.connect(options=options) as client:
            session = await client.open_session("fail-over")
            async with session.subscribe(TAGS) as subscription:
                seen: list[DataChange] = []

                async def read_changes() -> None:
                    async for change in subscription:
                        seen.append(change)

                reader = asyncio.create_task(read_changes())
                await until(lambda: len(seen) >= len(TAGS), 5, "the first values")
                assert session.session_id in primary.session_ids()
                await proxy.cut(None)  # the primary stays down
                await until(lambda: session.session_id in backup.session_ids(), 20, "a session on the backup")
                count = len(seen)
                async with producing(backup):
                    await until(lambda: len(seen) > count + 10, 10, "changes from the backup")
                reader.cancel()
            assert subscription.recoveries == 1


async def test_closing_during_a_recovery_closes_the_session_the_gateway_opened_for_it(
    anyio_backend: object,
) -> None:
    async with (
        Simulator(update_rate_hz=0, detach_grace_s=0.3) as sim,
        FaultProxy(sim.host, sim.port) as proxy,
        GatewayClient.connect(options=ClientOptions(endpoint=proxy.endpoint, reconnect=FAST)) as client,
    ):
        session = await client.open_session("closed while recovering")
        async with session.subscribe(TAGS) as subscription:
            await asyncio.wait_for(subscription.__anext__(), 5)
            old_id = session.session_id
            await proxy.cut(1.0)
            await until(lambda: old_id not in sim.session_ids(), 5, "the grace to close the session")
            # The replacement's OpenSession waits at the gateway, then runs all the same.
            sim.faults.latency_s = 0.5
            await until(lambda: sim.stats.unary_calls["OpenSession"] >= 2, 10, "the recovery's OpenSession")
            await session.close()
        await until(
            lambda: sim.stats.sessions_opened == 2 and sim.session_ids() == [], 5, "the replacement closed"
        )
        # Closed by the client, not left to expire: only the lost session's grace ran out.
        assert sim.stats.sessions_expired == 1
