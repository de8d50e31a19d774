"""A gateway session: one MXAccess worker, its commands, its events and its recovery.

``Session`` joins its parts, each owning its own state:

- ``SessionState`` (``mxgateway._events.state``) owns the gateway session id, its
  epoch, the per-epoch ``TagTables`` and the ``ConnectionState``;
- the ``EventPump`` owns the one StreamEvents call every event consumer reads from;
- ``Recovery`` owns the replacement of a lost session, ``HandleBook`` the handles;
- the MXAccess commands and tag-level access are methods of the session; here is
  the request path every command takes (``command_kinds`` says what each needs).

When the gateway loses the session, the tag-level API continues on a new one
(``ClientOptions.recover_sessions``). Handles handed out before are dead: a
command that uses one raises ``MxGatewaySessionLostError``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator
from contextlib import AbstractContextManager
from types import TracebackType
from typing import TYPE_CHECKING, Any

import grpc.aio

from mxgateway._events.link import SessionLink
from mxgateway._events.pump import EventPump
from mxgateway._events.state import Binding, ConnectionState, SessionState, StateChange
from mxgateway._model.checks import checked
from mxgateway._model.events import TagLookup
from mxgateway._session.command_kinds import (
    BULK_PAYLOADS,
    EVENT_KINDS,
    WRITE_PAYLOADS,
    scope_of,
    written_items,
)
from mxgateway._session.pins import Pins
from mxgateway._session.recovery import Recovery, lost_error
from mxgateway._session.tag_access import TagAccess
from mxgateway._session.tag_port import TagPort
from mxgateway._session.tag_table import HandleBook, TagTables
from mxgateway._transport.connection import CLOSE_TIMEOUT_S
from mxgateway._transport.streams import StreamCall, surely_not_cancelled
from mxgateway.errors import (
    MxGatewayAuthenticationError,
    MxGatewayClosedError,
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
    from mxgateway._events.stream import EventStream
    from mxgateway._session.subscription import Subscription
    from mxgateway._transport.connection import GatewayTransport

__all__ = ["Session"]

_log = logging.getLogger("mxgateway.session")
_UTC = dt.timezone.utc
_OK_CODES = (pb.PROTOCOL_STATUS_CODE_OK, pb.PROTOCOL_STATUS_CODE_UNSPECIFIED)
_SESSION_NOT_FOUND = pb.PROTOCOL_STATUS_CODE_SESSION_NOT_FOUND


def _tags_of(tables: TagTables) -> TagLookup:
    return tables.tags


class Session(TagAccess):
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
        """The session's own parts, before it is bound to a gateway session."""
        self._client_session_name = client_session_name
        self._options = options
        self._secrets: tuple[str, ...] = (options.api_key,) if options.api_key else ()
        self._open_reply = pb.OpenSessionReply()
        self._closed = False
        self._state: SessionState[TagTables] = SessionState(TagTables)
        self._book = HandleBook(self._state)
        self._pins = Pins(self._state)
        # Attached on the first event-raising command only for sessions opened here:
        # a stream that attaches and goes away when a short-lived process (a CLI
        # call) ends would start the gateway's detach grace on a shared session.
        self._events_refused = not fresh
        self._setup_lock = asyncio.Lock()
        self._pump = EventPump(
            state=self._state,
            link=SessionLink(
                open_call=self._open_event_call,
                recover=self._replace_session,
                recovers=self._recovers,
                recovering=self._recovery_in_flight,
                fail_over=self._fail_over,
                generation=self._connection_generation,
            ),
            tag_lookup=_tags_of,
            secrets=self._secrets,
            policy=options.reconnect,
            queue_size=options.event_queue_size,
            backlog_size=options.event_backlog_size,
            fresh_session=fresh,
        )
        self._tag_port = TagPort(
            state=self._state,
            commands=self,
            opened=self._ensure_open,
            pinned=self._pinned,
            server_handle=self._server_handle_of,
            recover=self._await_recovery,
        )
        self._recovery = Recovery(
            self._state,
            self._current_transport,
            owner=self,
            name=client_session_name,
            enabled=options.recover_sessions if recover is None else recover,
            on_replaced=self._replaced,
            on_lost=self._pump.fail,
        )

    def _bind(self, transport: GatewayTransport, reply: pb.OpenSessionReply) -> None:
        """Attach to the gateway session ``reply`` names, through ``transport`` (which closes it with the client)."""
        self._transport = transport
        self._open_reply = reply
        self._state.bind(reply.session_id)
        self._bind_transport()
        transport.register(
            reply.session_id,
            self,
            moved=self._moved,
            closed=self._close_now,
            settle=self._settled_id,
        )

    def _bind_transport(self) -> None:
        # Bound once (and again after a fail-over): the per-call path touches no attribute chains.
        transport = self._transport
        self._invoke_rpc = transport.invoke
        self._metadata = transport.metadata
        self._default_timeout = transport.default_timeout

    def _current_transport(self) -> GatewayTransport:
        return self._transport

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"Session(session_id={self.session_id!r}, backend={self.backend_name!r}, {state})"

    # ------------------------------------------------------------------ state

    @property
    def session_id(self) -> str:
        """The gateway's id of this session (a new one after a recovery)."""
        return self._state.session_id

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
        """Where the session and its event stream stand: idle, connected, reconnecting, recovered, lost ..."""
        return self._state.state

    def state_changes(self) -> AsyncIterator[StateChange]:
        """Every later change of ``connection_state``, as ``StateChange`` records, until closed."""
        return self._state.changes()

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
        self._close_now()
        self._transport.forget(self)

    async def close(self) -> None:
        """Close the session on the gateway and end its event stream; idempotent."""
        if self._closed:
            return
        self._close_now()
        transport = self._transport
        transport.forget(self)
        # A recovery in flight is stopped first; what it opened is closed with it.
        session_id = await self._settled_id(CLOSE_TIMEOUT_S)
        transport.check_open("CloseSession")
        # Already gone on the gateway is what closing wants.
        with contextlib.suppress(MxGatewaySessionNotFoundError):
            await transport.close_session(session_id, timeout=CLOSE_TIMEOUT_S)
        _log.info("closed session %s", session_id)

    async def aclose(self) -> None:
        """Same as ``close()``."""
        await self.close()

    def _close_now(self) -> None:
        """No further calls: end the event stream, every reader and any recovery, at once."""
        if self._closed:
            return
        self._closed = True
        self._state.move(ConnectionState.CLOSED, "session closed")
        self._pump.close_now()  # every reader (events(), subscriptions, write waiters) ends

    async def _settled_id(self, timeout: float) -> str:
        """The session's id once a recovery in flight was stopped and what it opened closed."""
        await self._recovery.settle(timeout)
        return self.session_id

    # ------------------------------------------------------------------ request path

    @property
    def _session_id(self) -> str:
        """The session id commands go to: the pinned epoch's, else the current one (see ``Pins``)."""
        return self._pins.session_id()

    def _pinned(self, binding: Binding[TagTables]) -> AbstractContextManager[None]:
        return self._pins.pinned(binding)

    def _binding(self) -> Binding[TagTables]:
        return self._pins.binding()

    def _request(self, kind: int) -> tuple[pb.MxCommandRequest, pb.MxCommand]:
        request = pb.MxCommandRequest(session_id=self._session_id)
        command = request.command
        command.kind = kind  # type: ignore[assignment]
        return request, command

    async def _call(self, request: pb.MxCommandRequest, timeout: Timeout) -> pb.MxCommandReply:
        if self._closed:
            raise MxGatewaySessionClosedError(f"session {self.session_id} is closed", method="Invoke")
        kind = request.command.kind
        if kind in EVENT_KINDS and not self._events_refused:
            await self._events_ready(request.session_id)
        if self._book.stale_servers:
            self._book.check(request)
        transport = self._transport
        generation = transport.generation
        failure: MxGatewayError | None = None
        try:
            reply: pb.MxCommandReply = await self._invoke_rpc(
                request,
                timeout=self._default_timeout if isinstance(timeout, UseClientDefault) else timeout,
                metadata=self._metadata,
            )
        except asyncio.CancelledError:
            # grpc.aio raises CancelledError into a call whose channel was closed under it.
            # Only a task known not to be cancelled itself may read it as that.
            if surely_not_cancelled():
                if transport.closed:
                    raise MxGatewayClosedError(
                        "the client closed while the command was in flight", method="Invoke"
                    ) from None
                if transport.generation != generation:
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
                raise lost_error(request.session_id, failure, recovers=self._recovery.enabled)
            raise failure from failure.__cause__
        code = reply.protocol_status.code
        if code not in _OK_CODES:
            if code == _SESSION_NOT_FOUND and not self._closed:
                raise lost_error(
                    request.session_id,
                    error_for_protocol_status(
                        reply.protocol_status, method="Invoke", reply=reply, secrets=self._secrets
                    ),
                    recovers=self._recovery.enabled,
                )
            check_protocol_status(reply, method="Invoke", secrets=self._secrets)
        return reply

    async def _events_ready(self, session_id: str) -> None:
        """Make sure the stream is attached to ``session_id`` before a command can raise an event there.

        Attaching to a new session is live-only (it has nothing to resume from), so
        an event a command raised before the stream got there would be missed.
        """
        state = self._state
        if session_id != state.session_id:
            return  # a replaced session: the gateway answers the command lost
        pump = self._pump
        if pump.attached_to(state.epoch):
            return
        try:
            await pump.ensure_attached()
        except (MxGatewayPermissionError, MxGatewayAuthenticationError) as exc:
            if pump.has_attached:
                raise
            # A key without events:read may still command; it just sees no events.
            self._events_refused = True
            _log.warning("session %s: events are not available: %s", session_id, exc)

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
                raise_for_mxaccess_failure(reply, secrets=self._secrets)
        return reply

    async def _run_write(
        self, request: pb.MxCommandRequest, timeout: Timeout, field: str
    ) -> pb.MxCommandReply:
        """Send a write nobody waits on, holding its items' places in their lines of outcomes."""
        if not self._events_refused and not self._closed:
            await self._events_ready(request.session_id)
        if not self._pump.attached_to(self._state.epoch):  # no stream: no outcome will come to pair
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

    # ------------------------------------------------------------------ losing and recovering

    def _recovers(self) -> bool:
        return self._recovery.enabled and not self._closed

    async def _await_recovery(self, error: MxGatewaySessionLostError) -> None:
        """A command found the session lost: wait until it is replaced (or raise ``error``)."""
        if not self._recovers():
            raise error
        current = self._state.current
        if error.old_session_id and error.old_session_id != current.session_id:
            return  # replaced meanwhile
        await self._recovery.replace(current, error.message)

    def _recovery_in_flight(self) -> bool:
        return self._recovery.in_flight

    async def _replace_session(self, lost: Binding[Any], why: str) -> Binding[Any]:
        return await self._recovery.replace(lost, why)

    def _replaced(self, old: Binding[TagTables], new: Binding[TagTables]) -> None:
        """A new session replaced ``old``: its handles are dead; the stream moves over."""
        self._book.replaced(old)
        pump = self._pump
        if pump.running:
            pump.retarget()
        elif pump.has_attached:
            pump.start()  # the stream had attached: it attaches to the new session at once
        else:
            self._state.move(ConnectionState.IDLE, f"new session {new.session_id} replaced {old.session_id}")

    def _moved(self) -> None:
        """The connection failed over: calls and the stream use the new channel."""
        self._bind_transport()
        self._pump.retarget()

    def _fail_over(self, generation: int | None = None) -> bool:
        return self._transport.fail_over(generation)

    def _connection_generation(self) -> int:
        return self._transport.generation

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
            raise MxGatewaySessionClosedError(f"session {self.session_id} is closed", method="StreamEvents")
        if after_worker_sequence < 0:
            raise ValueError(f"after_worker_sequence must not be negative, not {after_worker_sequence}")
        consumer = self._pump.add_consumer(
            after_worker_sequence=after_worker_sequence or None, from_cursor=not after_worker_sequence
        )
        from mxgateway._events.stream import EventStream

        return EventStream(self._pump, consumer, opened=self._ensure_open)

    async def _ensure_open(self) -> None:
        """Open a lazily opened session (a ``Client``) before its stream attaches or its tables are used."""
        if self._closed:
            raise MxGatewaySessionClosedError(f"session {self.session_id} is closed", method="StreamEvents")

    def _open_event_call(self, session_id: str, after: int) -> StreamCall:
        return self._transport.open_events_call(session_id, after)

    def _new_subscription(self, tags: list[str], supervisory: bool) -> Subscription:
        if self._closed:
            raise MxGatewaySessionClosedError(f"session {self.session_id} is closed", method="Invoke")
        from mxgateway._session.subscription import Subscription

        return Subscription(self._tag_port, self._pump, tags, supervisory=supervisory)
