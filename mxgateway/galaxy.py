"""``GalaxyRepositoryClient``: read-only browse of the Galaxy Repository and its deploy events.

``async with GalaxyRepositoryClient.connect(endpoint, api_key=...) as galaxy``
takes the same settings as ``GatewayClient.connect``; pass ``channel=`` (and
``options=``) of a ``GatewayClient`` to share its channel.

Results are the generated messages of ``galaxy_repository.v1`` (``GalaxyObject``,
``GalaxyAttribute``, ``DeployEvent``), never copies: a walk of 100,000 objects
costs no more than the messages themselves. ``to_dict()`` turns one into a plain
dict; ``export_galaxy_file()`` writes the whole hierarchy as a Galaxy file the
embedded simulator can serve.

Paging is hidden but lazy: ``iter_hierarchy()`` asks for the next page only when
the caller has consumed the current one, and drops each page before fetching the
next, so memory stays bounded by one page. Every RPC needs scope ``metadata:read``.

Errors are the core's typed errors, with three of their own here: a page token
the gateway refuses (``MxGatewayPageTokenError``; ``MxGatewayStalePageTokenError``
when the Galaxy was redeployed while paging: start again), and an unknown root or
parent object (``MxGatewayObjectNotFoundError``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
import weakref
from collections.abc import AsyncGenerator, Callable, Sequence
from contextlib import aclosing, suppress
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import grpc
import grpc.aio
from google.protobuf.wrappers_pb2 import Int32Value

from mxgateway.channel import call_metadata, create_channel
from mxgateway.connector import Connector, client_connector
from mxgateway.display import ResultList
from mxgateway.endpoints import EmbeddedGateway
from mxgateway.errors import (
    MxGatewayClosedError,
    MxGatewayError,
    MxGatewayInvalidRequestError,
    MxGatewayNotFoundError,
    map_rpc_error,
)
from mxgateway.galaxy_export import GalaxyFileWriter, to_dict
from mxgateway.galaxy_types import GalaxyAttribute, GalaxyObject
from mxgateway.generated import galaxy_repository_pb2 as gr
from mxgateway.generated import galaxy_repository_pb2_grpc as gr_grpc
from mxgateway.hints import add_hint
from mxgateway.options import ClientOptions, resolve_options
from mxgateway.raw_stream import task_cancelling

if TYPE_CHECKING:
    from mxgateway.generated.galaxy_repository_pb2_grpc import GalaxyRepositoryAsyncStub

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "METADATA_READ",
    "BrowseNode",
    "DeployEventStream",
    "GalaxyRepositoryClient",
    "HierarchyIterator",
    "MxGatewayObjectNotFoundError",
    "MxGatewayPageTokenError",
    "MxGatewayStalePageTokenError",
    "deploy_time",
    "glob_matcher",
    "to_dict",
]

_log = logging.getLogger("mxgateway.galaxy")

#: Objects per page this client asks for unless told otherwise (the gateway caps it at 5,000).
DEFAULT_PAGE_SIZE = 1000
#: The scope every Galaxy Repository RPC needs.
METADATA_READ = "metadata:read"

_UTC = dt.timezone.utc
_DeployCall = grpc.aio.UnaryStreamCall[gr.WatchDeployEventsRequest, gr.DeployEvent]
#: Attempts of a whole-hierarchy export when the Galaxy is redeployed meanwhile.
_EXPORT_ATTEMPTS = 3


# ---------------------------------------------------------------------- errors


class MxGatewayPageTokenError(MxGatewayInvalidRequestError):
    """The gateway refused a page token (INVALID_ARGUMENT): start paging again.

    ``reason`` is ``"stale"`` (the Galaxy was redeployed since the token was
    issued), ``"foreign"`` (issued for other filters or another RPC) or
    ``"invalid"`` (not issued by this gateway).
    """

    def __init__(self, message: str, *, reason: str = "invalid", **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.reason = reason


class MxGatewayStalePageTokenError(MxGatewayPageTokenError):
    """The Galaxy was redeployed while paging: the walk must start again from the first page."""


class MxGatewayObjectNotFoundError(MxGatewayNotFoundError):
    """The root or parent object a request names does not exist (NOT_FOUND)."""


_TOKEN_PROBLEM = re.compile(r"\b(stale|foreign|invalid) page token\b", re.IGNORECASE)


def _map_error(exc: grpc.aio.AioRpcError, method: str, secrets: tuple[str, ...]) -> MxGatewayError:
    """The typed error of a failed Galaxy Repository call."""
    error = map_rpc_error(exc, method=method, scope=METADATA_READ, secrets=secrets)
    fields: dict[str, Any] = {"method": error.method, "grpc_code": error.grpc_code, "details": error.details}
    if type(error) is MxGatewayInvalidRequestError:
        found = _TOKEN_PROBLEM.search(error.details)
        if found is not None:
            reason = found.group(1).lower()
            cls = MxGatewayStalePageTokenError if reason == "stale" else MxGatewayPageTokenError
            refined: MxGatewayError = cls(error.message, reason=reason, **fields)
        else:
            return error
    elif type(error) is MxGatewayNotFoundError:
        refined = MxGatewayObjectNotFoundError(error.message, **fields)
    else:
        return error
    # map_rpc_error drops the raw gRPC error from the chain when its text holds a secret.
    refined.__cause__ = error.__cause__
    return refined


# ---------------------------------------------------------------------- helpers


def deploy_time(message: gr.DeployEvent | gr.GetLastDeployTimeReply) -> dt.datetime | None:
    """The deploy time a deploy event or reply carries (aware, UTC), None if never deployed."""
    if not message.time_of_last_deploy_present:
        return None
    value: dt.datetime = message.time_of_last_deploy.ToDatetime(tzinfo=_UTC)
    return value


def glob_matcher(glob: str) -> re.Pattern[str]:
    """The contract's glob as a regular expression: ``*`` and ``?``, anchored, case-insensitive.

    Use ``.fullmatch()``; every other character is literal.
    """
    parts = [".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in glob]
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def _object_glob_for_reference(glob: str) -> str:
    """A tag-name glob that every object with an attribute matching ``glob`` (``Tag.Attr``) matches.

    Tag names hold no dot, so the tag is the text before the first dot of the
    reference; a ``*`` before the pattern's first dot may swallow dots, so from
    the first ``*`` on anything goes.
    """
    head = glob.split(".", 1)[0]
    star = head.find("*")
    return head if star < 0 else head[:star] + "*"


def _strings(values: Sequence[str] | str) -> list[str]:
    return [values] if isinstance(values, str) else list(values)


def _check_page_size(page_size: int) -> None:
    if page_size < 0:
        raise ValueError(f"page_size must be >= 0 (0 = the gateway's default), got {page_size}")


def _one_of(kind: str, **choices: int | str | None) -> tuple[str, int | str] | None:
    given = [(name, value) for name, value in choices.items() if value is not None]
    if len(given) > 1:
        raise ValueError(f"give at most one {kind}: {', '.join(name for name, _ in given)}")
    return given[0] if given else None


def _discover_request(
    *,
    root_gobject_id: int | None,
    root_tag_name: str | None,
    root_contained_path: str | None,
    max_depth: int | None,
    category_ids: Sequence[int],
    template_chain_contains: Sequence[str] | str,
    tag_name_glob: str,
    include_attributes: bool,
    alarm_bearing_only: bool,
    historized_only: bool,
    page_size: int,
) -> gr.DiscoverHierarchyRequest:
    root = _one_of(
        "root",
        root_gobject_id=root_gobject_id,
        root_tag_name=root_tag_name,
        root_contained_path=root_contained_path,
    )
    if max_depth is not None and max_depth < 0:
        raise ValueError(f"max_depth must be >= 0 (None = unlimited), got {max_depth}")
    _check_page_size(page_size)
    request = gr.DiscoverHierarchyRequest(
        page_size=page_size,
        category_ids=list(category_ids),
        template_chain_contains=_strings(template_chain_contains),
        tag_name_glob=tag_name_glob,
        include_attributes=include_attributes,
        alarm_bearing_only=alarm_bearing_only,
        historized_only=historized_only,
    )
    if root is not None:
        setattr(request, root[0], root[1])
    if max_depth is not None:
        request.max_depth.CopyFrom(Int32Value(value=max_depth))
    return request


def _browse_request(
    *,
    parent_gobject_id: int | None,
    parent_tag_name: str | None,
    parent_contained_path: str | None,
    category_ids: Sequence[int],
    template_chain_contains: Sequence[str] | str,
    tag_name_glob: str,
    include_attributes: bool,
    alarm_bearing_only: bool,
    historized_only: bool,
    page_size: int,
) -> gr.BrowseChildrenRequest:
    parent = _one_of(
        "parent",
        parent_gobject_id=parent_gobject_id,
        parent_tag_name=parent_tag_name,
        parent_contained_path=parent_contained_path,
    )
    _check_page_size(page_size)
    request = gr.BrowseChildrenRequest(
        page_size=page_size,
        category_ids=list(category_ids),
        template_chain_contains=_strings(template_chain_contains),
        tag_name_glob=tag_name_glob,
        include_attributes=include_attributes,
        alarm_bearing_only=alarm_bearing_only,
        historized_only=historized_only,
    )
    if parent is not None:
        setattr(request, parent[0], parent[1])
    return request


# ---------------------------------------------------------------------- client


class GalaxyRepositoryClient:
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
        self._options = options if options is not None else ClientOptions()
        self._metadata = call_metadata(self._options)
        self._secrets: tuple[str, ...] = (self._options.api_key,) if self._options.api_key else ()
        self._owns_channel = channel is None
        #: An embedded gateway started by ``connect("simulator")``; stopped on close.
        self._embedded: EmbeddedGateway | None = None
        self._channel = channel if channel is not None else create_channel(self._options)
        self._stub: GalaxyRepositoryAsyncStub = gr_grpc.GalaxyRepositoryStub(self._channel)
        self._streams: weakref.WeakSet[DeployEventStream] = weakref.WeakSet()
        self._closed = False

    @classmethod
    def connect(
        cls,
        endpoint: str = "",
        *,
        api_key: str | None = None,
        plaintext: bool | None = None,
        ca_file: str | Path | None = None,
        client_cert_file: str | Path | None = None,
        client_key_file: str | Path | None = None,
        server_name_override: str | None = None,
        default_timeout: float | None = None,
        allow_insecure_api_key: bool | None = None,
        options: ClientOptions | None = None,
        channel: grpc.aio.Channel | None = None,
    ) -> Connector[GalaxyRepositoryClient]:
        """Connect to a gateway's Galaxy Repository: ``await`` the result, or ``async with`` it.

        Keywords given (not None) override ``options`` (default: ``ClientOptions()``,
        which reads ``MXGATEWAY_ENDPOINT`` and ``MXGATEWAY_API_KEY``). ``channel``
        shares an open channel (for example ``GatewayClient.channel``).
        """
        resolved = resolve_options(
            options,
            endpoint=endpoint,
            api_key=api_key,
            plaintext=plaintext,
            ca_file=ca_file,
            client_cert_file=client_cert_file,
            client_key_file=client_key_file,
            server_name_override=server_name_override,
            default_timeout=default_timeout,
            allow_insecure_api_key=allow_insecure_api_key,
        )
        return client_connector(cls, resolved, channel)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        key = "<redacted>" if self._options.api_key else None
        return f"GalaxyRepositoryClient(endpoint={self._options.endpoint!r}, api_key={key}, {state})"

    @property
    def options(self) -> ClientOptions:
        """The options the client was built with."""
        return self._options

    @property
    def channel(self) -> grpc.aio.Channel:
        """The gRPC channel (shareable with a ``GatewayClient`` of the same gateway)."""
        return self._channel

    @property
    def closed(self) -> bool:
        """True once ``close()`` was called."""
        return self._closed

    async def __aenter__(self) -> GalaxyRepositoryClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the deploy event streams and the channel (unless shared); idempotent."""
        if self._closed:
            return
        self._closed = True
        for stream in list(self._streams):
            stream._finish()
        embedded, self._embedded = self._embedded, None
        try:
            if self._owns_channel:
                await self._channel.close(None)
        finally:
            if embedded is not None:
                await embedded.aclose()

    # ------------------------------------------------------------------ calls

    def _check_open(self, method: str) -> None:
        if self._closed:
            raise MxGatewayClosedError("the Galaxy Repository client is closed", method=method)

    async def _unary(self, method: str, call: Callable[..., Any], request: Any) -> Any:
        """One unary read, retried on UNAVAILABLE up to ``options.read_retries`` times."""
        self._check_open(method)
        retries = self._options.read_retries
        attempt = 0
        while True:
            try:
                return await call(request, metadata=self._metadata, timeout=self._options.default_timeout)
            except grpc.aio.AioRpcError as exc:
                # Every RPC of this service is a read, so retrying is safe.
                if exc.code() is grpc.StatusCode.UNAVAILABLE and attempt < retries and not self._closed:
                    attempt += 1
                    await asyncio.sleep(0.05 * 2 ** (attempt - 1))
                    continue
                error = add_hint(_map_error(exc, method, self._secrets), self._options)
                raise error from error.__cause__

    async def _discover_page(self, request: gr.DiscoverHierarchyRequest) -> gr.DiscoverHierarchyReply:
        reply: gr.DiscoverHierarchyReply = await self._unary(
            "DiscoverHierarchy", self._stub.DiscoverHierarchy, request
        )
        return reply

    async def _browse_nodes(
        self, request: gr.BrowseChildrenRequest, scope: _BrowseScope
    ) -> ResultList[BrowseNode]:
        """Every page of one BrowseChildren request, as tree nodes."""
        nodes: ResultList[BrowseNode] = ResultList()
        while True:
            reply: gr.BrowseChildrenReply = await self._unary(
                "BrowseChildren", self._stub.BrowseChildren, request
            )
            hints = reply.child_has_children
            for index, child in enumerate(reply.children):
                nodes.append(BrowseNode._create(scope, child, index < len(hints) and hints[index]))
            if not reply.next_page_token:
                return nodes
            request.page_token = reply.next_page_token

    # ------------------------------------------------------------------ RPCs

    async def test_connection_raw(self) -> gr.TestConnectionReply:
        """TestConnection as is: ``ok`` and, when not ok, the gateway's ``message``."""
        reply: gr.TestConnectionReply = await self._unary(
            "TestConnection", self._stub.TestConnection, gr.TestConnectionRequest()
        )
        return reply

    async def test_connection(self) -> bool:
        """Whether the gateway reaches its Galaxy Repository database.

        False (not an error) when the database is down; a gateway that cannot be
        reached, or a key without ``metadata:read``, raises the typed error.
        """
        reply = await self.test_connection_raw()
        if not reply.ok:
            _log.debug("Galaxy Repository not reachable: %s", reply.message)
        return reply.ok

    async def get_last_deploy_time(self) -> dt.datetime | None:
        """When the Galaxy was last deployed (aware, UTC), None if it never was."""
        reply: gr.GetLastDeployTimeReply = await self._unary(
            "GetLastDeployTime", self._stub.GetLastDeployTime, gr.GetLastDeployTimeRequest()
        )
        return deploy_time(reply)

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
        """
        self._check_open("DiscoverHierarchy")
        request = _discover_request(
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
        )
        return HierarchyIterator._create(self, request)

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
    ) -> ResultList[GalaxyObject]:
        """Every object of the filtered hierarchy, parents before children (filters as ``iter_hierarchy``)."""
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
        )
        objects: ResultList[GalaxyObject] = ResultList()
        async with aclosing(iterator._pages()) as pages:
            async for page in pages:
                objects.extend(map(GalaxyObject, page))
        return objects

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
    ) -> ResultList[BrowseNode]:
        """The direct children of one parent (none given = the Galaxy's roots), every page.

        Areas come first, then by name. Each child is a ``BrowseNode`` with a
        has-children hint; ``expand()`` on it browses one level further with the
        same filters. An unknown parent raises ``MxGatewayObjectNotFoundError``.
        """
        self._check_open("BrowseChildren")
        request = _browse_request(
            parent_gobject_id=parent_gobject_id,
            parent_tag_name=parent_tag_name,
            parent_contained_path=parent_contained_path,
            category_ids=category_ids,
            template_chain_contains=template_chain_contains,
            tag_name_glob=tag_name_glob,
            include_attributes=include_attributes,
            alarm_bearing_only=alarm_bearing_only,
            historized_only=historized_only,
            page_size=page_size,
        )
        return await self._browse_nodes(request, _BrowseScope(self, request))

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
    ) -> ResultList[BrowseNode]:
        """The top of a lazy tree: the Galaxy's roots as nodes to ``expand()`` on demand.

        The filters apply at every level (a node filtered out hides its subtree).
        """
        return await self.browse_children(
            category_ids=category_ids,
            template_chain_contains=template_chain_contains,
            tag_name_glob=tag_name_glob,
            include_attributes=include_attributes,
            alarm_bearing_only=alarm_bearing_only,
            historized_only=historized_only,
            page_size=page_size,
        )

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
        stream = DeployEventStream._create(self, request, last_seen_deploy_time)
        self._streams.add(stream)
        return stream

    def _open_deploy_stream(self, request: gr.WatchDeployEventsRequest) -> _DeployCall:
        self._check_open("WatchDeployEvents")
        # No deadline: a deploy watch lives as long as its reader wants.
        call: _DeployCall = self._stub.WatchDeployEvents(request, metadata=self._metadata)
        return call

    # ------------------------------------------------------------------ conveniences

    async def find_objects(self, glob: str, *, include_attributes: bool = True) -> ResultList[GalaxyObject]:
        """Objects whose tag name matches ``glob`` (``*``, ``?``; case-insensitive), parents first."""
        return await self.discover_hierarchy(tag_name_glob=glob, include_attributes=include_attributes)

    async def find_attributes(
        self, glob: str, *, historized_only: bool = False, alarm_only: bool = False
    ) -> ResultList[GalaxyAttribute]:
        """Attributes whose ``Tag.Attr`` reference matches ``glob`` (``*``, ``?``; case-insensitive).

        ``historized_only`` / ``alarm_only`` keep only historized / alarm attributes.
        """
        pattern = glob_matcher(glob)
        found: ResultList[GalaxyAttribute] = ResultList()
        async for obj in self.iter_hierarchy(
            tag_name_glob=_object_glob_for_reference(glob),
            historized_only=historized_only,
            alarm_bearing_only=alarm_only,
        ):
            for attribute in obj.attributes:
                if historized_only and not attribute.is_historized:
                    continue
                if alarm_only and not attribute.is_alarm:
                    continue
                if pattern.fullmatch(attribute.full_tag_reference):
                    found.append(attribute)  # already a view: iter_hierarchy yields GalaxyObject
        return found

    async def export_galaxy_file(
        self,
        path: str | Path,
        *,
        name: str = "galaxy",
        page_size: int = DEFAULT_PAGE_SIZE,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> int:
        """Write the whole hierarchy, attributes included, as a Galaxy file; returns the object count.

        The simulator serves such a file offline (``Galaxy.load(path)``). Pages are
        streamed to disk, so memory stays bounded by a page; the file appears only
        when complete. ``on_progress(done, total)`` is called after each page (on
        the event loop: keep it quick). A redeploy during the export starts it
        over (progress restarts from 0), up to three times, then raises
        ``MxGatewayStalePageTokenError``.
        """
        _check_page_size(page_size)
        for attempt in range(1, _EXPORT_ATTEMPTS + 1):
            try:
                return await self._export_once(Path(path), name, page_size, on_progress)
            except MxGatewayStalePageTokenError:
                if attempt == _EXPORT_ATTEMPTS:
                    raise
                _log.debug("the Galaxy was redeployed during the export; starting over")
        raise AssertionError("unreachable")  # pragma: no cover

    async def _export_once(
        self, path: Path, name: str, page_size: int, on_progress: Callable[[int, int], None] | None
    ) -> int:
        deployed = await self.get_last_deploy_time()
        iterator = self.iter_hierarchy(page_size=page_size)
        with GalaxyFileWriter(path, name=name, time_of_last_deploy=deployed) as writer:
            async with aclosing(iterator._pages()) as pages:
                async for page in pages:
                    writer.write_objects(page)
                    if on_progress is not None:
                        on_progress(writer.count, iterator.total_object_count or writer.count)
            # Page tokens pin one deploy across pages; this catches a deploy
            # between reading the deploy time and the first page.
            if await self.get_last_deploy_time() != deployed:
                raise MxGatewayStalePageTokenError(
                    "the Galaxy was redeployed during the export",
                    reason="stale",
                    method="DiscoverHierarchy",
                )
            if on_progress is not None and writer.count == 0:
                on_progress(0, 0)
            writer.commit()
            return writer.count


# ---------------------------------------------------------------------- paging


class HierarchyIterator:
    """The objects of a DiscoverHierarchy walk, page by page on demand (``async for``).

    The next page is requested only once every object of the current one has
    been taken, and the current page is released first, so at most one page is
    held. ``pages_requested`` counts the pages asked for so far and
    ``total_object_count`` is the walk's size (None before the first page). A
    redeploy while paging raises ``MxGatewayStalePageTokenError``: start again.
    Get one from ``GalaxyRepositoryClient.iter_hierarchy()``.
    """

    __slots__ = ("_client", "_done", "_index", "_page", "_pages_requested", "_request", "_total")

    _client: GalaxyRepositoryClient
    _request: gr.DiscoverHierarchyRequest
    _page: Sequence[gr.GalaxyObject]
    _index: int
    _done: bool
    _pages_requested: int
    _total: int | None

    @classmethod
    def _create(
        cls, client: GalaxyRepositoryClient, request: gr.DiscoverHierarchyRequest
    ) -> HierarchyIterator:
        self = cls.__new__(cls)
        self._client = client
        self._request = request
        self._page = ()
        self._index = 0
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
        return self._done and self._index >= len(self._page)

    def __aiter__(self) -> HierarchyIterator:
        return self

    async def __anext__(self) -> GalaxyObject:
        # The hot path: one index check per object, no copy, no conversion.
        index = self._index
        page = self._page
        if index < len(page):
            self._index = index + 1
            return GalaxyObject(page[index])
        while not self._done:
            page = await self._fetch()
            if page:
                self._index = 1
                return GalaxyObject(page[0])
        raise StopAsyncIteration

    async def _fetch(self) -> Sequence[gr.GalaxyObject]:
        """Request the next page (the current one is dropped first)."""
        self._page = ()
        self._index = 0
        self._pages_requested += 1
        reply = await self._client._discover_page(self._request)
        self._total = reply.total_object_count
        if reply.next_page_token:
            self._request.page_token = reply.next_page_token
        else:
            self._done = True
        self._page = reply.objects
        return self._page

    async def _pages(self) -> AsyncGenerator[Sequence[gr.GalaxyObject], None]:
        """The remaining pages, each taken whole (for bulk consumers in this module)."""
        if self._index < len(self._page):
            rest = self._page[self._index :]
            self._index = len(self._page)
            yield rest
        while not self._done:
            page = await self._fetch()
            self._index = len(page)
            if page:
                yield page

    async def aclose(self) -> None:
        """Stop paging and release the current page; idempotent."""
        self._done = True
        self._page = ()
        self._index = 0

    async def __aenter__(self) -> HierarchyIterator:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


# ---------------------------------------------------------------------- lazy tree


class _BrowseScope:
    """What the nodes of one tree share: the client and the filters of every level."""

    __slots__ = ("client", "template")

    def __init__(self, client: GalaxyRepositoryClient, template: gr.BrowseChildrenRequest) -> None:
        self.client = client
        self.template = gr.BrowseChildrenRequest()
        self.template.CopyFrom(template)
        self.template.ClearField("parent")
        self.template.page_token = ""

    def children_request(self, gobject_id: int) -> gr.BrowseChildrenRequest:
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

    _scope: _BrowseScope
    _object: GalaxyObject
    _has_children: bool
    _children: tuple[BrowseNode, ...] | None
    _lock: asyncio.Lock | None

    @classmethod
    def _create(cls, scope: _BrowseScope, obj: gr.GalaxyObject, has_children: bool) -> BrowseNode:
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

    async def expand(self) -> ResultList[BrowseNode]:
        """The children (fetched, every page, on the first call only; no call without children)."""
        if self._children is None:
            if self._lock is None:
                self._lock = asyncio.Lock()
            async with self._lock:
                if self._children is None:
                    scope = self._scope
                    nodes = await scope.client._browse_nodes(
                        scope.children_request(self._object.gobject_id), scope
                    )
                    self._children = tuple(nodes)
        return ResultList(self._children)


# ---------------------------------------------------------------------- deploy events


class DeployEventStream:
    """``DeployEvent`` messages of one WatchDeployEvents call, as they come (``async for``).

    The first event is the current state (unless suppressed by
    ``last_seen_deploy_time``), then one per deploy. ``sequence`` numbers deploy
    states; when it skips numbers this subscriber lost events: ``gap`` is how
    many were lost right before the event just returned (0 normally) and
    ``missed_events`` the total. ``last_seen_deploy_time`` is the value to
    resume from in a later ``watch_deploy_events()``.

    The call starts on first use. ``aclose()``, ``async with``, cancelling the
    reading task, closing the client, or dropping the stream (as breaking out of
    ``async for client.watch_deploy_events()`` does) cancels it.
    """

    _client: GalaxyRepositoryClient
    _request: gr.WatchDeployEventsRequest
    _call: _DeployCall | None
    _loop: asyncio.AbstractEventLoop | None
    _closed: bool
    _last_sequence: int
    _gap: int
    _missed: int
    _last_seen: dt.datetime | None

    @classmethod
    def _create(
        cls,
        client: GalaxyRepositoryClient,
        request: gr.WatchDeployEventsRequest,
        last_seen_deploy_time: dt.datetime | None,
    ) -> DeployEventStream:
        self = cls.__new__(cls)
        self._client = client
        self._request = request
        self._call = None
        self._loop = None
        self._closed = False
        self._last_sequence = 0
        self._gap = 0
        self._missed = 0
        self._last_seen = last_seen_deploy_time.astimezone(_UTC) if last_seen_deploy_time else None
        return self

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return (
            f"DeployEventStream(last_sequence={self._last_sequence}, missed_events={self._missed}, {state})"
        )

    @property
    def closed(self) -> bool:
        """True once the stream ended or was closed."""
        return self._closed

    @property
    def last_sequence(self) -> int:
        """``sequence`` of the last event returned (0 before the first)."""
        return self._last_sequence

    @property
    def gap(self) -> int:
        """Events lost right before the last one returned (0 when none were)."""
        return self._gap

    @property
    def missed_events(self) -> int:
        """Events lost over the stream's life (sequence gaps)."""
        return self._missed

    @property
    def last_seen_deploy_time(self) -> dt.datetime | None:
        """The deploy time of the last event (or the one given at start): the resume point."""
        return self._last_seen

    def __aiter__(self) -> DeployEventStream:
        return self

    async def __anext__(self) -> gr.DeployEvent:
        if self._closed:
            raise StopAsyncIteration
        call = self._call
        if call is None:
            call = self._call = self._client._open_deploy_stream(self._request)
            self._loop = asyncio.get_running_loop()
        try:
            message = await call.read()
        except asyncio.CancelledError:
            if self._closed and not task_cancelling():
                # Closed by aclose() or the client while this task waited: a normal end.
                raise StopAsyncIteration from None
            self._finish()
            raise
        except grpc.aio.AioRpcError as exc:
            if self._closed and exc.code() is grpc.StatusCode.CANCELLED:
                raise StopAsyncIteration from None
            self._finish()
            error = _map_error(exc, "WatchDeployEvents", self._client._secrets)
            raise error from error.__cause__
        if message is grpc.aio.EOF:  # type: ignore[attr-defined]  # missing from grpc-stubs
            self._finish()
            raise StopAsyncIteration
        assert isinstance(message, gr.DeployEvent)
        self._track(message)
        return message

    def _track(self, event: gr.DeployEvent) -> None:
        sequence = event.sequence
        last = self._last_sequence
        # A lower number means the gateway restarted and counts afresh: no gap.
        self._gap = sequence - last - 1 if last and sequence > last + 1 else 0
        self._missed += self._gap
        self._last_sequence = sequence
        seen = deploy_time(event)
        if seen is not None:
            self._last_seen = seen

    def _finish(self) -> None:
        if self._closed:
            return
        self._closed = True
        call, self._call = self._call, None
        if call is not None and not call.done():
            call.cancel()

    async def aclose(self) -> None:
        """Cancel the stream; idempotent."""
        self._finish()

    async def __aenter__(self) -> DeployEventStream:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._finish()

    def __del__(self) -> None:
        call = getattr(self, "_call", None)
        if call is None or call.done():
            return
        loop = self._loop
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        # A loop closing under us leaves nothing to cancel.
        with suppress(RuntimeError):
            if loop is None or running is loop:
                call.cancel()
            elif not loop.is_closed():
                # grpc.aio calls belong to their loop: cancel there, not on this thread.
                loop.call_soon_threadsafe(call.cancel)
