"""Edge cases found by attacking the event pump: closes, recoveries and odd requests at awkward moments."""

from __future__ import annotations

import asyncio
import logging

import grpc
import pytest

from mxgateway import (
    ClientOptions,
    ConnectionState,
    DataChange,
    GatewayClient,
    MxAccessError,
    MxGatewayClosedError,
    MxGatewayInvalidRequestError,
    MxGatewayUnavailableError,
    ReconnectPolicy,
)
from mxgateway.generated import mxaccess_gateway_pb2 as pb
from mxgateway.simulator.faultproxy import FaultProxy
from mxgateway.simulator.server import Simulator

from .conftest import FAST, TAGS, Plant, until

pytestmark = pytest.mark.anyio


async def test_closing_the_session_fails_a_pending_write_and_confirm_with_a_typed_error(plant: Plant) -> None:
    sim = plant.simulator
    async with GatewayClient.connect(options=plant.options()) as client:
        session = await client.open_session("close while confirming")
        sim.faults.withhold_write_outcomes = True
        confirming = asyncio.create_task(session.write_and_confirm("Tank_001.Notes", "never confirmed"))
        await until(lambda: sim.stats.unary_calls["Invoke"] >= 4, 5, "the write to be sent")
        await asyncio.sleep(0.1)
        await session.close()
        # The caller's task was not cancelled: it must get an error, not a CancelledError.
        with pytest.raises(MxGatewayClosedError):
            await asyncio.wait_for(confirming, 5)


async def test_closing_a_stale_subscription_leaves_the_new_sessions_subscriptions_alone(
    anyio_backend: object,
) -> None:
    async with (
        Simulator(update_rate_hz=0) as sim,
        GatewayClient.connect(sim.endpoint) as client,
    ):
        session = await client.open_session("stale subscription handles")
        stale = session.subscribe(TAGS[:1])
        await stale.start()
        assert isinstance(await asyncio.wait_for(stale.__anext__(), 5), DataChange)
        old_id = session.session_id
        async with GatewayClient.connect(sim.endpoint) as other:
            await other.close_session_raw(old_id)  # as a gateway restart that lost it would
        await until(lambda: session.session_id != old_id, 5, "the pump to recover the session")
        # On the new session the fresh subscription's item gets the numbers the
        # stale one's dead handles had.
        async with session.subscribe(TAGS[1:2]) as fresh:
            first = await asyncio.wait_for(fresh.__anext__(), 5)
            assert first.tag == TAGS[1]
            await stale.aclose()  # never read SessionRecovered: its handles are the old session's
            await sim.advance(5.0)
            change = await asyncio.wait_for(fresh.__anext__(), 5)
            assert change.tag == TAGS[1]
            assert change.worker_sequence > first.worker_sequence


async def test_subscribing_on_a_session_the_gateway_just_lost_recovers(anyio_backend: object) -> None:
    async with (
        Simulator(update_rate_hz=0) as sim,
        GatewayClient.connect(sim.endpoint) as client,
    ):
        session = await client.open_session("subscribe after a loss")
        await session.write_tag("Tank_001.Notes", "the stream is attached")
        old_id = session.session_id
        async with GatewayClient.connect(sim.endpoint) as other:
            await other.close_session_raw(old_id)
        # The tag-level API recovers a lost session, subscribe included.
        async with session.subscribe(TAGS[:1]) as subscription:
            change = await asyncio.wait_for(subscription.__anext__(), 5)
        assert change.tag == TAGS[0]
        assert session.session_id != old_id


async def test_a_refused_resume_point_does_not_stick_to_the_session(plant: Plant) -> None:
    async with GatewayClient.connect(options=plant.options()) as client:
        session = await client.open_session("resume point beyond the newest")
        beyond = session.events(after_worker_sequence=5)
        with pytest.raises(MxGatewayInvalidRequestError, match="beyond the newest event"):
            await asyncio.wait_for(beyond.__anext__(), 5)
        await beyond.aclose()
        # The session and its later readers must not inherit that reader's mistake.
        server = await session.register("after the refusal")
        item = await session.add_item(server, "Tank_001.Level")
        await asyncio.wait_for(session.advise(server, item), 5)
        first = await asyncio.wait_for(session.events().__anext__(), 5)
        assert isinstance(first, DataChange)
        assert first.worker_sequence == 1


async def test_closing_the_client_while_a_command_recovers_leaves_no_session_open(
    anyio_backend: object,
) -> None:
    async with Simulator(update_rate_hz=0) as sim:
        client = await GatewayClient.connect(sim.endpoint)
        try:
            session = await client.open_session("closing while recovering")
            (before,) = await session.read(["Tank_001.Level"])
            assert before.ok
            async with GatewayClient.connect(sim.endpoint) as other:
                await other.close_session_raw(session.session_id)
            sim.faults.latency_s = 0.5  # the replacement's OpenSession is in flight while closing
            reading = asyncio.create_task(session.read(["Tank_001.Level"]))
            await until(
                lambda: sim.stats.unary_calls["OpenSession"] >= 2, 5, "the replacement to be asked for"
            )
            await client.close()
            with pytest.raises(MxGatewayClosedError):
                await asyncio.wait_for(reading, 5)
        finally:
            await client.close()
        await asyncio.sleep(0.6)  # anything still in flight on the gateway lands
        assert sim.session_ids() == []


async def test_a_stream_that_gave_up_follows_a_session_the_commands_recovered(anyio_backend: object) -> None:
    async with (
        Simulator(update_rate_hz=0) as sim,
        GatewayClient.connect(sim.endpoint) as client,
    ):
        session = await client.open_session("the stream gave up")
        await session.write_tag("Tank_001.Notes", "the stream is attached")
        # The pump's own recovery is refused once (a gateway at its session limit).
        sim.faults.fail_next(1, grpc_code=grpc.StatusCode.RESOURCE_EXHAUSTED, methods=["OpenSession"])
        async with GatewayClient.connect(sim.endpoint) as other:
            await other.close_session_raw(session.session_id)
        await until(lambda: session.connection_state is ConnectionState.LOST, 5, "the stream to give up")
        # The tag-level API recovers the session; its events must come along.
        await asyncio.wait_for(session.write_tag("Tank_001.Notes", "on the new session"), 5)
        outcome = await asyncio.wait_for(session.write_and_confirm("Tank_001.Notes", "confirmed"), 5)
        assert outcome.ok
        assert session.connection_state is ConnectionState.RECOVERED


async def test_a_reader_timing_out_during_a_resubscribe_does_not_leave_the_subscription_silent(
    anyio_backend: object,
) -> None:
    async with (
        Simulator(update_rate_hz=0) as sim,
        GatewayClient.connect(sim.endpoint) as client,
    ):
        session = await client.open_session("timeout while resubscribing")
        async with session.subscribe(TAGS[:1]) as subscription:
            assert isinstance(await asyncio.wait_for(subscription.__anext__(), 5), DataChange)
            old_id = session.session_id
            async with GatewayClient.connect(sim.endpoint) as other:
                await other.close_session_raw(old_id)
            await until(lambda: session.session_id != old_id, 5, "the pump to recover the session")
            sim.faults.latency_s = 0.5  # the new session answers slowly at first
            # A common reader pattern: wait a bounded time for the next change.
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(subscription.__anext__(), 0.2)
            sim.faults.latency_s = 0.0
            change = await asyncio.wait_for(subscription.__anext__(), 5)
            assert change.tag == TAGS[0]
            assert subscription.recoveries >= 1
            await sim.advance(5.0)
            later = await asyncio.wait_for(subscription.__anext__(), 5)
            assert later.tag == TAGS[0]
            assert later.worker_sequence > change.worker_sequence


async def test_write_tag_never_sends_a_handle_of_the_lost_session_to_its_replacement(
    anyio_backend: object,
) -> None:
    async with (
        Simulator(update_rate_hz=0) as sim,
        GatewayClient.connect(sim.endpoint) as client,
    ):
        session = await client.open_session("handles resolved across a recovery")
        # A ready MxValue needs no type: the item handle is cached, the type is not.
        await session.write_tag("Tank_001.Notes", pb.MxValue(string_value="typed by hand"))
        # The session is lost exactly when write_tag looks the type up.
        sim.faults.fail_next(1, protocol_status=pb.PROTOCOL_STATUS_CODE_SESSION_NOT_FOUND, methods=["Invoke"])
        await asyncio.wait_for(session.write_tag("Tank_001.Notes", "after the recovery"), 5)
        (result,) = await session.read(["Tank_001.Notes"])
        assert result.ok
        assert result.value == "after the recovery"


async def test_closing_a_session_stops_a_recovery_that_cannot_reach_the_gateway(plant: Plant) -> None:
    sim = plant.simulator
    async with GatewayClient.connect(options=plant.options()) as client:
        session = await client.open_session("close while the replacement cannot open")
        (before,) = await session.read(["Tank_001.Level"])
        assert before.ok
        sim.faults.fail_next(1, protocol_status=pb.PROTOCOL_STATUS_CODE_SESSION_NOT_FOUND, methods=["Invoke"])
        sim.faults.fail_next(1_000, grpc_code=grpc.StatusCode.UNAVAILABLE, methods=["OpenSession"])
        reading = asyncio.create_task(session.read(["Tank_001.Level"]))
        await until(lambda: sim.stats.unary_calls["OpenSession"] >= 3, 5, "the replacement to be retried")
        # A close that waited for the recovery to give up would take its whole window.
        assert FAST.window_s >= 3 * 10
        await asyncio.wait_for(session.close(), 10)
        with pytest.raises(MxGatewayClosedError):
            await asyncio.wait_for(reading, 5)


async def test_a_subscription_left_by_break_stops_taking_a_share_of_the_events(plant: Plant) -> None:
    sim = plant.simulator
    async with GatewayClient.connect(options=plant.options(event_queue_size=100_000)) as client:
        session = await client.open_session("abandoned subscriptions")
        pump = session._pump  # what a dropped reader still holds is only visible here
        baseline = pump.fanout.consumer_count
        for _ in range(3):
            async for change in session.subscribe(TAGS):  # no ``async with``: never closed
                assert change.tag in TAGS
                break
        for _ in range(20):
            await sim.advance(1.0)
        await asyncio.sleep(0.2)
        # Each abandoned subscription would otherwise queue every later event forever.
        assert pump.fanout.consumer_count == baseline


async def test_sessions_failing_over_together_never_fail_back_to_the_dead_primary(
    anyio_backend: object, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mxgateway.client")
    async with (
        Simulator(update_rate_hz=0) as primary,
        Simulator(update_rate_hz=0) as backup,
        FaultProxy(primary.host, primary.port) as proxy,
    ):
        policy = ReconnectPolicy(initial_backoff_s=0.05, max_backoff_s=0.2, endpoint_attempts=2)
        options = ClientOptions(endpoint=f"{proxy.endpoint},{backup.endpoint}", reconnect=policy)
        async with GatewayClient.connect(options=options) as client:
            sessions = [await client.open_session(f"fail-over {i}") for i in range(4)]
            subscriptions = [s.subscribe(TAGS[:1]) for s in sessions]
            for subscription in subscriptions:
                await subscription.start()
                await asyncio.wait_for(subscription.__anext__(), 5)
            await proxy.cut(None)  # the primary stays down
            await until(
                lambda: all(s.session_id in backup.session_ids() for s in sessions), 20, "all on the backup"
            )
            for subscription in subscriptions:
                await subscription.aclose()
        moves = [r.getMessage() for r in caplog.records if "failing over to" in r.getMessage()]
        assert moves == [f"gateway {proxy.endpoint} unreachable; failing over to {backup.endpoint}"]


async def test_a_stream_cut_by_a_fail_over_of_its_client_follows_to_the_next_gateway(
    anyio_backend: object,
) -> None:
    async with Simulator(update_rate_hz=0) as primary, Simulator(update_rate_hz=0) as backup:
        options = ClientOptions(endpoint=f"{primary.endpoint},{backup.endpoint}", reconnect=FAST)
        async with GatewayClient.connect(options=options) as client:
            session = await client.open_session("streaming on the primary")
            async with session.subscribe(TAGS[:1]) as subscription:
                await asyncio.wait_for(subscription.__anext__(), 5)
                # Another open meets an unreachable primary and moves the client on,
                # closing the channel this session's stream runs on.
                primary.faults.fail_next(1, grpc_code=grpc.StatusCode.UNAVAILABLE, methods=["OpenSession"])
                other = await client.open_session("opened on the backup")
                assert other.session_id in backup.session_ids()
                await until(
                    lambda: session.session_id in backup.session_ids(), 10, "the session on the backup"
                )
                change = await asyncio.wait_for(subscription.__anext__(), 5)
                assert change.tag == TAGS[0]
                assert change.worker_sequence >= 1
            assert session.connection_state is ConnectionState.RECOVERED


async def test_a_command_in_flight_when_its_client_fails_over_is_not_cancelled(anyio_backend: object) -> None:
    async with Simulator(update_rate_hz=0) as primary, Simulator(update_rate_hz=0) as backup:
        options = ClientOptions(endpoint=f"{primary.endpoint},{backup.endpoint}", reconnect=FAST)
        async with GatewayClient.connect(options=options) as client:
            session = await client.open_session("reading on the primary")
            await session.default_server_handle()
            primary.faults.latency_s = 1.0
            reading = asyncio.create_task(session.read(["Tank_001.Level"]))
            await until(lambda: primary.stats.unary_calls["Invoke"] >= 2, 5, "the read to be sent")
            primary.faults.latency_s = 0.0  # only the read is slow
            # Another open meets an unreachable primary and moves the client on,
            # retiring the channel the read is waiting on.
            primary.faults.fail_next(1, grpc_code=grpc.StatusCode.UNAVAILABLE, methods=["OpenSession"])
            await client.open_session("opened on the backup")
            # The caller's task was not cancelled: the read completes on the channel it
            # was sent on (retired with a grace, not closed under it), never with a CancelledError.
            (result,) = await asyncio.wait_for(reading, 10)
            assert result.ok
            assert not reading.cancelled()
            # The next command goes to the backup, which does not know the session: it recovers there.
            (again,) = await asyncio.wait_for(session.read(["Tank_001.Level"]), 10)
            assert again.ok
            assert session.session_id in backup.session_ids()


async def test_an_open_in_flight_when_its_client_fails_over_continues_on_the_next_gateway(
    anyio_backend: object,
) -> None:
    async with Simulator(update_rate_hz=0) as primary, Simulator(update_rate_hz=0) as backup:
        options = ClientOptions(endpoint=f"{primary.endpoint},{backup.endpoint}", reconnect=FAST)
        async with GatewayClient.connect(options=options) as client:
            primary.faults.latency_s = 1.0
            opening = asyncio.create_task(client.open_session("slow to open"))
            await until(lambda: primary.stats.unary_calls["OpenSession"] >= 1, 5, "the open to be sent")
            primary.faults.latency_s = 0.0
            primary.faults.fail_next(1, grpc_code=grpc.StatusCode.UNAVAILABLE, methods=["OpenSession"])
            await client.open_session("moves the client on")
            session = await asyncio.wait_for(opening, 10)
            assert session.session_id in backup.session_ids()


async def test_a_write_cut_off_after_the_gateway_ran_it_keeps_its_place(plant: Plant) -> None:
    # The connection breaks while a secured write waits at the gateway, which runs it
    # anyway: the client sees UNAVAILABLE, and the write's success comes later, on the
    # resumed stream. A refused write_and_confirm sent before the stream is back must
    # get its own refusal, not that success.
    sim, proxy = plant.simulator, plant.proxy
    tag = "Pump_001.SpeedSetpoint"
    async with GatewayClient.connect(options=plant.options()) as client:
        session = await client.open_session("cut write")
        with pytest.raises(MxAccessError) as refused:
            await session.write_and_confirm(tag, 10.0)
        outcome = refused.value.reply
        assert isinstance(outcome, pb.MxEvent)
        server, item = outcome.server_handle, outcome.item_handle
        operator = await session.authenticate_user(server, "operator", "operator")
        sim.faults.finish_abandoned_calls = True
        sim.faults.latency_s = 0.5
        sim.faults.stream_latency_s = 1.5  # the resumed stream comes back after the next write
        invokes = sim.stats.unary_calls["Invoke"]
        writing = asyncio.ensure_future(session.write_secured(server, item, 80.0, current_user_id=operator))
        await until(lambda: sim.stats.unary_calls["Invoke"] > invokes, 5, "the write at the gateway")
        await proxy.cut(0.2)
        with pytest.raises(MxGatewayUnavailableError):
            await writing
        secured = "MX_COMMAND_KIND_WRITE_SECURED"
        await until(lambda: sim.stats.invoke_calls[secured] == 1, 5, "the gateway running the write")
        sim.faults.latency_s = 0.0
        with pytest.raises(MxAccessError, match="SECURITY"):
            await session.write_and_confirm(tag, 10.0, outcome_timeout=5.0)
        assert (await session.read([tag]))[0].value == 80.0
