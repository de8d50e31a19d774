"""Where a session's event stream stands: ``ConnectionState``, its changes, their log lines."""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from mxgateway._events.queue import EventConsumer

__all__ = ["ConnectionState", "StateChange", "StateTracker"]

_log = logging.getLogger("mxgateway.events")
_UTC = dt.timezone.utc
#: Changes a reader of ``changes()`` may fall behind by before it sheds the oldest.
_CHANGES_QUEUE = 1024


class ConnectionState(str, enum.Enum):
    """Where a session's event stream stands."""

    IDLE = "idle"
    """Nothing has asked for events yet: no stream."""
    CONNECTING = "connecting"
    """Attaching the stream for the first time."""
    CONNECTED = "connected"
    """Attached: events flow."""
    RECONNECTING = "reconnecting"
    """The connection failed; resuming after the last event received."""
    RECOVERING = "recovering"
    """The session is gone; opening a new one."""
    RECOVERED = "recovered"
    """Attached to the new session that replaced a lost one: events flow."""
    LOST = "lost"
    """The session is gone and was not recovered; consumers got the error."""
    CLOSED = "closed"
    """The session was closed or detached here."""


@dataclass(frozen=True, slots=True)
class StateChange:
    """One change of ``ConnectionState``, with why and when (UTC)."""

    state: ConnectionState
    previous: ConnectionState
    session_id: str
    reason: str
    at: dt.datetime


class StateTracker:
    """The current state; each change is logged (INFO, DEBUG for the routine ones) and offered to readers."""

    def __init__(self) -> None:
        self.state = ConnectionState.IDLE
        self._readers: list[EventConsumer] = []
        self._ended = False

    def move(self, state: ConnectionState, session_id: str, reason: str) -> None:
        """Enter ``state`` (nothing happens when already there)."""
        previous = self.state
        if state is previous:
            return
        self.state = state
        change = StateChange(state, previous, session_id, reason, dt.datetime.now(_UTC))
        routine = state in (ConnectionState.CONNECTING, ConnectionState.CLOSED)
        _log.log(
            logging.DEBUG if routine else logging.INFO,
            "session %s events %s: %s",
            session_id or "-",
            state.value,
            reason,
        )
        for reader in self._readers:
            reader.offer(0, change)

    async def changes(self) -> AsyncIterator[StateChange]:
        """Every later change, until ``end()``."""
        reader = EventConsumer(_CHANGES_QUEUE)
        self._readers.append(reader)
        if self._ended:
            reader.end()
        try:
            while True:
                change = await reader.get()
                if change is None:
                    return
                if isinstance(change, StateChange):
                    yield change
        finally:
            with contextlib.suppress(ValueError):
                self._readers.remove(reader)

    def end(self) -> None:
        """No more changes: every reader ends."""
        self._ended = True
        for reader in self._readers:
            reader.end()
