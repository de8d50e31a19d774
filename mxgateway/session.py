"""A gateway session: one MXAccess worker, its commands, events and tag conveniences.

Every MXAccess command has a method named after it. Handles are the int32 handles
MXAccess hands out (``register`` gives a server handle, ``add_item`` an item
handle). Non-raw methods raise ``MxAccessError`` (keeping the reply) when MXAccess
reports a failure; bulk methods report per-item failures in their results instead.

Above the commands sit what MXAccess itself lacks: ``read`` (one result per tag),
``subscribe`` (data changes of some tags, torn down when left), ``write_tag`` and
``write_and_confirm`` (tag-based writes that resolve handles and the attribute's
type). They share one server handle registered on first use.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any

import grpc.aio

from mxgateway import display
from mxgateway.errors import (
    MxAccessError,
    MxGatewayError,
    MxGatewaySessionClosedError,
    MxGatewaySessionNotFoundError,
    MxGatewayTimeoutError,
    MxGatewayUnavailableError,
    check_protocol_status,
    map_rpc_error,
    raise_for_mxaccess_failure,
)
from mxgateway.events import (
    DataChange,
    Event,
    EventStream,
    ReplayGap,
    SequenceGap,
    WriteComplete,
    _StreamBase,
    event_from_proto,
)
from mxgateway.generated import mxaccess_gateway_pb2 as pb
from mxgateway.status import MxStatus, statuses_of
from mxgateway.values import MxPythonValue, from_mx_value, tag_value, to_mx_value
from mxgateway.views import ValueView

if TYPE_CHECKING:
    from mxgateway.client import GatewayClient

__all__ = ["ItemResult", "ReadResult", "Session", "Subscription", "WriteEntry", "WriteResult"]

_log = logging.getLogger("mxgateway.session")
_UTC = dt.timezone.utc
_OK_CODES = (pb.PROTOCOL_STATUS_CODE_OK, pb.PROTOCOL_STATUS_CODE_UNSPECIFIED)

_READ_SCOPE = "invoke:read"
_WRITE_SCOPE = "invoke:write"
_SECURE_SCOPE = "invoke:secure"
_SCOPES: dict[int, str] = {
    pb.MX_COMMAND_KIND_WRITE: _WRITE_SCOPE,
    pb.MX_COMMAND_KIND_WRITE2: _WRITE_SCOPE,
    pb.MX_COMMAND_KIND_WRITE_BULK: _WRITE_SCOPE,
    pb.MX_COMMAND_KIND_WRITE2_BULK: _WRITE_SCOPE,
    pb.MX_COMMAND_KIND_WRITE_SECURED: _SECURE_SCOPE,
    pb.MX_COMMAND_KIND_WRITE_SECURED2: _SECURE_SCOPE,
    pb.MX_COMMAND_KIND_WRITE_SECURED_BULK: _SECURE_SCOPE,
    pb.MX_COMMAND_KIND_WRITE_SECURED2_BULK: _SECURE_SCOPE,
    pb.MX_COMMAND_KIND_AUTHENTICATE_USER: _SECURE_SCOPE,
    pb.MX_COMMAND_KIND_DRAIN_EVENTS: "events:read",
}
#: Bulk kinds, whose per-item failures live in the results.
_BULK_PAYLOADS: dict[int, str] = {
    pb.MX_COMMAND_KIND_ADD_ITEM_BULK: "bulk_subscribe",
    pb.MX_COMMAND_KIND_ADVISE_ITEM_BULK: "bulk_subscribe",
    pb.MX_COMMAND_KIND_REMOVE_ITEM_BULK: "bulk_subscribe",
    pb.MX_COMMAND_KIND_UNADVISE_ITEM_BULK: "bulk_subscribe",
    pb.MX_COMMAND_KIND_SUBSCRIBE_BULK: "bulk_subscribe",
    pb.MX_COMMAND_KIND_UNSUBSCRIBE_BULK: "bulk_subscribe",
    pb.MX_COMMAND_KIND_READ_BULK: "bulk_read",
    pb.MX_COMMAND_KIND_WRITE_BULK: "bulk_write",
    pb.MX_COMMAND_KIND_WRITE2_BULK: "bulk_write",
    pb.MX_COMMAND_KIND_WRITE_SECURED_BULK: "bulk_write",
    pb.MX_COMMAND_KIND_WRITE_SECURED2_BULK: "bulk_write",
}
#: Extra deadline beyond a read's own MXAccess timeout.
_READ_DEADLINE_MARGIN_S = 5.0


class ItemResult:
    """One item of a bulk add, advise, remove, unadvise, subscribe or unsubscribe.

    A read-only view of the raw ``SubscribeResult`` (``raw``); equal when the raw results are.
    """

    __slots__ = ("raw",)

    raw: pb.SubscribeResult

    def __init__(self, raw: pb.SubscribeResult) -> None:
        object.__setattr__(self, "raw", raw)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"ItemResult is immutable: cannot set {name!r}")

    @property
    def tag_address(self) -> str:
        """The tag (empty for the handle-based commands)."""
        return self.raw.tag_address

    @property
    def item_handle(self) -> int:
        """The item handle (0 when adding failed)."""
        return self.raw.item_handle

    @property
    def server_handle(self) -> int:
        """The server handle the item belongs to."""
        return self.raw.server_handle

    @property
    def ok(self) -> bool:
        """True when MXAccess accepted the item."""
        return self.raw.was_successful

    @property
    def error_message(self) -> str:
        """Why it failed ('' when it did not)."""
        return self.raw.error_message

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ItemResult):
            return NotImplemented
        return self.raw == other.raw

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"ItemResult(tag_address={self.tag_address!r}, item_handle={self.item_handle!r}, "
            f"server_handle={self.server_handle!r}, ok={self.ok!r}, error_message={self.error_message!r})"
        )


class ReadResult(ValueView[pb.BulkReadResult]):
    """One tag of a read: its value, or why there is none (``ok`` False).

    A view of the raw ``BulkReadResult`` (``raw``): ``value``, ``source_timestamp``
    and ``statuses`` are converted on first access and kept, so a 10,000-tag read
    pays only for the fields it uses. Immutable; equal when the raw results are.
    """

    __slots__ = ()
    __match_args__ = (
        "tag",
        "ok",
        "value",
        "quality",
        "source_timestamp",
        "statuses",
        "error_message",
        "was_cached",
        "item_handle",
    )

    raw: pb.BulkReadResult

    def __init__(self, raw: pb.BulkReadResult) -> None:
        super().__init__(raw)

    def _convert_value(self) -> MxPythonValue:
        return from_mx_value(self.raw.value) if self.raw.was_successful else None

    @property
    def tag(self) -> str:
        """The tag address as requested."""
        return self.raw.tag_address

    @property
    def ok(self) -> bool:
        """True when the tag was read."""
        return self.raw.was_successful

    @property
    def error_message(self) -> str:
        """Why the read failed ('' when it did not)."""
        return self.raw.error_message

    @property
    def was_cached(self) -> bool:
        """True when the value came from an advised item's cache."""
        return self.raw.was_cached

    @property
    def item_handle(self) -> int:
        """The item handle the gateway used (0 for a one-off snapshot)."""
        return self.raw.item_handle

    def __repr__(self) -> str:
        return display.read_result_repr(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))

    def raise_for_error(self) -> None:
        """Raise ``MxAccessError`` when this tag could not be read."""
        if not self.ok:
            raise MxAccessError(
                f"reading {self.tag} failed: {self.error_message or 'no reason given'}",
                statuses=self.statuses,
                method="Invoke",
                details=self.error_message,
            )


@dataclass(frozen=True, slots=True)
class WriteResult:
    """One item of a bulk write (the MXAccess call; the outcome comes as WriteComplete)."""

    item_handle: int
    ok: bool
    hresult: int
    statuses: tuple[MxStatus, ...]
    error_message: str
    raw: pb.BulkWriteResult = field(repr=False)


@dataclass(frozen=True)
class WriteEntry:
    """One item of a bulk write; each bulk command uses the fields its kind needs.

    ``timestamp`` is required by the ``write2`` kinds, ``current_user_id`` by the
    secured kinds. ``data_type`` converts ``value`` for that ``MxDataType``; a
    ready ``MxValue`` is sent as is.
    """

    item_handle: int
    value: Any
    timestamp: dt.datetime | None = None
    user_id: int = 0
    current_user_id: int = 0
    verifier_user_id: int = 0
    data_type: int | None = None


def _fill_value(target: pb.MxValue, value: object, data_type: int | None) -> None:
    if isinstance(value, pb.MxValue):
        target.CopyFrom(value)
    else:
        target.CopyFrom(to_mx_value(value, data_type))


def _fill_time(target: pb.MxValue, timestamp: dt.datetime | None) -> None:
    if timestamp is None:
        raise ValueError("this write needs a timestamp")
    target.CopyFrom(to_mx_value(timestamp))


def _item_results(reply: pb.MxCommandReply) -> list[ItemResult]:
    return list(map(ItemResult, reply.bulk_subscribe.results))


def _write_results(reply: pb.MxCommandReply) -> list[WriteResult]:
    return [
        WriteResult(r.item_handle, r.was_successful, r.hresult, statuses_of(r.statuses), r.error_message, r)
        for r in reply.bulk_write.results
    ]


class Session:
    """An open gateway session. Obtain it with ``GatewayClient.open_session``.

    ``async with session:`` closes it on exit; ``close()`` is idempotent and cancels
    the session's streams.
    """

    def __init__(
        self, client: GatewayClient, reply: pb.OpenSessionReply, *, client_session_name: str = ""
    ) -> None:
        self._init_state(client_session_name)
        self._bind(client, reply)

    def _init_state(self, client_session_name: str) -> None:
        """The session's own state, before it is bound to a gateway session."""
        self._client_session_name = client_session_name
        self._session_id = ""
        self._open_reply = pb.OpenSessionReply()
        self._closed = False
        self._streams: weakref.WeakSet[_StreamBase] = weakref.WeakSet()
        self._subscriptions: weakref.WeakSet[Subscription] = weakref.WeakSet()
        self._tags: dict[tuple[int, int], str] = {}
        self._server_handle: int | None = None
        self._handles: dict[str, int] = {}
        self._data_types: dict[str, int] = {}
        self._setup_lock = asyncio.Lock()

    def _bind(self, client: GatewayClient, reply: pb.OpenSessionReply) -> None:
        """Attach to the gateway session ``reply`` names, through ``client``."""
        self._client = client
        self._open_reply = reply
        self._session_id = reply.session_id
        # Bound once: the per-call path touches no attribute chains.
        self._invoke_rpc = client._stub.Invoke
        self._metadata = client._metadata
        self._default_timeout = client.options.default_timeout
        self._secrets = client._secrets

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"Session(session_id={self._session_id!r}, backend={self.backend_name!r}, {state})"

    # ------------------------------------------------------------------ state

    @property
    def session_id(self) -> str:
        """The gateway's id of this session."""
        return self._session_id

    @property
    def backend_name(self) -> str:
        """Which backend serves the session (``mxaccess-worker``, ``simulator``)."""
        return self._open_reply.backend_name

    @property
    def gateway_protocol_version(self) -> int:
        """The gateway's protocol version."""
        return self._open_reply.gateway_protocol_version

    @property
    def lease_expires_at(self) -> dt.datetime | None:
        """When the lease taken at open time expires (calls on the session extend it)."""
        reply = self._open_reply
        return reply.lease_expires_at.ToDatetime(tzinfo=_UTC) if reply.HasField("lease_expires_at") else None

    @property
    def open_reply(self) -> pb.OpenSessionReply:
        """The raw ``OpenSessionReply``."""
        return self._open_reply

    @property
    def closed(self) -> bool:
        """True once ``close()`` was called (or the client closed)."""
        return self._closed

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def detach(self) -> None:
        """Stop using the session here without closing it on the gateway; idempotent.

        Its streams are cancelled and the client no longer closes it; the session
        lives on (until closed, or its lease expires) for another client or process
        to ``attach_session`` to.
        """
        if self._closed:
            return
        self._closed = True
        self._cancel_streams()
        self._client._forget(self)

    async def close(self) -> None:
        """Close the session on the gateway and cancel its streams; idempotent."""
        if self._closed:
            return
        self._closed = True
        self._cancel_streams()
        self._client._forget(self)
        # Already gone on the gateway is what closing wants.
        with contextlib.suppress(MxGatewaySessionNotFoundError):
            await self._client.close_session_raw(self._session_id)
        _log.info("closed session %s", self._session_id)

    def _cancel_streams(self) -> None:
        for stream in list(self._streams):
            stream._cancel()
        for subscription in list(self._subscriptions):
            subscription._stream_cancel()

    def _mark_closed(self) -> None:
        """The client is closing: no further calls."""
        self._closed = True
        self._cancel_streams()

    # ------------------------------------------------------------------ core path

    def _request(self, kind: int) -> tuple[pb.MxCommandRequest, pb.MxCommand]:
        request = pb.MxCommandRequest(session_id=self._session_id)
        command = request.command
        command.kind = kind  # type: ignore[assignment]
        return request, command

    async def _call(self, request: pb.MxCommandRequest, timeout: float | None) -> pb.MxCommandReply:
        if self._closed:
            raise MxGatewaySessionClosedError(f"session {self._session_id} is closed", method="Invoke")
        try:
            reply: pb.MxCommandReply = await self._invoke_rpc(
                request, timeout=timeout or self._default_timeout, metadata=self._metadata
            )
        except grpc.aio.AioRpcError as exc:
            scope = _SCOPES.get(request.command.kind, _READ_SCOPE)
            error = map_rpc_error(exc, method="Invoke", scope=scope, secrets=self._secrets)
            raise error from error.__cause__
        if reply.protocol_status.code not in _OK_CODES:
            check_protocol_status(reply, method="Invoke")
        return reply

    async def _run(self, request: pb.MxCommandRequest, timeout: float | None = None) -> pb.MxCommandReply:
        reply = await self._call(request, timeout)
        # Fast path: an OK reply with no hresult and no statuses is a success.
        if reply.hresult or reply.statuses or reply.protocol_status.code not in _OK_CODES:
            payload = _BULK_PAYLOADS.get(request.command.kind)
            if payload is None or not reply.HasField(payload):  # type: ignore[arg-type]
                raise_for_mxaccess_failure(reply)
        return reply

    async def invoke(self, command: pb.MxCommand, *, timeout: float | None = None) -> pb.MxCommandReply:
        """Run any command; raises ``MxAccessError`` when MXAccess reports a failure.

        Bulk commands that carry their per-item results are not failures as a whole.
        """
        request = pb.MxCommandRequest(session_id=self._session_id, command=command)
        return await self._run(request, timeout)

    async def invoke_raw(self, command: pb.MxCommand, *, timeout: float | None = None) -> pb.MxCommandReply:
        """Run any command and return the reply as is (gateway failures still raise)."""
        request = pb.MxCommandRequest(session_id=self._session_id, command=command)
        return await self._call(request, timeout)

    # ------------------------------------------------------------------ commands

    async def register(self, client_name: str, *, timeout: float | None = None) -> int:
        """Register with MXAccess; returns the server handle."""
        request, command = self._request(pb.MX_COMMAND_KIND_REGISTER)
        command.register.client_name = client_name
        return (await self._run(request, timeout)).register.server_handle

    async def unregister(self, server_handle: int, *, timeout: float | None = None) -> None:
        """Unregister a server handle (its items go with it)."""
        request, command = self._request(pb.MX_COMMAND_KIND_UNREGISTER)
        command.unregister.server_handle = server_handle
        await self._run(request, timeout)
        self._forget_server(server_handle)

    async def add_item(
        self, server_handle: int, item_definition: str, *, timeout: float | None = None
    ) -> int:
        """Add an item (a tag reference such as ``Tank_001.Level``); returns its item handle."""
        request, command = self._request(pb.MX_COMMAND_KIND_ADD_ITEM)
        payload = command.add_item
        payload.server_handle = server_handle
        payload.item_definition = item_definition
        handle = (await self._run(request, timeout)).add_item.item_handle
        self._tags[(server_handle, handle)] = item_definition
        return handle

    async def add_item2(
        self, server_handle: int, item_definition: str, item_context: str, *, timeout: float | None = None
    ) -> int:
        """AddItem2: add an item with an item context; returns its item handle."""
        request, command = self._request(pb.MX_COMMAND_KIND_ADD_ITEM2)
        payload = command.add_item2
        payload.server_handle = server_handle
        payload.item_definition = item_definition
        payload.item_context = item_context
        handle = (await self._run(request, timeout)).add_item.item_handle
        self._tags[(server_handle, handle)] = item_definition
        return handle

    async def remove_item(
        self, server_handle: int, item_handle: int, *, timeout: float | None = None
    ) -> None:
        """Remove an item."""
        request, command = self._request(pb.MX_COMMAND_KIND_REMOVE_ITEM)
        command.remove_item.server_handle = server_handle
        command.remove_item.item_handle = item_handle
        await self._run(request, timeout)
        self._forget_item(server_handle, item_handle)

    async def advise(self, server_handle: int, item_handle: int, *, timeout: float | None = None) -> None:
        """Advise an item: its current value, then its changes, arrive as DataChange events."""
        request, command = self._request(pb.MX_COMMAND_KIND_ADVISE)
        command.advise.server_handle = server_handle
        command.advise.item_handle = item_handle
        await self._run(request, timeout)

    async def advise_supervisory(
        self, server_handle: int, item_handle: int, *, timeout: float | None = None
    ) -> None:
        """AdviseSupervisory: advise an item as a supervisory client."""
        request, command = self._request(pb.MX_COMMAND_KIND_ADVISE_SUPERVISORY)
        command.advise_supervisory.server_handle = server_handle
        command.advise_supervisory.item_handle = item_handle
        await self._run(request, timeout)

    async def unadvise(self, server_handle: int, item_handle: int, *, timeout: float | None = None) -> None:
        """Stop the data changes of an item."""
        request, command = self._request(pb.MX_COMMAND_KIND_UNADVISE)
        command.unadvise.server_handle = server_handle
        command.unadvise.item_handle = item_handle
        await self._run(request, timeout)

    async def write(
        self,
        server_handle: int,
        item_handle: int,
        value: Any,
        *,
        user_id: int = 0,
        data_type: int | None = None,
        timeout: float | None = None,
    ) -> None:
        """Write a value (Python, or a ready ``MxValue``); the outcome arrives as WriteComplete."""
        request, command = self._request(pb.MX_COMMAND_KIND_WRITE)
        payload = command.write
        payload.server_handle = server_handle
        payload.item_handle = item_handle
        payload.user_id = user_id
        _fill_value(payload.value, value, data_type)
        await self._run(request, timeout)

    async def write2(
        self,
        server_handle: int,
        item_handle: int,
        value: Any,
        timestamp: dt.datetime,
        *,
        user_id: int = 0,
        data_type: int | None = None,
        timeout: float | None = None,
    ) -> None:
        """Write2: a write that carries the value's timestamp."""
        request, command = self._request(pb.MX_COMMAND_KIND_WRITE2)
        payload = command.write2
        payload.server_handle = server_handle
        payload.item_handle = item_handle
        payload.user_id = user_id
        _fill_value(payload.value, value, data_type)
        _fill_time(payload.timestamp_value, timestamp)
        await self._run(request, timeout)

    async def write_secured(
        self,
        server_handle: int,
        item_handle: int,
        value: Any,
        *,
        current_user_id: int,
        verifier_user_id: int = 0,
        data_type: int | None = None,
        timeout: float | None = None,
    ) -> None:
        """WriteSecured: a write signed by an authenticated user (and a verifier)."""
        request, command = self._request(pb.MX_COMMAND_KIND_WRITE_SECURED)
        payload = command.write_secured
        payload.server_handle = server_handle
        payload.item_handle = item_handle
        payload.current_user_id = current_user_id
        payload.verifier_user_id = verifier_user_id
        _fill_value(payload.value, value, data_type)
        await self._run(request, timeout)

    async def write_secured2(
        self,
        server_handle: int,
        item_handle: int,
        value: Any,
        timestamp: dt.datetime,
        *,
        current_user_id: int,
        verifier_user_id: int = 0,
        data_type: int | None = None,
        timeout: float | None = None,
    ) -> None:
        """WriteSecured2: a secured write that carries the value's timestamp."""
        request, command = self._request(pb.MX_COMMAND_KIND_WRITE_SECURED2)
        payload = command.write_secured2
        payload.server_handle = server_handle
        payload.item_handle = item_handle
        payload.current_user_id = current_user_id
        payload.verifier_user_id = verifier_user_id
        _fill_value(payload.value, value, data_type)
        _fill_time(payload.timestamp_value, timestamp)
        await self._run(request, timeout)

    async def authenticate_user(
        self, server_handle: int, user_name: str, password: str, *, timeout: float | None = None
    ) -> int:
        """Authenticate a user for secured writes; returns the user id."""
        request, command = self._request(pb.MX_COMMAND_KIND_AUTHENTICATE_USER)
        payload = command.authenticate_user
        payload.server_handle = server_handle
        payload.user_name = user_name
        payload.password = password
        return (await self._run(request, timeout)).authenticate_user.user_id

    async def drain_events(self, max_events: int = 0, *, timeout: float | None = None) -> list[Event]:
        """Events not drained before, oldest first, without a stream (0 = all retained)."""
        request, command = self._request(pb.MX_COMMAND_KIND_DRAIN_EVENTS)
        command.drain_events.max_events = max_events
        reply = await self._run(request, timeout)
        tags = self._tags
        return [event_from_proto(e, tags) for e in reply.drain_events.events]

    # ------------------------------------------------------------------ bulk commands

    async def _bulk_items(self, request: pb.MxCommandRequest, timeout: float | None) -> list[ItemResult]:
        return _item_results(await self._run(request, timeout))

    async def add_item_bulk(
        self, server_handle: int, tag_addresses: Sequence[str], *, timeout: float | None = None
    ) -> list[ItemResult]:
        """Add many items; one result per tag, in order."""
        request, command = self._request(pb.MX_COMMAND_KIND_ADD_ITEM_BULK)
        command.add_item_bulk.server_handle = server_handle
        command.add_item_bulk.tag_addresses.extend(tag_addresses)
        results = await self._bulk_items(request, timeout)
        self._remember(server_handle, results)
        return results

    async def advise_item_bulk(
        self, server_handle: int, item_handles: Sequence[int], *, timeout: float | None = None
    ) -> list[ItemResult]:
        """Advise many items; one result per handle, in order."""
        request, command = self._request(pb.MX_COMMAND_KIND_ADVISE_ITEM_BULK)
        command.advise_item_bulk.server_handle = server_handle
        command.advise_item_bulk.item_handles.extend(item_handles)
        return await self._bulk_items(request, timeout)

    async def remove_item_bulk(
        self, server_handle: int, item_handles: Sequence[int], *, timeout: float | None = None
    ) -> list[ItemResult]:
        """Remove many items; one result per handle, in order."""
        request, command = self._request(pb.MX_COMMAND_KIND_REMOVE_ITEM_BULK)
        command.remove_item_bulk.server_handle = server_handle
        command.remove_item_bulk.item_handles.extend(item_handles)
        results = await self._bulk_items(request, timeout)
        for handle in item_handles:
            self._forget_item(server_handle, handle)
        return results

    async def unadvise_item_bulk(
        self, server_handle: int, item_handles: Sequence[int], *, timeout: float | None = None
    ) -> list[ItemResult]:
        """Unadvise many items; one result per handle, in order."""
        request, command = self._request(pb.MX_COMMAND_KIND_UNADVISE_ITEM_BULK)
        command.unadvise_item_bulk.server_handle = server_handle
        command.unadvise_item_bulk.item_handles.extend(item_handles)
        return await self._bulk_items(request, timeout)

    async def subscribe_bulk(
        self,
        server_handle: int,
        tag_addresses: Sequence[str],
        *,
        supervisory: bool = False,
        timeout: float | None = None,
    ) -> list[ItemResult]:
        """Add and advise many tags in one command; one result per tag, in order."""
        request, command = self._request(pb.MX_COMMAND_KIND_SUBSCRIBE_BULK)
        payload = command.subscribe_bulk
        payload.server_handle = server_handle
        payload.tag_addresses.extend(tag_addresses)
        payload.supervisory = supervisory
        results = await self._bulk_items(request, timeout)
        self._remember(server_handle, results)
        return results

    async def unsubscribe_bulk(
        self, server_handle: int, item_handles: Sequence[int], *, timeout: float | None = None
    ) -> list[ItemResult]:
        """Unadvise and remove many items in one command; one result per handle."""
        request, command = self._request(pb.MX_COMMAND_KIND_UNSUBSCRIBE_BULK)
        command.unsubscribe_bulk.server_handle = server_handle
        command.unsubscribe_bulk.item_handles.extend(item_handles)
        results = await self._bulk_items(request, timeout)
        for handle in item_handles:
            self._forget_item(server_handle, handle)
        return results

    async def read_bulk(
        self,
        server_handle: int,
        tag_addresses: Sequence[str],
        *,
        timeout_ms: int = 0,
        timeout: float | None = None,
    ) -> list[ReadResult]:
        """Read many tags (cached value when advised, else a snapshot); one result per tag.

        ``timeout_ms`` is MXAccess's own wait (0 = the gateway default); ``timeout``
        the call's deadline.
        """
        request, command = self._request(pb.MX_COMMAND_KIND_READ_BULK)
        payload = command.read_bulk
        payload.server_handle = server_handle
        payload.tag_addresses.extend(tag_addresses)
        payload.timeout_ms = timeout_ms
        reply = await self._run(request, timeout)
        return list(map(ReadResult, reply.bulk_read.results))

    async def _bulk_write(
        self, kind: int, server_handle: int, entries: Sequence[WriteEntry], timeout: float | None
    ) -> list[WriteResult]:
        request, command = self._request(kind)
        if kind == pb.MX_COMMAND_KIND_WRITE_BULK:
            plain = command.write_bulk
            plain.server_handle = server_handle
            for entry in entries:
                item = plain.entries.add(item_handle=entry.item_handle, user_id=entry.user_id)
                _fill_value(item.value, entry.value, entry.data_type)
        elif kind == pb.MX_COMMAND_KIND_WRITE2_BULK:
            timed = command.write2_bulk
            timed.server_handle = server_handle
            for entry in entries:
                item2 = timed.entries.add(item_handle=entry.item_handle, user_id=entry.user_id)
                _fill_value(item2.value, entry.value, entry.data_type)
                _fill_time(item2.timestamp_value, entry.timestamp)
        elif kind == pb.MX_COMMAND_KIND_WRITE_SECURED_BULK:
            secured = command.write_secured_bulk
            secured.server_handle = server_handle
            for entry in entries:
                item3 = secured.entries.add(
                    item_handle=entry.item_handle,
                    current_user_id=entry.current_user_id,
                    verifier_user_id=entry.verifier_user_id,
                )
                _fill_value(item3.value, entry.value, entry.data_type)
        else:
            secured2 = command.write_secured2_bulk
            secured2.server_handle = server_handle
            for entry in entries:
                item4 = secured2.entries.add(
                    item_handle=entry.item_handle,
                    current_user_id=entry.current_user_id,
                    verifier_user_id=entry.verifier_user_id,
                )
                _fill_value(item4.value, entry.value, entry.data_type)
                _fill_time(item4.timestamp_value, entry.timestamp)
        return _write_results(await self._run(request, timeout))

    async def write_bulk(
        self, server_handle: int, entries: Sequence[WriteEntry], *, timeout: float | None = None
    ) -> list[WriteResult]:
        """Write many items; one result per entry, in order."""
        return await self._bulk_write(pb.MX_COMMAND_KIND_WRITE_BULK, server_handle, entries, timeout)

    async def write2_bulk(
        self, server_handle: int, entries: Sequence[WriteEntry], *, timeout: float | None = None
    ) -> list[WriteResult]:
        """Write2 for many items (each entry needs ``timestamp``)."""
        return await self._bulk_write(pb.MX_COMMAND_KIND_WRITE2_BULK, server_handle, entries, timeout)

    async def write_secured_bulk(
        self, server_handle: int, entries: Sequence[WriteEntry], *, timeout: float | None = None
    ) -> list[WriteResult]:
        """WriteSecured for many items (each entry needs ``current_user_id``)."""
        return await self._bulk_write(pb.MX_COMMAND_KIND_WRITE_SECURED_BULK, server_handle, entries, timeout)

    async def write_secured2_bulk(
        self, server_handle: int, entries: Sequence[WriteEntry], *, timeout: float | None = None
    ) -> list[WriteResult]:
        """WriteSecured2 for many items (each entry needs ``timestamp`` and ``current_user_id``)."""
        return await self._bulk_write(pb.MX_COMMAND_KIND_WRITE_SECURED2_BULK, server_handle, entries, timeout)

    # ------------------------------------------------------------------ events

    def events(self, after_worker_sequence: int = 0) -> EventStream:
        """The session's events as typed objects (the stream opens on first use).

        ``after_worker_sequence`` 0 means live events only; N > 0 first replays the
        retained events after N. No deadline applies to the stream.
        """
        if self._closed:
            raise MxGatewaySessionClosedError(f"session {self._session_id} is closed", method="StreamEvents")
        stream = EventStream(
            self._client._stream_opener(self._session_id),
            after_worker_sequence=after_worker_sequence,
            tags=self._tags,
            secrets=self._secrets,
            on_close=self._streams.discard,
        )
        self._streams.add(stream)
        return stream

    # ------------------------------------------------------------------ tag conveniences

    def _remember(self, server_handle: int, results: list[ItemResult]) -> None:
        self._tags.update(
            ((server_handle, raw.item_handle), raw.tag_address)
            for raw in (result.raw for result in results)
            if raw.was_successful
        )

    def _forget_item(self, server_handle: int, item_handle: int) -> None:
        tag = self._tags.pop((server_handle, item_handle), None)
        if server_handle == self._server_handle and tag is not None and self._handles.get(tag) == item_handle:
            del self._handles[tag]

    def _forget_server(self, server_handle: int) -> None:
        for key in [k for k in self._tags if k[0] == server_handle]:
            del self._tags[key]
        if server_handle == self._server_handle:
            self._server_handle = None
            self._handles.clear()

    async def default_server_handle(self) -> int:
        """The server handle the tag conveniences use (registered on first use)."""
        handle = self._server_handle
        if handle is not None:
            return handle
        async with self._setup_lock:
            if self._server_handle is None:
                self._server_handle = await self.register(self._client_session_name or "mxgateway-python")
            return self._server_handle

    async def _item_handle(self, tag: str) -> int:
        handle = self._handles.get(tag)
        if handle is not None:
            return handle
        server = await self.default_server_handle()
        async with self._setup_lock:
            handle = self._handles.get(tag)
            if handle is None:
                handle = await self.add_item(server, tag)
                self._handles[tag] = handle
            return handle

    async def read(
        self, tags: Sequence[str], *, timeout: float | None = None
    ) -> display.ResultList[ReadResult]:
        """Read tags: one ``ReadResult`` per tag, in order; a tag that fails has ``ok`` False.

        ``timeout`` (seconds) bounds MXAccess's wait for values (None: the gateway's
        default). Transient failures are retried (``ClientOptions.read_retries``).
        """
        tag_list = [tags] if isinstance(tags, str) else list(tags)
        server = await self.default_server_handle()
        timeout_ms = int(timeout * 1000) if timeout else 0
        deadline = timeout + _READ_DEADLINE_MARGIN_S if timeout else None
        retries = self._client.options.read_retries
        attempt = 0
        while True:
            try:
                results = await self.read_bulk(server, tag_list, timeout_ms=timeout_ms, timeout=deadline)
                break
            except MxGatewayUnavailableError:
                if attempt >= retries or self._closed:
                    raise
                attempt += 1
                await asyncio.sleep(0.1 * 2 ** (attempt - 1))
        by_tag = {r.tag: r for r in results}
        ordered: display.ResultList[ReadResult] = display.ResultList()
        for index, tag in enumerate(tag_list):
            result = results[index] if index < len(results) and results[index].tag == tag else by_tag.get(tag)
            if result is None:
                result = ReadResult(
                    pb.BulkReadResult(tag_address=tag, error_message="no result from the gateway")
                )
            elif result.ok:
                self._data_types[tag] = result.data_type
            ordered.append(result)
        return ordered

    async def _data_type(self, tag: str) -> int:
        data_type = self._data_types.get(tag)
        if data_type is None:
            (result,) = await self.read([tag])
            result.raise_for_error()
            data_type = result.data_type
        return data_type

    async def write_tag(
        self, tag: str, value: Any, *, user_id: int = 0, timeout: float | None = None
    ) -> None:
        """Write a tag by name, converting ``value`` to the attribute's data type.

        The item handle and the type are looked up once and cached. Returns when the
        gateway accepted the write; ``write_and_confirm`` also waits for the outcome.
        """
        item = await self._item_handle(tag)
        data_type = None if isinstance(value, pb.MxValue) else await self._data_type(tag)
        value = tag_value(tag, value, data_type)
        server = await self.default_server_handle()
        await self.write(server, item, value, user_id=user_id, data_type=data_type, timeout=timeout)

    async def write_and_confirm(
        self, tag: str, value: Any, *, user_id: int = 0, timeout: float = 10.0
    ) -> WriteComplete:
        """Write a tag by name and wait for its OnWriteComplete outcome.

        Returns the ``WriteComplete``; raises ``MxAccessError`` when the write failed
        and ``MxGatewayTimeoutError`` when no outcome arrived within ``timeout``.
        """
        item = await self._item_handle(tag)
        data_type = None if isinstance(value, pb.MxValue) else await self._data_type(tag)
        value = tag_value(tag, value, data_type)
        server = await self.default_server_handle()
        async with self.events() as stream:
            await stream.wait_connected()
            await self.write(server, item, value, user_id=user_id, data_type=data_type)
            try:
                outcome = await asyncio.wait_for(_write_outcome(stream, server, item), timeout)
            except asyncio.TimeoutError:
                raise MxGatewayTimeoutError(
                    f"no write outcome for {tag} within {timeout:g} s", method="StreamEvents"
                ) from None
        if not outcome.succeeded:
            failed = "; ".join(s.readable for s in outcome.statuses if s.is_failure)
            hresult = f"hresult 0x{outcome.hresult & 0xFFFFFFFF:08X}" if outcome.hresult else ""
            reason = ", ".join(p for p in (hresult, failed) if p) or "no reason given"
            raise MxAccessError(
                f"writing {tag} failed: {reason}",
                hresult=outcome.hresult,
                statuses=outcome.statuses,
                method="Invoke",
                reply=outcome.raw,
            )
        return outcome

    def subscribe(self, tags: Sequence[str], *, supervisory: bool = False) -> Subscription:
        """Data changes of ``tags`` only: use ``async with session.subscribe([...]) as sub``.

        Entering registers, adds and advises as needed; leaving unsubscribes.
        """
        return Subscription(self, [tags] if isinstance(tags, str) else list(tags), supervisory=supervisory)


async def _write_outcome(stream: EventStream, server_handle: int, item_handle: int) -> WriteComplete:
    async for event in stream:
        if (
            type(event) is WriteComplete
            and event.item_handle == item_handle
            and event.server_handle == server_handle
        ):
            return event
    raise MxGatewayUnavailableError(
        "the event stream ended before the write outcome arrived", method="StreamEvents"
    )


class Subscription:
    """Data changes of a set of tags, from ``Session.subscribe``.

    ``async with`` subscribes on entry and unsubscribes on exit; ``async for``
    yields ``DataChange`` events (``tag`` set) of these tags only, starting with each
    tag's current value. ``latest`` holds the newest change per tag; ``missed``
    counts events lost to gaps in the session's sequence.
    """

    def __init__(self, session: Session, tags: Sequence[str], *, supervisory: bool = False) -> None:
        self._session = session
        self._tags = list(tags)
        self._supervisory = supervisory
        self._stream: EventStream | None = None
        self._server_handle = 0
        self._handles: dict[int, str] = {}
        self._latest: dict[str, DataChange] = {}
        self._missed = 0
        self._started = False
        self._closed = False
        session._subscriptions.add(self)

    def __repr__(self) -> str:
        return f"Subscription(tags={self._tags!r}, supervisory={self._supervisory})"

    @property
    def tags(self) -> list[str]:
        """The subscribed tags."""
        return list(self._tags)

    @property
    def item_handles(self) -> dict[str, int]:
        """The item handle of each subscribed tag."""
        return {tag: handle for handle, tag in self._handles.items()}

    @property
    def latest(self) -> dict[str, DataChange]:
        """The newest change delivered for each tag."""
        return dict(self._latest)

    @property
    def missed(self) -> int:
        """Events of the session lost to sequence gaps while this subscription ran."""
        return self._missed

    async def start(self) -> None:
        """Subscribe now (``async with`` and the first ``async for`` step do it for you)."""
        if self._started:
            return
        self._started = True
        session = self._session
        self._server_handle = await session.default_server_handle()
        stream = session.events()
        self._stream = stream
        try:
            await stream.wait_connected()
            results = await session.subscribe_bulk(
                self._server_handle, self._tags, supervisory=self._supervisory
            )
        except BaseException:
            await self.aclose()
            raise
        self._handles = {r.item_handle: r.tag_address for r in results if r.ok}
        failed = [r for r in results if not r.ok]
        if failed:
            await self.aclose()
            reasons = "; ".join(f"{r.tag_address}: {r.error_message or 'failed'}" for r in failed)
            raise MxAccessError(f"cannot subscribe {reasons}", method="Invoke")

    def _stream_cancel(self) -> None:
        self._closed = True
        if self._stream is not None:
            self._stream._cancel()

    async def aclose(self) -> None:
        """Unsubscribe and cancel the stream; idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._stream is not None:
            self._stream._cancel()
        handles, self._handles = list(self._handles), {}
        if handles and not self._session.closed:
            try:
                await self._session.unsubscribe_bulk(self._server_handle, handles)
            except MxGatewayError as exc:
                _log.debug("unsubscribe failed while closing a subscription: %s", exc)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> DataChange:
        if not self._started:
            await self.start()
        stream = self._stream
        if stream is None or self._closed:
            raise StopAsyncIteration
        server, handles = self._server_handle, self._handles
        async for event in stream:
            kind = type(event)
            if kind is DataChange:
                assert isinstance(event, DataChange)
                if event.server_handle == server and event.item_handle in handles:
                    self._latest[handles[event.item_handle]] = event
                    return event
            elif kind is SequenceGap or kind is ReplayGap:
                # Values of these tags may have changed unseen: ``latest`` can be stale.
                assert isinstance(event, (SequenceGap, ReplayGap))
                self._missed += event.missed
        raise StopAsyncIteration

    async def __aenter__(self) -> Subscription:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
