"""``GalaxyRepositoryClient``: the Galaxy Repository RPCs, the walks and the conveniences over them."""

from __future__ import annotations

import datetime as dt
import functools
import logging
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from contextlib import aclosing
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import grpc
import grpc.aio

from mxgateway._model.checks import checked
from mxgateway._model.display import ResultList
from mxgateway._transport.channel import call_metadata, create_channel
from mxgateway._transport.client_base import ClientBase
from mxgateway._transport.unary import UnaryCaller
from mxgateway.errors import (
    MxGatewayClosedError,
    MxGatewayError,
    MxGatewayStalePageTokenError,
    map_galaxy_rpc_error,
)
from mxgateway.galaxy._deploy import DeployCall, DeployEventStream
from mxgateway.galaxy._export import GalaxyFileWriter, check_target
from mxgateway.galaxy._filters import (
    DEFAULT_PAGE_SIZE,
    HierarchyFilter,
    browse_request,
    check_page_size,
    deploy_time,
    discover_request,
    glob_matcher,
    object_glob_for_reference,
)
from mxgateway.galaxy._paging import HierarchyIterator
from mxgateway.galaxy._tree import BrowseNode, BrowseScope
from mxgateway.galaxy._types import GalaxyAttribute, GalaxyObject
from mxgateway.generated import galaxy_repository_pb2 as gr
from mxgateway.generated import galaxy_repository_pb2_grpc as gr_grpc
from mxgateway.options import USE_CLIENT_DEFAULT, ClientOptions, Timeout

if TYPE_CHECKING:
    from mxgateway.generated.galaxy_repository_pb2_grpc import GalaxyRepositoryAsyncStub

__all__ = ["GalaxyRepositoryClient"]

_log = logging.getLogger("mxgateway.galaxy")
ReplyT = TypeVar("ReplyT")
#: Attempts of a whole-hierarchy export when the Galaxy is redeployed meanwhile.
_EXPORT_ATTEMPTS = 3


def _map_error(
    exc: grpc.aio.AioRpcError, method: str, scope: str | None, secrets: tuple[str, ...]
) -> MxGatewayError:
    return map_galaxy_rpc_error(exc, method, secrets)


class GalaxyRepositoryClient(ClientBase):
    """The Galaxy Repository of one gateway: browse the deployed hierarchy, watch deploys.

    Build it with ``GalaxyRepositoryClient.connect(...)``, or directly from
    ``ClientOptions`` inside a running event loop. Pass ``channel`` to share an
    existing channel, e.g. ``GalaxyRepositoryClient(gateway.options,
    channel=gateway.channel)`` next to a ``GatewayClient`` (the channel is then
    left open on ``close()``).
    """

    def __init__(
        self, options: ClientOptions | None = None, *, channel: grpc.aio.Channel | None = None
    ) -> None:
        super().__init__(options if options is not None else ClientOptions())
        options = self._options
        self._metadata = call_metadata(options)
        self._secrets: tuple[str, ...] = (options.api_key,) if options.api_key else ()
        self._owns_channel = channel is None
        self._channel = channel if channel is not None else create_channel(options)
        self._stub: GalaxyRepositoryAsyncStub = gr_grpc.GalaxyRepositoryStub(self._channel)
        self._unary_call = UnaryCaller(options, self._metadata, map_error=_map_error)
        self._streams: weakref.WeakSet[DeployEventStream] = weakref.WeakSet()

    @property
    def channel(self) -> grpc.aio.Channel:
        """The gRPC channel (shareable with a ``GatewayClient`` of the same gateway)."""
        return self._channel

    def _closing(self) -> list[Coroutine[Any, Any, None]]:
        # Each stream's aclose() cancels its call at once; awaited before the channel closes.
        return [stream.aclose() for stream in list(self._streams)]

    def _owned_channel(self) -> grpc.aio.Channel | None:
        return self._channel if self._owns_channel else None

    # ------------------------------------------------------------------ calls

    def _check_open(self, method: str) -> None:
        if self._closed:
            raise MxGatewayClosedError("the Galaxy Repository client is closed", method=method)

    async def _unary(
        self, method: str, call: Callable[..., Awaitable[ReplyT]], request: Any, timeout: Timeout
    ) -> ReplyT:
        """One unary read, retried on UNAVAILABLE up to ``options.read_retries`` times."""
        self._check_open(method)
        # Every RPC of this service is a read, so retrying is safe.
        return await self._unary_call(
            call,
            request,
            method=method,
            timeout=timeout,
            retries=self._options.read_retries,
            retry_while=self._is_open,
        )

    def _is_open(self) -> bool:
        return not self._closed

    async def _discover_page(
        self, request: gr.DiscoverHierarchyRequest, *, timeout: Timeout
    ) -> gr.DiscoverHierarchyReply:
        reply: gr.DiscoverHierarchyReply = await self._unary(
            "DiscoverHierarchy", self._stub.DiscoverHierarchy, request, timeout
        )
        return reply

    async def _browse_nodes(
        self, request: gr.BrowseChildrenRequest, scope: BrowseScope, timeout: Timeout
    ) -> ResultList[BrowseNode]:
        """Every page of one BrowseChildren request, as tree nodes (``timeout`` is each page's)."""
        nodes: ResultList[BrowseNode] = ResultList()
        while True:
            reply: gr.BrowseChildrenReply = await self._unary(
                "BrowseChildren", self._stub.BrowseChildren, request, timeout
            )
            hints = reply.child_has_children
            for index, child in enumerate(reply.children):
                nodes.append(BrowseNode._create(scope, child, index < len(hints) and hints[index]))
            if not reply.next_page_token:
                return nodes
            request.page_token = reply.next_page_token

    # ------------------------------------------------------------------ RPCs

    @checked
    async def test_connection_raw(self, *, timeout: Timeout = USE_CLIENT_DEFAULT) -> gr.TestConnectionReply:
        """TestConnection as is: ``ok`` and, when not ok, the gateway's ``message``.

        ``timeout`` is the call's deadline in seconds (None: none; the default:
        ``ClientOptions.default_timeout``), as for every call of this client.
        """
        reply: gr.TestConnectionReply = await self._unary(
            "TestConnection", self._stub.TestConnection, gr.TestConnectionRequest(), timeout
        )
        return reply

    @checked
    async def test_connection(self, *, timeout: Timeout = USE_CLIENT_DEFAULT) -> bool:
        """Whether the gateway reaches its Galaxy Repository database.

        False (not an error) when the database is down; a gateway that cannot be
        reached, or a key without ``metadata:read``, raises the typed error.
        """
        reply = await self.test_connection_raw(timeout=timeout)
        if not reply.ok:
            _log.debug("Galaxy Repository not reachable: %s", reply.message)
        return reply.ok

    @checked
    async def get_last_deploy_time(self, *, timeout: Timeout = USE_CLIENT_DEFAULT) -> dt.datetime | None:
        """When the Galaxy was last deployed (aware, UTC), None if it never was."""
        reply: gr.GetLastDeployTimeReply = await self._unary(
            "GetLastDeployTime", self._stub.GetLastDeployTime, gr.GetLastDeployTimeRequest(), timeout
        )
        return deploy_time(reply)

    @checked
    def iter_hierarchy(
        self,
        *,
        root_gobject_id: int | None = None,
        root_tag_name: str | None = None,
        root_contained_path: str | None = None,
        max_depth: int | None = None,
        category_ids: Sequence[int] = (),
        template_chain_contains: Sequence[str] | str = (),
        tag_name_glob: str = "",
        include_attributes: bool = True,
        alarm_bearing_only: bool = False,
        historized_only: bool = False,
        page_size: int = DEFAULT_PAGE_SIZE,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> HierarchyIterator:
        """The filtered hierarchy, parents before children, as a lazy async iterator.

        A page is requested only when the previous one has been consumed. Filters
        (all optional, combined with "and"): at most one root (``root_gobject_id``,
        ``root_tag_name`` or ``root_contained_path`` such as ``"Area1/Line3"``;
        none = every root); ``max_depth`` below the root (0 = the root only);
        ``category_ids``; ``template_chain_contains`` (substrings of any template
        in the chain); ``tag_name_glob`` (``*`` and ``?``, case-insensitive);
        ``include_attributes=False`` for the skeleton only; ``alarm_bearing_only``;
        ``historized_only``. ``page_size`` 0 is the gateway's default.
        ``timeout`` is the deadline of each page request, not of the whole walk.
        """
        hierarchy_filter = HierarchyFilter(
            category_ids=category_ids,
            template_chain_contains=template_chain_contains,
            tag_name_glob=tag_name_glob,
            include_attributes=include_attributes,
            alarm_bearing_only=alarm_bearing_only,
            historized_only=historized_only,
            page_size=page_size,
        )
        self._check_open("DiscoverHierarchy")
        request = discover_request(
            hierarchy_filter,
            root_gobject_id=root_gobject_id,
            root_tag_name=root_tag_name,
            root_contained_path=root_contained_path,
            max_depth=max_depth,
        )
        return HierarchyIterator._create(functools.partial(self._discover_page, timeout=timeout), request)

    @checked
    async def discover_hierarchy(
        self,
        *,
        root_gobject_id: int | None = None,
        root_tag_name: str | None = None,
        root_contained_path: str | None = None,
        max_depth: int | None = None,
        category_ids: Sequence[int] = (),
        template_chain_contains: Sequence[str] | str = (),
        tag_name_glob: str = "",
        include_attributes: bool = True,
        alarm_bearing_only: bool = False,
        historized_only: bool = False,
        page_size: int = DEFAULT_PAGE_SIZE,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> ResultList[GalaxyObject]:
        """Every object of the filtered hierarchy, parents before children.

        Filters as ``iter_hierarchy``; ``timeout`` is the deadline of each page request.
        """
        iterator = self.iter_hierarchy(
            root_gobject_id=root_gobject_id,
            root_tag_name=root_tag_name,
            root_contained_path=root_contained_path,
            max_depth=max_depth,
            category_ids=category_ids,
            template_chain_contains=template_chain_contains,
            tag_name_glob=tag_name_glob,
            include_attributes=include_attributes,
            alarm_bearing_only=alarm_bearing_only,
            historized_only=historized_only,
            page_size=page_size,
            timeout=timeout,
        )
        objects: ResultList[GalaxyObject] = ResultList()
        async with aclosing(iterator._pages()) as pages:
            async for page in pages:
                objects.extend(map(GalaxyObject, page))
        return objects

    @checked
    async def browse_children(
        self,
        *,
        parent_gobject_id: int | None = None,
        parent_tag_name: str | None = None,
        parent_contained_path: str | None = None,
        category_ids: Sequence[int] = (),
        template_chain_contains: Sequence[str] | str = (),
        tag_name_glob: str = "",
        include_attributes: bool = True,
        alarm_bearing_only: bool = False,
        historized_only: bool = False,
        page_size: int = DEFAULT_PAGE_SIZE,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> ResultList[BrowseNode]:
        """The direct children of one parent (none given = the Galaxy's roots), every page.

        Areas come first, then by name. Each child is a ``BrowseNode`` with a
        has-children hint; ``expand()`` on it browses one level further with the
        same filters. An unknown parent raises ``MxGatewayObjectNotFoundError``.
        ``timeout`` is the deadline of each page request.
        """
        hierarchy_filter = HierarchyFilter(
            category_ids=category_ids,
            template_chain_contains=template_chain_contains,
            tag_name_glob=tag_name_glob,
            include_attributes=include_attributes,
            alarm_bearing_only=alarm_bearing_only,
            historized_only=historized_only,
            page_size=page_size,
        )
        return await self._browse(
            hierarchy_filter,
            timeout,
            parent_gobject_id=parent_gobject_id,
            parent_tag_name=parent_tag_name,
            parent_contained_path=parent_contained_path,
        )

    async def _browse(
        self,
        hierarchy_filter: HierarchyFilter,
        timeout: Timeout,
        *,
        parent_gobject_id: int | None = None,
        parent_tag_name: str | None = None,
        parent_contained_path: str | None = None,
    ) -> ResultList[BrowseNode]:
        self._check_open("BrowseChildren")
        request = browse_request(
            hierarchy_filter,
            parent_gobject_id=parent_gobject_id,
            parent_tag_name=parent_tag_name,
            parent_contained_path=parent_contained_path,
        )
        return await self._browse_nodes(request, BrowseScope(self._browse_nodes, request), timeout)

    @checked
    async def browse(
        self,
        *,
        category_ids: Sequence[int] = (),
        template_chain_contains: Sequence[str] | str = (),
        tag_name_glob: str = "",
        include_attributes: bool = True,
        alarm_bearing_only: bool = False,
        historized_only: bool = False,
        page_size: int = DEFAULT_PAGE_SIZE,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> ResultList[BrowseNode]:
        """The top of a lazy tree: the Galaxy's roots as nodes to ``expand()`` on demand.

        The filters apply at every level (a node filtered out hides its subtree).
        ``timeout`` is the deadline of each page request (``expand()`` takes its own).
        """
        return await self._browse(
            HierarchyFilter(
                category_ids=category_ids,
                template_chain_contains=template_chain_contains,
                tag_name_glob=tag_name_glob,
                include_attributes=include_attributes,
                alarm_bearing_only=alarm_bearing_only,
                historized_only=historized_only,
                page_size=page_size,
            ),
            timeout,
        )

    @checked
    def watch_deploy_events(self, last_seen_deploy_time: dt.datetime | None = None) -> DeployEventStream:
        """Deploy events: the current state first (bootstrap), then one event per deploy.

        Give ``last_seen_deploy_time`` (aware) to skip the bootstrap event when it
        is still the current deploy. The stream opens on first use; leave it with
        ``async with`` or ``aclose()`` (breaking out of ``async for`` over an
        unreferenced stream, or cancelling the reading task, closes it too).
        """
        self._check_open("WatchDeployEvents")
        request = gr.WatchDeployEventsRequest()
        if last_seen_deploy_time is not None:
            if last_seen_deploy_time.utcoffset() is None:
                raise ValueError("last_seen_deploy_time must be timezone-aware (UTC)")
            request.last_seen_deploy_time.FromDatetime(last_seen_deploy_time)
        stream = DeployEventStream._create(
            functools.partial(self._open_deploy_call, request),
            secrets=self._secrets,
            last_seen_deploy_time=last_seen_deploy_time,
        )
        self._streams.add(stream)
        return stream

    def _open_deploy_call(self, request: gr.WatchDeployEventsRequest) -> DeployCall:
        self._check_open("WatchDeployEvents")
        # No deadline: a deploy watch lives as long as its reader wants.
        call: DeployCall = self._stub.WatchDeployEvents(request, metadata=self._metadata)
        return call

    # ------------------------------------------------------------------ conveniences

    @checked
    async def find_objects(
        self, glob: str, *, include_attributes: bool = True, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> ResultList[GalaxyObject]:
        """Objects whose tag name matches ``glob`` (``*``, ``?``; case-insensitive), parents first.

        ``timeout`` is the deadline of each page request.
        """
        return await self.discover_hierarchy(
            tag_name_glob=glob, include_attributes=include_attributes, timeout=timeout
        )

    @checked
    async def find_attributes(
        self,
        glob: str,
        *,
        historized_only: bool = False,
        alarm_bearing_only: bool = False,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> ResultList[GalaxyAttribute]:
        """Attributes whose ``Tag.Attr`` reference matches ``glob`` (``*``, ``?``; case-insensitive).

        ``historized_only`` / ``alarm_bearing_only`` keep only historized / alarm
        attributes. ``timeout`` is the deadline of each page request.
        """
        pattern = glob_matcher(glob)
        found: ResultList[GalaxyAttribute] = ResultList()
        async for obj in self.iter_hierarchy(
            tag_name_glob=object_glob_for_reference(glob),
            historized_only=historized_only,
            alarm_bearing_only=alarm_bearing_only,
            timeout=timeout,
        ):
            for attribute in obj.attributes:
                if historized_only and not attribute.is_historized:
                    continue
                if alarm_bearing_only and not attribute.is_alarm:
                    continue
                if pattern.fullmatch(attribute.tag):
                    found.append(attribute)  # already a view: iter_hierarchy yields GalaxyObject
        return found

    @checked
    async def export_galaxy_file(
        self,
        path: str | Path,
        *,
        name: str = "galaxy",
        page_size: int = DEFAULT_PAGE_SIZE,
        on_progress: Callable[[int, int], None] | None = None,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> int:
        """Write the whole hierarchy, attributes included, as a Galaxy file; returns the object count.

        The simulator serves such a file offline (``Galaxy.load(path)``). Pages are
        streamed to disk, so memory stays bounded by a page; the file appears only
        when complete. ``on_progress(done, total)`` is called after each page (on
        the event loop: keep it quick). A redeploy during the export starts it
        over (progress restarts from 0), up to three times, then raises
        ``MxGatewayStalePageTokenError``. ``timeout`` is the deadline of each
        request (each page, each deploy-time check), not of the whole export.
        """
        check_page_size(page_size)
        check_target(Path(path))
        for attempt in range(1, _EXPORT_ATTEMPTS + 1):
            try:
                return await self._export_once(Path(path), name, page_size, on_progress, timeout)
            except MxGatewayStalePageTokenError:
                if attempt == _EXPORT_ATTEMPTS:
                    raise
                _log.debug("the Galaxy was redeployed during the export; starting over")
        raise AssertionError("unreachable")  # pragma: no cover

    async def _export_once(
        self,
        path: Path,
        name: str,
        page_size: int,
        on_progress: Callable[[int, int], None] | None,
        timeout: Timeout,
    ) -> int:
        deployed = await self.get_last_deploy_time(timeout=timeout)
        iterator = self.iter_hierarchy(page_size=page_size, timeout=timeout)
        with GalaxyFileWriter(path, name=name, time_of_last_deploy=deployed) as writer:
            async with aclosing(iterator._pages()) as pages:
                async for page in pages:
                    writer.write_objects(page)
                    if on_progress is not None:
                        on_progress(writer.count, iterator.total_object_count or writer.count)
            # Page tokens pin one deploy across pages; this catches a deploy
            # between reading the deploy time and the first page.
            if await self.get_last_deploy_time(timeout=timeout) != deployed:
                raise MxGatewayStalePageTokenError(
                    "the Galaxy was redeployed during the export",
                    reason="stale",
                    method="DiscoverHierarchy",
                )
            if on_progress is not None and writer.count == 0:
                on_progress(0, 0)
            writer.commit()
            return writer.count
