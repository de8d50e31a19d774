"""``SessionLink``: what an event pump needs of its session and connection, handed over explicitly."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from mxgateway._events.state import Binding
from mxgateway._transport.streams import StreamCall

__all__ = ["CallOpener", "Recoverer", "SessionLink"]

#: Opens a StreamEvents call on the current connection: ``open_call(session_id, after)``.
CallOpener = Callable[[str, int], StreamCall]
#: Replaces the session of a binding and gives the new binding; raises the typed error when it cannot.
Recoverer = Callable[[Binding[Any], str], Awaitable[Binding[Any]]]


@dataclass(frozen=True, slots=True)
class SessionLink:
    """The session's side of its pump (no private reach-ins either way).

    ``open_call`` starts a StreamEvents call; ``recover(binding, why)`` replaces the
    binding's session, ``recovers()`` says whether recovery is on and
    ``recovering()`` whether a replacement runs now; ``fail_over(generation)`` moves
    the connection to the next endpoint and ``generation()`` says which is current.
    """

    open_call: CallOpener
    recover: Recoverer
    recovers: Callable[[], bool]
    recovering: Callable[[], bool]
    fail_over: Callable[[int], bool]
    generation: Callable[[], int]
