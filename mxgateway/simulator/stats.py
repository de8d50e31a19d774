"""Counters a test can read from ``Simulator.stats``."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class SimulatorStats:
    """What the simulator has done since it was created (restarts included)."""

    #: ``Invoke`` calls by command kind name, e.g. ``{"MX_COMMAND_KIND_WRITE": 2}``.
    invoke_calls: Counter[str] = field(default_factory=Counter)
    #: Unary calls of any RPC, by method name (``"OpenSession"``, ``"Invoke"``, ...).
    unary_calls: Counter[str] = field(default_factory=Counter)
    sessions_opened: int = 0
    sessions_closed: int = 0
    #: Sessions closed because their lease ran out or their detach grace ended.
    sessions_expired: int = 0
    events_published: int = 0
    events_sent: int = 0
    #: Events a full subscriber queue had to drop (the subscriber sees a sequence gap).
    events_dropped: int = 0
    streams_opened: int = 0
    streams_closed: int = 0
    faults_injected: int = 0
