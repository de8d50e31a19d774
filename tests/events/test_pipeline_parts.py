"""The event pipeline's parts on their own: state machine, reader queue, fan-out, sequencer.

The end-to-end tests (tests/resilience) run them through a real gateway; these pin
each part's own promises, the ones a reader's guarantees are built from.
"""

from __future__ import annotations

import asyncio
import gc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mxgateway import ConnectionState, DataChange, EventsDropped, ReplayGap, SequenceGap
from mxgateway._events.fanout import Fanout
from mxgateway._events.queue import EMPTY, EventConsumer
from mxgateway._events.sequencer import Sequencer
from mxgateway._events.state import TRANSITIONS, SessionState
from mxgateway.generated import mxaccess_gateway_pb2 as pb

_S = ConnectionState


def change(sequence: int, session_id: str = "s1") -> DataChange:
    return DataChange(
        pb.MxEvent(family=pb.MX_EVENT_FAMILY_ON_DATA_CHANGE, worker_sequence=sequence, session_id=session_id)
    )


def drain(consumer: EventConsumer) -> list[object]:
    items = []
    for _ in range(10_000):
        item = consumer.get_nowait()
        if item is EMPTY or item is None:
            return items
        items.append(item)
    raise AssertionError("the queue never ran dry")


def sequences(items: list[object]) -> list[int]:
    return [getattr(i, "worker_sequence", -1) for i in items]


# ---------------------------------------------------------------------- the state machine


def test_every_state_is_in_the_transition_table_and_closed_is_final() -> None:
    assert set(TRANSITIONS) == set(ConnectionState)
    assert TRANSITIONS[_S.CLOSED] == frozenset()
    assert all(_S.CLOSED in targets for state, targets in TRANSITIONS.items() if state is not _S.CLOSED)


def test_a_change_outside_the_table_is_refused_and_changes_nothing() -> None:
    state: SessionState[dict[str, int]] = SessionState(dict, "s1")
    assert state.move(_S.CONNECTING, "attaching")
    with pytest.raises(RuntimeError, match="cannot go from connecting to recovered"):
        state.move(_S.RECOVERED, "not from here")
    assert state.state is _S.CONNECTING
    assert not state.move(_S.CONNECTING, "already there")


def test_each_epoch_has_tables_of_its_own() -> None:
    state: SessionState[dict[str, int]] = SessionState(dict)
    first = state.bind("s1")
    first.tables["Tank_001.Level"] = 1
    second = state.replace("s2")
    assert (first.epoch, second.epoch) == (0, 1)
    assert second.tables == {}
    assert first.tables == {"Tank_001.Level": 1}  # a late answer for s1 lands in s1's tables only
    with pytest.raises(RuntimeError):
        state.bind("s3")


async def test_state_changes_are_offered_in_order_until_closed(anyio_backend: object) -> None:
    state: SessionState[dict[str, int]] = SessionState(dict, "s1")
    seen: list[ConnectionState] = []

    async def read() -> None:
        async for change in state.changes():
            seen.append(change.state)

    reader = asyncio.create_task(read())
    await asyncio.sleep(0)
    for target in (_S.CONNECTING, _S.CONNECTED, _S.RECONNECTING, _S.CONNECTED, _S.CLOSED):
        state.move(target, "test")
    await asyncio.wait_for(reader, 2)
    assert seen == [_S.CONNECTING, _S.CONNECTED, _S.RECONNECTING, _S.CONNECTED, _S.CLOSED]


# ---------------------------------------------------------------------- a reader's queue


async def test_a_marker_for_one_reader_takes_no_place_in_the_numbering(anyio_backend: object) -> None:
    consumer = EventConsumer(10)
    gap = ReplayGap(1, 4, pb.MxEvent())
    consumer.offer_marker(gap)
    for index, sequence in enumerate((4, 5, 6), start=7):
        consumer.offer(index, change(sequence))
    items = drain(consumer)
    assert items[0] is gap
    assert sequences(items[1:]) == [4, 5, 6]
    assert consumer.last_index == 9


async def test_closing_a_queue_drops_what_it_held(anyio_backend: object) -> None:
    consumer = EventConsumer(10)
    consumer.offer(0, change(1))
    consumer.close_now()
    assert consumer.get_nowait() is None


async def test_a_reader_is_woken_once_per_interval_during_a_burst_and_gets_it_all_in_order(
    anyio_backend: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mxgateway._events import queue

    monkeypatch.setattr(queue, "WAKE_INTERVAL_S", 0.2)
    consumer = EventConsumer(1000)
    burst = 200
    got: list[object] = []
    wakes = 0

    async def read() -> None:
        nonlocal wakes
        for _ in range(burst + 10):
            got.extend(drain(consumer))
            if len(got) >= burst:
                return
            await asyncio.wait_for(consumer.wait(), 5)
            wakes += 1

    reader = asyncio.create_task(read())
    await asyncio.sleep(0)  # the reader waits
    loop = asyncio.get_running_loop()
    started = loop.time()
    for index in range(burst):
        item: object = SequenceGap(index, index + 1, pb.MxEvent()) if index == 50 else change(index + 1)
        consumer.offer(index, item)
        await asyncio.sleep(0)  # the reader could run between any two items
    elapsed = loop.time() - started
    await asyncio.wait_for(reader, 5)
    assert [type(i).__name__ for i in got].count("SequenceGap") == 1
    assert isinstance(got[50], SequenceGap)
    assert sequences(got[:50]) == list(range(1, 51))
    assert sequences(got[51:]) == list(range(52, burst + 1))
    # One wake-up for the first item, then one per interval: not one per item.
    assert wakes <= 2 + elapsed / 0.2 < burst


async def test_the_first_item_after_a_quiet_spell_and_the_end_wake_a_reader_at_once(
    anyio_backend: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mxgateway._events import queue

    monkeypatch.setattr(queue, "WAKE_INTERVAL_S", 30.0)
    consumer = EventConsumer(10)
    first_wait = consumer.wait()
    consumer.offer(0, change(1))
    assert first_wait.done()  # nothing came before: no batching
    assert sequences(drain(consumer)) == [1]
    second_wait = consumer.wait()
    consumer.offer(1, change(2))
    assert not second_wait.done()  # within the interval of the last wake-up: batched
    consumer.offer_marker(ReplayGap(2, 5, pb.MxEvent()))
    assert second_wait.done()  # a reader's own marker does not wait for the batch
    third_wait = consumer.wait()
    consumer.end()
    assert third_wait.done()  # nor does the end
    items = drain(consumer)
    assert isinstance(items[0], ReplayGap)
    assert sequences(items[1:]) == [2]


@settings(max_examples=40, deadline=None)
@given(steps=st.lists(st.sampled_from(["item", "gap", "yield", "sleep"]), max_size=60))
def test_batched_wake_ups_keep_every_item_and_marker_in_order(steps: list[str]) -> None:
    async def run() -> None:
        consumer = EventConsumer(1000)
        offered: list[object] = []
        got: list[object] = []

        async def read() -> None:
            for _ in range(len(steps) + 5):
                item = await asyncio.wait_for(consumer.get(), 5)
                if item is None:
                    return
                got.append(item)

        reader = asyncio.create_task(read())
        for index, step in enumerate(steps):
            if step in ("item", "gap"):
                item: object = (
                    change(index + 1) if step == "item" else SequenceGap(index, index + 1, pb.MxEvent())
                )
                offered.append(item)
                consumer.offer(index, item)
            elif step == "yield":
                await asyncio.sleep(0)
            else:
                await asyncio.sleep(0.002)
        consumer.end()
        await asyncio.wait_for(reader, 5)
        assert got == offered

    asyncio.run(run())


# ---------------------------------------------------------------------- the fan-out


async def test_a_replay_after_a_resume_point_the_backlog_lost_starts_with_its_gap(
    anyio_backend: object,
) -> None:
    fanout = Fanout(queue_size=100, backlog_size=3)
    for sequence in range(1, 7):
        fanout.publish(change(sequence))
    replayed = EventConsumer(100)
    fanout.replay_to(replayed, 1, "s1", high_water=6)
    fanout.attach(replayed)
    marker = replayed.get_nowait()
    assert isinstance(marker, ReplayGap)
    assert (marker.requested_after_sequence, marker.oldest_available_sequence) == (1, 4)
    # Reading only the gap moves no cursor: the next events() reader starts at 4.
    fanout.mark_consumed(replayed, 0)
    fanout.remove(replayed)
    nxt = EventConsumer(100)
    fanout.fill_from_cursor(nxt)
    items = drain(nxt)
    assert items[0] == EventsDropped(count=3, first_sequence=0, last_sequence=3)  # 1..3 no reader got
    assert sequences(items[1:]) == [4, 5, 6]


@settings(max_examples=60, deadline=None)
@given(backlog=st.integers(1, 8), read_first=st.integers(0, 10), published_after=st.integers(0, 30))
def test_a_new_reader_gets_every_event_or_a_marker_counting_exactly_the_missed_ones(
    backlog: int, read_first: int, published_after: int
) -> None:
    async def run() -> None:
        fanout = Fanout(queue_size=100, backlog_size=backlog)
        first = EventConsumer(100)
        fanout.attach(first)
        total = read_first + published_after
        for sequence in range(1, read_first + 1):
            fanout.publish(change(sequence))
        for _ in range(read_first):  # as an events() reader does: each item marked as it is got
            item = first.get_nowait()
            fanout.mark_consumed(first, item.worker_sequence)  # type: ignore[union-attr]
        fanout.remove(first)
        for sequence in range(read_first + 1, total + 1):
            fanout.publish(change(sequence))
        second = EventConsumer(100)
        fanout.fill_from_cursor(second)
        items = drain(second)
        missed = sum(i.count for i in items if isinstance(i, EventsDropped))
        delivered = [s for s in sequences(items) if s > 0]
        assert missed + len(delivered) == published_after
        assert delivered == list(range(total - len(delivered) + 1, total + 1))
        for marker in (i for i in items if isinstance(i, EventsDropped) and i.first_sequence):
            assert marker.last_sequence - marker.first_sequence + 1 == marker.count

    asyncio.run(run())


async def test_a_reader_closing_during_a_publish_never_makes_another_miss_the_event(
    anyio_backend: object,
) -> None:
    fanout = Fanout(queue_size=100, backlog_size=10)

    class ClosingWhenOffered(EventConsumer):
        def offer(self, index: int, item: object) -> None:
            super().offer(index, item)
            fanout.remove(self)  # as a reader closed at this very moment would

    readers = [EventConsumer(100), ClosingWhenOffered(100), EventConsumer(100), EventConsumer(100)]
    for reader in readers:
        fanout.attach(reader)
    fanout.publish(change(1))
    assert [sequences(drain(r)) for r in readers] == [[1], [1], [1], [1]]
    assert fanout.consumer_count == 3


async def test_a_dropped_event_stream_lets_its_queue_go_only_later_on_its_loop(anyio_backend: object) -> None:
    from mxgateway._events.link import SessionLink
    from mxgateway._events.pump import EventPump  # a stream needs a pump; this one never attaches
    from mxgateway._events.stream import EventStream
    from mxgateway._retry import ReconnectPolicy

    async def opened() -> None:
        return None

    state: SessionState[dict[str, int]] = SessionState(dict, "s1")
    pump = EventPump(
        state=state,
        link=SessionLink(
            open_call=lambda session_id, after: None,  # type: ignore[arg-type,return-value]
            recover=lambda binding, why: None,  # type: ignore[arg-type,return-value]
            recovers=lambda: False,
            recovering=lambda: False,
            fail_over=lambda generation: False,
            generation=lambda: 0,
        ),
        tag_lookup=lambda tables: {},
        secrets=(),
        policy=ReconnectPolicy(),
        queue_size=10,
        backlog_size=10,
        fresh_session=True,
    )
    stream = EventStream(pump, pump.add_consumer(), opened=opened)
    assert pump.fanout.consumer_count == 1
    del stream
    gc.collect()
    # The finalizer touched nothing shared: the queue goes on the loop's next turn.
    assert pump.fanout.consumer_count == 1
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert pump.fanout.consumer_count == 0


# ---------------------------------------------------------------------- the sequencer


async def test_the_sequencer_drops_duplicates_and_marks_gaps(anyio_backend: object) -> None:
    fanout = Fanout(queue_size=100, backlog_size=100)
    reader = EventConsumer(100)
    fanout.attach(reader)
    sequencer = Sequencer(fanout, expect_from_start=True)
    sequencer.follow("s1", {})
    for sequence in (1, 2, 2, 5, 4, 6):
        sequencer.dispatch(change(sequence).raw)
    items = drain(reader)
    assert [type(i).__name__ for i in items] == [
        "DataChange",
        "DataChange",
        "SequenceGap",
        "DataChange",
        "DataChange",
    ]
    gap = items[2]
    assert isinstance(gap, SequenceGap)
    assert gap.missed == 2
    assert sequences([i for i in items if isinstance(i, DataChange)]) == [1, 2, 5, 6]
    assert sequencer.duplicates_dropped == 2
