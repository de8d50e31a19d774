"""``AlarmFeed``: the active set kept right through provider fail-over and a cut connection."""

from __future__ import annotations

import anyio
import pytest

from mxgateway import (
    AlarmFeed,
    AlarmFeedEvent,
    AlarmProviderMode,
    AlarmProviderStatus,
    AlarmState,
    AlarmTransition,
    AlarmTransitionKind,
    GatewayClient,
)
from mxgateway.generated import mxaccess_gateway_pb2 as pb
from mxgateway.simulator.faultproxy import FaultProxy
from mxgateway.simulator.server import Simulator
from tests.alarms.conftest import FAST_RECONNECT, FLOW_LOLO, TANK1_HI, TANK1_HIHI, PlantClock, wait_for

pytestmark = pytest.mark.anyio


def _sim_active(simulator: Simulator) -> dict[str, AlarmState]:
    return {c.full_reference: AlarmState(c.state) for c in simulator.alarms.conditions() if c.in_active_set}


def _feed_active(feed: AlarmFeed) -> dict[str, AlarmState]:
    return {reference: alarm.state for reference, alarm in feed.active.items()}


async def _drain(feed: AlarmFeed, quiet_s: float = 0.3, limit: int = 500) -> list[AlarmFeedEvent]:
    """The events the feed yields until it stays quiet for ``quiet_s``."""
    events: list[AlarmFeedEvent] = []
    for _ in range(limit):
        with anyio.move_on_after(quiet_s):
            events.append(await anext(feed))
            continue
        break
    return events


async def _next_of(feed: AlarmFeed, kind: type[AlarmFeedEvent], timeout: float = 10.0) -> AlarmFeedEvent:
    with anyio.fail_after(timeout):
        for _ in range(500):
            event = await anext(feed)
            if isinstance(event, kind):
                return event
    raise AssertionError(f"no {kind.__name__}")


async def test_the_feed_starts_from_the_snapshot_and_follows_transitions(
    simulator: Simulator, client: GatewayClient, clock: PlantClock
) -> None:
    await clock.advance_to(12)
    async with client.alarm_feed() as feed:
        assert feed.connected
        assert _feed_active(feed) == _sim_active(simulator)
        first = await _next_of(feed, AlarmProviderStatus)
        assert isinstance(first, AlarmProviderStatus)
        assert first.mode is AlarmProviderMode.ALARMMGR
        await clock.advance_to(40)
        events = await _drain(feed)
        assert events
        assert all(isinstance(e, AlarmTransition) and not e.synthetic for e in events)
        assert _feed_active(feed) == _sim_active(simulator)
    assert feed.closed


async def test_fail_over_to_subtags_and_back(
    simulator: Simulator, client: GatewayClient, clock: PlantClock
) -> None:
    async with client.alarm_feed() as feed:
        assert (feed.provider_mode, feed.degraded) == (AlarmProviderMode.ALARMMGR, False)
        await _next_of(feed, AlarmProviderStatus)
        await clock.advance_to(7)
        raised = await _next_of(feed, AlarmTransition)
        assert isinstance(raised, AlarmTransition)
        assert not raised.alarm.degraded

        simulator.alarms.fail_over("alarm manager timed out")
        status = await _next_of(feed, AlarmProviderStatus)
        assert isinstance(status, AlarmProviderStatus)
        assert (status.mode, status.degraded, status.reason) == (
            AlarmProviderMode.SUBTAG,
            True,
            "alarm manager timed out",
        )
        assert feed.degraded
        assert feed.provider_mode is AlarmProviderMode.SUBTAG

        await clock.advance_to(11)
        degraded = [e for e in await _drain(feed) if isinstance(e, AlarmTransition)]
        assert degraded
        assert all(t.alarm.degraded for t in degraded)
        assert all(t.alarm.original_raise_time is None and t.alarm.limit_value is None for t in degraded)
        snapshot = await client.active_alarms()
        assert snapshot
        assert all(a.degraded and a.original_raise_time is None for a in snapshot)

        await client.acknowledge_alarm(TANK1_HI, comment="via subtag", operator="op1")
        acked = await _next_of(feed, AlarmTransition)
        assert isinstance(acked, AlarmTransition)
        assert acked.kind is AlarmTransitionKind.ACKNOWLEDGE
        assert acked.alarm.degraded
        assert ("Tank_001.Level.Hi.AckComment", "via subtag") in simulator.alarms.subtag_writes

        simulator.alarms.fail_back()
        back = await _next_of(feed, AlarmProviderStatus)
        assert isinstance(back, AlarmProviderStatus)
        assert (back.mode, back.degraded) == (AlarmProviderMode.ALARMMGR, False)
        assert not feed.degraded
        full = await client.active_alarms()
        assert full
        assert not any(a.degraded for a in full)
        assert all(a.original_raise_time for a in full)


async def test_after_a_3s_cut_the_active_set_is_right_and_reconciled_synthetically(
    simulator: Simulator, clock: PlantClock
) -> None:
    async with FaultProxy(simulator.host, simulator.port) as proxy:
        connect = GatewayClient.connect(proxy.endpoint, plaintext=True, default_timeout=5.0, options=None)
        async with connect as client:
            client_options = client.options.replace(channel_options=FAST_RECONNECT)
        async with GatewayClient.connect(options=client_options) as client, client.alarm_feed() as feed:
            await clock.advance_to(12)
            await client.acknowledge_alarm(TANK1_HIHI, comment="seen", operator="op1")
            await wait_for(lambda: _feed_active(feed) == _sim_active(simulator))
            await _drain(feed, quiet_s=0.1)
            before = feed.active
            assert before[TANK1_HI].state is AlarmState.ACTIVE
            assert before[TANK1_HIHI].state is AlarmState.ACTIVE_ACKNOWLEDGED
            assert FLOW_LOLO not in before

            await proxy.cut(3.0)
            await clock.advance_to(36)  # Tank_001's high alarms clear, the flow meter's low ones raise
            assert proxy.is_cut

            await wait_for(lambda: feed.connected and feed.reconnects == 1, timeout=20)
            after = _sim_active(simulator)
            assert _feed_active(feed) == after
            events = await _drain(feed)

    synthetic = {e.reference: e for e in events if isinstance(e, AlarmTransition) and e.synthetic}
    assert all(isinstance(e, AlarmTransition) and e.synthetic for e in events)
    changed = {
        reference
        for reference in set(before) | set(after)
        if reference not in before
        or reference not in after
        or before[reference].state is not after[reference]
        or before[reference].last_transition_time != feed.active[reference].last_transition_time
    }
    assert set(synthetic) == changed
    assert (synthetic[TANK1_HI].kind, synthetic[TANK1_HI].alarm.state) == (
        AlarmTransitionKind.CLEAR,
        AlarmState.CLEARED_UNACKNOWLEDGED,
    )
    assert (synthetic[TANK1_HIHI].kind, synthetic[TANK1_HIHI].alarm.state) == (
        AlarmTransitionKind.CLEAR,
        AlarmState.INACTIVE,
    )
    assert (synthetic[FLOW_LOLO].kind, synthetic[FLOW_LOLO].alarm.state) == (
        AlarmTransitionKind.RAISE,
        AlarmState.ACTIVE,
    )


async def test_the_feed_ends_when_its_client_closes(simulator: Simulator) -> None:
    client = await GatewayClient.connect(simulator.endpoint, plaintext=True)
    feed = client.alarm_feed()
    await feed.start()
    await _next_of(feed, AlarmProviderStatus)
    await client.close()
    with anyio.fail_after(10):
        rest = [event async for event in feed]
    assert rest == []
    assert feed.closed
    await feed.aclose()


async def test_a_stream_the_simulator_drops_is_resumed_without_losing_the_set(
    simulator: Simulator, client: GatewayClient, clock: PlantClock
) -> None:
    async with client.alarm_feed() as feed:
        await clock.advance_to(7)
        await simulator.drop_alarm_streams()
        await clock.advance_to(12)
        await wait_for(lambda: feed.reconnects == 1 and feed.connected)
        assert _feed_active(feed) == _sim_active(simulator)
        reply = await client.acknowledge_alarm_raw(TANK1_HI)
        assert reply.protocol_status.code == pb.PROTOCOL_STATUS_CODE_OK
        await wait_for(lambda: feed.active[TANK1_HI].state is AlarmState.ACTIVE_ACKNOWLEDGED)


async def test_a_redeploy_is_reconciled_by_the_feed(
    simulator: Simulator, client: GatewayClient, clock: PlantClock
) -> None:
    await clock.advance_to(12)
    async with client.alarm_feed() as feed:
        await client.acknowledge_alarm(TANK1_HI, comment="before the deploy", operator="op1")
        await wait_for(lambda: feed.active[TANK1_HI].state is AlarmState.ACTIVE_ACKNOWLEDGED)
        await _drain(feed, quiet_s=0.1)
        before = feed.active
        await simulator.deploy()  # the monitor starts afresh and raises what the values say, anew
        await wait_for(lambda: feed.reconnects == 1 and feed.connected)
        assert _feed_active(feed) == _sim_active(simulator)
        reconciled = {e.reference: e for e in await _drain(feed) if isinstance(e, AlarmTransition)}
    assert set(reconciled) == set(before)  # every alarm was raised again, with new times
    assert all(e.synthetic for e in reconciled.values())
    assert reconciled[TANK1_HI].kind is AlarmTransitionKind.RETRIGGER
    assert reconciled[TANK1_HI].alarm.state is AlarmState.ACTIVE  # the acknowledgement went with the deploy
