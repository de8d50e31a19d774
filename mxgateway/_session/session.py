"""A gateway session: one MXAccess worker, its commands, its events and its recovery.

``Session`` joins four parts: the MXAccess commands (``mxgateway._session.commands``),
tag-level access (``mxgateway._session.tag_access``), recovery of a lost session
(``mxgateway._session.recovery``) and, here, the session itself: its life cycle,
the request path every command takes (what each command kind needs is in
``mxgateway._session.command_kinds``), and its event pump (``mxgateway._events.pump``), the one
StreamEvents call every event consumer reads from.

When the gateway loses the session, the tag-level API continues on a new one
(``ClientOptions.recover_sessions``). Handles handed out before are dead: a
command that uses one raises ``MxGatewaySessionLostError``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import weakref
from collections.abc import AsyncIterator, Sequence
from types import TracebackType
from typing import TYPE_CHECKING

import grpc.aio

from mxgateway._model.checks import checked
from mxgateway._session.command_kinds import (
    BULK_PAYLOADS,
    EVENT_KINDS,
    WRITE_PAYLOADS,
    scope_of,
    written_items,
)
from mxgateway._session.recovery import SessionRecovery
from mxgateway._session.tag_access import TagAccess
from mxgateway._session.tag_table import TagTable
from mxgateway._transport.streams import StreamCall
from mxgateway.errors import (
    MxGatewayAuthenticationError,
    MxGatewayError,
    MxGatewayPermissionError,
    MxGatewaySessionClosedError,
    MxGatewaySessionLostError,
    MxGatewaySessionNotFoundError,
    MxGatewayUnavailableError,
    check_protocol_status,
    error_for_protocol_status,
    map_rpc_error,
    raise_for_mxaccess_failure,
    write_may_have_run,
)
from mxgateway.generated import mxaccess_gateway_pb2 as pb
from mxgateway.options import USE_CLIENT_DEFAULT, ClientOptions, Timeout, UseClientDefault

if TYPE_CHECKING:
    # Imported where used: a script that only reads never loads them, and
    # importing the package does not load the event machinery.
    from mxgateway._events.state import ConnectionState, StateChange
    from mxgateway._events.stream import EventStream
    from mxgateway._session.subscription import Subscription
    from mxgateway._transport.connection import GatewayTransport

__all__ = ["Session"]

_log = logging.getLogger("mxgateway.session")
_UTC = dt.timezone.utc
_OK_CODES = (pb.PROTOCOL_STATUS_CODE_OK, pb.PROTOCOL_STATUS_CODE_UNSPECIFIED)
_SESSION_NOT_FOUND = pb.PROTOCOL_STATUS_CODE_SESSION_NOT_FOUND


class Session(SessionRecovery, TagAccess):
    """An open gateway session. Obtain it with ``GatewayClient.open_session``.

    ``async with session:`` closes it on exit; ``close()`` is idempotent and ends
    the session's event stream. ``recover`` (None: ``ClientOptions.recover_sessions``)
    lets the tag-level API replace the session when the gateway loses it.
    ``fresh`` says the session was opened here: its event stream then attaches
    before the first command that can raise an event (for an attached session it
    attaches when a reader asks for events).
    """

    def __init__(
        self,
        transport: GatewayTransport,
        reply: pb.OpenSessionReply,
        *,
        client_session_name: str = "",
        recover: bool | None = None,
        fresh: bool = True,
    ) -> None:
        self._init_state(client_session_name, transport.options, recover=recover, fresh=fresh)
        self._bind(transport, reply)

    def _init_state(
        self, client_session_name: str, options: ClientOptions, *, recover: bool | None, fresh: bool
    ) -> None:
        """The session's own state, before it is bound to a gateway session."""
        self._client_session_name = client_session_name
        self._options = options
        self._secrets: tuple[str, ...] = (options.api_key,) if options.api_key else ()
        self._recover_enabled = options.recover_sessions if recover is None else recover
        self._session_id = ""
        self._open_reply = pb.OpenSessionReply()
        self._closed = False
        self._subscriptions: weakref.WeakSet[Subscription] = weakref.WeakSet()
        self._tags = TagTable()
        self._server_handle: int | None = None
        self._handles: dict[str, int] = {}
        self._data_types: dict[str, int] = {}
        self._user_servers: set[int] = set()
        self._stale_servers: set[int] = set()
        # Attached on the first event-raising command only for sessions opened here:
        # a stream that attaches and goes away when a short-lived process (a CLI
        # call) ends would start the gateway's detach grace on a shared session.
        self._events_refused = not fresh
        self._setup_lock = asyncio.Lock()
        self._recover_lock = asyncio.Lock()
        from mxgateway._events.pump import EventPump

        self._pump = EventPump(
            session_id=self._attach_session_id,
            open_call=self._open_event_call,
            recover=self._recover_session,
            recovers=self._recovers,
            fail_over=self._fail_over,
            generation=self._connection_generation,
            tags=self._tags,
            secrets=self._secrets,
            policy=options.reconnect,
            queue_size=options.event_queue_size,
            backlog_size=options.event_backlog_size,
            fresh_session=fresh,
        )

    def _bind(self, transport: GatewayTransport, reply: pb.OpenSessionReply) -> None:
        """Attach to the gateway session ``reply`` names, through ``transport`` (which closes it with the client)."""
        self._transport = transport
        self._open_reply = reply
        self._session_id = reply.session_id
        self._bind_transport()
        transport.register(
            reply.session_id,
            self,
            moved=self._bind_transport,
            closed=self._mark_closed,
            settle=self._settled_id,
        )

    def _bind_transport(self) -> None:
        # Bound once (and again after a fail-over): the per-call path touches no attribute chains.
        transport = self._transport
        self._invoke_rpc = transport.invoke
        self._metadata = transport.metadata
        self._default_timeout = transport.default_timeout

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"Session(session_id={self._session_id!r}, backend={self.backend_name!r}, {state})"

    # ------------------------------------------------------------------ state

    @property
    def session_id(self) -> str:
        """The gateway's id of this session (a new one after a recovery)."""
        return self._session_id

    @property
    def options(self) -> ClientOptions:
        """The options of the session's connection."""
        return self._options

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

    @property
    def connection_state(self) -> ConnectionState:
        """Where the session's event stream stands: idle, connected, reconnecting, recovered, lost ..."""
        return self._pump.state

    def state_changes(self) -> AsyncIterator[StateChange]:
        """Every later change of ``connection_state``, as ``StateChange`` records, until closed."""
        return self._pump.state_changes()

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def detach(self) -> None:
        """Stop using the session here without closing it on the gateway; idempotent.

        Its event stream ends and the client no longer closes it; the session lives
        on (until closed, or its lease expires) for another client or process to
        ``attach_session`` to.
        """
        if self._closed:
            return
        self._mark_closed()
        self._transport.forget(self._session_id, self)

    async def close(self) -> None:
        """Close the session on the gateway and end its event stream; idempotent."""
        if self._closed:
            return
        self._mark_closed()
        transport = self._transport
        transport.forget(self._session_id, self)
        # A recovery in flight finishes first, so the session it opened is the one closed.
        await self._settle_recovery()
        transport.check_open("CloseSession")
        # Already gone on the gateway is what closing wants.
        with contextlib.suppress(MxGatewaySessionNotFoundError):
            await transport.close_session(self._session_id)
        _log.info("closed session %s", self._session_id)

    async def aclose(self) -> None:
        """Same as ``close()``."""
        await self.close()

    def _mark_closed(self) -> None:
        """No further calls: end the event stream and every reader."""
        self._closed = True
        self._pump.close_now()
        for subscription in list(self._subscriptions):
            subscription._stream_cancel()

    # ------------------------------------------------------------------ request path

    def _request(self, kind: int) -> tuple[pb.MxCommandRequest, pb.MxCommand]:
        request = pb.MxCommandRequest(session_id=self._session_id)
        command = request.command
        command.kind = kind  # type: ignore[assignment]
        return request, command

    async def _call(self, request: pb.MxCommandRequest, timeout: Timeout) -> pb.MxCommandReply:
        if self._closed:
            raise MxGatewaySessionClosedError(f"session {self._session_id} is closed", method="Invoke")
        kind = request.command.kind
        if kind in EVENT_KINDS:
            pump = self._pump
            if not pump.running:
                await self._attach_for_events()
            elif request.session_id == self._session_id and not pump.attached_to(request.session_id):
                # Still attaching, or following a replacement session: the event this
                # command raises must find the stream there.
                await pump.wait_attached_to(request.session_id, self._options.reconnect.window_s)
        if self._stale_servers:
            self._check_handles(request)
        generation = self._transport.generation
        failure: MxGatewayError | None = None
        try:
            reply: pb.MxCommandReply = await self._invoke_rpc(
                request,
                timeout=self._default_timeout if isinstance(timeout, UseClientDefault) else timeout,
                metadata=self._metadata,
            )
        except asyncio.CancelledError:
            # grpc.aio cancels the calls of a channel closed by a fail-over, raising
            # CancelledError into a caller nobody cancelled: make it a typed failure.
            if self._transport.generation != generation:
                raise MxGatewayUnavailableError(
                    "the connection moved to the next gateway while the command was in flight; "
                    "its outcome is unknown",
                    method="Invoke",
                ) from None
            raise
        except grpc.aio.AioRpcError as exc:
            failure = map_rpc_error(exc, method="Invoke", scope=scope_of(kind), secrets=self._secrets)
        if failure is not None:
            # Raised out here, not in the except block: the raw error, which may hold
            # what the gateway echoed (a key included), must not become __context__.
            if isinstance(failure, MxGatewaySessionNotFoundError):
                raise self._lost(request.session_id, failure)
            raise failure from failure.__cause__
        code = reply.protocol_status.code
        if code not in _OK_CODES:
            if code == _SESSION_NOT_FOUND and not self._closed:
                raise self._lost(
                    request.session_id,
                    error_for_protocol_status(reply.protocol_status, method="Invoke", reply=reply),
                )
            check_protocol_status(reply, method="Invoke")
        return reply

    async def _run(
        self, request: pb.MxCommandRequest, timeout: Timeout = USE_CLIENT_DEFAULT, *, watched: bool = False
    ) -> pb.MxCommandReply:
        field = WRITE_PAYLOADS.get(request.command.kind)
        if field is not None and not watched:
            return await self._run_write(request, timeout, field)
        reply = await self._call(request, timeout)
        # Fast path: an OK reply with no hresult and no statuses is a success.
        if reply.hresult or reply.statuses or reply.protocol_status.code not in _OK_CODES:
            payload = BULK_PAYLOADS.get(request.command.kind)
            if payload is None or not reply.HasField(payload):  # type: ignore[arg-type]
                raise_for_mxaccess_failure(reply)
        return reply

    async def _run_write(
        self, request: pb.MxCommandRequest, timeout: Timeout, field: str
    ) -> pb.MxCommandReply:
        """Send a write nobody waits on, holding its items' places in their lines of outcomes."""
        if not self._pump.running and not self._closed:
            await self._attach_for_events()
        if not self._pump.running:  # no stream: no outcome will come to pair
            return await self._run(request, timeout, watched=True)
        fanout = self._pump.fanout
        session_id = request.session_id
        items = written_items(request.command, field)
        marks = [fanout.note_write(session_id, server, item) for server, item in items]
        try:
            reply = await self._run(request, timeout, watched=True)
        except BaseException as exc:
            if not write_may_have_run(exc):
                for (server, item), mark in zip(items, marks, strict=True):
                    fanout.forget_write(session_id, server, item, mark)
            raise
        if reply.HasField("bulk_write"):
            # A refused entry was never written: no outcome will come for it.
            for result, (server, item), mark in zip(reply.bulk_write.results, items, marks, strict=False):
                if not result.was_successful:
                    fanout.forget_write(session_id, server, item, mark)
        return reply

    def _check_handles(self, request: pb.MxCommandRequest) -> None:
        command = request.command
        case = command.WhichOneof("payload")
        handle = getattr(getattr(command, case), "server_handle", None) if case else None
        if handle in self._stale_servers:
            raise MxGatewaySessionLostError(
                f"server handle {handle} belonged to a session the gateway lost; "
                f"register again on session {self._session_id}",
                method="Invoke",
            )

    def _note_registered(self, server_handle: int) -> None:
        self._user_servers.add(server_handle)
        self._stale_servers.discard(server_handle)

    def _stale(self, server_handle: int) -> bool:
        return server_handle in self._stale_servers

    async def _attach_for_events(self) -> None:
        if self._events_refused:
            return
        try:
            await self._pump.ensure_attached()
        except (MxGatewayPermissionError, MxGatewayAuthenticationError) as exc:
            # A key without events:read may still command; it just sees no events.
            self._events_refused = True
            _log.warning("session %s: events are not available: %s", self._session_id, exc)

    # ------------------------------------------------------------------ events

    @checked
    def events(self, after_worker_sequence: int = 0) -> EventStream:
        """The session's events as typed objects and markers, in order.

        With ``after_worker_sequence`` 0 the stream continues after the last event
        the previous ``events()`` reader of this session got (the first reader gets
        every event since the session's stream attached, so nothing between two
        loops is lost). N > 0 starts after worker sequence N instead, replaying
        what the session still holds. Every reader shares the session's one
        gateway stream, which attaches on the first read (or ``wait_connected()``).
        """
        if self._closed:
            raise MxGatewaySessionClosedError(f"session {self._session_id} is closed", method="StreamEvents")
        if after_worker_sequence < 0:
            raise ValueError(f"after_worker_sequence must not be negative, not {after_worker_sequence}")
        consumer = self._pump.add_consumer(
            after_worker_sequence=after_worker_sequence or None, from_cursor=not after_worker_sequence
        )
        from mxgateway._events.stream import EventStream

        return EventStream(self._pump, consumer)

    async def _ensure_open(self) -> None:
        if self._closed:
            raise MxGatewaySessionClosedError(f"session {self._session_id} is closed", method="StreamEvents")

    async def _attach_session_id(self) -> str:
        await self._ensure_open()
        return self._session_id

    def _open_event_call(self, session_id: str, after: int) -> StreamCall:
        return self._transport.open_events_call(session_id, after)

    def _fail_over(self, generation: int | None = None) -> bool:
        moved = self._transport.fail_over(generation)
        if moved:
            self._bind_transport()
        return moved

    def _connection_generation(self) -> int:
        return self._transport.generation

    def _new_subscription(self, tags: list[str], supervisory: bool) -> Subscription:
        if self._closed:
            raise MxGatewaySessionClosedError(f"session {self._session_id} is closed", method="Invoke")
        from mxgateway._session.subscription import Subscription

        subscription = Subscription(self, self._pump, tags, supervisory=supervisory)
        self._subscriptions.add(subscription)
        return subscription

    # ------------------------------------------------------------------ bookkeeping

    def _remember(
        self, server_handle: int, tags: Sequence[str], results: Sequence[pb.SubscribeResult]
    ) -> None:
        self._tags.add_results(server_handle, tags, results)

    def _forget_item(self, server_handle: int, item_handle: int) -> None:
        tag = self._tags.forget_item(server_handle, item_handle)
        if server_handle == self._server_handle and tag is not None and self._handles.get(tag) == item_handle:
            del self._handles[tag]

    def _forget_server(self, server_handle: int) -> None:
        self._tags.forget_server(server_handle)
        self._user_servers.discard(server_handle)
        if server_handle == self._server_handle:
            self._server_handle = None
            self._handles.clear()
