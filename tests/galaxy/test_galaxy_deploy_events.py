"""WatchDeployEvents through the client: bootstrap, suppression, new deploys, gaps, closing."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from mxgateway.errors import MxGatewayClosedError
from mxgateway.galaxy import DeployEventStream, deploy_time
from mxgateway.generated import galaxy_repository_pb2 as gr
from mxgateway.simulator.demo_plant import DEMO_DEPLOY_TIME
from mxgateway.simulator.galaxy import Galaxy

from .support import Repo, plant_galaxy, serve_repository, wait_until

pytestmark = pytest.mark.anyio

UTC = dt.timezone.utc


async def next_event(stream: DeployEventStream, timeout: float = 3.0) -> gr.DeployEvent:
    return await asyncio.wait_for(stream.__anext__(), timeout)


async def test_the_first_event_is_the_current_state(repo: Repo) -> None:
    async with repo.client.watch_deploy_events() as stream:
        event = await next_event(stream)
    assert isinstance(event, gr.DeployEvent)
    assert event.sequence == 1
    assert event.time_of_last_deploy_present
    assert deploy_time(event) == DEMO_DEPLOY_TIME
    assert deploy_time(event).tzinfo is UTC  # type: ignore[union-attr]
    assert (event.object_count, event.attribute_count) == (10, 5)
    assert stream.last_seen_deploy_time == DEMO_DEPLOY_TIME
    assert (stream.last_sequence, stream.gap, stream.missed) == (1, 0, 0)


async def test_bootstrap_of_a_never_deployed_galaxy() -> None:
    async with serve_repository(plant_galaxy(deployed=None)) as repo:
        assert await repo.client.get_last_deploy_time() is None
        async with repo.client.watch_deploy_events() as stream:
            event = await next_event(stream)
        assert not event.time_of_last_deploy_present
        assert deploy_time(event) is None
        assert stream.last_seen_deploy_time is None


async def test_a_new_deploy_arrives_after_the_bootstrap(repo: Repo) -> None:
    async with repo.client.watch_deploy_events() as stream:
        bootstrap = await next_event(stream)
        without_spare = Galaxy([o for o in plant_galaxy().objects if o.tag_name != "Spare"])
        await repo.service.deploy(without_spare)
        event = await next_event(stream)
    assert event.sequence == bootstrap.sequence + 1
    assert (event.object_count, event.attribute_count) == (9, 5)
    new_time = deploy_time(event)
    assert new_time is not None
    assert new_time > DEMO_DEPLOY_TIME
    assert new_time == await repo.client.get_last_deploy_time()
    assert stream.last_seen_deploy_time == new_time
    assert stream.gap == 0


async def test_the_bootstrap_is_suppressed_when_the_caller_has_seen_the_deploy(repo: Repo) -> None:
    stream = repo.client.watch_deploy_events(last_seen_deploy_time=DEMO_DEPLOY_TIME)
    assert stream.last_seen_deploy_time == DEMO_DEPLOY_TIME
    reader = asyncio.get_running_loop().create_task(stream.__anext__())
    await wait_until(lambda: repo.service.watcher_count == 1)
    await asyncio.sleep(0.1)
    assert not reader.done()  # no bootstrap for a deploy already seen

    await repo.service.deploy()
    event = await asyncio.wait_for(reader, 3.0)
    assert event.sequence == 2
    assert deploy_time(event) == await repo.client.get_last_deploy_time()
    await stream.aclose()


async def test_an_older_last_seen_time_still_gets_the_bootstrap(repo: Repo) -> None:
    # Given in another zone: the same instant would suppress, an earlier one must not.
    earlier = (DEMO_DEPLOY_TIME - dt.timedelta(seconds=1)).astimezone(dt.timezone(dt.timedelta(hours=5)))
    async with repo.client.watch_deploy_events(last_seen_deploy_time=earlier) as stream:
        event = await next_event(stream)
    assert event.sequence == 1
    assert deploy_time(event) == DEMO_DEPLOY_TIME


async def test_an_instant_in_another_zone_suppresses_too(repo: Repo) -> None:
    same = DEMO_DEPLOY_TIME.astimezone(dt.timezone(dt.timedelta(hours=-7)))
    async with repo.client.watch_deploy_events(last_seen_deploy_time=same) as stream:
        reader = asyncio.get_running_loop().create_task(stream.__anext__())
        await wait_until(lambda: repo.service.watcher_count == 1)
        await repo.service.deploy()
        assert (await asyncio.wait_for(reader, 3.0)).sequence == 2


async def test_a_naive_last_seen_time_is_refused_at_once(repo: Repo) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        repo.client.watch_deploy_events(last_seen_deploy_time=dt.datetime(2026, 1, 5, 8, 30))
    await asyncio.sleep(0.05)
    assert repo.service.watcher_count == 0


async def test_a_sequence_gap_is_visible() -> None:
    # A one-event buffer: deploys the subscriber does not read in time drop the older ones.
    async with (
        serve_repository(plant_galaxy(), event_buffer_size=1) as repo,
        repo.client.watch_deploy_events() as stream,
    ):
        assert (await next_event(stream)).sequence == 1
        await wait_until(lambda: repo.service.watcher_count == 1)
        for _ in range(3):
            await repo.service.deploy()  # never suspends: the three land before the server sends
        event = await next_event(stream)
        assert event.sequence == 4
        assert (stream.gap, stream.missed, stream.last_sequence) == (2, 2, 4)

        await repo.service.deploy()
        assert (await next_event(stream)).sequence == 5
        assert (stream.gap, stream.missed) == (0, 2)


async def test_breaking_out_of_async_for_closes_the_stream(repo: Repo) -> None:
    async for event in repo.client.watch_deploy_events():
        assert event.sequence == 1
        assert repo.service.watcher_count == 1
        break
    await wait_until(lambda: repo.service.watcher_count == 0)


async def test_aclose_closes_the_stream(repo: Repo) -> None:
    stream = repo.client.watch_deploy_events()
    await next_event(stream)
    assert repo.service.watcher_count == 1
    await stream.aclose()
    assert stream.closed
    await wait_until(lambda: repo.service.watcher_count == 0)
    with pytest.raises(StopAsyncIteration):
        await stream.__anext__()
    await stream.aclose()  # idempotent


async def test_leaving_async_with_closes_the_stream(repo: Repo) -> None:
    async with repo.client.watch_deploy_events() as stream:
        await next_event(stream)
        assert repo.service.watcher_count == 1
    assert stream.closed
    await wait_until(lambda: repo.service.watcher_count == 0)


async def test_cancelling_the_reading_task_closes_the_stream(repo: Repo) -> None:
    stream = repo.client.watch_deploy_events()
    received: list[int] = []

    async def read_forever() -> None:
        async for event in stream:
            received.append(event.sequence)

    task = asyncio.get_running_loop().create_task(read_forever())
    await wait_until(lambda: received == [1] and repo.service.watcher_count == 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert stream.closed
    await wait_until(lambda: repo.service.watcher_count == 0)


async def test_closing_the_client_ends_its_streams(repo: Repo) -> None:
    stream = repo.client.watch_deploy_events()
    received: list[int] = []

    async def read_all() -> None:
        async for event in stream:
            received.append(event.sequence)

    task = asyncio.get_running_loop().create_task(read_all())
    await wait_until(lambda: received == [1])
    await repo.client.close()
    await asyncio.wait_for(task, 3.0)  # ends normally: the loop just stops
    assert stream.closed
    await wait_until(lambda: repo.service.watcher_count == 0)
    with pytest.raises(MxGatewayClosedError):
        repo.client.watch_deploy_events()


async def test_the_server_ending_the_stream_ends_the_iteration(repo: Repo) -> None:
    stream = repo.client.watch_deploy_events()
    await next_event(stream)
    await repo.service.close(timeout=1.0)
    with pytest.raises(StopAsyncIteration):
        await next_event(stream)
    assert stream.closed
