"""The simulator's alarm monitor: alarm conditions over the Galaxy's alarm-flagged attributes.

Like production's gateway-owned monitor it is always on and needs no session. Each
alarm-flagged attribute gets conditions: the ones its Galaxy file declares
(``alarms``), else limits derived from its schedule (HiHi, Hi, Lo, LoLo at 90 % and
60 % of a sine's or ramp's swing) for analog values and a DSC condition (active
while true) for discrete ones. The monitor watches those attributes in the shared
``TagStore``, so conditions follow the deterministic schedules and every write:
alarms raise, clear and retrigger by themselves as time advances.

States: an alarm is inactive until its condition holds (RAISE, state ACTIVE); an
acknowledgement makes it ACTIVE_ACKNOWLEDGED; when the condition ends (CLEAR) it is
CLEARED_UNACKNOWLEDGED, or leaves the active set when it was acknowledged. A
cleared, unacknowledged alarm whose condition returns is RETRIGGERed.

Fault injection: ``fail_over()`` switches to subtag mode (``degraded`` reports, no
raise time, fewer fields) and ``fail_back()`` returns; ``end_streams()`` cuts
every alarm feed.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import grpc

from mxgateway.generated import mxaccess_gateway_pb2 as pb
from mxgateway.simulator import galaxy as gx
from mxgateway.simulator.galaxy import AlarmDefinition, Galaxy, GalaxyAttribute, GalaxyObject, Value
from mxgateway.simulator.tags import Sample, TagStore
from mxgateway.simulator.values import timestamp_from_ns, to_mx_value

__all__ = ["AlarmCondition", "AlarmMonitor", "AlarmSubscriber", "derived_alarms"]

_INACTIVE = pb.ALARM_CONDITION_STATE_UNSPECIFIED
_ACTIVE = pb.ALARM_CONDITION_STATE_ACTIVE
_ACKED = pb.ALARM_CONDITION_STATE_ACTIVE_ACKNOWLEDGED
_CLEARED = pb.ALARM_CONDITION_STATE_CLEARED_UNACKNOWLEDGED

_ANALOG = frozenset({gx.MX_INTEGER, gx.MX_FLOAT, gx.MX_DOUBLE})
_DEFAULT_SEVERITY = {"HiHi": 900, "LoLo": 900, "Hi": 600, "Lo": 600, "DSC": 500}
_CATEGORY = {"HiHi": "Value", "Hi": "Value", "Lo": "Value", "LoLo": "Value", "DSC": "Discrete"}
#: Where derived limits sit, as a fraction of the schedule's swing around its centre.
_DERIVED = (("HiHi", 0.9), ("Hi", 0.6), ("Lo", -0.6), ("LoLo", -0.9))
#: Limits of an analog attribute without a schedule: a 0-100 range.
_STATIC_CENTRE, _STATIC_SWING = 50.0, 50.0
#: Alarm feed messages a subscriber may have waiting before it counts as stalled.
DEFAULT_QUEUE_SIZE = 100_000


def derived_alarms(attribute: GalaxyAttribute) -> list[AlarmDefinition]:
    """The conditions of an alarm-flagged attribute that declares none."""
    if attribute.is_array:
        return []
    if attribute.mx_data_type == gx.MX_BOOLEAN:
        return [AlarmDefinition("DSC", description=f"{attribute.attribute_name} is on")]
    if attribute.mx_data_type not in _ANALOG:
        return []
    centre, swing = _STATIC_CENTRE, _STATIC_SWING
    simulation = attribute.simulation
    if simulation is not None and simulation.kind == "sine":
        centre, swing = simulation.params.get("center", 0.0), simulation.params.get("amplitude", 1.0)
    elif simulation is not None and simulation.kind == "ramp":
        low, high = simulation.params.get("low", 0.0), simulation.params.get("high", 100.0)
        centre, swing = (low + high) / 2, (high - low) / 2
    return [
        AlarmDefinition(
            name,
            round(centre + fraction * swing, 3),
            description=f"{attribute.attribute_name} {'high' if fraction > 0 else 'low'}"
            + (" high" if fraction > 0.8 else " low" if fraction < -0.8 else ""),
        )
        for name, fraction in _DERIVED
    ]


@dataclass(eq=False)
class AlarmCondition:
    """One alarm: its definition, the attribute it watches and its current state."""

    full_reference: str
    source_reference: str
    attribute: GalaxyAttribute
    definition: AlarmDefinition
    state: int = _INACTIVE
    original_raise_ns: int = 0
    last_transition_ns: int = 0
    operator_user: str = ""
    operator_comment: str = ""
    value: Value = None

    @property
    def in_active_set(self) -> bool:
        """Active, or cleared and not yet acknowledged."""
        return self.state != _INACTIVE

    @property
    def condition_holds(self) -> bool:
        """The alarm condition is present (ACTIVE or ACTIVE_ACKNOWLEDGED)."""
        return self.state in (_ACTIVE, _ACKED)

    @property
    def severity(self) -> int:
        """The native severity, 1-999."""
        return self.definition.severity or _DEFAULT_SEVERITY[self.definition.alarm_type]

    def violated_by(self, value: Value) -> bool:
        """Whether ``value`` makes the condition hold."""
        definition = self.definition
        if definition.alarm_type == "DSC":
            return isinstance(value, bool) and value != definition.normal
        if isinstance(value, bool) or not isinstance(value, (int, float)) or definition.limit is None:
            return False
        if not math.isfinite(value):
            return False
        if definition.alarm_type in ("HiHi", "Hi"):
            return value >= definition.limit
        return value <= definition.limit


class _AttributeListener:
    """Passes an attribute's new values to the monitor (the TagStore's listener protocol)."""

    def __init__(self, monitor: AlarmMonitor, attribute: GalaxyAttribute) -> None:
        self._monitor = monitor
        self._attribute = attribute

    def on_sample(self, sample: Sample) -> None:
        self._monitor.evaluate(self._attribute, sample.value)


@dataclass(eq=False)
class AlarmSubscriber:
    """One StreamAlarms call: its prefix and the feed messages waiting for it."""

    prefix: str
    queue_size: int
    queue: asyncio.Queue[pb.AlarmFeedMessage | None] = field(default_factory=asyncio.Queue)
    abort_code: grpc.StatusCode | None = None
    abort_message: str = ""

    def wants(self, reference: str) -> bool:
        """Whether the alarm ``reference`` passes this subscriber's prefix."""
        return reference.lower().startswith(self.prefix)

    def push(self, message: pb.AlarmFeedMessage) -> None:
        """Queue a message; a subscriber this far behind is ended (it reconnects and reconciles)."""
        if self.abort_code is not None:
            return
        if self.queue.qsize() >= self.queue_size:
            self.end(grpc.StatusCode.RESOURCE_EXHAUSTED, "alarm subscriber fell behind")
            return
        self.queue.put_nowait(message)

    def end(self, code: grpc.StatusCode, message: str) -> None:
        """End the stream with ``code`` after what is already queued."""
        if self.abort_code is None:
            self.abort_code, self.abort_message = code, message
            self.queue.put_nowait(None)


class AlarmMonitor:
    """The gateway-owned alarm monitor of one simulated Galaxy (``Simulator.alarms``)."""

    def __init__(self, galaxy: Galaxy, tags: TagStore, *, queue_size: int = DEFAULT_QUEUE_SIZE) -> None:
        self._tags = tags
        # Transitions are stamped on the clock the values move on.
        self._clock = tags.clock
        self._queue_size = queue_size
        self._subscribers: set[AlarmSubscriber] = set()
        self._conditions: dict[str, AlarmCondition] = {}
        self._by_attribute: dict[str, list[AlarmCondition]] = {}
        self._listeners: list[tuple[GalaxyAttribute, _AttributeListener]] = []
        self.mode = pb.ALARM_PROVIDER_MODE_ALARMMGR
        self.reason = "alarm manager connected"
        self.since_ns = self._clock.time_ns()
        #: Acknowledgement comments written to ack-comment subtags in subtag mode.
        self.subtag_writes: list[tuple[str, str]] = []
        self.transitions_published = 0
        self.reset(galaxy)

    def __repr__(self) -> str:
        return f"AlarmMonitor({len(self._conditions)} alarms, {len(self.active_references())} active)"

    # ------------------------------------------------------------------ conditions

    def reset(self, galaxy: Galaxy) -> None:
        """Monitor ``galaxy`` from now on (a deploy): every alarm starts inactive.

        Open feeds are ended: their alarms may be gone, and a reconnecting client
        reconciles against the new active set.
        """
        self.end_streams(grpc.StatusCode.UNAVAILABLE, "alarm monitor restarted after a deploy")
        self._galaxy = galaxy
        for attribute, listener in self._listeners:
            self._tags.unwatch(attribute, listener)
        self._listeners.clear()
        self._conditions.clear()
        self._by_attribute.clear()
        for obj in galaxy.objects:
            for attribute in obj.attributes:
                if attribute.is_alarm:
                    self._add_attribute(obj, attribute)

    def _area_name(self, obj: GalaxyObject) -> str:
        area = self._galaxy.by_id.get(obj.area_gobject_id)
        return area.tag_name if area is not None else obj.tag_name

    def _add_attribute(self, obj: GalaxyObject, attribute: GalaxyAttribute) -> None:
        definitions = attribute.alarms or derived_alarms(attribute)
        if not definitions:
            return
        conditions = []
        for definition in definitions:
            source = f"{attribute.full_tag_reference}.{definition.alarm_type}"
            full = f"{self._galaxy.name}!{self._area_name(obj)}.{source}"
            condition = AlarmCondition(full, source, attribute, definition)
            self._conditions[full.lower()] = condition
            conditions.append(condition)
        self._by_attribute[attribute.full_tag_reference.lower()] = conditions
        listener = _AttributeListener(self, attribute)
        self._listeners.append((attribute, listener))
        self.evaluate(attribute, self._tags.watch(attribute, listener).value)

    def conditions(self) -> list[AlarmCondition]:
        """Every alarm the monitor knows, active or not."""
        return list(self._conditions.values())

    def condition(self, reference: str) -> AlarmCondition | None:
        """The alarm with this full reference (case-insensitive), if known."""
        return self._conditions.get(reference.lower())

    def active_references(self, prefix: str = "") -> list[str]:
        """Full references of the active set (active, or cleared and unacknowledged)."""
        return [c.full_reference for c in self._matching(prefix)]

    def _matching(self, prefix: str) -> Iterable[AlarmCondition]:
        lowered = prefix.lower()
        return (c for key, c in self._conditions.items() if c.in_active_set and key.startswith(lowered))

    # ------------------------------------------------------------------ transitions

    def evaluate(self, attribute: GalaxyAttribute, value: Value) -> None:
        """Apply a new value of ``attribute`` to its conditions."""
        now = self._clock.time_ns()
        for condition in self._by_attribute.get(attribute.full_tag_reference.lower(), ()):
            condition.value = value
            violated = condition.violated_by(value)
            if violated and not condition.condition_holds:
                if condition.state == _CLEARED:
                    kind = pb.ALARM_TRANSITION_KIND_RETRIGGER
                else:
                    kind = pb.ALARM_TRANSITION_KIND_RAISE
                    condition.original_raise_ns = now
                    condition.operator_user = condition.operator_comment = ""
                condition.state = _ACTIVE
                self._transition(condition, kind, now)
            elif not violated and condition.condition_holds:
                condition.state = _CLEARED if condition.state == _ACTIVE else _INACTIVE
                self._transition(condition, pb.ALARM_TRANSITION_KIND_CLEAR, now)

    def acknowledge(self, request: pb.AcknowledgeAlarmRequest) -> pb.AcknowledgeAlarmReply:
        """Acknowledge one alarm; an unknown reference is INVALID_REQUEST naming it."""
        condition = self.condition(request.alarm_full_reference)
        if condition is None:
            return pb.AcknowledgeAlarmReply(
                protocol_status=pb.ProtocolStatus(
                    code=pb.PROTOCOL_STATUS_CODE_INVALID_REQUEST,
                    message=f"unknown alarm {request.alarm_full_reference!r}",
                ),
                native_status=1,
            )
        ok = pb.AcknowledgeAlarmReply(protocol_status=pb.ProtocolStatus(code=pb.PROTOCOL_STATUS_CODE_OK))
        if condition.state not in (_ACTIVE, _CLEARED):
            return ok  # already acknowledged (or inactive): nothing changes
        condition.state = _ACKED if condition.state == _ACTIVE else _INACTIVE
        condition.operator_user = request.operator_user
        condition.operator_comment = request.comment
        if self.degraded:
            self.subtag_writes.append((f"{condition.source_reference}.AckComment", request.comment))
        self._transition(condition, pb.ALARM_TRANSITION_KIND_ACKNOWLEDGE, self._clock.time_ns())
        return ok

    def _transition(self, condition: AlarmCondition, kind: int, now_ns: int) -> None:
        condition.last_transition_ns = now_ns
        if not self._subscribers:
            return
        event = pb.OnAlarmTransitionEvent(transition_kind=kind)  # type: ignore[arg-type]
        self._fill(event, condition)
        event.transition_time.CopyFrom(timestamp_from_ns(now_ns))
        message = pb.AlarmFeedMessage(transition=event)
        reference = condition.full_reference
        for subscriber in list(self._subscribers):
            if subscriber.wants(reference):
                subscriber.push(message)
                self.transitions_published += 1

    # ------------------------------------------------------------------ reports

    @property
    def degraded(self) -> bool:
        """True in subtag mode."""
        return self.mode == pb.ALARM_PROVIDER_MODE_SUBTAG

    def _fill(self, message: pb.ActiveAlarmSnapshot | pb.OnAlarmTransitionEvent, c: AlarmCondition) -> None:
        degraded = self.degraded
        definition = c.definition
        message.alarm_full_reference = c.full_reference
        message.source_object_reference = c.source_reference
        message.alarm_type_name = definition.alarm_type
        message.severity = c.severity
        message.current_state = c.state  # type: ignore[assignment]
        message.last_transition_time.CopyFrom(timestamp_from_ns(c.last_transition_ns))
        message.current_value.CopyFrom(to_mx_value(c.value, c.attribute.mx_data_type))
        message.operator_user = c.operator_user
        message.operator_comment = c.operator_comment
        message.degraded = degraded
        if degraded:
            return  # the subtags carry no raise time, category, description or limit
        message.original_raise_time.CopyFrom(timestamp_from_ns(c.original_raise_ns))
        message.category = definition.category or _CATEGORY[definition.alarm_type]
        message.description = definition.description
        if definition.limit is not None:
            message.limit_value.CopyFrom(to_mx_value(definition.limit, gx.MX_DOUBLE))

    def snapshot(self, prefix: str = "") -> list[pb.ActiveAlarmSnapshot]:
        """The active set matching ``prefix``, as QueryActiveAlarms sends it."""
        snapshots = []
        for condition in self._matching(prefix):
            snapshot = pb.ActiveAlarmSnapshot()
            self._fill(snapshot, condition)
            snapshots.append(snapshot)
        return snapshots

    def provider_status(self) -> pb.AlarmProviderStatus:
        """Where alarms come from now."""
        return pb.AlarmProviderStatus(
            mode=self.mode, degraded=self.degraded, reason=self.reason, since=timestamp_from_ns(self.since_ns)
        )

    # ------------------------------------------------------------------ feed subscribers

    def subscribe(self, prefix: str = "") -> tuple[list[pb.AlarmFeedMessage], AlarmSubscriber]:
        """The opening messages of a feed and the subscriber that gets the rest.

        Built in one step on the loop, so no transition falls between the
        snapshot and the subscription.
        """
        snapshots = self.snapshot(prefix)
        opening = [pb.AlarmFeedMessage(active_alarm=s) for s in snapshots]
        opening.append(
            pb.AlarmFeedMessage(snapshot_complete=pb.AlarmSnapshotComplete(active_alarm_count=len(snapshots)))
        )
        opening.append(pb.AlarmFeedMessage(provider_status=self.provider_status()))
        subscriber = AlarmSubscriber(prefix.lower(), self._queue_size)
        self._subscribers.add(subscriber)
        return opening, subscriber

    def unsubscribe(self, subscriber: AlarmSubscriber) -> None:
        """Forget a feed whose call ended."""
        self._subscribers.discard(subscriber)

    @property
    def subscriber_count(self) -> int:
        """Open StreamAlarms calls."""
        return len(self._subscribers)

    def end_streams(self, code: grpc.StatusCode, message: str) -> None:
        """Fail every open StreamAlarms call with ``code``."""
        for subscriber in list(self._subscribers):
            subscriber.end(code, message)

    # ------------------------------------------------------------------ provider faults

    def fail_over(self, reason: str = "alarm manager not responding: watching alarm subtags") -> None:
        """Switch to subtag mode: every report from now on is degraded."""
        self._set_mode(pb.ALARM_PROVIDER_MODE_SUBTAG, reason)

    def fail_back(self, reason: str = "alarm manager recovered") -> None:
        """Return to the alarm manager: full reports again."""
        self._set_mode(pb.ALARM_PROVIDER_MODE_ALARMMGR, reason)

    def _set_mode(self, mode: int, reason: str) -> None:
        if mode == self.mode:
            return
        self.mode = mode  # type: ignore[assignment]
        self.reason = reason
        self.since_ns = self._clock.time_ns()
        message = pb.AlarmFeedMessage(provider_status=self.provider_status())
        for subscriber in list(self._subscribers):
            subscriber.push(message)
