"""Event streams over loopback: typed events, resume, gaps, cancellation and cleanup."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator

import pytest

from mxgateway import (
    DataChange,
    EventStream,
    GatewayClient,
    ReplayGap,
    SequenceGap,
    Session,
    WriteComplete,
    WriteEntry,
)
from mxgateway.generated import mxaccess_gateway_pb2 as pb
from mxgateway.simulator.server import Simulator

pytestmark = pytest.mark.anyio


async def produce(session: Session, count: int) -> None:
    """``count`` events: each write publishes a write outcome (the item is not advised)."""
    server = await session.default_server_handle()
    item = await session.add_item(server, "Tank_001.Notes")
    for i in range(count):
        await session.write(server, item, f"note {i}")


async def take(stream: EventStream, count: int, timeout: float = 3.0) -> list[object]:
    async def collect() -> list[object]:
        events: list[object] = []
        async for event in stream:
            events.append(event)
            if len(events) == count:
                break
        return events

    return await asyncio.wait_for(collect(), timeout)


async def wait_until(predicate: object, timeout: float = 3.0) -> None:
    async def poll() -> None:
        while not predicate():  # type: ignore[operator]
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), timeout)


async def test_typed_events_in_sequence(session: Session, simulator: Simulator) -> None:
    async with session.events() as stream:
        await stream.wait_connected()
        server = await session.default_server_handle()
        item = await session.add_item(server, "Tank_001.Level")
        await session.advise(server, item)
        await simulator.advance(1.0)
        await produce(session, 1)
        events = await take(stream, 3)
    kinds = [type(e) for e in events]
    assert kinds == [DataChange, DataChange, WriteComplete]
    sequences = [e.worker_sequence for e in events]  # type: ignore[attr-defined]
    assert sequences == list(range(sequences[0], sequences[0] + 3))
    first, second = events[0], events[1]
    assert isinstance(first, DataChange)
    assert isinstance(second, DataChange)
    assert first.value != second.value
    assert first.data_type == pb.MX_DATA_TYPE_DOUBLE
    assert first.raw.family == pb.MX_EVENT_FAMILY_ON_DATA_CHANGE
    assert stream.closed
    assert stream.last_sequence == sequences[-1]


async def test_resume_after_a_sequence(session: Session) -> None:
    await produce(session, 6)
    async with session.events(after_worker_sequence=2) as stream:
        events = await take(stream, 4)
    assert [e.worker_sequence for e in events] == [3, 4, 5, 6]  # type: ignore[attr-defined]
    async with session.events(after_worker_sequence=4) as stream:
        await produce(session, 1)
        events = await take(stream, 3)
    assert [e.worker_sequence for e in events] == [5, 6, 7]  # type: ignore[attr-defined]


async def test_replay_gap_when_the_resume_point_is_gone(anyio_backend: object) -> None:
    async with (
        Simulator(update_rate_hz=0, replay_capacity=4) as sim,
        GatewayClient.connect(sim.endpoint, plaintext=True) as client,
    ):
        first = await client.open_session("gap")
        await produce(first, 10)
        # Another client attaches to the session: only the gateway's ring can replay.
        await first.detach()
        session = client.attach_session(first.session_id)
        async with session.events(after_worker_sequence=1) as stream:
            events = await take(stream, 5)
        gap = events[0]
        assert isinstance(gap, ReplayGap)
        assert (gap.requested_after_sequence, gap.oldest_available_sequence) == (1, 7)
        assert gap.resume_after == 6
        assert [e.worker_sequence for e in events[1:]] == [7, 8, 9, 10]  # type: ignore[attr-defined]
        assert not any(isinstance(e, SequenceGap) for e in events)


async def test_the_session_keeps_what_the_gateway_ring_lost(anyio_backend: object) -> None:
    async with (
        Simulator(update_rate_hz=0, replay_capacity=4) as sim,
        GatewayClient.connect(sim.endpoint, plaintext=True) as client,
    ):
        session = await client.open_session("kept")
        await produce(session, 10)  # the pump attached before the first write: it holds all ten
        async with session.events(after_worker_sequence=1) as stream:
            events = await take(stream, 9)
        assert [e.worker_sequence for e in events] == list(range(2, 11))  # type: ignore[attr-defined]


async def test_dropped_events_show_as_a_sequence_gap(anyio_backend: object) -> None:
    async with (
        Simulator(update_rate_hz=0, subscriber_queue_size=2) as sim,
        GatewayClient.connect(sim.endpoint, plaintext=True) as client,
    ):
        session = await client.open_session("slow reader")
        server = await session.default_server_handle()
        item = await session.add_item(server, "Tank_001.Notes")
        async with session.events() as stream:
            await stream.wait_connected()
            # One command publishes ten outcomes at once: more than the queue holds.
            await session.write_bulk(server, [WriteEntry(item, f"n{i}") for i in range(10)])
            events = await take(stream, 2)
            await session.write(server, item, "after the gap")
            events += await take(stream, 2)
        gaps = [e for e in events if isinstance(e, SequenceGap)]
        assert len(gaps) == 1
        (gap,) = gaps
        assert gap.expected_sequence == 3
        assert gap.missed == gap.received_sequence - 3 > 0
        after = events[events.index(gap) + 1]
        assert after.worker_sequence == gap.received_sequence  # type: ignore[attr-defined]


async def test_stream_resumes_itself_after_a_drop(session: Session, simulator: Simulator) -> None:
    async with session.events() as stream:
        await stream.wait_connected()
        await produce(session, 2)
        first = await take(stream, 2)
        opened = simulator.stats.streams_opened
        await simulator.drop_event_streams()
        await produce(session, 3)  # published while the stream is down
        rest = await take(stream, 3)
        assert simulator.stats.streams_opened == opened + 1
    sequences = [e.worker_sequence for e in first + rest]  # type: ignore[attr-defined]
    assert sequences == [1, 2, 3, 4, 5]


def pending_tasks() -> set[asyncio.Task[object]]:
    """The client side's pending tasks (grpc.aio runs one per call in flight)."""
    current = asyncio.current_task()
    return {t for t in asyncio.all_tasks() if t is not current and "Call." in repr(t.get_coro())}


async def test_cancelling_a_reader_leaves_the_session_stream(session: Session, simulator: Simulator) -> None:
    async def reader() -> None:
        async for _ in session.events():
            pass

    task = asyncio.create_task(reader())
    await wait_until(lambda: simulator.stats.streams_opened == 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # The session's one stream stays attached: the next reader loses nothing.
    await produce(session, 2)
    async with session.events() as stream:
        events = await take(stream, 2)
    assert [e.worker_sequence for e in events] == [1, 2]  # type: ignore[attr-defined]
    assert simulator.stats.streams_opened == 1
    assert simulator.stats.streams_closed == 0


async def test_leaving_async_for_early_loses_nothing(session: Session, simulator: Simulator) -> None:
    await produce(session, 3)
    async for _event in session.events():
        break  # no async with: the next events() continues after what this one got
    gc.collect()
    await produce(session, 1)
    async with session.events() as stream:
        events = await take(stream, 3)
    assert [e.worker_sequence for e in events] == [2, 3, 4]  # type: ignore[attr-defined]
    assert stream.closed
    assert simulator.stats.streams_opened == 1
    assert simulator.stats.streams_closed == 0


async def test_close_leaves_nothing_pending(simulator: Simulator) -> None:
    before = pending_tasks()
    client = await GatewayClient.connect(simulator.endpoint, plaintext=True)
    session = await client.open_session("closing")
    subscription = session.subscribe(["Tank_001.Level"])
    await subscription.start()
    other = await client.open_session("raw")
    raw = client.stream_events_raw(other.session_id)

    async def drain(source: AsyncIterator[object]) -> int:
        return len([e async for e in source])

    readers = [
        asyncio.create_task(drain(session.events())),
        asyncio.create_task(drain(subscription)),
        asyncio.create_task(drain(raw)),
    ]
    # One stream for the session (shared by its readers), one raw stream.
    await wait_until(lambda: simulator.stats.streams_opened == 2)
    await client.close()
    done, _ = await asyncio.wait(readers, timeout=3)
    assert len(done) == 3
    for task in readers:
        assert not task.cancelled()
        assert task.exception() is None
    await wait_until(lambda: simulator.stats.streams_closed == 2)
    assert simulator.session_ids() == []
    assert pending_tasks() <= before


async def test_raw_stream(session: Session, client: GatewayClient) -> None:
    await produce(session, 2)
    await session.detach()  # the session's own stream is the one subscriber a session may have
    async with client.stream_events_raw(session.session_id, after_worker_sequence=1) as stream:
        event = await asyncio.wait_for(stream.__anext__(), 3)
    assert isinstance(event, pb.MxEvent)
    assert event.worker_sequence == 2


async def test_concurrent_close_is_safe(simulator: Simulator) -> None:
    client = await GatewayClient.connect(simulator.endpoint, plaintext=True)
    sessions = [await client.open_session(f"s{i}") for i in range(3)]
    await asyncio.gather(client.close(), client.close(), *(s.close() for s in sessions))
    assert client.closed
    assert all(s.closed for s in sessions)
    assert simulator.session_ids() == []
