"""Never wrong: a write lands on the tag it names, a task ends cancelled only when it was, close is total.

Each test reproduces a failure found in review, against the real simulator (behind
the loopback fault proxy where the network has to fail), and checks what the
gateway saw, not only what the client reports.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys

import grpc
import pytest

from mxgateway import (
    Client,
    ClientOptions,
    ConnectionState,
    DataChange,
    GatewayClient,
    MxGatewayClosedError,
    MxGatewayError,
    MxGatewayPermissionError,
    ReconnectPolicy,
    UnknownEvent,
)
from mxgateway.generated import mxaccess_gateway_pb2 as pb
from mxgateway.simulator.server import Simulator
from tests.resilience.conftest import FAST, Plant, until


async def _value(sim: Simulator, tag: str) -> object:
    """``tag``'s value as a separate client reads it (what the gateway holds, not what we think)."""
    async with Client(endpoint=sim.endpoint) as reader:
        (result,) = await reader.read([tag])
        assert result.ok, result
        return result.value


async def test_a_handle_that_arrives_after_a_recovery_never_writes_another_tag(anyio_backend: object) -> None:
    # AddItem runs, but its reply is held while another client closes the session and a
    # read recovers it; on the new session the same handle number then names another tag.
    async with Simulator(update_rate_hz=0) as sim, GatewayClient.connect(sim.endpoint) as client:
        session = await client.open_session("slow add")
        await session.default_server_handle()
        sim.faults.hold_replies(1.0, command_kinds=[pb.MX_COMMAND_KIND_ADD_ITEM])
        writing = asyncio.create_task(session.write_tag("Tank_001.Level", 61.5))
        await until(lambda: sim.stats.unary_calls["Invoke"] >= 2, 5, "the AddItem to run")
        async with GatewayClient.connect(sim.endpoint) as other:
            await other.close_session_raw(session.session_id)
        await session.read(["Tank_001.Volume"])  # finds the session lost: recovers it
        with contextlib.suppress(MxGatewayError):
            await asyncio.wait_for(writing, 10)
        await session.write_tag("Tank_001.Name", "untouched")  # the new session's items 1 and 2
        await session.write_tag("Tank_001.Level", 62.5)
        assert await _value(sim, "Tank_001.Level") == 62.5
        assert await _value(sim, "Tank_001.Name") == "untouched"


async def test_concurrent_reads_on_a_lost_session_both_return_and_are_never_cancelled(
    anyio_backend: object,
) -> None:
    async with Simulator(update_rate_hz=0) as sim, GatewayClient.connect(sim.endpoint) as client:
        session = await client.open_session("two readers")
        async with session.events() as events:
            await events.wait_connected()
            await session.read(["Tank_001.Level"])
            async with GatewayClient.connect(sim.endpoint) as other:
                await other.close_session_raw(session.session_id)
            # The stream's attach to the replacement is slow: a second caller finding the
            # session lost must not cancel the attach the first one waits on.
            sim.faults.stream_latency_s = 0.3
            reads = [
                asyncio.create_task(session.read(["Tank_001.Level", "Tank_001.Volume"])) for _ in range(3)
            ]
            done = await asyncio.wait_for(asyncio.gather(*reads, return_exceptions=True), 10)
        assert [type(r).__name__ for r in done] == ["ResultList"] * 3
        assert not any(task.cancelled() for task in reads)
        assert all(r.ok for results in done for r in results)  # type: ignore[union-attr]


async def test_a_stream_refused_for_good_leaves_no_session_open(plant: Plant) -> None:
    sim, proxy = plant.simulator, plant.proxy
    async with GatewayClient.connect(options=plant.options()) as client:
        session = await client.open_session("refused resume")
        await session.write_tag("Tank_001.Notes", "stream attached")
        # The resume after the cut is refused as a key without events:read would be.
        sim.faults.fail_next(3, grpc_code=grpc.StatusCode.PERMISSION_DENIED, methods=["StreamEvents"])
        await proxy.cut(0.2)
        await until(lambda: session.connection_state is ConnectionState.LOST, 10, "the stream to give up")
        with pytest.raises(MxGatewayPermissionError):
            await session.write_tag("Tank_001.Notes", "after the refusal")
        assert sim.session_ids() == [session.session_id]  # no replacement was opened
    assert sim.session_ids() == []


async def test_an_event_that_cannot_be_typed_is_delivered_untyped_and_the_stream_goes_on(
    anyio_backend: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Only a bug can make typing an event fail: a fault nothing else can produce.
    from mxgateway._events import sequencer

    real = sequencer.DataChange

    def failing(message: pb.MxEvent, tag: str | None) -> DataChange:
        if message.worker_sequence == 2:
            raise RuntimeError("a bug in typing this event")
        return real(message, tag)

    monkeypatch.setattr(sequencer, "DataChange", failing)
    async with Simulator(update_rate_hz=0) as sim, GatewayClient.connect(sim.endpoint) as client:
        session = await client.open_session("untyped event")
        async with session.subscribe(["Tank_001.Level", "Tank_001.Volume", "Pump_001.Speed"]):
            pass
        async with session.events(after_worker_sequence=0) as events:
            items = [await asyncio.wait_for(events.__anext__(), 5) for _ in range(3)]
        assert [type(i).__name__ for i in items] == ["DataChange", "UnknownEvent", "DataChange"]
        assert isinstance(items[1], UnknownEvent)
        assert items[1].worker_sequence == 2
        assert session.connection_state is ConnectionState.CONNECTED
        session_id = session.session_id
    assert session_id not in sim.session_ids()


async def test_close_during_first_use_leaves_no_session_open(anyio_backend: object) -> None:
    async with Simulator(update_rate_hz=0) as sim:
        for _ in range(5):
            client = Client(endpoint=sim.endpoint)
            sim.faults.latency_s = 0.2  # the OpenSession is in flight when close() comes
            reading = asyncio.create_task(client.read(["Tank_001.Level"]))
            await until(lambda: sim.stats.unary_calls["OpenSession"] >= 1, 5, "the open to be sent")
            await client.close()
            assert sim.session_ids() == []  # close() returned only after undoing the open
            with pytest.raises(MxGatewayClosedError):
                await asyncio.wait_for(reading, 5)
            sim.faults.latency_s = 0.0
            sim.stats.unary_calls.clear()


async def test_closing_a_gateway_client_while_it_opens_a_session_gives_the_typed_error(
    anyio_backend: object,
) -> None:
    async with Simulator(update_rate_hz=0) as sim:
        client = await GatewayClient.connect(sim.endpoint)
        sim.faults.latency_s = 0.2
        opening = asyncio.create_task(client.open_session("opening while closing"))
        await until(lambda: sim.stats.unary_calls["OpenSession"] >= 1, 5, "the open to be sent")
        await client.close()
        with pytest.raises(MxGatewayClosedError):
            await asyncio.wait_for(opening, 5)
        assert not opening.cancelled()
        assert sim.session_ids() == []


@pytest.mark.skipif(sys.version_info < (3, 11), reason="a task can tell it is being cancelled from 3.11")
async def test_a_read_cancelled_as_its_client_fails_over_ends_cancelled(anyio_backend: object) -> None:
    async with Simulator(update_rate_hz=0) as primary, Simulator(update_rate_hz=0) as backup:
        options = ClientOptions(endpoint=f"{primary.endpoint},{backup.endpoint}", reconnect=FAST)
        async with GatewayClient.connect(options=options) as client:
            session = await client.open_session("cancelled while failing over")
            await session.default_server_handle()
            primary.faults.latency_s = 1.0
            reading = asyncio.create_task(session.read(["Tank_001.Level"]))
            await until(lambda: primary.stats.unary_calls["Invoke"] >= 2, 5, "the read to be sent")
            # The caller cancels the read in the very moment the client moves on.
            reading.cancel()
            assert client.transport.fail_over()
            with pytest.raises(asyncio.CancelledError):
                await asyncio.wait_for(reading, 10)
            assert reading.cancelled()


async def test_a_read_cancelled_by_its_caller_ends_cancelled_on_every_python(anyio_backend: object) -> None:
    async with Simulator(update_rate_hz=0) as sim, GatewayClient.connect(sim.endpoint) as client:
        session = await client.open_session("cancelled read")
        await session.default_server_handle()
        sim.faults.latency_s = 1.0
        reading = asyncio.create_task(session.read(["Tank_001.Level"]))
        await until(lambda: sim.stats.unary_calls["Invoke"] >= 2, 5, "the read to be sent")
        reading.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reading
        assert reading.cancelled()


async def test_close_right_after_a_short_outage_closes_the_session(plant: Plant) -> None:
    sim, proxy = plant.simulator, plant.proxy
    for pause in (0.0, 0.0, 0.0, 0.05, 0.1, 0.3):
        # The default back-off: right after the outage the channel may still wait to reconnect.
        client = Client(options=plant.options(read_retries=0, reconnect=ReconnectPolicy()))
        await client.read(["Tank_001.Level"])
        session_id = client.session_id
        await proxy.cut(0.46)
        with pytest.raises(MxGatewayError):
            await client.read(["Tank_001.Level"])
        await until(lambda: not proxy.is_cut, 5, "the link to be back")
        await asyncio.sleep(pause)
        await client.close()
        assert session_id not in sim.session_ids(), f"left open when closing {pause} s after the outage"
