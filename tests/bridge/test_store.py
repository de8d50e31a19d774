"""Store-and-forward without a broker: order across memory and disk, limits, persistence."""

from __future__ import annotations

from pathlib import Path

import pytest

from mxgateway.bridge.outbox import Outbox
from mxgateway.bridge.store import DiskQueue
from mxgateway.bridge.topics import Message

pytestmark = pytest.mark.anyio


def messages(start: int, stop: int) -> list[Message]:
    return [Message(f"t/{i}", str(i).encode()) for i in range(start, stop)]


def numbers(entries: list) -> list[int]:  # type: ignore[type-arg]
    return [int(e.message.payload) for e in entries]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def rows(start: int, stop: int, at: float = 1000.0) -> list[tuple[int, Message, float]]:
    return [(i + 1, m, at) for i, m in zip(range(start, stop), messages(start, stop), strict=True)]


def test_the_size_limit_drops_the_oldest_and_counts_them(tmp_path: Path) -> None:
    queue = DiskQueue(tmp_path / "q.sqlite3", max_messages=5, max_age_s=60)
    assert queue.push(rows(0, 4)) == 0
    assert queue.push(rows(4, 8)) == 3
    assert [int(m.payload) for _, m, _ in queue.peek(10)] == [3, 4, 5, 6, 7]
    assert len(queue) == 5


def test_the_age_limit_drops_what_waited_too_long(tmp_path: Path) -> None:
    clock = Clock()
    queue = DiskQueue(tmp_path / "q.sqlite3", max_messages=100, max_age_s=60, clock=clock)
    queue.push(rows(0, 3, clock.now))
    clock.now += 30
    queue.push(rows(3, 5, clock.now))
    clock.now += 31
    assert queue.expire() == 3
    assert [int(m.payload) for _, m, _ in queue.peek(10)] == [3, 4]


def test_the_queue_survives_a_restart_of_the_bridge(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "q.sqlite3"
    queue = DiskQueue(path, max_messages=100, max_age_s=60)
    outbox = Outbox(queue)
    outbox.put(messages(0, 3))  # not connected: straight to disk
    outbox.close()
    again = Outbox(DiskQueue(path, max_messages=100, max_age_s=60))
    again.put(messages(3, 4))
    assert again.stored == 4
    assert [m.topic for _, m, _ in DiskQueue(path, max_messages=100, max_age_s=60).peek(10)] == [
        "t/0",
        "t/1",
        "t/2",
        "t/3",
    ]
    again.close()


async def test_order_holds_across_memory_disk_disconnects_and_give_backs(tmp_path: Path) -> None:
    drops: list[int] = []
    queue = DiskQueue(tmp_path / "q.sqlite3", max_messages=1000, max_age_s=60)
    outbox = Outbox(queue, memory_limit=4, on_drop=lambda n, _: drops.append(n))
    assert outbox.put(messages(0, 2)) == 2  # not connected yet: disk
    outbox.set_connected(True)
    assert outbox.put(messages(2, 5)) == 0  # memory
    assert outbox.put(messages(5, 7)) == 3  # memory would overflow: what it held moves to disk
    first = await outbox.take(3)
    assert numbers(first) == [0, 1, 2]
    outbox.done(first[:1])
    outbox.give_back(first[1:])  # 1 and 2 were not acknowledged
    outbox.set_connected(False)
    outbox.put(messages(7, 9))
    assert outbox.queued == 8
    outbox.set_connected(True)
    outbox.put(messages(9, 10))
    taken = await outbox.take(5)
    assert numbers(taken) == [1, 2, 3, 4, 5]
    outbox.done(taken[:3])
    outbox.give_back(taken[3:])
    rest = await outbox.take(10)
    assert numbers(rest) == [4, 5, 6, 7, 8, 9]
    assert [e.stored for e in rest] == [True, True, True, True, True, False]
    outbox.done(rest)
    assert outbox.queued == 0
    assert drops == []
    outbox.close()


async def test_a_full_queue_drops_the_oldest_and_reports_it(tmp_path: Path) -> None:
    drops: list[int] = []
    queue = DiskQueue(tmp_path / "q.sqlite3", max_messages=10, max_age_s=60)
    outbox = Outbox(queue, on_drop=lambda n, _: drops.append(n))
    for i in range(25):
        outbox.put(messages(i, i + 1))
    assert sum(drops) == 15
    outbox.set_connected(True)
    assert numbers(await outbox.take(100)) == list(range(15, 25))
    outbox.close()
