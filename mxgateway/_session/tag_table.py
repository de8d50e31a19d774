"""``TagTable``: which tag each (server handle, item handle) of a session stands for.

One table per session, shared by every reader of its events (a ``DataChange`` gets
its ``tag`` from here) and by its subscriptions. It holds the very tag strings the
caller passed, not copies made from the gateway's replies, and keys items by plain
handles under their server handle: a 10,000-tag subscription costs one dict entry
per tag.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import attrgetter

from mxgateway.generated import mxaccess_gateway_pb2 as pb

_ok_of = attrgetter("was_successful")
_handle_of = attrgetter("item_handle")

__all__ = ["TagTable"]


class TagTable:
    """(server handle, item handle) -> tag; ``get((server, item))`` as a mapping would."""

    __slots__ = ("_servers",)

    def __init__(self) -> None:
        self._servers: dict[int, dict[int, str]] = {}

    def __repr__(self) -> str:
        return f"TagTable({len(self)} items on {len(self._servers)} server handles)"

    def __len__(self) -> int:
        return sum(map(len, self._servers.values()))

    def __bool__(self) -> bool:
        return bool(self._servers)

    def get(self, key: tuple[int, int], default: str | None = None) -> str | None:
        """The tag of ``(server_handle, item_handle)``, or ``default``."""
        items = self._servers.get(key[0])
        return items.get(key[1], default) if items else default

    def add(self, server_handle: int, item_handle: int, tag: str) -> None:
        """Remember one item."""
        self._servers.setdefault(server_handle, {})[item_handle] = tag

    def add_results(
        self, server_handle: int, tags: Sequence[str], raws: Sequence[pb.SubscribeResult]
    ) -> None:
        """Remember the items a bulk command added (its raw results), under the tags as requested.

        The gateway answers item by item in input order; when the counts differ
        the reply's own tag addresses are used.
        """
        items = self._servers.setdefault(server_handle, {})
        if len(tags) == len(raws) and all(map(_ok_of, raws)):
            # The usual case, in C-level loops: 10,000 tags cost one dict update.
            items.update(zip(map(_handle_of, raws), tags, strict=True))
        elif len(tags) == len(raws):
            for tag, raw in zip(tags, raws, strict=True):
                if raw.was_successful:
                    items[raw.item_handle] = tag
        else:
            for raw in raws:
                if raw.was_successful:
                    items[raw.item_handle] = raw.tag_address

    def forget_item(self, server_handle: int, item_handle: int) -> str | None:
        """Drop one item; its tag, if it was known."""
        items = self._servers.get(server_handle)
        return items.pop(item_handle, None) if items else None

    def forget_server(self, server_handle: int) -> None:
        """Drop every item of a server handle."""
        self._servers.pop(server_handle, None)

    def clear(self) -> None:
        """Drop everything (the session was replaced)."""
        self._servers.clear()
