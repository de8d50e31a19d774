"""Typed alarms: the gateway's alarm feed as immutable Python objects.

- ``Alarm``: one alarm of the active set (an ``ActiveAlarmSnapshot``), or an alarm
  as a transition left it;
- ``AlarmTransition``: RAISE, ACKNOWLEDGE, CLEAR or RETRIGGER of one alarm, with
  the alarm after it; ``synthetic`` marks the ones an ``AlarmFeed`` made up to
  reconcile what changed while it was disconnected;
- ``AlarmProviderStatus``: where the gateway reads alarms (the alarm manager, or
  the degraded subtag fallback);
- ``AlarmSnapshotComplete``: the end of the feed's opening snapshot.

Severity stays on the native MXAccess scale (1-999).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, NamedTuple

from mxgateway._model.display import alarm_repr, provider_status_repr, transition_repr
from mxgateway._model.values import MxPythonValue, from_mx_value, timestamp_to_datetime
from mxgateway.generated import mxaccess_gateway_pb2 as pb

__all__ = [
    "Alarm",
    "AlarmFeedItem",
    "AlarmProviderMode",
    "AlarmProviderStatus",
    "AlarmSnapshotComplete",
    "AlarmState",
    "AlarmTransition",
    "AlarmTransitionKind",
    "alarm_from_proto",
    "feed_item_from_proto",
    "provider_status_from_proto",
    "transition_from_proto",
]


class AlarmState(IntEnum):
    """Where an alarm stands (``AlarmConditionState``)."""

    #: Cleared and acknowledged: not (or no longer) in the active set.
    INACTIVE = pb.ALARM_CONDITION_STATE_UNSPECIFIED
    #: The condition holds and nobody acknowledged it yet.
    ACTIVE = pb.ALARM_CONDITION_STATE_ACTIVE
    #: The condition holds; an operator acknowledged it.
    ACTIVE_ACKNOWLEDGED = pb.ALARM_CONDITION_STATE_ACTIVE_ACKNOWLEDGED
    #: The condition ended, but the alarm still waits for an acknowledgement.
    CLEARED_UNACKNOWLEDGED = pb.ALARM_CONDITION_STATE_CLEARED_UNACKNOWLEDGED


class AlarmTransitionKind(IntEnum):
    """What happened to an alarm (``AlarmTransitionKind``)."""

    UNSPECIFIED = pb.ALARM_TRANSITION_KIND_UNSPECIFIED
    RAISE = pb.ALARM_TRANSITION_KIND_RAISE
    ACKNOWLEDGE = pb.ALARM_TRANSITION_KIND_ACKNOWLEDGE
    CLEAR = pb.ALARM_TRANSITION_KIND_CLEAR
    RETRIGGER = pb.ALARM_TRANSITION_KIND_RETRIGGER


class AlarmProviderMode(IntEnum):
    """Where the gateway's alarm monitor reads alarms (``AlarmProviderMode``)."""

    UNSPECIFIED = pb.ALARM_PROVIDER_MODE_UNSPECIFIED
    #: The Galaxy's alarm manager: full reports.
    ALARMMGR = pb.ALARM_PROVIDER_MODE_ALARMMGR
    #: The fallback on alarm subtags: degraded reports (no raise time, fewer fields).
    SUBTAG = pb.ALARM_PROVIDER_MODE_SUBTAG


# Dict lookups rather than Enum calls: the feed converts every transition it receives.
_STATES: dict[int, AlarmState] = {int(member): member for member in AlarmState}
_KINDS: dict[int, AlarmTransitionKind] = {int(member): member for member in AlarmTransitionKind}
_MODES: dict[int, AlarmProviderMode] = {int(member): member for member in AlarmProviderMode}


def _mode(value: int) -> AlarmProviderMode:
    return _MODES.get(value, AlarmProviderMode.UNSPECIFIED)


class _AlarmFields(NamedTuple):
    """An ``Alarm``'s fields, in its constructor's order (also its equality and hash)."""

    reference: str
    source_reference: str
    alarm_type: str
    severity: int
    state: AlarmState
    original_raise_time: dt.datetime | None
    last_transition_time: dt.datetime | None
    category: str
    description: str
    current_value: MxPythonValue
    limit_value: MxPythonValue
    operator_user: str
    operator_comment: str
    degraded: bool


_AlarmMessage = pb.ActiveAlarmSnapshot | pb.OnAlarmTransitionEvent


class Alarm:
    """One alarm as the gateway reports it (immutable).

    ``reference`` is the full reference (``Galaxy!Area.Object.Alarm``), the key of
    the active set; ``source_reference`` the ``Object.Alarm`` part. ``severity`` is
    the native scale, 1-999. Times are aware UTC datetimes; ``original_raise_time``
    is None in degraded (subtag) reports. ``current_value`` and ``limit_value`` are
    Python values (None when not reported).

    An alarm read from the gateway converts its times and values on first access:
    a feed that only keeps the active set pays for the reference and the state.
    """

    __slots__ = ("_fields", "_raw", "_reference", "_state")
    __match_args__ = (
        "reference",
        "source_reference",
        "alarm_type",
        "severity",
        "state",
        "original_raise_time",
        "last_transition_time",
        "category",
        "description",
        "current_value",
        "limit_value",
        "operator_user",
        "operator_comment",
        "degraded",
    )

    _fields: _AlarmFields
    _raw: _AlarmMessage | None
    _reference: str
    _state: AlarmState

    def __init__(
        self,
        reference: str,
        source_reference: str,
        alarm_type: str,
        severity: int,
        state: AlarmState,
        original_raise_time: dt.datetime | None,
        last_transition_time: dt.datetime | None,
        category: str,
        description: str,
        current_value: MxPythonValue,
        limit_value: MxPythonValue,
        operator_user: str,
        operator_comment: str,
        degraded: bool,
    ) -> None:
        self._raw = None
        self._reference = reference
        self._state = state
        self._fields = _AlarmFields(
            reference,
            source_reference,
            alarm_type,
            severity,
            state,
            original_raise_time,
            last_transition_time,
            category,
            description,
            current_value,
            limit_value,
            operator_user,
            operator_comment,
            degraded,
        )

    @classmethod
    def _of_message(cls, message: _AlarmMessage) -> Alarm:
        alarm = cls.__new__(cls)
        alarm._raw = message
        alarm._reference = message.alarm_full_reference
        alarm._state = _STATES.get(message.current_state, AlarmState.INACTIVE)
        return alarm

    def _all(self) -> _AlarmFields:
        try:
            return self._fields
        except AttributeError:
            message = self._raw
            assert message is not None
            has = message.HasField
            fields = self._fields = _AlarmFields(
                self._reference,
                message.source_object_reference,
                message.alarm_type_name,
                message.severity,
                self._state,
                timestamp_to_datetime(message.original_raise_time) if has("original_raise_time") else None,
                timestamp_to_datetime(message.last_transition_time) if has("last_transition_time") else None,
                message.category,
                message.description,
                from_mx_value(message.current_value) if has("current_value") else None,
                from_mx_value(message.limit_value) if has("limit_value") else None,
                message.operator_user,
                message.operator_comment,
                message.degraded,
            )
            return fields

    @property
    def reference(self) -> str:
        """The full reference, ``Galaxy!Area.Object.Alarm``."""
        return self._reference

    @property
    def state(self) -> AlarmState:
        """Where the alarm stands."""
        return self._state

    @property
    def source_reference(self) -> str:
        """The ``Object.Alarm`` part of the reference."""
        return self._all().source_reference

    @property
    def alarm_type(self) -> str:
        """The alarm type's name (``HiHi``, ``Hi``, ``Lo``, ``LoLo``, ``DSC``, ...)."""
        return self._all().alarm_type

    @property
    def severity(self) -> int:
        """The native severity, 1-999."""
        return self._all().severity

    @property
    def original_raise_time(self) -> dt.datetime | None:
        """When the alarm was first raised (None in degraded reports)."""
        return self._all().original_raise_time

    @property
    def last_transition_time(self) -> dt.datetime | None:
        """When the alarm last changed."""
        return self._all().last_transition_time

    @property
    def category(self) -> str:
        """The alarm's category."""
        return self._all().category

    @property
    def description(self) -> str:
        """The alarm's description."""
        return self._all().description

    @property
    def current_value(self) -> MxPythonValue:
        """The monitored value when reported (None otherwise)."""
        return self._all().current_value

    @property
    def limit_value(self) -> MxPythonValue:
        """The limit the value crossed, when reported (None otherwise)."""
        return self._all().limit_value

    @property
    def operator_user(self) -> str:
        """Who acknowledged the alarm (empty before an acknowledgement)."""
        return self._all().operator_user

    @property
    def operator_comment(self) -> str:
        """The acknowledgement's comment."""
        return self._all().operator_comment

    @property
    def degraded(self) -> bool:
        """True for a report from the subtag fallback (fewer fields)."""
        return self._all().degraded

    @property
    def raw(self) -> _AlarmMessage | None:
        """The message the alarm was read from (None for one built in Python)."""
        return self._raw

    @property
    def condition_active(self) -> bool:
        """The alarm condition holds (ACTIVE or ACTIVE_ACKNOWLEDGED)."""
        return self._state in (AlarmState.ACTIVE, AlarmState.ACTIVE_ACKNOWLEDGED)

    @property
    def acknowledged(self) -> bool:
        """Nothing waits for an acknowledgement (ACTIVE_ACKNOWLEDGED or INACTIVE)."""
        return self._state in (AlarmState.ACTIVE_ACKNOWLEDGED, AlarmState.INACTIVE)

    @property
    def in_active_set(self) -> bool:
        """Still in the active set: active, or cleared and not acknowledged."""
        return self._state is not AlarmState.INACTIVE

    def replace(self, **changes: Any) -> Alarm:
        """A copy with some fields changed (``alarm.replace(state=AlarmState.INACTIVE)``)."""
        try:
            fields = self._all()._replace(**changes)
        except ValueError as exc:
            raise TypeError(f"Alarm.replace(): {exc}") from None
        return Alarm(*fields)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Alarm):
            return NotImplemented
        return self._all() == other._all()

    def __hash__(self) -> int:
        return hash(self._all())

    def __reduce__(self) -> tuple[type[Alarm], _AlarmFields]:
        # Its fields, as the dataclass pickled: not the message (its generated module
        # does not import by that name), which a copy does not need.
        return (Alarm, self._all())

    def __repr__(self) -> str:
        return alarm_repr(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(alarm_repr(self))


class AlarmTransition:
    """A change of one alarm: ``kind``, the ``alarm`` after it and when it happened.

    ``synthetic`` is True for a transition an ``AlarmFeed`` derived from the
    difference between the active set it held and the one it found after a
    reconnect; the gateway never sent it, and its ``transition_time`` is the
    alarm's last transition time as the gateway reports it.
    """

    __slots__ = ("_alarm", "_kind", "_raw", "_synthetic", "_time")
    __match_args__ = ("kind", "alarm", "transition_time", "synthetic")

    _kind: AlarmTransitionKind
    _alarm: Alarm
    _synthetic: bool
    _time: dt.datetime | None
    _raw: pb.OnAlarmTransitionEvent | None

    def __init__(
        self,
        kind: AlarmTransitionKind,
        alarm: Alarm,
        transition_time: dt.datetime | None,
        synthetic: bool = False,
    ) -> None:
        self._kind = kind
        self._alarm = alarm
        self._time = transition_time
        self._synthetic = synthetic
        self._raw = None

    @classmethod
    def _of_message(cls, message: pb.OnAlarmTransitionEvent) -> AlarmTransition:
        transition = cls.__new__(cls)
        transition._kind = _KINDS.get(message.transition_kind, AlarmTransitionKind.UNSPECIFIED)
        transition._alarm = Alarm._of_message(message)
        transition._synthetic = False
        transition._raw = message
        return transition

    @property
    def kind(self) -> AlarmTransitionKind:
        """What changed."""
        return self._kind

    @property
    def alarm(self) -> Alarm:
        """The alarm after the transition."""
        return self._alarm

    @property
    def synthetic(self) -> bool:
        """True when the client made it up (see the class docstring)."""
        return self._synthetic

    @property
    def transition_time(self) -> dt.datetime | None:
        """When the transition happened (aware UTC), if the gateway says."""
        try:
            return self._time
        except AttributeError:
            message = self._raw
            assert message is not None
            stamp = self._time = (
                timestamp_to_datetime(message.transition_time)
                if message.HasField("transition_time")
                else None
            )
            return stamp

    @property
    def reference(self) -> str:
        """The alarm's full reference."""
        return self.alarm.reference

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AlarmTransition):
            return NotImplemented
        return (self.kind, self.alarm, self.transition_time, self.synthetic) == (
            other.kind,
            other.alarm,
            other.transition_time,
            other.synthetic,
        )

    def __hash__(self) -> int:
        return hash((self.kind, self.alarm, self.transition_time, self.synthetic))

    def __reduce__(self) -> tuple[type[AlarmTransition], tuple[Any, ...]]:
        return (AlarmTransition, (self._kind, self._alarm, self.transition_time, self._synthetic))

    def __repr__(self) -> str:
        return transition_repr(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(transition_repr(self))


@dataclass(frozen=True, slots=True, repr=False)
class AlarmProviderStatus:
    """Where the gateway reads alarms now; ``degraded`` while it falls back on subtags."""

    mode: AlarmProviderMode
    degraded: bool
    reason: str
    since: dt.datetime | None

    def __repr__(self) -> str:
        return provider_status_repr(self)


@dataclass(frozen=True, slots=True)
class AlarmSnapshotComplete:
    """The feed's opening snapshot is over: ``active_alarm_count`` alarms were in it."""

    active_alarm_count: int


#: What ``stream_alarms()`` yields, in the feed's order: every ``Alarm`` of the
#: snapshot, one ``AlarmSnapshotComplete``, one ``AlarmProviderStatus``, then
#: ``AlarmTransition``s (and an ``AlarmProviderStatus`` on each fail-over or fail-back).
AlarmFeedItem = Alarm | AlarmSnapshotComplete | AlarmProviderStatus | AlarmTransition


def alarm_from_proto(message: pb.ActiveAlarmSnapshot | pb.OnAlarmTransitionEvent) -> Alarm:
    """The ``Alarm`` of a snapshot, or of the alarm after a transition."""
    return Alarm._of_message(message)


def transition_from_proto(message: pb.OnAlarmTransitionEvent) -> AlarmTransition:
    """The typed form of an ``OnAlarmTransitionEvent``."""
    return AlarmTransition._of_message(message)


def provider_status_from_proto(message: pb.AlarmProviderStatus) -> AlarmProviderStatus:
    """The typed form of an ``AlarmProviderStatus``."""
    since = timestamp_to_datetime(message.since) if message.HasField("since") else None
    return AlarmProviderStatus(_mode(message.mode), message.degraded, message.reason, since)


def feed_item_from_proto(message: pb.AlarmFeedMessage) -> AlarmFeedItem | None:
    """The typed form of one feed message (None for a payload this SDK does not know)."""
    payload = message.WhichOneof("payload")
    if payload == "transition":
        return transition_from_proto(message.transition)
    if payload == "active_alarm":
        return alarm_from_proto(message.active_alarm)
    if payload == "snapshot_complete":
        return AlarmSnapshotComplete(message.snapshot_complete.active_alarm_count)
    if payload == "provider_status":
        return provider_status_from_proto(message.provider_status)
    return None
