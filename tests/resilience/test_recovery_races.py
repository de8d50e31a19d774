"""Races between the event stream, a recovery and commands: one replacement, legal states, no doubles.

Each test reproduces an interleaving found in review against the real simulator:
a replacement session whose attach fails, a stream attach that completes while a
command replaces the session, a session lost between two chunks of a subscribe,
a handle number the new session hands out again, a refused subscribe, a second
Session object for one id, a lost session's error raised again and again, and a
session replaced while a subscription reads the first values a gap took.
"""

from __future__ import annotations

import asyncio
import collections

import pytest

from mxgateway import (
    ClientOptions,
    ConnectionState,
    DataChange,
    GatewayClient,
    MxAccessError,
    MxGatewayError,
    MxGatewaySessionLostError,
    SessionRecovered,
)
from mxgateway.generated import mxaccess_gateway_pb2 as pb
from mxgateway.simulator.server import Simulator
from tests.resilience.conftest import until

TAGS = ["Tank_001.Level", "Tank_001.Temperature", "Pump_001.Speed", "Pump_001.Running"]


def _items(sim: Simulator, session_id: str, *, advised: bool = False) -> dict[str, int]:
    """What the gateway holds for a session: the count of each tag's items."""
    (held,) = (s for s in sim._sessions.all() if s.session_id == session_id)  # the simulator's own view
    return dict(collections.Counter(i.reference for i in held.items.values() if i.advised or not advised))


async def test_a_reader_resume_point_of_a_lost_session_is_not_taken_to_its_replacement(
    anyio_backend: object,
) -> None:
    async with Simulator(update_rate_hz=0) as sim, GatewayClient.connect(sim.endpoint) as client:
        session = await client.open_session("lost before its stream")
        old_id = session.session_id
        async with GatewayClient.connect(sim.endpoint) as other:
            await other.close_session_raw(old_id)
        async with session.events(after_worker_sequence=3) as replay, session.events() as live:
            first = await asyncio.wait_for(replay.__anext__(), 10)
            second = await asyncio.wait_for(live.__anext__(), 10)
        assert isinstance(first, SessionRecovered)
        assert isinstance(second, SessionRecovered)
        assert first.old_session_id == old_id
        assert sim.stats.unary_calls["OpenSession"] == 2  # one replacement, not a storm
        assert session.connection_state is ConnectionState.RECOVERED


async def test_an_attach_that_completes_while_a_command_replaces_the_session_keeps_the_states_legal(
    anyio_backend: object,
) -> None:
    async with Simulator(update_rate_hz=5) as sim, GatewayClient.connect(sim.endpoint) as client:
        session = await client.open_session("attach during a recovery")
        changes: list[tuple[ConnectionState, ConnectionState]] = []

        async def watch() -> None:
            async for change in session.state_changes():
                changes.append((change.previous, change.state))

        watcher = asyncio.create_task(watch())
        await asyncio.sleep(0)
        sim.faults.stream_latency_s = 1.5  # the stream's first attach completes after the recovery began
        sim.faults.latency_s = 1.0
        stream = session.events()
        attaching = asyncio.create_task(stream.wait_connected(timeout=10))
        sim.faults.fail_next(protocol_status=pb.PROTOCOL_STATUS_CODE_SESSION_NOT_FOUND, methods=["Invoke"])
        results = await asyncio.gather(attaching, session.read(["Tank_001.Level"]), return_exceptions=True)
        sim.faults.latency_s = 0.0
        assert not [r for r in results if isinstance(r, BaseException)], results
        await session.write_tag("Tank_001.Notes", "after the recovery")
        await until(lambda: session.connection_state is ConnectionState.RECOVERED, 5, "the new stream")
        watcher.cancel()
        await stream.aclose()
        assert (ConnectionState.RECOVERING, ConnectionState.RECOVERED) in changes
        assert ConnectionState.LOST not in {state for _, state in changes}


async def test_a_session_lost_between_two_subscribe_chunks_subscribes_each_tag_once(
    anyio_backend: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A subscription bigger than one chunk, made small here: 4 tags in chunks of 2.
    from mxgateway._session import subscription as subscription_module

    monkeypatch.setattr(subscription_module, "SUBSCRIBE_CHUNK", 2)
    async with Simulator(update_rate_hz=0) as sim, GatewayClient.connect(sim.endpoint) as client:
        session = await client.open_session("lost between chunks")
        await session.write_and_confirm("Tank_001.Notes", "the stream attached")
        sim.faults.stream_latency_s = 0.7
        await sim.drop_event_streams()  # the stream resumes, slowly
        subscription = session.subscribe(TAGS)
        starting = asyncio.create_task(subscription.start())
        await asyncio.sleep(0.2)
        async with GatewayClient.connect(sim.endpoint) as other:
            await other.close_session_raw(session.session_id)
        await asyncio.sleep(0.7)
        sim.faults.stream_latency_s = 0.0
        await asyncio.wait_for(starting, 10)
        delivered = collections.Counter()
        for _ in TAGS:
            change = await asyncio.wait_for(subscription.__anext__(), 5)
            delivered[change.tag] += 1
        assert delivered == dict.fromkeys(TAGS, 1)
        assert _items(sim, session.session_id) == dict.fromkeys(TAGS, 1)
        await subscription.aclose()
        assert _items(sim, session.session_id, advised=True) == {}


async def test_a_refused_subscribe_leaves_nothing_advised(anyio_backend: object) -> None:
    async with Simulator(update_rate_hz=0) as sim, GatewayClient.connect(sim.endpoint) as client:
        session = await client.open_session("refused subscribe")
        with pytest.raises(MxAccessError, match=r"No_Such\.Thing"):
            async with session.subscribe(["Tank_001.Level", "Pump_001.Speed", "No_Such.Thing"]):
                pass
        assert _items(sim, session.session_id, advised=True) == {}


async def test_registering_again_after_a_recovery_never_revives_the_old_handles(
    anyio_backend: object,
) -> None:
    async with Simulator(update_rate_hz=0) as sim, GatewayClient.connect(sim.endpoint) as client:
        session = await client.open_session("handle reuse")
        server = await session.register("app")
        notes = await session.add_item(server, "Tank_001.Notes")
        await session.advise(server, notes)
        async with GatewayClient.connect(sim.endpoint) as other:
            await other.close_session_raw(session.session_id)
        await until(lambda: session.connection_state is ConnectionState.RECOVERED, 10, "the recovery")
        again = await session.register("app")  # as the lost-session error says
        await session.add_item(again, "Tank_001.Name")
        assert again != server
        with pytest.raises(MxGatewaySessionLostError):
            await session.write(server, notes, "meant for Tank_001.Notes")
        (name,) = await session.read(["Tank_001.Name"])
        assert name.value == "Raw water tank 1"


async def test_two_session_objects_of_one_id_both_close_with_their_client(anyio_backend: object) -> None:
    async with Simulator(update_rate_hz=0) as sim:
        client = await GatewayClient.connect(sim.endpoint)
        first = await client.open_session("two objects")
        second = client.attach_session(first.session_id)
        async with first.events() as events:
            await events.wait_connected()
            await client.close()
            with pytest.raises(StopAsyncIteration):
                await asyncio.wait_for(events.__anext__(), 3)
        assert first.closed
        assert second.closed
        assert sim.session_ids() == []


async def test_a_lost_session_raises_a_fresh_error_each_time(anyio_backend: object) -> None:
    async with Simulator(update_rate_hz=0) as sim, GatewayClient.connect(sim.endpoint) as client:
        session = await client.open_session("lost, no recovery", recover=False)
        server = await session.register("x")
        item = await session.add_item(server, "Tank_001.Notes")
        await session.write(server, item, "the stream attached")
        async with GatewayClient.connect(sim.endpoint) as other:
            await other.close_session_raw(session.session_id)
        await until(lambda: session.connection_state is ConnectionState.LOST, 10, "the loss")
        errors = []
        for _ in range(50):
            with pytest.raises(MxGatewayError) as info:
                await session.write(server, item, "after the loss")
            errors.append(info.value)
        assert len({id(e) for e in errors}) == len(errors)
        depth = 0
        traceback = errors[-1].__traceback__
        while traceback is not None:
            depth, traceback = depth + 1, traceback.tb_next
        assert depth < 30  # one raise's frames, not fifty raises' piled up


async def test_closing_a_client_with_an_alarm_feed_open_is_prompt(anyio_backend: object) -> None:
    async with Simulator(update_rate_hz=0) as sim:
        client = await GatewayClient.connect(sim.endpoint)
        feed = client.alarm_feed()
        items = feed.__aiter__()
        await asyncio.wait_for(items.__anext__(), 5)
        waiting = asyncio.create_task(items.__anext__())
        await asyncio.sleep(0.1)
        loop = asyncio.get_running_loop()
        started = loop.time()
        await client.close()
        assert loop.time() - started < 0.5
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(waiting, 3)


CHUNKED_TAGS = [
    "Tank_001.Level",
    "Tank_001.Temperature",
    "Tank_001.Volume",
    "Pump_001.Speed",
    "Pump_001.Running",
    "Tank_001.Notes",
]


async def test_a_session_replaced_during_a_first_value_reread_is_not_an_error_for_the_reader(
    anyio_backend: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mxgateway._session import subscription as subscription_module

    monkeypatch.setattr(subscription_module, "SUBSCRIBE_CHUNK", 2)
    monkeypatch.setattr(subscription_module, "FIRST_VALUE_STALL_S", 0.3)
    async with (
        Simulator(update_rate_hz=0) as sim,
        GatewayClient.connect(options=ClientOptions(endpoint=sim.endpoint, event_queue_size=1)) as client,
    ):
        session = await client.open_session("replaced during a re-read")
        subscription = session.subscribe(CHUNKED_TAGS)
        await asyncio.wait_for(subscription.start(), 10)
        for _ in range(3):
            await asyncio.wait_for(subscription.__anext__(), 5)
        first = session.session_id
        async with GatewayClient.connect(sim.endpoint) as other:
            await other.close_session_raw(first)
        await until(lambda: session.session_id != first, 10, "the first replacement")
        second = session.session_id
        await asyncio.sleep(1.0)  # its stream attached
        # A queue of one sheds the resubscribe's first values: the gap makes it read them,
        # and that read's reply is held while the session it went to is replaced.
        sim.faults.hold_replies(4.0, command_kinds=[pb.MX_COMMAND_KIND_READ_BULK])
        # The next read subscribes every tag on `second`, chunk by chunk.
        step = asyncio.create_task(subscription.__anext__())
        await asyncio.sleep(1.0)
        async with GatewayClient.connect(sim.endpoint) as other:
            await other.close_session_raw(second)
        await until(lambda: session.session_id not in (first, second), 10, "the second replacement")
        change = await asyncio.wait_for(step, 15)
        assert isinstance(change, DataChange)
        await subscription.aclose()
