"""``TagPort``: what a subscription may use of its session, handed over explicitly.

A ``Subscription`` never reaches into the session: the session gives it the
owner of its identity (``SessionState``), its public bulk commands, and four
operations of its own: open a lazy session, pin commands to one epoch's session,
find that epoch's server handle, and wait for the replacement of a lost session.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from mxgateway._events.state import Binding, SessionState
from mxgateway._model.results import ItemResult, ReadResult
from mxgateway._model.sequences import ResultSequence
from mxgateway._session.tag_table import TagTables
from mxgateway.errors import MxGatewaySessionLostError

__all__ = ["BulkCommands", "TagPort"]


class BulkCommands(Protocol):
    """The session's public commands a subscription sends (``Session`` has them)."""

    @property
    def closed(self) -> bool:
        """True once the session was closed here."""
        ...

    async def subscribe_bulk(
        self, server_handle: int, tags: Sequence[str], *, supervisory: bool = False
    ) -> ResultSequence[ItemResult]:
        """SubscribeBulk: add and advise; one result per tag."""
        ...

    async def unsubscribe_bulk(
        self, server_handle: int, item_handles: Sequence[int]
    ) -> ResultSequence[ItemResult]:
        """UnsubscribeBulk: unadvise and remove; one result per handle."""
        ...

    async def read_bulk(self, server_handle: int, tags: Sequence[str]) -> ResultSequence[ReadResult]:
        """ReadBulk: one result per tag."""
        ...


@dataclass(frozen=True, slots=True)
class TagPort:
    """The session as its subscriptions use it; see the module docstring."""

    state: SessionState[TagTables]
    commands: BulkCommands
    #: Opens a lazily opened session (a ``Client``); nothing for an open one.
    opened: Callable[[], Awaitable[None]]
    #: ``with pinned(binding):`` the commands of the block go to that epoch's session.
    pinned: Callable[[Binding[TagTables]], AbstractContextManager[None]]
    #: The tag-level server handle of an epoch (registered on first use).
    server_handle: Callable[[Binding[TagTables]], Awaitable[int]]
    #: Waits until a session a command found lost is replaced (raises when it cannot be).
    recover: Callable[[MxGatewaySessionLostError], Awaitable[None]]
