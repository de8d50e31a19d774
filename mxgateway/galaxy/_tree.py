"""``BrowseNode``: a lazily browsed Galaxy tree, one level per ``expand()``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from mxgateway._model.checks import checked
from mxgateway._model.display import ResultList
from mxgateway.galaxy._types import GalaxyObject
from mxgateway.generated import galaxy_repository_pb2 as gr
from mxgateway.options import USE_CLIENT_DEFAULT, Timeout

__all__ = ["BrowseNode", "BrowseScope", "ChildrenFetcher"]

#: Fetches every page of one BrowseChildren request as the nodes of a tree (each page with the deadline).
ChildrenFetcher = Callable[
    [gr.BrowseChildrenRequest, "BrowseScope", Timeout], Awaitable[ResultList["BrowseNode"]]
]


class BrowseScope:
    """What the nodes of one tree share: how to fetch children, and the filters of every level."""

    __slots__ = ("fetch", "template")

    def __init__(self, fetch: ChildrenFetcher, template: gr.BrowseChildrenRequest) -> None:
        self.fetch = fetch
        self.template = gr.BrowseChildrenRequest()
        self.template.CopyFrom(template)
        self.template.ClearField("parent")
        self.template.page_token = ""

    def children_request(self, gobject_id: int) -> gr.BrowseChildrenRequest:
        """The request for the children of ``gobject_id``, with the tree's filters."""
        request = gr.BrowseChildrenRequest()
        request.CopyFrom(self.template)
        request.parent_gobject_id = gobject_id
        return request


class BrowseNode:
    """One object of a lazily browsed tree: the object, a has-children hint and ``expand()``.

    ``expand()`` fetches the children (every page) once and returns the same
    nodes on every later call; concurrent calls share one fetch. ``children`` is
    None until then. Get nodes from ``GalaxyRepositoryClient.browse()`` or
    ``browse_children()``.
    """

    __slots__ = ("_children", "_has_children", "_lock", "_object", "_scope")

    _scope: BrowseScope
    _object: GalaxyObject
    _has_children: bool
    _children: tuple[BrowseNode, ...] | None
    _lock: asyncio.Lock | None

    @classmethod
    def _create(cls, scope: BrowseScope, obj: gr.GalaxyObject, has_children: bool) -> BrowseNode:
        self = cls.__new__(cls)
        self._scope = scope
        self._object = GalaxyObject(obj)
        self._has_children = bool(has_children)
        self._children = None if has_children else ()
        self._lock = None
        return self

    def __repr__(self) -> str:
        state = "unexpanded" if self._children is None else f"{len(self._children)} children"
        return f"BrowseNode({self._object.tag_name!r}, has_children={self._has_children}, {state})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))

    @property
    def object(self) -> GalaxyObject:
        """The Galaxy object of this node."""
        return self._object

    @property
    def tag_name(self) -> str:
        """The object's tag name."""
        return self._object.tag_name

    @property
    def has_children(self) -> bool:
        """Whether the object has children at all (a hint: filters may still hide them)."""
        return self._has_children

    @property
    def expanded(self) -> bool:
        """True once the children are known."""
        return self._children is not None

    @property
    def children(self) -> ResultList[BrowseNode] | None:
        """The children once expanded, else None."""
        return None if self._children is None else ResultList(self._children)

    @checked
    async def expand(self, *, timeout: Timeout = USE_CLIENT_DEFAULT) -> ResultList[BrowseNode]:
        """The children (fetched, every page, on the first call only; no call without children).

        ``timeout`` is the deadline of each page request (the default:
        ``ClientOptions.default_timeout``; None: none).
        """
        if self._children is None:
            if self._lock is None:
                self._lock = asyncio.Lock()
            async with self._lock:
                if self._children is None:
                    scope = self._scope
                    request = scope.children_request(self._object.gobject_id)
                    nodes = await scope.fetch(request, scope, timeout)
                    self._children = tuple(nodes)
        return ResultList(self._children)
