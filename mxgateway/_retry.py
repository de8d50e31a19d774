"""The one retry policy: ``ReconnectPolicy``, its back-off, and which failures are worth a retry.

Every retry of the SDK waits the same way: a session's event stream resuming, a
lost session being replaced, ``read`` trying a gateway it could not reach again,
the alarm feed reconnecting. Each waits a jittered, growing delay
(``Backoff``), for as long as ``ReconnectPolicy.window_s`` allows where there is a
window. Only transport failures are retried; a refused key, a missing scope or an
unknown session never heals by waiting, and a write is never sent twice.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import grpc

__all__ = ["Backoff", "ReconnectPolicy", "is_transient_code"]

#: The names of the gRPC codes a stream fails with when the connection, not the
#: request, failed: the gateway restarting or unreachable, a reset connection, a
#: keepalive timeout (UNAVAILABLE), a connection that died mid-message (INTERNAL,
#: UNKNOWN), the server shedding load (RESOURCE_EXHAUSTED, ABORTED). Names, so that
#: ``ClientOptions`` can hold a ``ReconnectPolicy`` without importing grpc.
_TRANSIENT_NAMES = frozenset({"UNAVAILABLE", "INTERNAL", "UNKNOWN", "ABORTED", "RESOURCE_EXHAUSTED"})


def is_transient_code(code: grpc.StatusCode | None) -> bool:
    """True when a stream that failed with ``code`` should be reopened."""
    return code is not None and code.name in _TRANSIENT_NAMES


@dataclass(frozen=True)
class ReconnectPolicy:
    """How a long-lived stream reconnects after a transport failure.

    Delays grow from ``initial_backoff_s`` by ``multiplier`` up to
    ``max_backoff_s``, each drawn uniformly below that bound ("full jitter", so
    many clients do not return in step). ``window_s`` is how long to keep trying
    before giving up: for a session's events, how long the gateway keeps a
    session without a stream (production's detach grace is 30 s); past it the
    session is recovered on a new one, or reported lost. ``endpoint_attempts`` is
    how many failed connection attempts in a row make a client with several
    endpoints move on to the next.
    """

    initial_backoff_s: float = 0.1
    max_backoff_s: float = 3.0
    multiplier: float = 2.0
    window_s: float = 30.0
    endpoint_attempts: int = 3

    def __post_init__(self) -> None:
        for name in ("initial_backoff_s", "max_backoff_s", "window_s"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
                raise ValueError(f"ReconnectPolicy.{name} must be a finite number of seconds, not {value!r}")
            if value < 0:
                raise ValueError(f"ReconnectPolicy.{name} must not be negative, not {value!r}")
        if self.max_backoff_s < self.initial_backoff_s:
            raise ValueError("ReconnectPolicy.max_backoff_s must be at least initial_backoff_s")
        if not math.isfinite(self.multiplier) or self.multiplier < 1:
            raise ValueError(f"ReconnectPolicy.multiplier must be at least 1, not {self.multiplier!r}")
        if isinstance(self.endpoint_attempts, bool) or not isinstance(self.endpoint_attempts, int):
            raise ValueError("ReconnectPolicy.endpoint_attempts must be an int")
        if self.endpoint_attempts < 1:
            raise ValueError("ReconnectPolicy.endpoint_attempts must be at least 1")


def _uniform(low: float, high: float) -> float:
    import random  # here: importing random costs start-up time before any reconnect

    return random.uniform(low, high)


class Backoff:
    """The delays of one run of reconnect attempts; ``reset()`` after a success."""

    def __init__(self, policy: ReconnectPolicy, *, uniform: Callable[[float, float], float] = _uniform):
        self._policy = policy
        self._uniform = uniform
        self._attempts = 0

    @property
    def attempts(self) -> int:
        """Delays handed out since the last ``reset()``."""
        return self._attempts

    def next_delay(self) -> float:
        """The delay before the next attempt, in seconds."""
        policy = self._policy
        # Capped before the power can overflow on a long outage.
        exponent = min(self._attempts, 64)
        bound = min(policy.max_backoff_s, policy.initial_backoff_s * policy.multiplier**exponent)
        self._attempts += 1
        return self._uniform(0.0, bound)

    def reset(self) -> None:
        """Start again from the shortest delay."""
        self._attempts = 0
