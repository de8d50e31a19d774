"""``HierarchyIterator``: a DiscoverHierarchy walk, one page at a time, on demand."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator, Sequence
from operator import length_hint
from types import TracebackType

from mxgateway.galaxy._types import GalaxyObject
from mxgateway.generated import galaxy_repository_pb2 as gr

__all__ = ["HierarchyIterator", "PageFetcher"]

#: Sends one DiscoverHierarchy request and returns its page (the client's unary call).
PageFetcher = Callable[[gr.DiscoverHierarchyRequest], Awaitable[gr.DiscoverHierarchyReply]]


class HierarchyIterator:
    """The objects of a DiscoverHierarchy walk, page by page on demand (``async for``).

    The next page is requested only once every object of the current one has
    been taken, and the current page is released first, so at most one page is
    held. ``pages_requested`` counts the pages asked for so far and
    ``total_object_count`` is the walk's size (None before the first page). A
    redeploy while paging raises ``MxGatewayStalePageTokenError``: start again.
    Get one from ``GalaxyRepositoryClient.iter_hierarchy()``.
    """

    __slots__ = ("_done", "_fetch_page", "_objects", "_pages_requested", "_remaining", "_request", "_total")

    _fetch_page: PageFetcher
    _request: gr.DiscoverHierarchyRequest
    #: The current page's messages not taken yet, and the views made of them on demand.
    _remaining: Iterator[gr.GalaxyObject]
    _objects: Iterator[GalaxyObject]
    _done: bool
    _pages_requested: int
    _total: int | None

    @classmethod
    def _create(cls, fetch_page: PageFetcher, request: gr.DiscoverHierarchyRequest) -> HierarchyIterator:
        self = cls.__new__(cls)
        self._fetch_page = fetch_page
        self._request = request
        self._release()
        self._done = False
        self._pages_requested = 0
        self._total = None
        return self

    def __repr__(self) -> str:
        return (
            f"HierarchyIterator(pages_requested={self._pages_requested}, "
            f"total_object_count={self._total}, done={self._done})"
        )

    @property
    def pages_requested(self) -> int:
        """Pages asked of the gateway so far (a page in flight counts)."""
        return self._pages_requested

    @property
    def total_object_count(self) -> int | None:
        """Objects the whole walk yields, once the first page arrived."""
        return self._total

    @property
    def done(self) -> bool:
        """True once the last page was fetched and consumed, or the iterator was closed."""
        return self._done and length_hint(self._remaining) == 0

    def __aiter__(self) -> HierarchyIterator:
        return self

    async def __anext__(self) -> GalaxyObject:
        # The hot path: the page's next view, made by a C-level map; no index, no copy.
        for obj in self._objects:
            return obj
        while not self._done:
            await self._fetch()
            for obj in self._objects:
                return obj
        raise StopAsyncIteration

    def _release(self) -> None:
        self._remaining = iter(())
        self._objects = iter(())

    async def _fetch(self) -> Sequence[gr.GalaxyObject]:
        """Request the next page (the current one is dropped first); its messages."""
        self._release()
        self._pages_requested += 1
        reply = await self._fetch_page(self._request)
        self._total = reply.total_object_count
        if reply.next_page_token:
            self._request.page_token = reply.next_page_token
        else:
            self._done = True
        page = reply.objects
        self._remaining = remaining = iter(page)
        self._objects = map(GalaxyObject, remaining)
        return page

    async def _pages(self) -> AsyncGenerator[Sequence[gr.GalaxyObject], None]:
        """The remaining pages, each taken whole (for bulk consumers in this module)."""
        rest = list(self._remaining)
        self._release()
        if rest:
            yield rest
        while not self._done:
            page = await self._fetch()
            self._release()
            if page:
                yield page

    async def aclose(self) -> None:
        """Stop paging and release the current page; idempotent."""
        self._done = True
        self._release()

    async def __aenter__(self) -> HierarchyIterator:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
