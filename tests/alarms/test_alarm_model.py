"""Reconciliation of two active sets, Galaxy-file alarm declarations, and failures the feed must surface."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mxgateway import (
    Alarm,
    AlarmState,
    AlarmTransitionKind,
    ClientOptions,
    GatewayClient,
    MxGatewayUnavailableError,
    ReconnectPolicy,
)
from mxgateway._alarms.active_set import apply_transition, reconcile
from mxgateway.generated import mxaccess_gateway_pb2 as pb
from mxgateway.simulator.demo_plant import demo_galaxy
from mxgateway.simulator.faultproxy import FaultProxy
from mxgateway.simulator.galaxy import Galaxy, GalaxyFormatError
from mxgateway.simulator.server import Simulator
from tests.alarms.conftest import FAST_RECONNECT, PlantClock

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def _alarm(reference: str, state: AlarmState, seconds: int = 0) -> Alarm:
    return Alarm(
        reference,
        reference,
        "Hi",
        600,
        state,
        T0,
        T0 + dt.timedelta(seconds=seconds),
        "",
        "",
        1.0,
        2.0,
        "",
        "",
        False,
    )


@pytest.mark.parametrize(
    ("before", "after", "kind", "state"),
    [
        (None, AlarmState.ACTIVE, AlarmTransitionKind.RAISE, AlarmState.ACTIVE),
        (None, AlarmState.ACTIVE_ACKNOWLEDGED, AlarmTransitionKind.RAISE, AlarmState.ACTIVE_ACKNOWLEDGED),
        (AlarmState.ACTIVE, None, AlarmTransitionKind.CLEAR, AlarmState.INACTIVE),
        (AlarmState.ACTIVE_ACKNOWLEDGED, None, AlarmTransitionKind.CLEAR, AlarmState.INACTIVE),
        (AlarmState.CLEARED_UNACKNOWLEDGED, None, AlarmTransitionKind.ACKNOWLEDGE, AlarmState.INACTIVE),
        (AlarmState.ACTIVE, AlarmState.ACTIVE_ACKNOWLEDGED, AlarmTransitionKind.ACKNOWLEDGE, None),
        (AlarmState.ACTIVE, AlarmState.CLEARED_UNACKNOWLEDGED, AlarmTransitionKind.CLEAR, None),
        (AlarmState.CLEARED_UNACKNOWLEDGED, AlarmState.ACTIVE, AlarmTransitionKind.RETRIGGER, None),
        (AlarmState.ACTIVE_ACKNOWLEDGED, AlarmState.ACTIVE, AlarmTransitionKind.RETRIGGER, None),
        (
            AlarmState.ACTIVE,
            AlarmState.ACTIVE,
            AlarmTransitionKind.RETRIGGER,
            None,
        ),  # a newer transition time
    ],
)
def test_reconcile_explains_each_change_with_one_synthetic_transition(
    before: AlarmState | None, after: AlarmState | None, kind: AlarmTransitionKind, state: AlarmState | None
) -> None:
    reference = "G!A.Obj.Level.Hi"
    old = {reference: _alarm(reference, before)} if before is not None else {}
    new = {reference: _alarm(reference, after, seconds=5)} if after is not None else {}
    (transition,) = reconcile(old, new)
    assert transition.synthetic
    assert transition.kind is kind
    assert transition.reference == reference
    assert transition.alarm.state is (state if state is not None else after)


def test_reconcile_of_equal_sets_is_empty_and_ordered_otherwise() -> None:
    same = {r: _alarm(r, AlarmState.ACTIVE) for r in ("G!A.B.Hi", "G!A.A.Hi")}
    assert reconcile(same, dict(same)) == []
    changed = reconcile({}, same)
    assert [t.reference for t in changed] == ["G!A.A.Hi", "G!A.B.Hi"]
    assert changed[0].alarm == same["G!A.A.Hi"]


def _galaxy_with_declared_alarm(tmp_path: Path) -> Galaxy:
    data = demo_galaxy().to_json()
    tank = next(o for o in data["objects"] if o["tag_name"] == "Tank_001")
    level = next(a for a in tank["attributes"] if a["attribute_name"] == "Level")
    level["alarms"] = [
        {"type": "Hi", "limit": 65, "severity": 750, "category": "Process", "description": "Tank full"}
    ]
    path = tmp_path / "plant.json"
    Galaxy.from_json(data).save(path)
    return Galaxy.load(path)


@pytest.mark.anyio
async def test_a_galaxy_file_declares_its_own_alarms(tmp_path: Path) -> None:
    galaxy = _galaxy_with_declared_alarm(tmp_path)
    async with Simulator(galaxy=galaxy, update_rate_hz=0) as sim:
        tank = [c for c in sim.alarms.conditions() if c.source_reference.startswith("Tank_001.Level.")]
        assert [c.source_reference for c in tank] == ["Tank_001.Level.Hi"]  # declared: nothing derived
        await PlantClock(sim).advance_to(3)  # 60 + 20 sin(2 pi 3 / 60) = 66.2 > 65
        async with GatewayClient.connect(sim.endpoint, plaintext=True) as client:
            (alarm,) = await client.active_alarms(prefix="demo-water-plant!Intake.Tank_001.")
    assert (alarm.severity, alarm.category, alarm.description, alarm.limit_value) == (
        750,
        "Process",
        "Tank full",
        65.0,
    )


def test_an_unknown_alarm_type_in_a_galaxy_file_is_refused() -> None:
    data = demo_galaxy().to_json()
    data["objects"][-1]["attributes"][0]["alarms"] = [{"type": "Hihi", "limit": 1}]
    with pytest.raises(GalaxyFormatError, match="unknown alarm type 'Hihi'"):
        Galaxy.from_json(data)


@pytest.mark.anyio
async def test_the_feed_gives_up_after_its_reconnect_window() -> None:
    async with Simulator(update_rate_hz=0) as sim, FaultProxy(sim.host, sim.port) as proxy:
        options = ClientOptions(
            endpoint=proxy.endpoint,
            plaintext=True,
            channel_options=FAST_RECONNECT,
            reconnect=ReconnectPolicy(initial_backoff_s=0.05, max_backoff_s=0.2, window_s=1.0),
        )
        async with GatewayClient.connect(options=options) as client, client.alarm_feed() as feed:
            await proxy.cut(None)
            with anyio.fail_after(15), pytest.raises(MxGatewayUnavailableError, match="gave up after 1 s"):
                async for _ in feed:
                    pass
            assert feed.closed
            assert not feed.connected


@pytest.mark.anyio
async def test_a_failed_acknowledgement_status_raises_its_typed_error() -> None:
    async with Simulator(update_rate_hz=0) as sim:
        sim.faults.fail_next(
            protocol_status=pb.PROTOCOL_STATUS_CODE_WORKER_UNAVAILABLE, methods=["AcknowledgeAlarm"]
        )
        async with GatewayClient.connect(sim.endpoint, plaintext=True) as client:
            with pytest.raises(MxGatewayUnavailableError, match="WORKER_UNAVAILABLE"):
                await client.acknowledge_alarm("demo-water-plant!Intake.Tank_001.Level.Hi")


_SET_STATES = st.sampled_from(
    [AlarmState.ACTIVE, AlarmState.ACTIVE_ACKNOWLEDGED, AlarmState.CLEARED_UNACKNOWLEDGED]
)
_ACTIVE_SETS = st.dictionaries(
    st.sampled_from([f"G!A.Obj_{n}.Level.Hi" for n in range(6)]), st.tuples(_SET_STATES, st.integers(0, 3))
)


@given(before=_ACTIVE_SETS, after=_ACTIVE_SETS)
def test_applying_the_reconciliation_gives_the_new_set(
    before: dict[str, tuple[AlarmState, int]], after: dict[str, tuple[AlarmState, int]]
) -> None:
    old = {r: _alarm(r, state, seconds) for r, (state, seconds) in before.items()}
    new = {r: _alarm(r, state, seconds) for r, (state, seconds) in after.items()}
    transitions = reconcile(old, new)
    active = dict(old)
    for transition in transitions:
        apply_transition(active, transition)
    assert active == new
    assert len({t.reference for t in transitions}) == len(transitions)
    assert all(t.synthetic for t in transitions)
    assert [t.reference for t in transitions] == sorted(t.reference for t in transitions)
