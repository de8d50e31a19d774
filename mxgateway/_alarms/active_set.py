"""Keeping an active set of alarms: applying a transition, reconciling two sets.

An ``AlarmFeed`` applies every transition to its active set and, after a
reconnect, reconciles the set it had with the one the gateway reports now.
"""

from __future__ import annotations

from collections.abc import Mapping

from mxgateway._alarms.model import Alarm, AlarmState, AlarmTransition, AlarmTransitionKind

__all__ = ["apply_transition", "reconcile"]


def apply_transition(active: dict[str, Alarm], transition: AlarmTransition) -> None:
    """Update an active set (keyed by reference) with one transition."""
    alarm = transition.alarm
    if alarm.in_active_set:
        active[alarm.reference] = alarm
    else:
        active.pop(alarm.reference, None)


def _changed_kind(before: Alarm, after: Alarm) -> AlarmTransitionKind:
    """The transition that best explains ``before`` becoming ``after`` (both in the set)."""
    if after.state is AlarmState.CLEARED_UNACKNOWLEDGED:
        return AlarmTransitionKind.CLEAR
    if after.state is AlarmState.ACTIVE_ACKNOWLEDGED and before.state is AlarmState.ACTIVE:
        return AlarmTransitionKind.ACKNOWLEDGE
    # Active again after having cleared (or cleared, acknowledged and raised anew).
    return AlarmTransitionKind.RETRIGGER


def reconcile(before: Mapping[str, Alarm], after: Mapping[str, Alarm]) -> list[AlarmTransition]:
    """The synthetic transitions that turn the active set ``before`` into ``after``.

    An alarm only in ``after`` was RAISEd; one only in ``before`` left the set: it
    was acknowledged if it had cleared already, else it CLEARed (and its alarm is
    reported INACTIVE). One in both whose state or last transition time differs
    is a CLEAR, ACKNOWLEDGE or RETRIGGER by its new state. Ordered by reference.
    """
    transitions: list[AlarmTransition] = []
    for reference in sorted(set(before) | set(after)):
        old, new = before.get(reference), after.get(reference)
        if old is None and new is not None:
            transitions.append(
                AlarmTransition(AlarmTransitionKind.RAISE, new, new.last_transition_time, synthetic=True)
            )
        elif old is not None and new is None:
            kind = (
                AlarmTransitionKind.ACKNOWLEDGE
                if old.state is AlarmState.CLEARED_UNACKNOWLEDGED
                else AlarmTransitionKind.CLEAR
            )
            gone = old.replace(state=AlarmState.INACTIVE)
            transitions.append(AlarmTransition(kind, gone, None, synthetic=True))
        elif old is not None and new is not None:
            if old.state is new.state and old.last_transition_time == new.last_transition_time:
                continue
            transitions.append(
                AlarmTransition(_changed_kind(old, new), new, new.last_transition_time, synthetic=True)
            )
    return transitions
