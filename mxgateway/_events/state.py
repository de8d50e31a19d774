"""A session's one owner of its identity and state: ``SessionState``.

``SessionState`` alone holds the gateway session id, its epoch (how many sessions
this ``Session`` has been: a recovery starts a new epoch), the per-epoch tables
(handles, tags, types: whatever its owner keeps per session) and the
``ConnectionState``, which changes only along ``TRANSITIONS``. Everything else
reads a ``Binding``, a snapshot of one epoch: a handle found in one epoch's tables
is used only with that epoch's session id, so it can never name an item of
another session.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from mxgateway._events.queue import EventConsumer

__all__ = ["TRANSITIONS", "Binding", "ConnectionState", "SessionState", "StateChange"]

_log = logging.getLogger("mxgateway.events")
_UTC = dt.timezone.utc
#: Changes a reader of ``changes()`` may fall behind by before it sheds the oldest.
_CHANGES_QUEUE = 1024

TablesT = TypeVar("TablesT")


class ConnectionState(str, enum.Enum):
    """Where a session and its event stream stand."""

    IDLE = "idle"
    """Open, and nothing has asked for events yet: no stream."""
    CONNECTING = "connecting"
    """Attaching the stream for the first time."""
    CONNECTED = "connected"
    """Attached: events flow."""
    RECONNECTING = "reconnecting"
    """The connection failed; resuming after the last event received."""
    RECOVERING = "recovering"
    """The session is gone or unusable; opening a new one."""
    RECOVERED = "recovered"
    """Attached to the new session that replaced a lost one: events flow."""
    LOST = "lost"
    """The session is gone and was not recovered; readers got the error."""
    CLOSED = "closed"
    """The session was closed or detached here."""


_S = ConnectionState

#: Every change a session may make; anything else is a bug and raises.
TRANSITIONS: Mapping[ConnectionState, frozenset[ConnectionState]] = {
    _S.IDLE: frozenset({_S.CONNECTING, _S.RECOVERING, _S.LOST, _S.CLOSED}),
    _S.CONNECTING: frozenset({_S.CONNECTED, _S.RECONNECTING, _S.RECOVERING, _S.IDLE, _S.LOST, _S.CLOSED}),
    _S.CONNECTED: frozenset({_S.RECONNECTING, _S.RECOVERING, _S.LOST, _S.CLOSED}),
    # To IDLE: the first attach, tried again after a transient failure, was refused.
    _S.RECONNECTING: frozenset({_S.CONNECTED, _S.RECOVERING, _S.IDLE, _S.LOST, _S.CLOSED}),
    # To IDLE: a command replaced the session while no stream ran.
    _S.RECOVERING: frozenset({_S.RECOVERED, _S.IDLE, _S.LOST, _S.CLOSED}),
    _S.RECOVERED: frozenset({_S.RECONNECTING, _S.RECOVERING, _S.LOST, _S.CLOSED}),
    # A command may still replace a session whose stream gave up.
    _S.LOST: frozenset({_S.RECOVERING, _S.CLOSED}),
    _S.CLOSED: frozenset(),
}


@dataclass(frozen=True, slots=True)
class StateChange:
    """One change of ``ConnectionState``, with why and when (UTC)."""

    state: ConnectionState
    previous: ConnectionState
    session_id: str
    reason: str
    at: dt.datetime


@dataclass(frozen=True, slots=True)
class Binding(Generic[TablesT]):
    """One epoch of a session: its gateway session id and the tables kept for it."""

    epoch: int
    session_id: str
    tables: TablesT


class SessionState(Generic[TablesT]):
    """The session id, its epoch, the per-epoch tables and the ``ConnectionState``; see the module docstring.

    ``new_tables()`` makes the tables of each new epoch. Changes of state are
    logged (INFO, DEBUG for the routine ones) and offered to ``changes()`` readers.
    """

    def __init__(self, new_tables: Callable[[], TablesT], session_id: str = "") -> None:
        self._new_tables = new_tables
        self._current: Binding[TablesT] = Binding(0, session_id, new_tables())
        self._state = ConnectionState.IDLE
        self._readers: list[EventConsumer] = []
        self._ended = False

    def __repr__(self) -> str:
        current = self._current
        return f"SessionState({current.session_id!r}, epoch={current.epoch}, {self._state.value})"

    @property
    def current(self) -> Binding[TablesT]:
        """The binding of the current epoch."""
        return self._current

    @property
    def session_id(self) -> str:
        """The current gateway session id ("" before a lazy session opened)."""
        return self._current.session_id

    @property
    def epoch(self) -> int:
        """How many times the session was replaced."""
        return self._current.epoch

    @property
    def state(self) -> ConnectionState:
        """The current ``ConnectionState``."""
        return self._state

    @property
    def closed(self) -> bool:
        """True once CLOSED."""
        return self._state is ConnectionState.CLOSED

    def bind(self, session_id: str) -> Binding[TablesT]:
        """Name the session of epoch 0 (a lazy session opened); its tables stay."""
        if self._current.session_id:
            raise RuntimeError(f"session {self._current.session_id} is bound already")
        self._current = Binding(0, session_id, self._current.tables)
        return self._current

    def replace(self, session_id: str) -> Binding[TablesT]:
        """Start the next epoch on ``session_id`` with fresh tables: every older binding is dead."""
        self._current = Binding(self._current.epoch + 1, session_id, self._new_tables())
        return self._current

    def move(self, state: ConnectionState, reason: str) -> bool:
        """Enter ``state`` along ``TRANSITIONS``; False when already there.

        Raises ``RuntimeError`` for a change the table does not allow: a bug, never
        something a gateway or a user can cause.
        """
        previous = self._state
        if state is previous:
            return False
        if state not in TRANSITIONS[previous]:
            raise RuntimeError(f"session state cannot go from {previous.value} to {state.value} ({reason})")
        self._state = state
        session_id = self._current.session_id
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
        if state is ConnectionState.CLOSED:
            self._end()
        return True

    async def changes(self) -> AsyncIterator[StateChange]:
        """Every later change, until the session closes."""
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

    def _end(self) -> None:
        self._ended = True
        for reader in self._readers:
            reader.end()
