"""Sessions, leases, event streams, replay and the detach grace, over loopback gRPC."""

from __future__ import annotations

import asyncio
import errno
import re
import socket
import time

import grpc
import grpc.aio
import pytest
from mx_raw import OK, Raw, read_events, serve, wait_for

from mxgateway import GATEWAY_PROTOCOL_VERSION
from mxgateway.generated import mxaccess_gateway_pb2 as pb
from mxgateway.simulator.clock import ManualClock
from mxgateway.simulator.galaxy import MX_DOUBLE, Galaxy, GalaxyAttribute, GalaxyObject
from mxgateway.simulator.server import Simulator

pytestmark = pytest.mark.anyio

NOT_FOUND = pb.PROTOCOL_STATUS_CODE_SESSION_NOT_FOUND


def accepts(port: int) -> bool:
    """Whether something listens on the loopback ``port``."""
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


async def heartbeat_item(raw: Raw) -> tuple[int, int]:
    """An advised counter that changes by one on every simulated second."""
    handle = await raw.register()
    item = await raw.add(handle, "AppEngine_001.Heartbeat")
    await raw.advise(handle, item)
    return handle, item


async def test_open_session_reply() -> None:
    async with serve(lease_s=120) as (_, raw):
        before = time.time()
        reply = await raw.open("my-app")
    assert re.fullmatch(r"session-[0-9a-f]{32}", reply.session_id)
    assert reply.backend_name == "simulator"
    assert reply.gateway_protocol_version == GATEWAY_PROTOCOL_VERSION
    assert reply.worker_protocol_version >= 1
    assert reply.protocol_status.code == OK
    assert before + 110 < reply.lease_expires_at.ToNanoseconds() / 1e9 < before + 130


async def test_close_is_idempotent_and_a_closed_session_is_not_found() -> None:
    async with serve() as (sim, raw):
        session_id = raw.session_id
        assert sim.session_ids() == [session_id]
        first = await raw.close()
        second = await raw.close()
        invoke = await raw.invoke("register", pb.RegisterCommand())
        assert sim.session_ids() == []
    for reply in (first, second):
        assert (reply.session_id, reply.final_state, reply.protocol_status.code) == (
            session_id,
            pb.SESSION_STATE_CLOSED,
            OK,
        )
    assert invoke.protocol_status.code == NOT_FOUND
    assert invoke.session_id == session_id


async def test_unknown_session_is_session_not_found_or_grpc_not_found_for_streams() -> None:
    async with serve() as (_, raw):
        close = await raw.close("session-" + "0" * 32)
        raw.session_id = "session-unknown"
        invoke = await raw.invoke("register", pb.RegisterCommand())
        with pytest.raises(grpc.aio.AioRpcError) as stream_error:
            await read_events(raw.stream(), 1)
    assert close.protocol_status.code == NOT_FOUND
    assert close.final_state == pb.SESSION_STATE_UNSPECIFIED
    assert invoke.protocol_status.code == NOT_FOUND
    assert invoke.kind == pb.MX_COMMAND_KIND_REGISTER
    assert stream_error.value.code() == grpc.StatusCode.NOT_FOUND


async def test_session_outlives_its_connection() -> None:
    async with serve() as (sim, first):
        handle = await first.register()
        await first.channel.close()
        async with grpc.aio.insecure_channel(sim.endpoint) as channel:
            second = Raw(channel)
            second.session_id = first.session_id
            item = await second.add(handle, "Tank_001.Level")
    assert item >= 1


async def test_unary_calls_extend_the_lease_and_an_idle_session_expires() -> None:
    clock = ManualClock()
    async with serve(lease_s=1.5, clock=clock) as (sim, raw):
        idle = Raw(raw.channel)
        await idle.open("idle")
        for step in range(1, 11):  # 2 s in steps of 0.2 s, a call on the active session in each
            await raw.invoke("drain_events", pb.DrainEventsCommand())
            await clock.advance(0.2)
            if step == 7:  # 1.4 s: within the lease
                assert idle.session_id in sim.session_ids()
        assert idle.session_id not in sim.session_ids()
        assert raw.session_id in sim.session_ids()
        assert sim.stats.sessions_expired == 1


async def test_stream_delivers_contiguous_sequences_with_both_timestamps() -> None:
    async with serve() as (sim, raw):
        call = raw.stream()
        await call.initial_metadata()
        await heartbeat_item(raw)
        for _ in range(4):
            await sim.advance(1.0)
        events = await read_events(call, 5)
        call.cancel()
        await wait_for(lambda: sim.stats.streams_closed == 1)
        stats = sim.stats
    assert stats.streams_opened == 1
    assert stats.events_sent == stats.events_published == 5
    assert stats.invoke_calls["MX_COMMAND_KIND_ADVISE"] == 1
    assert stats.unary_calls["Invoke"] == 3
    assert [e.worker_sequence for e in events] == [1, 2, 3, 4, 5]
    assert [e.value.int32_value for e in events] == [0, 1, 2, 3, 4]
    for event in events:
        assert event.session_id == raw.session_id
        assert event.HasField("worker_timestamp")
        assert event.HasField("gateway_receive_timestamp")


async def test_resume_after_a_sequence_replays_then_goes_live_without_gap_or_duplicate() -> None:
    async with serve() as (sim, raw):
        first = raw.stream()
        await first.initial_metadata()
        await heartbeat_item(raw)
        await sim.advance(1.0)
        seen = await read_events(first, 2)
        first.cancel()
        for _ in range(3):  # published while no stream is attached
            await sim.advance(1.0)
        second = raw.stream(after=seen[-1].worker_sequence)
        replayed = await read_events(second, 3)
        await sim.advance(1.0)
        live = await read_events(second, 1)
        second.cancel()
        assert sim.session_ids() == [raw.session_id]
    sequences = [e.worker_sequence for e in seen + replayed + live]
    assert sequences == list(range(1, 7))


async def test_resume_from_before_the_ring_starts_with_the_gap_sentinel() -> None:
    async with serve(replay_capacity=3) as (sim, raw):
        await heartbeat_item(raw)
        for _ in range(7):
            await sim.advance(1.0)
        call = raw.stream(after=2)
        sentinel, *retained = await read_events(call, 4)
        call.cancel()
        resumed = raw.stream(after=sentinel.replay_gap.oldest_available_sequence - 1)
        gap_free = await read_events(resumed, 3)
        resumed.cancel()
    assert sentinel.family == pb.MX_EVENT_FAMILY_UNSPECIFIED
    assert sentinel.WhichOneof("body") is None
    assert sentinel.HasField("replay_gap")
    assert sentinel.worker_sequence == 0
    assert sentinel.replay_gap.requested_after_sequence == 2
    assert sentinel.replay_gap.oldest_available_sequence == 6
    assert [e.worker_sequence for e in retained] == [6, 7, 8]
    assert [e.worker_sequence for e in gap_free] == [6, 7, 8]
    assert gap_free[0].HasField("on_data_change")


async def test_events_older_than_the_max_age_are_not_replayed() -> None:
    clock = ManualClock()
    async with serve(replay_max_age_s=1.5, clock=clock) as (sim, raw):
        await heartbeat_item(raw)
        await sim.advance(1.0)
        await clock.advance(1.6)  # the first two events are older than the max age now
        await sim.advance(1.0)
        call = raw.stream(after=1)
        sentinel, kept = await read_events(call, 2)
        call.cancel()
    assert sentinel.replay_gap.oldest_available_sequence == 3
    assert kept.worker_sequence == 3


async def test_detach_grace_closes_an_abandoned_session_and_a_reconnect_keeps_it() -> None:
    clock = ManualClock()
    async with serve(detach_grace_s=30, clock=clock) as (sim, raw):
        kept = Raw(raw.channel)
        await kept.open("kept")
        for client in (raw, kept):
            call = client.stream()
            await call.initial_metadata()
            call.cancel()
        await wait_for(lambda: sim.stats.streams_closed == 2)  # both graces are counting
        reattached = kept.stream()
        await reattached.initial_metadata()
        await clock.advance(29)
        assert sim.session_ids() == [raw.session_id, kept.session_id]
        await clock.advance(1)
        assert sim.session_ids() == [kept.session_id]
        await clock.advance(600)  # the re-attached session has no grace counting
        assert sim.session_ids() == [kept.session_id]
        reattached.cancel()
        await wait_for(lambda: sim.stats.streams_closed == 3)
        await clock.advance(30)
        assert sim.session_ids() == []


async def test_closing_a_session_ends_its_streams() -> None:
    async with serve() as (_, raw):
        call = raw.stream()
        await call.initial_metadata()
        await raw.close()
        end = await asyncio.wait_for(call.read(), 5)
    assert end is grpc.aio.EOF
    assert await call.code() == grpc.StatusCode.OK


async def test_slow_subscriber_drops_its_own_events_without_blocking_others() -> None:
    async with serve(subscriber_queue_size=5) as (sim, slow):
        fast = Raw(slow.channel)
        await fast.open("fast")
        slow_call, fast_call = slow.stream(), fast.stream()
        await slow_call.initial_metadata()
        await fast_call.initial_metadata()
        slow_handle, fast_handle = await slow.register(), await fast.register()
        # 20 initial values published within one command: more than the queue holds.
        subscribed = await slow.invoke(
            "subscribe_bulk",
            pb.SubscribeBulkCommand(server_handle=slow_handle, tag_addresses=["Tank_001.Name"] * 20),
        )
        await fast.invoke(
            "subscribe_bulk",
            pb.SubscribeBulkCommand(server_handle=fast_handle, tag_addresses=["Tank_002.Name"] * 3),
        )
        slow_events = await read_events(slow_call, 5)
        fast_events = await read_events(fast_call, 3)
        item = subscribed.bulk_subscribe.results[0].item_handle
        await slow.write(slow_handle, item, pb.MxValue(string_value="x"))
        (after_gap,) = await read_events(slow_call, 1)
        slow_call.cancel()
        fast_call.cancel()
        dropped = sim.stats.events_dropped
    assert [e.worker_sequence for e in slow_events] == [1, 2, 3, 4, 5]
    assert after_gap.worker_sequence == 21
    assert after_gap.family == pb.MX_EVENT_FAMILY_ON_WRITE_COMPLETE
    assert [e.worker_sequence for e in fast_events] == [1, 2, 3]
    assert dropped == 15 + 16  # the write's 21 events meet the same 5-event queue


async def test_drop_event_streams_fails_streams_with_unavailable_and_sessions_survive() -> None:
    async with serve() as (sim, raw):
        call = raw.stream()
        await call.initial_metadata()
        await heartbeat_item(raw)
        (first,) = await read_events(call, 1)
        await sim.drop_event_streams()
        with pytest.raises(grpc.aio.AioRpcError) as dropped:
            await read_events(call, 1)
        await sim.advance(1.0)
        resumed = raw.stream(after=first.worker_sequence)
        (next_event,) = await read_events(resumed, 1)
        resumed.cancel()
        assert sim.session_ids() == [raw.session_id]
    assert dropped.value.code() == grpc.StatusCode.UNAVAILABLE
    assert next_event.worker_sequence == first.worker_sequence + 1


async def test_restart_keeps_the_port_and_the_sessions() -> None:
    async with serve() as (sim, raw):
        port = sim.port
        handle, item = await heartbeat_item(raw)
        call = raw.stream()
        await call.initial_metadata()
        await sim.restart()
        with pytest.raises(grpc.aio.AioRpcError) as cut:
            await read_events(call, 1)
        async with grpc.aio.insecure_channel(sim.endpoint) as channel:
            again = Raw(channel)
            again.session_id = raw.session_id
            results = await again.read(handle, "AppEngine_001.Heartbeat")
    assert sim.port == port
    assert cut.value.code() == grpc.StatusCode.UNAVAILABLE
    assert results[0].was_cached
    assert results[0].item_handle == item


async def test_while_down_a_restarting_simulator_keeps_its_port_from_every_other_bind() -> None:
    # No client ever connects: no connection of the port lingers (TIME_WAIT) to hold it instead.
    async with Simulator(update_rate_hz=0) as sim:
        port = sim.port
        restarting = asyncio.create_task(sim.restart(downtime_s=30))
        await wait_for(lambda: not accepts(port))  # the server is down: connections are refused
        # ...and its port stays taken: another server (or a client's port) cannot have it.
        with socket.socket() as other, pytest.raises(OSError, match="in use") as taken:
            other.bind(("127.0.0.1", port))
        restarting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await restarting
    assert taken.value.errno == errno.EADDRINUSE


async def test_deploy_rebinds_items_and_reports_vanished_attributes_as_bad_quality() -> None:
    galaxy = Galaxy(
        [
            GalaxyObject(
                gobject_id=1,
                tag_name="Tank_001",
                attributes=[GalaxyAttribute("Level", MX_DOUBLE, initial_value=12.5)],
            )
        ],
        name="redeployed",
    )
    async with serve() as (sim, raw):
        handle = await raw.register()
        level = await raw.add(handle, "Tank_001.Level")
        name = await raw.add(handle, "Tank_001.Name")
        await raw.invoke(
            "advise_item_bulk", pb.AdviseItemBulkCommand(server_handle=handle, item_handles=[level, name])
        )
        await raw.drain()
        await sim.deploy(galaxy)
        events = {e.item_handle: e for e in await raw.drain()}
        missing = await raw.invoke(
            "add_item", pb.AddItemCommand(server_handle=handle, item_definition="Pump_001.Speed")
        )
        assert sim.galaxy is galaxy
    assert events[level].quality == 192
    assert events[level].value.double_value == 12.5
    assert events[name].quality < 64
    assert events[name].value.is_null
    assert events[name].statuses[0].category == pb.MX_STATUS_CATEGORY_CONFIGURATION_ERROR
    assert missing.protocol_status.code == pb.PROTOCOL_STATUS_CODE_MXACCESS_FAILURE


async def test_values_move_on_their_own_at_the_update_rate() -> None:
    async with serve(update_rate_hz=50) as (_, raw):
        call = raw.stream()
        await call.initial_metadata()
        handle = await raw.register()
        await raw.advise(handle, await raw.add(handle, "FlowMeter_001.Flow"))
        events = await read_events(call, 3)
        call.cancel()
    values = [e.value.double_value for e in events]
    assert len(set(values)) == 3
    assert [e.worker_sequence for e in events] == [1, 2, 3]
