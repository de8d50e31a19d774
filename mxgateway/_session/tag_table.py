"""``TagTable``: which tag each (server handle, item handle) of a session stands for.

One table per session, shared by every reader of its events (a ``DataChange`` gets
its ``tag`` from here) and by its subscriptions. It holds the very tag strings the
caller passed, not copies made from the gateway's replies, and keeps the items of
each server handle in an ``ItemTags``: a 10,000-tag subscription costs a list of
pointers while the gateway numbers its items densely.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import attrgetter
from typing import TYPE_CHECKING

from mxgateway._session.item_tags import ItemTags
from mxgateway.errors import MxGatewaySessionLostError
from mxgateway.generated import mxaccess_gateway_pb2 as pb

if TYPE_CHECKING:
    from mxgateway._events.state import Binding, SessionState

_ok_of = attrgetter("was_successful")
_handle_of = attrgetter("item_handle")

__all__ = ["HandleBook", "TagTable", "TagTables"]


class TagTable:
    """(server handle, item handle) -> tag; ``get((server, item))`` as a mapping would."""

    __slots__ = ("_servers",)

    def __init__(self) -> None:
        self._servers: dict[int, ItemTags] = {}

    def __repr__(self) -> str:
        return f"TagTable({len(self)} items on {len(self._servers)} server handles)"

    def __len__(self) -> int:
        return sum(map(len, self._servers.values()))

    def __bool__(self) -> bool:
        return bool(self._servers)

    def get(self, key: tuple[int, int], default: str | None = None) -> str | None:
        """The tag of ``(server_handle, item_handle)``, or ``default``."""
        items = self._servers.get(key[0])
        if items is None:
            return default
        # ``ItemTags.get`` inlined: every event of the session is looked up here.
        by_handle, handle = items.by_handle, key[1]
        if isinstance(by_handle, list):
            tag = by_handle[handle] if 0 < handle < len(by_handle) else None
        else:
            tag = by_handle.get(handle)
        return default if tag is None else tag

    def _items_of(self, server_handle: int) -> ItemTags:
        items = self._servers.get(server_handle)
        if items is None:
            items = self._servers[server_handle] = ItemTags()
        return items

    def add(self, server_handle: int, item_handle: int, tag: str) -> None:
        """Remember one item."""
        self._items_of(server_handle).add(item_handle, tag)

    def add_results(
        self, server_handle: int, tags: Sequence[str], raws: Sequence[pb.SubscribeResult]
    ) -> None:
        """Remember the items a bulk command added (its raw results), under the tags as requested.

        The gateway answers item by item in input order; when the counts differ
        the reply's own tag addresses are used.
        """
        items = self._items_of(server_handle)
        if len(tags) == len(raws) and all(map(_ok_of, raws)):
            # The usual case, in C-level passes.
            items.add_all(list(map(_handle_of, raws)), tags)
        elif len(tags) == len(raws):
            added = [
                (raw.item_handle, tag) for tag, raw in zip(tags, raws, strict=True) if raw.was_successful
            ]
            items.add_all([h for h, _ in added], [t for _, t in added])
        else:
            named = [(raw.item_handle, raw.tag_address) for raw in raws if raw.was_successful]
            items.add_all([h for h, _ in named], [t for _, t in named])

    def forget_item(self, server_handle: int, item_handle: int) -> str | None:
        """Drop one item; its tag, if it was known."""
        items = self._servers.get(server_handle)
        return items.pop(item_handle) if items is not None else None

    def forget_server(self, server_handle: int) -> None:
        """Drop every item of a server handle."""
        self._servers.pop(server_handle, None)


class TagTables:
    """What a session keeps for one gateway session (one epoch): dropped whole when it is replaced.

    ``tags`` names every item for the events; ``server_handle``, ``items`` and
    ``data_types`` serve the tag-level API; ``user_servers`` are the server handles
    the caller registered itself. A handle found here is used only with the
    session id of the same epoch (see ``SessionState``).
    """

    __slots__ = ("data_types", "items", "server_handle", "tags", "user_servers")

    def __init__(self) -> None:
        self.tags = TagTable()
        self.server_handle: int | None = None
        self.items: dict[str, int] = {}
        self.data_types: dict[str, int] = {}
        self.user_servers: set[int] = set()

    def __repr__(self) -> str:
        return f"TagTables({len(self.items)} tag items, {len(self.tags)} items named)"


class HandleBook:
    """Keeps each command's handles in the tables of the session it was sent to.

    A reply can come after its session was replaced: what it says about handles
    belongs to that session, so it goes to the tables of the current epoch only
    when the session id still matches, and is dropped otherwise. Server handles
    the caller registered on replaced sessions are remembered as stale: a command
    that uses one is refused rather than sent to the new session.
    """

    __slots__ = ("_state", "stale_servers")

    def __init__(self, state: SessionState[TagTables]) -> None:
        self._state = state
        #: Server handles the caller registered on sessions that were replaced since.
        self.stale_servers: set[int] = set()

    def tables_of(self, session_id: str) -> TagTables | None:
        """The tables of ``session_id`` while it is the current session; None for a replaced one."""
        current = self._state.current
        return current.tables if current.session_id == session_id else None

    def replaced(self, old: Binding[TagTables]) -> None:
        """``old`` was replaced: the server handles its caller registered are dead."""
        self.stale_servers |= old.tables.user_servers

    def check(self, request: pb.MxCommandRequest) -> None:
        """Refuse a command that names a server handle of a replaced session."""
        command = request.command
        case = command.WhichOneof("payload")
        handle = getattr(getattr(command, case), "server_handle", None) if case else None
        if handle in self.stale_servers:
            raise MxGatewaySessionLostError(
                f"server handle {handle} belonged to a session the gateway lost; "
                f"register again on session {self._state.session_id}",
                method="Invoke",
            )

    def note_registered(self, session_id: str, server_handle: int) -> None:
        """The caller registered ``server_handle`` on ``session_id``."""
        tables = self.tables_of(session_id)
        if tables is None:
            self.stale_servers.add(server_handle)  # registered on a session replaced meanwhile
            return
        tables.user_servers.add(server_handle)
        self.stale_servers.discard(server_handle)

    def remember(
        self, session_id: str, server_handle: int, tags: Sequence[str], results: Sequence[pb.SubscribeResult]
    ) -> None:
        """A bulk command added items on ``session_id``."""
        tables = self.tables_of(session_id)
        if tables is not None:
            tables.tags.add_results(server_handle, tags, results)

    def remember_item(self, session_id: str, server_handle: int, item_handle: int, tag: str) -> None:
        """AddItem added ``tag`` on ``session_id``."""
        tables = self.tables_of(session_id)
        if tables is not None:
            tables.tags.add(server_handle, item_handle, tag)

    def forget_item(self, session_id: str, server_handle: int, item_handle: int) -> None:
        """An item of ``session_id`` was removed."""
        tables = self.tables_of(session_id)
        if tables is None:
            return
        tag = tables.tags.forget_item(server_handle, item_handle)
        if server_handle == tables.server_handle and tag is not None and tables.items.get(tag) == item_handle:
            del tables.items[tag]

    def forget_server(self, session_id: str, server_handle: int) -> None:
        """A server handle of ``session_id`` was unregistered, with its items."""
        tables = self.tables_of(session_id)
        if tables is None:
            return
        tables.tags.forget_server(server_handle)
        tables.user_servers.discard(server_handle)
        if server_handle == tables.server_handle:
            tables.server_handle = None
            tables.items.clear()

    def tag_names(self, session_id: str) -> TagTable:
        """The item names of ``session_id`` (empty for a replaced session)."""
        tables = self.tables_of(session_id)
        return tables.tags if tables is not None else TagTable()
