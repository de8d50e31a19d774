"""Alarm and AlarmTransition keep what the frozen dataclasses gave: pickle, immutability, patterns."""

from __future__ import annotations

import copy
import inspect
import pickle

import pytest

from mxgateway._alarms.model import (
    Alarm,
    AlarmState,
    AlarmTransition,
    AlarmTransitionKind,
    alarm_from_proto,
    transition_from_proto,
)
from mxgateway.generated import mxaccess_gateway_pb2 as pb


def _message() -> pb.OnAlarmTransitionEvent:
    message = pb.OnAlarmTransitionEvent(
        alarm_full_reference="Galaxy!Area.Tank_001.Level.HiHi",
        source_object_reference="Tank_001.Level.HiHi",
        alarm_type_name="HiHi",
        severity=500,
        current_state=1,
        transition_kind=1,
    )
    message.transition_time.FromSeconds(1_700_000_000)
    message.last_transition_time.FromSeconds(1_700_000_000)
    message.current_value.CopyFrom(pb.MxValue(data_type=pb.MX_DATA_TYPE_DOUBLE, double_value=97.5))
    return message


def test_alarms_read_from_the_gateway_pickle_and_copy() -> None:
    # A frozen dataclass of plain values pickled (multiprocessing, caches); the lazy
    # view must not drag the generated message (whose module does not import by name) along.
    alarm = alarm_from_proto(_message())
    transition = transition_from_proto(_message())
    for value in (alarm, transition):
        again = pickle.loads(pickle.dumps(value))
        assert again == value
        assert hash(again) == hash(value)
        assert copy.deepcopy(value) == value
    assert pickle.loads(pickle.dumps(alarm)).current_value == 97.5


def test_transitions_and_alarms_stay_immutable() -> None:
    transition = transition_from_proto(_message())
    before = hash(transition)
    for name, value in (("kind", AlarmTransitionKind.UNSPECIFIED), ("synthetic", True), ("alarm", None)):
        with pytest.raises(AttributeError):
            setattr(transition, name, value)
    assert hash(transition) == before
    with pytest.raises(AttributeError):
        transition.alarm.severity = 1  # type: ignore[misc]


def test_positional_class_patterns_still_match() -> None:
    # The positional order is the constructor's, all fourteen fields of it.
    assert Alarm.__match_args__ == tuple(inspect.signature(Alarm).parameters)
    alarm = alarm_from_proto(_message())
    match alarm:
        case Alarm(reference, _, "HiHi", severity):
            assert (reference, severity) == ("Galaxy!Area.Tank_001.Level.HiHi", 500)
        case _:
            pytest.fail("no match")
    transition = AlarmTransition(
        AlarmTransitionKind.UNSPECIFIED, alarm.replace(state=AlarmState.INACTIVE), None
    )
    match transition:
        case AlarmTransition(_, Alarm(state=AlarmState.INACTIVE), None, False):
            pass
        case _:
            pytest.fail("no match")
