"""Bounded waits keep a cancellation: ``done_within`` and ``wait_event`` against ``asyncio.wait_for``.

Before Python 3.12, ``asyncio.wait_for`` returns normally when its caller is cancelled
in the loop turn its awaitable finishes; the core's bounded waits use these helpers
instead, so a cancelled task ends cancelled.
"""

from __future__ import annotations

import asyncio

import pytest

from mxgateway._transport.streams import done_within, wait_event

pytestmark = pytest.mark.anyio


async def _cancel_as_it_finishes(wait: object) -> asyncio.Task[object]:
    """Run ``wait(arrival)`` as a task; finish ``arrival`` and cancel the task in one loop turn."""
    loop = asyncio.get_running_loop()
    arrival: asyncio.Future[None] = loop.create_future()
    task = asyncio.ensure_future(wait(arrival))  # type: ignore[operator]
    for _ in range(3):  # the task and its inner wait are both waiting now
        await asyncio.sleep(0)
    arrival.set_result(None)
    task.cancel()
    await asyncio.wait({task}, timeout=2)
    return task


async def test_done_within_keeps_a_cancel_that_comes_as_the_awaitable_finishes(anyio_backend: object) -> None:
    task = await _cancel_as_it_finishes(lambda arrival: done_within(arrival, 10.0))
    assert task.cancelled()


async def test_wait_event_keeps_a_cancel_that_comes_as_the_event_is_set(anyio_backend: object) -> None:
    event = asyncio.Event()

    async def wait(arrival: asyncio.Future[None]) -> bool:
        arrival.add_done_callback(lambda _: event.set())
        return await wait_event(event, 10.0)

    task = await _cancel_as_it_finishes(wait)
    assert task.cancelled()


async def test_done_within_tells_finished_from_timed_out_and_raises_the_awaitables_error(
    anyio_backend: object,
) -> None:
    loop = asyncio.get_running_loop()
    assert await done_within(asyncio.sleep(0), 1.0) is True
    slow: asyncio.Future[None] = loop.create_future()
    assert await done_within(slow, 0.01) is False
    assert slow.cancelled()  # cancelled on time, as wait_for does
    failing: asyncio.Future[None] = loop.create_future()
    failing.set_exception(LookupError("from the awaitable"))
    with pytest.raises(LookupError, match="from the awaitable"):
        await done_within(failing, 1.0)
    event = asyncio.Event()
    assert await wait_event(event, 0.01) is False
    event.set()
    assert await wait_event(event, 0.01) is True
