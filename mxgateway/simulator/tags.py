"""Current attribute values of the simulated plant, shared by every session.

A value follows its attribute's schedule until something writes it; a written
value then stays (like a point switched to manual) until the next deploy.
Only attributes that some item advises are evaluated when time advances, and each
change is pushed to the items watching it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from mxgateway.simulator import galaxy as gx
from mxgateway.simulator.clock import Clock
from mxgateway.simulator.galaxy import Galaxy, GalaxyAttribute, Value
from mxgateway.simulator.statuses import QUALITY_GOOD


@dataclass(frozen=True)
class Sample:
    """A value with its quality and source time (nanoseconds since the epoch)."""

    value: Value
    timestamp_ns: int
    quality: int = QUALITY_GOOD


class ValueListener(Protocol):
    """Something that wants each new value of an attribute (an advised item)."""

    def on_sample(self, sample: Sample) -> None:
        """Called with the attribute's new whole value."""


@dataclass
class _Watch:
    attribute: GalaxyAttribute
    sample: Sample
    listeners: set[ValueListener] = field(default_factory=set)


def attribute_key(attribute: GalaxyAttribute) -> str:
    """The case-insensitive key of an attribute."""
    return attribute.full_tag_reference.lower()


def _is_scheduled(attribute: GalaxyAttribute) -> bool:
    return attribute.simulation is not None and attribute.simulation.kind != "static"


class TagStore:
    """Values of every attribute of the served Galaxy."""

    def __init__(self, galaxy: Galaxy, clock: Clock | None = None) -> None:
        self.galaxy = galaxy
        #: The time stamps' source.
        self.clock = clock if clock is not None else Clock()
        #: Simulated seconds since the schedules started.
        self.elapsed_s = 0.0
        self._start_ns = self.clock.time_ns()
        self._written: dict[str, Sample] = {}
        self._watches: dict[str, _Watch] = {}

    def reset(self, galaxy: Galaxy) -> None:
        """Serve ``galaxy`` from now on: written values and watches are dropped (a redeploy)."""
        self.galaxy = galaxy
        self._written.clear()
        self._watches.clear()
        self._start_ns = self.clock.time_ns()

    def sample(self, attribute: GalaxyAttribute) -> Sample:
        """The attribute's current whole value."""
        key = attribute_key(attribute)
        watch = self._watches.get(key)
        if watch is not None:
            return watch.sample
        written = self._written.get(key)
        if written is not None:
            return written
        if _is_scheduled(attribute):
            return Sample(self._scheduled_value(attribute), self.clock.time_ns())
        return Sample(attribute.initial_value, self._start_ns)

    def write(
        self, attribute: GalaxyAttribute, index: int | None, value: Value, timestamp_ns: int | None = None
    ) -> None:
        """Set the whole value, or the 1-based element ``index``, and notify watchers (time stamped now by default)."""
        if timestamp_ns is None:
            timestamp_ns = self.clock.time_ns()
        whole: Value = value
        if index is not None:
            current = self.sample(attribute).value
            elements = list(current) if isinstance(current, list) else []
            elements.extend([None] * (index - len(elements)))
            elements[index - 1] = value
            whole = elements
        sample = Sample(whole, timestamp_ns)
        key = attribute_key(attribute)
        self._written[key] = sample
        watch = self._watches.get(key)
        if watch is not None:
            watch.sample = sample
            for listener in list(watch.listeners):
                listener.on_sample(sample)

    def watch(self, attribute: GalaxyAttribute, listener: ValueListener) -> Sample:
        """Send ``listener`` every change of ``attribute``; returns the current value."""
        key = attribute_key(attribute)
        watch = self._watches.get(key)
        if watch is None:
            watch = _Watch(attribute, self.sample(attribute))
            self._watches[key] = watch
        watch.listeners.add(listener)
        return watch.sample

    def unwatch(self, attribute: GalaxyAttribute, listener: ValueListener) -> None:
        """Stop sending ``listener`` the changes of ``attribute``."""
        key = attribute_key(attribute)
        watch = self._watches.get(key)
        if watch is None:
            return
        watch.listeners.discard(listener)
        if not watch.listeners:
            del self._watches[key]

    @property
    def watched_count(self) -> int:
        """Attributes some item advises."""
        return len(self._watches)

    def advance(self, seconds: float) -> int:
        """Move the schedules on by ``seconds``; returns how many watched values changed."""
        self.elapsed_s += max(0.0, seconds)
        changed = 0
        now_ns = self.clock.time_ns()
        for key, watch in list(self._iter_scheduled_watches()):
            if key in self._written:
                continue
            value = self._scheduled_value(watch.attribute)
            if value == watch.sample.value:
                continue
            changed += 1
            watch.sample = Sample(value, now_ns)
            for listener in list(watch.listeners):
                listener.on_sample(watch.sample)
        return changed

    def _iter_scheduled_watches(self) -> Iterator[tuple[str, _Watch]]:
        return ((k, w) for k, w in self._watches.items() if _is_scheduled(w.attribute))

    def _scheduled_value(self, attribute: GalaxyAttribute) -> Value:
        simulation = attribute.simulation
        assert simulation is not None
        if attribute.mx_data_type == gx.MX_ELAPSED_TIME:
            # The schedules compute numbers; an ElapsedTime attribute counts seconds.
            seconds = simulation.value_at(self.elapsed_s, gx.MX_DOUBLE, 0.0)
            return dt.timedelta(seconds=float(seconds)) if isinstance(seconds, (int, float)) else None
        return simulation.value_at(self.elapsed_s, attribute.mx_data_type, attribute.initial_value)
