"""How alarms look and compare: one-line reprs, notebook tables, lazily read fields."""

from __future__ import annotations

import datetime as dt

import pytest

from mxgateway import GatewayClient, to_mx_value
from mxgateway._alarms.model import (
    Alarm,
    AlarmProviderMode,
    AlarmProviderStatus,
    AlarmState,
    AlarmTransition,
    AlarmTransitionKind,
    alarm_from_proto,
    transition_from_proto,
)
from mxgateway._model.display import ResultList, rows_of
from mxgateway.generated import mxaccess_gateway_pb2 as pb
from tests.alarms.conftest import TANK1_HI, PlantClock

pytestmark = pytest.mark.anyio

RAISED = dt.datetime(2026, 1, 2, 8, 5, 56, tzinfo=dt.timezone.utc)


def _message() -> pb.OnAlarmTransitionEvent:
    message = pb.OnAlarmTransitionEvent(
        alarm_full_reference=TANK1_HI,
        source_object_reference="Tank_001.Level.Hi",
        alarm_type_name="Hi",
        severity=500,
        current_state=pb.ALARM_CONDITION_STATE_ACTIVE,
        category="Process",
        description="Tank 1 level high",
        transition_kind=pb.ALARM_TRANSITION_KIND_RAISE,
    )
    message.original_raise_time.FromDatetime(RAISED)
    message.last_transition_time.FromDatetime(RAISED)
    message.transition_time.FromDatetime(RAISED)
    message.current_value.CopyFrom(to_mx_value(92.5))
    message.limit_value.CopyFrom(to_mx_value(72.0))
    return message


def _built() -> Alarm:
    return Alarm(
        TANK1_HI,
        "Tank_001.Level.Hi",
        "Hi",
        500,
        AlarmState.ACTIVE,
        RAISED,
        RAISED,
        "Process",
        "Tank 1 level high",
        92.5,
        72.0,
        "",
        "",
        False,
    )


def test_an_alarm_read_from_a_message_equals_one_built_from_its_values() -> None:
    read = alarm_from_proto(_message())
    assert read == _built()
    assert hash(read) == hash(_built())
    assert (read.original_raise_time, read.current_value, read.limit_value) == (RAISED, 92.5, 72.0)
    assert read.raw is not None
    assert _built().raw is None


def test_alarm_fields_cannot_be_assigned_and_replace_makes_a_copy() -> None:
    alarm = alarm_from_proto(_message())
    with pytest.raises(AttributeError):
        alarm.severity = 1  # type: ignore[misc]
    gone = alarm.replace(state=AlarmState.INACTIVE)
    assert (gone.state, alarm.state, gone.severity) == (AlarmState.INACTIVE, AlarmState.ACTIVE, 500)
    with pytest.raises(TypeError, match="colour"):
        alarm.replace(colour="red")


def test_alarm_and_transition_reprs_fit_on_one_short_line() -> None:
    transition = transition_from_proto(_message())
    assert repr(transition.alarm) == (
        f"Alarm({TANK1_HI} ACTIVE, severity 500, value 92.5 (limit 72.0), 2026-01-02T08:05:56Z)"
    )
    assert repr(transition) == (
        f"AlarmTransition(RAISE {TANK1_HI}, severity 500, value 92.5 (limit 72.0), 2026-01-02T08:05:56Z)"
    )
    synthetic = AlarmTransition(AlarmTransitionKind.CLEAR, _built(), None, synthetic=True)
    assert repr(synthetic).endswith("synthetic)")
    status = AlarmProviderStatus(AlarmProviderMode.SUBTAG, True, "alarm manager lost", RAISED)
    assert (
        repr(status)
        == "AlarmProviderStatus(SUBTAG degraded, 'alarm manager lost', since 2026-01-02T08:05:56Z)"
    )


async def test_active_alarms_is_a_result_list_that_renders_a_table(
    client: GatewayClient, clock: PlantClock
) -> None:
    await clock.advance_to(8.0)  # Tank_001.Level's Hi raises at 6.1 s
    alarms = await client.active_alarms(prefix=TANK1_HI)
    assert isinstance(alarms, ResultList)
    assert [a.reference for a in alarms] == [TANK1_HI]
    table = alarms._repr_html_()
    assert "<th>reference</th>" in table
    assert "<th>severity</th>" in table
    assert f"<td>{TANK1_HI}</td>" in table
    assert "<td>ACTIVE</td>" in table
    (row,) = rows_of(alarms)
    assert (row["reference"], row["state"], row["alarm_type"]) == (TANK1_HI, "ACTIVE", "Hi")
