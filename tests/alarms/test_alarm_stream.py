"""The simulator's alarm RPCs through the client: feed order, round trips, acknowledgement, prefixes."""

from __future__ import annotations

import anyio
import pytest

from mxgateway import (
    Alarm,
    AlarmProviderMode,
    AlarmProviderStatus,
    AlarmSnapshotComplete,
    AlarmState,
    AlarmTransition,
    AlarmTransitionKind,
    GatewayClient,
    MxGatewayAlarmNotFoundError,
)
from mxgateway.generated import mxaccess_gateway_pb2 as pb
from mxgateway.simulator.server import Simulator
from tests.alarms.conftest import GALAXY, TANK1_HI, TANK1_HIHI, PlantClock

pytestmark = pytest.mark.anyio


def _sim_active(simulator: Simulator, prefix: str = "") -> dict[str, int]:
    return {
        c.full_reference: c.state
        for c in simulator.alarms.conditions()
        if c.in_active_set and c.full_reference.startswith(prefix)
    }


async def test_the_feed_sends_the_snapshot_then_snapshot_complete_then_the_status_then_transitions(
    simulator: Simulator, client: GatewayClient, clock: PlantClock
) -> None:
    await clock.advance_to(12)
    expected = _sim_active(simulator)
    assert len(expected) >= 4  # both tanks' and the flow meter's high alarms
    async with client.stream_alarms_raw() as stream:
        await stream.wait_connected()
        kinds: list[str] = []
        snapshot: list[pb.ActiveAlarmSnapshot] = []
        with anyio.fail_after(10):
            async for message in stream:
                kind = message.WhichOneof("payload")
                kinds.append(str(kind))
                if kind == "active_alarm":
                    snapshot.append(message.active_alarm)
                elif kind == "snapshot_complete":
                    assert message.snapshot_complete.active_alarm_count == len(snapshot)
                elif kind == "provider_status":
                    assert message.provider_status.mode == pb.ALARM_PROVIDER_MODE_ALARMMGR
                    await clock.advance_to(25)
                elif kind == "transition":
                    break
    count = len(expected)
    assert kinds == ["active_alarm"] * count + ["snapshot_complete", "provider_status", "transition"]
    assert {s.alarm_full_reference: s.current_state for s in snapshot} == expected


async def test_raise_acknowledge_clear_and_retrigger_round_trip(
    simulator: Simulator, client: GatewayClient, clock: PlantClock
) -> None:
    prefix = GALAXY + "Intake.Tank_001.Level.Hi"  # also matches Level.HiHi
    async with client.stream_alarms(prefix) as stream:
        items = aiter(stream)
        with anyio.fail_after(10):
            assert await anext(items) == AlarmSnapshotComplete(0)
            status = await anext(items)
            assert isinstance(status, AlarmProviderStatus)
            assert status.mode is AlarmProviderMode.ALARMMGR

            async def next_transition() -> AlarmTransition:
                item = await anext(items)
                assert isinstance(item, AlarmTransition), item
                assert not item.synthetic
                return item

            await clock.advance_to(7)
            raised = await next_transition()
            assert (raised.kind, raised.reference) == (AlarmTransitionKind.RAISE, TANK1_HI)
            alarm = raised.alarm
            assert alarm.state is AlarmState.ACTIVE
            assert alarm.severity == 600
            assert alarm.alarm_type == "Hi"
            assert alarm.source_reference == "Tank_001.Level.Hi"
            assert alarm.limit_value == 72.0
            assert isinstance(alarm.current_value, float)
            assert alarm.current_value >= 72.0
            assert alarm.original_raise_time is not None
            assert not alarm.degraded

            await client.acknowledge_alarm(TANK1_HI, comment="checking the inlet", operator="op1")
            acked = await next_transition()
            assert acked.kind is AlarmTransitionKind.ACKNOWLEDGE
            assert acked.alarm.state is AlarmState.ACTIVE_ACKNOWLEDGED
            assert (acked.alarm.operator_user, acked.alarm.operator_comment) == ("op1", "checking the inlet")

            await clock.advance_to(11)
            assert (await next_transition()).reference == TANK1_HIHI

            await clock.advance_to(24)
            cleared = {t.reference: t for t in [await next_transition(), await next_transition()]}
            assert {t.kind for t in cleared.values()} == {AlarmTransitionKind.CLEAR}
            assert cleared[TANK1_HI].alarm.state is AlarmState.INACTIVE  # acknowledged: left the set
            assert cleared[TANK1_HIHI].alarm.state is AlarmState.CLEARED_UNACKNOWLEDGED
            assert _sim_active(simulator, prefix) == {TANK1_HIHI: AlarmState.CLEARED_UNACKNOWLEDGED}

            await clock.advance_to(71)  # the next cycle of the sine
            again = {t.reference: t for t in [await next_transition(), await next_transition()]}
    assert again[TANK1_HI].kind is AlarmTransitionKind.RAISE
    assert again[TANK1_HI].alarm.original_raise_time != alarm.original_raise_time
    retriggered = again[TANK1_HIHI]
    assert retriggered.kind is AlarmTransitionKind.RETRIGGER
    assert retriggered.alarm.state is AlarmState.ACTIVE
    assert retriggered.alarm.original_raise_time == cleared[TANK1_HIHI].alarm.original_raise_time


async def test_acknowledging_an_unknown_alarm_names_it(client: GatewayClient) -> None:
    reference = GALAXY + "Intake.No_Such.Level.Hi"
    with pytest.raises(MxGatewayAlarmNotFoundError) as caught:
        await client.acknowledge_alarm(reference, comment="x", operator="op1")
    assert reference in str(caught.value)
    assert caught.value.reference == reference
    reply = await client.acknowledge_alarm_raw(reference)
    assert reply.protocol_status.code == pb.PROTOCOL_STATUS_CODE_INVALID_REQUEST


async def test_acknowledging_twice_succeeds_without_a_second_transition(
    client: GatewayClient, clock: PlantClock
) -> None:
    await clock.advance_to(7)
    async with client.stream_alarms(TANK1_HI) as stream:
        items = aiter(stream)
        with anyio.fail_after(10):
            first = await anext(items)
            assert isinstance(first, Alarm)
            assert first.state is AlarmState.ACTIVE
            for _ in range(2):
                await anext(items)  # snapshot_complete, provider_status
            await client.acknowledge_alarm(TANK1_HI, comment="first", operator="op1")
            await client.acknowledge_alarm(TANK1_HI, comment="second", operator="op2")
            acked = await anext(items)
            await clock.advance_to(24)
            following = await anext(items)
            for _ in range(5):  # the prefix also matches Level.HiHi: skip its transitions
                if isinstance(following, AlarmTransition) and following.reference == TANK1_HI:
                    break
                following = await anext(items)
    assert isinstance(acked, AlarmTransition)
    assert acked.kind is AlarmTransitionKind.ACKNOWLEDGE
    assert acked.alarm.operator_comment == "first"
    assert isinstance(following, AlarmTransition)
    assert following.kind is AlarmTransitionKind.CLEAR
    assert following.alarm.operator_user == "op1"  # the second acknowledgement changed nothing


async def test_prefixes_filter_the_query_and_the_feed(
    simulator: Simulator, client: GatewayClient, clock: PlantClock
) -> None:
    await clock.advance_to(12)
    treatment = GALAXY + "Treatment."
    alarms = await client.active_alarms(prefix=treatment)
    assert {a.reference: a.state for a in alarms} == _sim_active(simulator, treatment)
    assert alarms
    assert all(a.reference.startswith(treatment) for a in alarms)
    everything = await client.active_alarms()
    assert len(everything) > len(alarms)
    assert await client.active_alarms(prefix=GALAXY + "Nowhere.") == []
    async with client.stream_alarms(GALAXY + "Intake.") as stream:
        items = aiter(stream)
        seen: list[str] = []
        transitions = 0
        with anyio.fail_after(10):
            for _ in range(50):
                item = await anext(items)
                if isinstance(item, Alarm):
                    seen.append(item.reference)
                elif isinstance(item, AlarmProviderStatus):
                    await clock.advance_to(40)  # clears and raises alarms of both areas
                elif isinstance(item, AlarmTransition):
                    seen.append(item.reference)
                    transitions += 1
                    if transitions == 3:  # Tank_001: HiHi and Hi clear, Lo raises
                        break
    assert seen
    assert all(reference.startswith(GALAXY + "Intake.") for reference in seen)
