"""The simulator's Galaxy Repository service: browse and deploy events over a :class:`Galaxy`.

Behaviour follows the production contract (``galaxy_repository.v1``), with these
choices where the contract leaves room:

* ``template_chain_contains``: an object matches when any of the given substrings
  occurs, case-insensitively, in any template of its chain; empty strings are ignored.
* ``tag_name_glob``: ``*`` and ``?`` only (every other character is literal),
  anchored and case-insensitive.
* ``category_ids``: the object's category is one of them.
* Filters select which objects appear; a filtered-out parent never hides its
  matching descendants. ``max_depth`` prunes the walk itself.
* ``root_gobject_id = 0`` and ``parent_gobject_id = 0`` mean "no root" / "the
  roots", as in ``GalaxyObject.parent_gobject_id``. Tag names and contained paths
  are looked up case-insensitively.
* ``child_has_children`` tells whether the child has any child at all, regardless
  of the filters: it is a hint for tree views.
* Page tokens are bound to the RPC, the deploy version and every request field but
  ``page_size`` and ``page_token`` (so the page size may change between pages), and
  signed with a secret of this service instance: a token from another simulator is
  foreign.
* While :meth:`GalaxyRepositoryService.set_available` has marked the database down,
  TestConnection answers ``ok = false`` and the other unary RPCs fail with
  UNAVAILABLE; deploy event streams keep running.
* ``sequence`` of a deploy event numbers deploy states: the state at service start
  is 1, every deploy adds one, and a bootstrap event carries the number of the
  state it describes, so every subscriber sees the same number for the same state.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Sequence

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from mxgateway.generated import galaxy_repository_pb2 as gr
from mxgateway.generated import galaxy_repository_pb2_grpc
from mxgateway.simulator.clock import Clock
from mxgateway.simulator.galaxy import Galaxy, GalaxyObject
from mxgateway.simulator.repository_paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Pager
from mxgateway.simulator.repository_query import (
    Deployment,
    Filters,
    RequestError,
    browse_order,
    object_to_proto,
    resolve_object,
    walk,
    wants_attributes,
)

__all__ = ["DEFAULT_EVENT_BUFFER_SIZE", "DEFAULT_PAGE_SIZE", "MAX_PAGE_SIZE", "GalaxyRepositoryService"]

#: Deploy events a slow subscriber may fall behind by before it loses the oldest.
DEFAULT_EVENT_BUFFER_SIZE = 64

_UNAVAILABLE_MESSAGE = "the Galaxy Repository database is unavailable"

_DiscoverContext = grpc.aio.ServicerContext[gr.DiscoverHierarchyRequest, gr.DiscoverHierarchyReply]
_BrowseContext = grpc.aio.ServicerContext[gr.BrowseChildrenRequest, gr.BrowseChildrenReply]


class _Watcher:
    """One WatchDeployEvents subscriber: a bounded buffer that drops its oldest events."""

    def __init__(self, buffer_size: int) -> None:
        self.pending: collections.deque[gr.DeployEvent] = collections.deque(maxlen=buffer_size)
        self.wakeup = asyncio.Event()
        self.closed = False

    def push(self, event: gr.DeployEvent) -> None:
        self.pending.append(event)
        self.wakeup.set()

    def close(self) -> None:
        self.closed = True
        self.wakeup.set()


class GalaxyRepositoryService(galaxy_repository_pb2_grpc.GalaxyRepositoryServicer):
    """The GalaxyRepository gRPC service over a simulated :class:`Galaxy`, for grpc.aio servers.

    Register it with ``galaxy_repository_pb2_grpc.add_GalaxyRepositoryServicer_to_server``.
    :meth:`deploy` simulates a redeploy, :meth:`set_available` a database outage and
    :meth:`close` ends every deploy event stream (call it before stopping the server).
    """

    def __init__(
        self,
        galaxy: Galaxy,
        *,
        event_buffer_size: int = DEFAULT_EVENT_BUFFER_SIZE,
        clock: Clock | None = None,
    ) -> None:
        if event_buffer_size < 1:
            raise ValueError("event_buffer_size must be at least 1")
        self._clock = clock if clock is not None else Clock()
        self._deployment = Deployment(galaxy, version=1)
        self._event_buffer_size = event_buffer_size
        self._pager = Pager()
        self._sequence = 1
        self._watchers: set[_Watcher] = set()
        self._no_watchers = asyncio.Event()
        self._no_watchers.set()
        self._closed = False
        self._unavailable_message: str | None = None

    # ------------------------------------------------------------------ controls

    @property
    def galaxy(self) -> Galaxy:
        """The currently deployed Galaxy."""
        return self._deployment.galaxy

    @property
    def available(self) -> bool:
        """Whether the simulated repository database answers."""
        return self._unavailable_message is None

    @property
    def watcher_count(self) -> int:
        """Number of open WatchDeployEvents streams."""
        return len(self._watchers)

    def set_available(self, available: bool, message: str = _UNAVAILABLE_MESSAGE) -> None:
        """Simulate the repository database going down (``False``) or coming back (``True``).

        ``message`` is what TestConnection and the failing RPCs report while it is down.
        """
        self._unavailable_message = None if available else message

    async def deploy(self, galaxy: Galaxy | None = None) -> None:
        """Simulate a redeploy: replace the Galaxy (None = redeploy the same objects).

        The deploy time becomes now (always later than the previous one), every page
        token issued before becomes stale and every watcher receives a deploy event.
        """
        previous = self._deployment.galaxy.time_of_last_deploy
        deployed = galaxy if galaxy is not None else self._deployment.galaxy
        now = self._utc_now()
        if previous is not None and now <= previous:
            now = previous + dt.timedelta(microseconds=1)
        deployed.time_of_last_deploy = now
        self._deployment = Deployment(deployed, version=self._deployment.version + 1)
        self._pager.forget_selections()
        self._sequence += 1
        event = self._deploy_event()
        for watcher in self._watchers:
            watcher.push(event)

    async def close(self, timeout: float = 5.0) -> None:
        """End every WatchDeployEvents stream cleanly; later subscriptions end at once.

        Waits up to ``timeout`` seconds for the streams to finish.
        """
        self._closed = True
        for watcher in self._watchers:
            watcher.close()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._no_watchers.wait(), timeout)

    # ------------------------------------------------------------------ RPCs

    async def TestConnection(
        self,
        request: gr.TestConnectionRequest,
        context: grpc.aio.ServicerContext[gr.TestConnectionRequest, gr.TestConnectionReply],
    ) -> gr.TestConnectionReply:
        """``ok = false`` with the reason while the database is marked down."""
        if self._unavailable_message is not None:
            return gr.TestConnectionReply(ok=False, message=self._unavailable_message)
        return gr.TestConnectionReply(ok=True)

    async def GetLastDeployTime(
        self,
        request: gr.GetLastDeployTimeRequest,
        context: grpc.aio.ServicerContext[gr.GetLastDeployTimeRequest, gr.GetLastDeployTimeReply],
    ) -> gr.GetLastDeployTimeReply:
        """The deploy time, or ``time_of_last_deploy_present = false`` if never deployed."""
        if self._unavailable_message is not None:
            await context.abort(grpc.StatusCode.UNAVAILABLE, self._unavailable_message)
        reply = gr.GetLastDeployTimeReply()
        deployed = self._deployment.galaxy.time_of_last_deploy
        if deployed is not None:
            reply.time_of_last_deploy.FromDatetime(deployed)
            reply.time_of_last_deploy_present = True
        return reply

    async def DiscoverHierarchy(
        self, request: gr.DiscoverHierarchyRequest, context: _DiscoverContext
    ) -> gr.DiscoverHierarchyReply:
        """One page of the filtered walk, parents before children."""
        try:
            return self._discover_hierarchy(request)
        except RequestError as exc:
            await context.abort(exc.code, exc.details)

    async def BrowseChildren(
        self, request: gr.BrowseChildrenRequest, context: _BrowseContext
    ) -> gr.BrowseChildrenReply:
        """One page of the filtered direct children: areas first, then by contained name."""
        try:
            return self._browse_children(request)
        except RequestError as exc:
            await context.abort(exc.code, exc.details)

    async def WatchDeployEvents(
        self,
        request: gr.WatchDeployEventsRequest,
        context: grpc.aio.ServicerContext[gr.WatchDeployEventsRequest, gr.DeployEvent],
    ) -> AsyncIterator[gr.DeployEvent]:
        """The current state (unless the client has seen it), then one event per deploy."""
        if self._closed:
            return
        watcher = _Watcher(self._event_buffer_size)
        # Registering and taking the bootstrap without an await in between means
        # no deploy can slip between the two.
        self._watchers.add(watcher)
        self._no_watchers.clear()
        try:
            if not self._client_is_current(request):
                yield self._deploy_event()
            while True:
                while watcher.pending:
                    yield watcher.pending.popleft()
                if watcher.closed:
                    return
                watcher.wakeup.clear()
                await watcher.wakeup.wait()
        finally:
            self._watchers.discard(watcher)
            if not self._watchers:
                self._no_watchers.set()

    # ------------------------------------------------------------------ implementation

    def _check_available(self) -> None:
        if self._unavailable_message is not None:
            raise RequestError(grpc.StatusCode.UNAVAILABLE, self._unavailable_message)

    def _discover_hierarchy(self, request: gr.DiscoverHierarchyRequest) -> gr.DiscoverHierarchyReply:
        self._check_available()
        deployment = self._deployment
        filters = Filters.from_request(request)
        max_depth = request.max_depth.value if request.HasField("max_depth") else None
        if max_depth is not None and max_depth < 0:
            raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, f"max_depth must be >= 0, got {max_depth}")
        root_kind = request.WhichOneof("root")
        root_value = getattr(request, root_kind) if root_kind else None
        include_attributes = wants_attributes(request)
        request_key = [
            "DiscoverHierarchy",
            root_kind,
            root_value.casefold() if isinstance(root_value, str) else root_value,
            max_depth,
            include_attributes,
            *filters.key(),
        ]

        def select() -> Sequence[GalaxyObject]:
            root = resolve_object(deployment, "root", root_kind, root_value)
            return [o for o in walk(deployment.galaxy, root, max_depth) if filters.matches(o)]

        page, next_token, total = self._pager.page(
            deployment.version, request_key, request.page_size, request.page_token, select
        )
        reply = gr.DiscoverHierarchyReply(next_page_token=next_token, total_object_count=total)
        reply.objects.extend(object_to_proto(o, include_attributes) for o in page)
        return reply

    def _browse_children(self, request: gr.BrowseChildrenRequest) -> gr.BrowseChildrenReply:
        self._check_available()
        deployment = self._deployment
        filters = Filters.from_request(request)
        parent_kind = request.WhichOneof("parent")
        parent_value = getattr(request, parent_kind) if parent_kind else None
        include_attributes = wants_attributes(request)
        request_key = [
            "BrowseChildren",
            parent_kind,
            parent_value.casefold() if isinstance(parent_value, str) else parent_value,
            include_attributes,
            *filters.key(),
        ]

        def select() -> Sequence[GalaxyObject]:
            parent = resolve_object(deployment, "parent", parent_kind, parent_value)
            siblings = deployment.galaxy.children.get(parent.gobject_id if parent else 0, [])
            return sorted((o for o in siblings if filters.matches(o)), key=browse_order)

        page, next_token, _ = self._pager.page(
            deployment.version, request_key, request.page_size, request.page_token, select
        )
        children = deployment.galaxy.children
        return gr.BrowseChildrenReply(
            children=[object_to_proto(o, include_attributes) for o in page],
            next_page_token=next_token,
            child_has_children=[bool(children.get(o.gobject_id)) for o in page],
        )

    def _client_is_current(self, request: gr.WatchDeployEventsRequest) -> bool:
        deployed = self._deployment.galaxy.time_of_last_deploy
        if deployed is None or not request.HasField("last_seen_deploy_time"):
            return False
        current = Timestamp()
        current.FromDatetime(deployed)
        return current == request.last_seen_deploy_time

    def _utc_now(self) -> dt.datetime:
        seconds, nanoseconds = divmod(self._clock.time_ns(), 1_000_000_000)
        return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).replace(microsecond=nanoseconds // 1000)

    def _deploy_event(self) -> gr.DeployEvent:
        galaxy = self._deployment.galaxy
        event = gr.DeployEvent(
            sequence=self._sequence,
            object_count=len(galaxy.objects),
            attribute_count=galaxy.attribute_count,
        )
        if galaxy.time_of_last_deploy is not None:
            event.time_of_last_deploy.FromDatetime(galaxy.time_of_last_deploy)
            event.time_of_last_deploy_present = True
        event.observed_at.FromDatetime(self._utc_now())
        return event
