"""``Pins``: which session a task's commands go to while it uses one epoch's handles.

After a recovery the same handle numbers name other items of the new session. A
task that looked handles up in one epoch's tables pins that epoch while it sends
the commands that use them, so they reach that epoch's session (which answers
them lost when it is gone) and never its replacement. The pin is task-local (a
context variable), so concurrent tasks of one session pin independently.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

from mxgateway._events.state import Binding, SessionState
from mxgateway._session.tag_table import TagTables

__all__ = ["Pins"]

#: The owner and binding the running task pinned (several sessions may share a task).
_PINNED: ContextVar[tuple[object, Binding[TagTables]] | None] = ContextVar("mxgateway_pinned", default=None)


class Pins:
    """The pins of one session's ``SessionState``."""

    __slots__ = ("_state",)

    def __init__(self, state: SessionState[TagTables]) -> None:
        self._state = state

    def binding(self) -> Binding[TagTables]:
        """The pinned binding, else the current one.

        A pin of the current epoch gives the current binding: a lazy session named
        its session id after the pin was taken.
        """
        pinned = _PINNED.get()
        if pinned is not None and pinned[0] is self and pinned[1].epoch != self._state.epoch:
            return pinned[1]
        return self._state.current

    def session_id(self) -> str:
        """The session id commands go to now."""
        return self.binding().session_id

    @contextlib.contextmanager
    def pinned(self, binding: Binding[TagTables]) -> Iterator[None]:
        """Send this task's commands to ``binding``'s session within the block."""
        token = _PINNED.set((self, binding))
        try:
            yield
        finally:
            _PINNED.reset(token)
