"""Recordings: ``Client.record`` and ``Subscription.collect`` against the simulator, gaps and recoveries kept."""

from __future__ import annotations

import asyncio
import math
import time

import pytest

from mxgateway import (
    Client,
    ClientOptions,
    DataChange,
    GatewayClient,
    MxGatewayArgumentError,
    RecordingGap,
    RecordingRecovery,
)
from mxgateway.simulator.faultproxy import FaultProxy
from mxgateway.simulator.server import Simulator
from tests.resilience.conftest import FAST, TAGS, until


@pytest.fixture
async def simulator(anyio_backend: object):  # type: ignore[no-untyped-def]
    async with Simulator(update_rate_hz=0) as sim:
        yield sim


async def test_record_starts_with_current_values_and_stops_at_max_changes(simulator: Simulator) -> None:
    async with Client(endpoint=simulator.endpoint) as client:
        recording = await asyncio.wait_for(client.record(TAGS, seconds=10, max_changes=len(TAGS)), 10)
        assert [change.tag for change in recording] == TAGS
        current = {r.tag: r.value for r in await client.read(TAGS)}
        assert {c.tag: c.value for c in recording} == current
        # Torn down: a later change of these tags reaches no subscription of the session.
        assert simulator.stats.unary_calls["Invoke"] >= 3


async def test_record_for_seconds_collects_the_changes_of_that_time(simulator: Simulator) -> None:
    async with Client(endpoint=simulator.endpoint) as client:
        task = asyncio.create_task(client.record(["Tank_001.Level"], seconds=1.5))
        await asyncio.sleep(0.5)
        for _ in range(3):
            await simulator.advance(1.0)
        started = time.monotonic()
        recording = await asyncio.wait_for(task, 10)
        assert time.monotonic() - started < 1.5
        assert len(recording) == 4  # the current value, then three changes
        assert all(isinstance(c, DataChange) and c.tag == "Tank_001.Level" for c in recording)
        stamps = [c.source_timestamp for c in recording]
        assert stamps == sorted(stamps)


async def test_collect_leaves_the_subscription_open_for_more(simulator: Simulator) -> None:
    async with GatewayClient.connect(simulator.endpoint) as gateway:
        session = await gateway.open_session("collect")
        async with session.subscribe(["Tank_001.Level"]) as subscription:
            first = await subscription.collect(max_changes=1)
            assert [c.tag for c in first] == ["Tank_001.Level"]
            nothing = await subscription.collect(seconds=0.2)
            assert list(nothing) == []
            await simulator.advance(1.0)
            later = await subscription.collect(seconds=5, max_changes=1)
            assert len(later) == 1
            assert later[0].worker_sequence > first[0].worker_sequence


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        ({}, "seconds"),
        ({"seconds": -1}, "seconds"),
        ({"seconds": math.nan}, "seconds"),
        ({"seconds": math.inf}, "seconds"),
        ({"seconds": "5"}, "seconds"),
        ({"seconds": True}, "seconds"),
        ({"max_changes": 0}, "max_changes"),
        ({"max_changes": 2.5}, "max_changes"),
        ({"seconds": 1, "max_changes": -3}, "max_changes"),
    ],
)
async def test_bad_limits_are_typed_errors_before_anything_is_subscribed(
    simulator: Simulator, arguments: dict[str, object], named: str
) -> None:
    async with Client(endpoint=simulator.endpoint) as client:
        with pytest.raises(MxGatewayArgumentError) as info:
            await client.record(["Tank_001.Level"], **arguments)  # type: ignore[arg-type]
        assert info.value.argument == named
        assert isinstance(info.value, ValueError)
        assert simulator.session_ids() == []  # nothing was opened for it
        async with client.subscribe(["Tank_001.Level"]) as subscription:
            with pytest.raises(MxGatewayArgumentError):
                await subscription.collect(**arguments)  # type: ignore[arg-type]


async def test_a_gap_is_kept_as_a_marker_before_the_re_read_values(anyio_backend: object) -> None:
    async with (
        Simulator(update_rate_hz=0, replay_capacity=8) as sim,
        FaultProxy(sim.host, sim.port) as proxy,
        Client(options=ClientOptions(endpoint=proxy.endpoint, reconnect=FAST)) as client,
    ):
        recording_task = asyncio.create_task(client.record(TAGS, seconds=4))
        await until(lambda: len(sim.session_ids()) == 1, 5, "the session")
        await asyncio.sleep(0.5)
        await proxy.cut(1.0)
        for _ in range(10):  # far more events than the gateway's ring keeps
            await sim.advance(1.0)
        recording = await asyncio.wait_for(recording_task, 15)
    gaps = [i for i, item in enumerate(recording) if isinstance(item, RecordingGap)]
    assert len(gaps) == 1, recording
    gap = recording[gaps[0]]
    assert gap.missed > 0
    assert [c.tag for c in recording[: len(TAGS)]] == TAGS  # the first values came before it
    after = recording[gaps[0] + 1 : gaps[0] + 1 + len(TAGS)]
    assert {c.tag for c in after} == set(TAGS)
    assert all(c.worker_sequence == 0 for c in after)  # re-read after the gap
    assert "events missed" in repr(gap)
    assert "events missed" in recording._repr_html_()


async def test_a_replaced_session_is_kept_as_a_marker(simulator: Simulator) -> None:
    async with Client(endpoint=simulator.endpoint) as client:
        recording_task = asyncio.create_task(client.record(["Tank_001.Level"], seconds=3))
        await until(lambda: len(simulator.session_ids()) == 1, 5, "the session")
        await asyncio.sleep(0.3)
        old_id = simulator.session_ids()[0]
        async with GatewayClient.connect(simulator.endpoint) as other:
            await other.close_session_raw(old_id)  # as a gateway restart that lost it would
        recording = await asyncio.wait_for(recording_task, 10)
    kinds = [type(item).__name__ for item in recording]
    assert kinds.count("RecordingRecovery") == 1, kinds
    index = kinds.index("RecordingRecovery")
    assert index >= 1
    assert kinds[index + 1] == "DataChange"  # subscribed again: the current value
    assert isinstance(recording[index], RecordingRecovery)


async def test_trend_outside_a_notebook_says_what_to_use_instead(simulator: Simulator) -> None:
    async with Client(endpoint=simulator.endpoint) as client:
        with pytest.raises(RuntimeError, match=r"record\(\) and plot\(\), or mxgw-py watch"):
            await client.trend(["Tank_001.Level"], seconds=1)
        with pytest.raises(MxGatewayArgumentError):
            await client.trend(["Tank_001.Level"], seconds=1, refresh=0)
        assert simulator.session_ids() == []  # refused before anything was opened


async def test_a_recording_cancelled_as_a_change_arrives_ends_cancelled(anyio_backend: object) -> None:
    # The one interleaving nothing real produces on demand: the step's change and the
    # caller's cancel in the same loop turn (asyncio.wait_for before 3.12 kept the change
    # and dropped the cancel, and an interrupted trend then ran on forever).
    from mxgateway._views.recording import collect_changes

    loop = asyncio.get_running_loop()
    arrivals: list[asyncio.Future[str]] = []

    class Source:
        missed = 0
        recoveries = 0

        def __aiter__(self) -> Source:
            return self

        async def __anext__(self) -> str:
            arrival: asyncio.Future[str] = loop.create_future()
            arrivals.append(arrival)
            return await arrival

    recording = asyncio.ensure_future(collect_changes(Source(), 30.0, None))  # type: ignore[arg-type]
    await until(lambda: len(arrivals) == 1, 5, "the first step")
    arrivals[0].set_result("Tank_001.Level = 1")
    recording.cancel()
    await asyncio.wait({recording}, timeout=2)
    assert recording.cancelled()
    assert len(arrivals) == 1  # no step started after the cancel
