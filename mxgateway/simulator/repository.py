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
import base64
import binascii
import collections
import contextlib
import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from mxgateway.generated import galaxy_repository_pb2 as gr
from mxgateway.generated import galaxy_repository_pb2_grpc
from mxgateway.simulator.galaxy import Galaxy, GalaxyAttribute, GalaxyObject

#: Page size used when a request asks for 0.
DEFAULT_PAGE_SIZE = 500
#: Largest page the service returns, whatever the request asks for.
MAX_PAGE_SIZE = 5_000
#: Deploy events a slow subscriber may fall behind by before it loses the oldest.
DEFAULT_EVENT_BUFFER_SIZE = 64
#: Filtered selections kept for paging; each is one list of object references.
SELECTION_CACHE_SIZE = 16

_UNAVAILABLE_MESSAGE = "the Galaxy Repository database is unavailable"
_MAC_SIZE = hashlib.sha256().digest_size

_DiscoverContext = grpc.aio.ServicerContext[gr.DiscoverHierarchyRequest, gr.DiscoverHierarchyReply]
_BrowseContext = grpc.aio.ServicerContext[gr.BrowseChildrenRequest, gr.BrowseChildrenReply]


class _RequestError(Exception):
    """A request the service refuses, with the gRPC status to answer."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(details)
        self.code = code
        self.details = details


@dataclass
class _Deployment:
    """One deployed state of the Galaxy; replaced as a whole on every deploy."""

    galaxy: Galaxy
    version: int
    _by_path: dict[str, GalaxyObject] | None = field(default=None, repr=False)

    def find_by_path(self, path: str) -> GalaxyObject | None:
        if self._by_path is None:
            self._by_path = {o.contained_path.casefold(): o for o in self.galaxy.objects}
        return self._by_path.get(path.strip("/").casefold())


@dataclass(frozen=True)
class _Filters:
    """The object filters shared by DiscoverHierarchy and BrowseChildren."""

    category_ids: frozenset[int]
    template_needles: tuple[str, ...]
    tag_pattern: re.Pattern[str] | None
    alarm_bearing_only: bool
    historized_only: bool

    @classmethod
    def from_request(cls, request: gr.DiscoverHierarchyRequest | gr.BrowseChildrenRequest) -> _Filters:
        return cls(
            category_ids=frozenset(request.category_ids),
            template_needles=tuple(sorted({n.casefold() for n in request.template_chain_contains if n})),
            tag_pattern=_compile_glob(request.tag_name_glob) if request.tag_name_glob else None,
            alarm_bearing_only=request.alarm_bearing_only,
            historized_only=request.historized_only,
        )

    def key(self) -> list[Any]:
        """A canonical, JSON-ready form: equal filters give equal keys."""
        return [
            sorted(self.category_ids),
            list(self.template_needles),
            self.tag_pattern.pattern if self.tag_pattern else None,
            self.alarm_bearing_only,
            self.historized_only,
        ]

    def matches(self, obj: GalaxyObject) -> bool:
        if self.category_ids and obj.category_id not in self.category_ids:
            return False
        if self.template_needles and not any(
            needle in template.casefold()
            for template in obj.template_chain
            for needle in self.template_needles
        ):
            return False
        if self.tag_pattern is not None and self.tag_pattern.fullmatch(obj.tag_name) is None:
            return False
        if self.alarm_bearing_only and not any(a.is_alarm for a in obj.attributes):
            return False
        return not (self.historized_only and not any(a.is_historized for a in obj.attributes))


def _compile_glob(glob: str) -> re.Pattern[str]:
    # fnmatch would also honour [...] classes, which the contract does not define.
    parts = [".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in glob]
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def _include_attributes(request: gr.DiscoverHierarchyRequest | gr.BrowseChildrenRequest) -> bool:
    return request.include_attributes if request.HasField("include_attributes") else True


def _walk(galaxy: Galaxy, start: GalaxyObject | None, max_depth: int | None) -> Iterator[GalaxyObject]:
    """Galaxy.walk order (parents before children), not descending below ``max_depth``."""
    stack: list[tuple[GalaxyObject, int]] = (
        [(start, 0)] if start is not None else [(o, 0) for o in reversed(galaxy.roots)]
    )
    while stack:
        obj, depth = stack.pop()
        yield obj
        if max_depth is None or depth < max_depth:
            stack.extend((child, depth + 1) for child in reversed(galaxy.children.get(obj.gobject_id, [])))


def _attribute_to_proto(attribute: GalaxyAttribute) -> gr.GalaxyAttribute:
    return gr.GalaxyAttribute(
        attribute_name=attribute.attribute_name,
        full_tag_reference=attribute.full_tag_reference,
        mx_data_type=attribute.mx_data_type,
        data_type_name=attribute.data_type_name,
        is_array=attribute.is_array,
        array_dimension=attribute.array_dimension,
        security_classification=attribute.security_classification,
        mx_attribute_category=attribute.mx_attribute_category,
        primitive_name=attribute.primitive_name,
        is_historized=attribute.is_historized,
        is_alarm=attribute.is_alarm,
    )


def _object_to_proto(obj: GalaxyObject, include_attributes: bool) -> gr.GalaxyObject:
    return gr.GalaxyObject(
        gobject_id=obj.gobject_id,
        tag_name=obj.tag_name,
        contained_name=obj.contained_name,
        contained_path=obj.contained_path,
        parent_gobject_id=obj.parent_gobject_id,
        area_gobject_id=obj.area_gobject_id,
        category_id=obj.category_id,
        is_area=obj.is_area,
        template_chain=obj.template_chain,
        attributes=[_attribute_to_proto(a) for a in obj.attributes] if include_attributes else [],
    )


def _browse_order(obj: GalaxyObject) -> tuple[bool, str, int]:
    return (not obj.is_area, obj.contained_name.casefold(), obj.gobject_id)


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


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

    def __init__(self, galaxy: Galaxy, *, event_buffer_size: int = DEFAULT_EVENT_BUFFER_SIZE) -> None:
        if event_buffer_size < 1:
            raise ValueError("event_buffer_size must be at least 1")
        self._deployment = _Deployment(galaxy, version=1)
        self._event_buffer_size = event_buffer_size
        self._token_secret = secrets.token_bytes(32)
        self._selections: collections.OrderedDict[tuple[int, str], Sequence[GalaxyObject]] = (
            collections.OrderedDict()
        )
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
        now = _utc_now()
        if previous is not None and now <= previous:
            now = previous + dt.timedelta(microseconds=1)
        deployed.time_of_last_deploy = now
        self._deployment = _Deployment(deployed, version=self._deployment.version + 1)
        self._selections.clear()
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
        except _RequestError as exc:
            await context.abort(exc.code, exc.details)

    async def BrowseChildren(
        self, request: gr.BrowseChildrenRequest, context: _BrowseContext
    ) -> gr.BrowseChildrenReply:
        """One page of the filtered direct children: areas first, then by contained name."""
        try:
            return self._browse_children(request)
        except _RequestError as exc:
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
            raise _RequestError(grpc.StatusCode.UNAVAILABLE, self._unavailable_message)

    def _discover_hierarchy(self, request: gr.DiscoverHierarchyRequest) -> gr.DiscoverHierarchyReply:
        self._check_available()
        deployment = self._deployment
        filters = _Filters.from_request(request)
        max_depth = request.max_depth.value if request.HasField("max_depth") else None
        if max_depth is not None and max_depth < 0:
            raise _RequestError(grpc.StatusCode.INVALID_ARGUMENT, f"max_depth must be >= 0, got {max_depth}")
        root_kind = request.WhichOneof("root")
        root_value = getattr(request, root_kind) if root_kind else None
        include_attributes = _include_attributes(request)
        request_key = [
            "DiscoverHierarchy",
            root_kind,
            root_value.casefold() if isinstance(root_value, str) else root_value,
            max_depth,
            include_attributes,
            *filters.key(),
        ]

        def select() -> Sequence[GalaxyObject]:
            root = self._resolve_root(deployment, request)
            return [o for o in _walk(deployment.galaxy, root, max_depth) if filters.matches(o)]

        page, next_token, total = self._page(
            deployment, request_key, request.page_size, request.page_token, select
        )
        reply = gr.DiscoverHierarchyReply(next_page_token=next_token, total_object_count=total)
        reply.objects.extend(_object_to_proto(o, include_attributes) for o in page)
        return reply

    def _browse_children(self, request: gr.BrowseChildrenRequest) -> gr.BrowseChildrenReply:
        self._check_available()
        deployment = self._deployment
        filters = _Filters.from_request(request)
        parent_kind = request.WhichOneof("parent")
        parent_value = getattr(request, parent_kind) if parent_kind else None
        include_attributes = _include_attributes(request)
        request_key = [
            "BrowseChildren",
            parent_kind,
            parent_value.casefold() if isinstance(parent_value, str) else parent_value,
            include_attributes,
            *filters.key(),
        ]

        def select() -> Sequence[GalaxyObject]:
            parent = self._resolve_parent(deployment, request)
            siblings = deployment.galaxy.children.get(parent.gobject_id if parent else 0, [])
            return sorted((o for o in siblings if filters.matches(o)), key=_browse_order)

        page, next_token, _ = self._page(
            deployment, request_key, request.page_size, request.page_token, select
        )
        children = deployment.galaxy.children
        return gr.BrowseChildrenReply(
            children=[_object_to_proto(o, include_attributes) for o in page],
            next_page_token=next_token,
            child_has_children=[bool(children.get(o.gobject_id)) for o in page],
        )

    @staticmethod
    def _resolve_root(deployment: _Deployment, request: gr.DiscoverHierarchyRequest) -> GalaxyObject | None:
        kind = request.WhichOneof("root")
        galaxy = deployment.galaxy
        if kind == "root_gobject_id":
            if request.root_gobject_id == 0:
                return None
            found = galaxy.by_id.get(request.root_gobject_id)
            what = f"gobject_id {request.root_gobject_id}"
        elif kind == "root_tag_name":
            found = galaxy.by_tag.get(request.root_tag_name.lower())
            what = f"tag name {request.root_tag_name!r}"
        elif kind == "root_contained_path":
            found = deployment.find_by_path(request.root_contained_path)
            what = f"contained path {request.root_contained_path!r}"
        else:
            return None
        if found is None:
            raise _RequestError(grpc.StatusCode.NOT_FOUND, f"root object not found: no object with {what}")
        return found

    @staticmethod
    def _resolve_parent(deployment: _Deployment, request: gr.BrowseChildrenRequest) -> GalaxyObject | None:
        kind = request.WhichOneof("parent")
        galaxy = deployment.galaxy
        if kind == "parent_gobject_id":
            if request.parent_gobject_id == 0:
                return None
            found = galaxy.by_id.get(request.parent_gobject_id)
            what = f"gobject_id {request.parent_gobject_id}"
        elif kind == "parent_tag_name":
            found = galaxy.by_tag.get(request.parent_tag_name.lower())
            what = f"tag name {request.parent_tag_name!r}"
        elif kind == "parent_contained_path":
            found = deployment.find_by_path(request.parent_contained_path)
            what = f"contained path {request.parent_contained_path!r}"
        else:
            return None
        if found is None:
            raise _RequestError(grpc.StatusCode.NOT_FOUND, f"parent object not found: no object with {what}")
        return found

    def _page(
        self,
        deployment: _Deployment,
        request_key: list[Any],
        page_size: int,
        page_token: str,
        select: Callable[[], Sequence[GalaxyObject]],
    ) -> tuple[Sequence[GalaxyObject], str, int]:
        """The page of the selection a request asks for, the next page's token and the total."""
        if page_size < 0:
            raise _RequestError(grpc.StatusCode.INVALID_ARGUMENT, f"page_size must be >= 0, got {page_size}")
        size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        filter_hash = hashlib.sha256(json.dumps(request_key).encode()).hexdigest()[:32]
        offset = self._read_token(page_token, deployment.version, filter_hash) if page_token else 0
        selection = self._selection(deployment.version, filter_hash, select)
        if offset > len(selection):
            raise _RequestError(grpc.StatusCode.INVALID_ARGUMENT, "invalid page token: offset out of range")
        end = offset + size
        next_token = self._make_token(deployment.version, end, filter_hash) if end < len(selection) else ""
        return selection[offset:end], next_token, len(selection)

    def _selection(
        self, version: int, filter_hash: str, select: Callable[[], Sequence[GalaxyObject]]
    ) -> Sequence[GalaxyObject]:
        # Paging a large Galaxy would otherwise walk and filter it once per page.
        key = (version, filter_hash)
        cached = self._selections.get(key)
        if cached is not None:
            self._selections.move_to_end(key)
            return cached
        selection = select()
        self._selections[key] = selection
        while len(self._selections) > SELECTION_CACHE_SIZE:
            self._selections.popitem(last=False)
        return selection

    def _make_token(self, version: int, offset: int, filter_hash: str) -> str:
        body = json.dumps({"v": version, "o": offset, "f": filter_hash}, separators=(",", ":")).encode()
        return _b64encode(body + hmac.digest(self._token_secret, body, "sha256"))

    def _read_token(self, token: str, version: int, filter_hash: str) -> int:
        """The offset a page token points at; INVALID_ARGUMENT says why a token is refused."""
        try:
            raw = _b64decode(token)
        except (binascii.Error, ValueError):
            raw = b""
        body, mac = raw[:-_MAC_SIZE], raw[-_MAC_SIZE:]
        if len(raw) <= _MAC_SIZE or not hmac.compare_digest(
            mac, hmac.digest(self._token_secret, body, "sha256")
        ):
            raise _RequestError(
                grpc.StatusCode.INVALID_ARGUMENT,
                "invalid page token: it was not issued by this server; start again without a page token",
            )
        fields = json.loads(body)
        if fields["f"] != filter_hash:
            raise _RequestError(
                grpc.StatusCode.INVALID_ARGUMENT,
                "foreign page token: it was issued for a request with different filters or RPC; "
                "repeat the original request's filters or start again without a page token",
            )
        if fields["v"] != version:
            raise _RequestError(
                grpc.StatusCode.INVALID_ARGUMENT,
                "stale page token: the Galaxy was redeployed after it was issued; "
                "start again without a page token",
            )
        offset: int = fields["o"]
        return offset

    def _client_is_current(self, request: gr.WatchDeployEventsRequest) -> bool:
        deployed = self._deployment.galaxy.time_of_last_deploy
        if deployed is None or not request.HasField("last_seen_deploy_time"):
            return False
        current = Timestamp()
        current.FromDatetime(deployed)
        return current == request.last_seen_deploy_time

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
        event.observed_at.FromDatetime(_utc_now())
        return event
