"""``GatewayTransport``: one gateway connection as its client and sessions use it.

A ``GatewayClient`` builds one and hands it to every ``Session`` it opens (a lazy
``Client`` gets it from ``GatewayClient.transport``). It holds the channel, the
call metadata and the endpoint list, and it is the only place that knows which
channel is current: a fail-over replaces the channel here and tells every
registered session to take the new ``invoke`` callable. Sessions cache that
callable, so the per-call path reads no attribute chains.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import grpc
import grpc.aio

from mxgateway._model.scopes import EVENTS_READ, SESSION_CLOSE, SESSION_OPEN
from mxgateway._transport.channel import call_metadata, create_channel
from mxgateway._transport.hints import add_hint
from mxgateway._transport.streams import AlarmCall, StreamCall, StreamOpener, surely_not_cancelled, wait_event
from mxgateway._transport.unary import UnaryCaller
from mxgateway.errors import (
    MxGatewayClosedError,
    MxGatewayError,
    MxGatewayUnavailableError,
    check_protocol_status,
    map_rpc_error,
)
from mxgateway.generated import mxaccess_gateway_pb2 as pb
from mxgateway.generated import mxaccess_gateway_pb2_grpc as pb_grpc
from mxgateway.options import USE_CLIENT_DEFAULT, ClientOptions, Timeout, UseClientDefault

__all__ = ["GatewayTransport", "InvokeRpc"]

_log = logging.getLogger("mxgateway.client")
#: How long a retired channel's calls may run on after a fail-over (when the client sets no deadline).
_RETIRED_CHANNEL_GRACE_S = 30.0
#: How long closing a session as part of closing a client or session may take.
CLOSE_TIMEOUT_S = 5.0

#: The Invoke RPC of the current channel: ``invoke(request, timeout=..., metadata=...)``.
InvokeRpc = grpc.aio.UnaryUnaryMultiCallable[pb.MxCommandRequest, pb.MxCommandReply]


@dataclass(slots=True)
class _Registration:
    """A session bound to the transport, the gateway session it stands for now, and what to tell it."""

    session_id: str
    moved: Callable[[], None]
    closed: Callable[[], None]
    settle: Callable[[float], Awaitable[str]] | None = None


@dataclass(frozen=True, slots=True)
class ReleasedSession:
    """A session the closing client unbound: close ``await final_id(timeout)`` on the gateway.

    A recovery in flight may replace the session while the client closes; the final
    id is the one it ends up with, so that the replacement is closed too.
    """

    session_id: str
    settle: Callable[[float], Awaitable[str]] | None

    async def final_id(self, timeout: float) -> str:
        """The id to close, once a recovery in flight (bounded by ``timeout``) has settled."""
        return self.session_id if self.settle is None else await self.settle(timeout)


class GatewayTransport:
    """The connection a ``GatewayClient`` shares with its sessions.

    It opens and closes gateway sessions, starts event and alarm calls, moves to
    the next endpoint on ``fail_over()``, and keeps the sessions bound to it so
    that closing the client closes them.
    """

    def __init__(self, options: ClientOptions, channel: grpc.aio.Channel | None = None) -> None:
        self.options = options
        self.metadata = call_metadata(options)
        self.secrets: tuple[str, ...] = (options.api_key,) if options.api_key else ()
        self.default_timeout = options.default_timeout
        #: False for a channel the caller shared: it is left open and never replaced.
        self.owns_channel = channel is None
        self.closed = False
        self._endpoints = options.endpoints
        self._endpoint_index = 0
        #: Which connection is current: every fail-over starts a new generation.
        self.generation = 0
        self.channel = channel if channel is not None else self._new_channel()
        self.stub = pb_grpc.MxAccessGatewayStub(self.channel)
        self.invoke: InvokeRpc = self.stub.Invoke
        #: Unary calls with this connection's deadline, metadata and error mapping.
        # Through a weak reference: the caller must not keep the transport (and its
        # channel) alive, or a dropped client would wait for the cycle collector.
        this = weakref.ref(self)
        self.unary = UnaryCaller(options, self.metadata, closing=lambda: _closed(this))
        #: True once a session opened: the gateway was reached (see ``close_session``).
        self._reached = False
        #: OpenSession calls in flight: closing waits for them (``settle_opens``).
        self._opens = 0
        self._opens_done = asyncio.Event()
        self._sessions: dict[object, _Registration] = {}
        #: Channels a fail-over retired, each closing with a grace for the calls it carries.
        self._retired_channels: dict[grpc.aio.Channel, asyncio.Task[None]] = {}

    def _new_channel(self) -> grpc.aio.Channel:
        options = self.options
        if len(self._endpoints) > 1:
            options = options.replace(endpoint=self._endpoints[self._endpoint_index])
        return create_channel(options)

    @property
    def endpoint(self) -> str:
        """The endpoint the current channel connects to."""
        return self._endpoints[self._endpoint_index]

    def check_open(self, method: str) -> None:
        """Raise ``MxGatewayClosedError`` once the client closed."""
        if self.closed:
            raise MxGatewayClosedError("the client is closed", method=method)

    def fail_over(self, generation: int | None = None) -> bool:
        """Move to the next endpoint of the list (sessions rebind); False when there is none.

        ``generation`` is the connection the caller's failures were seen on: when
        another caller already moved on from it, the client stays where it is (True),
        so sessions failing together move it once and never back to a dead primary.
        """
        if self.closed or not self.owns_channel or len(self._endpoints) < 2:
            return False
        if generation is not None and generation != self.generation:
            return True
        previous = self.endpoint
        self._endpoint_index = (self._endpoint_index + 1) % len(self._endpoints)
        old_channel = self.channel
        self.channel = self._new_channel()
        self.stub = pb_grpc.MxAccessGatewayStub(self.channel)
        self.invoke = self.stub.Invoke
        self.generation += 1
        for registration in list(self._sessions.values()):
            registration.moved()
        # Calls still on the old channel end by themselves (their deadline at the latest);
        # closing it under them would raise CancelledError into callers nobody cancelled.
        grace = self.default_timeout if self.default_timeout is not None else _RETIRED_CHANNEL_GRACE_S
        task = asyncio.get_running_loop().create_task(old_channel.close(grace))
        self._retired_channels[old_channel] = task
        task.add_done_callback(lambda _: self._retired_channels.pop(old_channel, None))
        _log.info("gateway %s unreachable; failing over to %s", previous, self.endpoint)
        return True

    # ------------------------------------------------------------------ the sessions bound to it

    def register(
        self,
        session_id: str,
        owner: object,
        *,
        moved: Callable[[], None],
        closed: Callable[[], None],
        settle: Callable[[float], Awaitable[str]] | None = None,
    ) -> None:
        """Bind ``owner`` (a session): ``moved()`` after a fail-over, ``closed()`` when the client closes.

        ``settle(timeout)`` waits for a recovery in flight and gives the session's id
        then. Keyed by owner: two sessions of one id (``attach_session`` twice) are both
        closed with the client.
        """
        self._sessions[owner] = _Registration(session_id, moved, closed, settle)

    def forget(self, owner: object) -> None:
        """``owner`` no longer uses its session (closed or detached)."""
        self._sessions.pop(owner, None)

    def rekey(self, owner: object, new_session_id: str) -> None:
        """``owner`` now stands for a new gateway session (it recovered)."""
        registration = self._sessions.get(owner)
        if registration is not None:
            registration.session_id = new_session_id

    def release_sessions(self) -> list[ReleasedSession]:
        """Mark every bound session closed and unbind it: what to close on the gateway."""
        registrations = list(self._sessions.values())
        self._sessions.clear()
        for registration in registrations:
            registration.closed()
        return [
            ReleasedSession(registration.session_id, registration.settle) for registration in registrations
        ]

    async def settle_retired(self, grace: float) -> None:
        """Let the calls on channels a fail-over retired end (at most ``grace`` s), then close those channels."""
        retired = dict(self._retired_channels)
        if retired:
            await asyncio.wait(set(retired.values()), timeout=grace)
            for channel, closing in retired.items():
                if not closing.done():
                    await channel.close(None)

    # ------------------------------------------------------------------ calls

    async def open_session(
        self,
        client_session_name: str = "",
        *,
        client_correlation_id: str = "",
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> pb.OpenSessionReply:
        """OpenSession, failing over when the gateway is unreachable (a failed status raises).

        A session that opens after the client began to close is closed again at once
        (``MxGatewayClosedError``): the client's close waits for these calls.
        """
        self.check_open("OpenSession")
        self._opens += 1
        self._opens_done.clear()
        try:
            reply = await self._open(client_session_name, client_correlation_id, timeout)
            if self.closed:
                await self.close_quietly(reply.session_id, "it opened while the client closed")
                raise MxGatewayClosedError("the client closed while the session opened", method="OpenSession")
        finally:
            self._opens -= 1
            if not self._opens:
                self._opens_done.set()
        self._reached = True
        _log.info("opened session %s (%s) on %s", reply.session_id, client_session_name, self.endpoint)
        return reply

    async def _open(
        self, client_session_name: str, client_correlation_id: str, timeout: Timeout
    ) -> pb.OpenSessionReply:
        request = pb.OpenSessionRequest(
            client_session_name=client_session_name, client_correlation_id=client_correlation_id
        )
        # An unreachable gateway never saw the request: try the next endpoint, if any. One
        # attempt more for a session that opened on a channel a fail-over retired meanwhile.
        attempts = len(self._endpoints) + (1 if len(self._endpoints) > 1 else 0)
        for attempt in range(attempts):
            generation = self.generation
            stub = self.stub
            last = attempt == attempts - 1
            try:
                reply: pb.OpenSessionReply = await self.unary(
                    stub.OpenSession,
                    request,
                    method="OpenSession",
                    scope=SESSION_OPEN,
                    timeout=timeout,
                    hint=False,
                )
            except asyncio.CancelledError:
                # grpc.aio cancels the calls of a channel a fail-over closed (another
                # session moved the client on): only a task known not to be cancelled may say so.
                if generation == self.generation or not surely_not_cancelled():
                    raise
                if last:
                    raise MxGatewayUnavailableError(
                        "the connection moved to the next gateway while the session opened",
                        method="OpenSession",
                    ) from None
                continue
            except MxGatewayError as error:
                if (
                    last
                    or error.grpc_code is not grpc.StatusCode.UNAVAILABLE
                    or not self.fail_over(generation)
                ):
                    add_hint(error, self.options)
                    raise
                continue
            if generation != self.generation and not last and not self.closed:
                # Opened on the gateway the client moved away from meanwhile: close it
                # there (its channel lingers for its calls) and open on the current one.
                await self.close_quietly(
                    reply.session_id, "it opened through a channel a fail-over retired", stub
                )
                continue
            break
        check_protocol_status(reply, method="OpenSession", secrets=self.secrets)
        return reply

    async def close_quietly(
        self, session_id: str, why: str, stub: pb_grpc.MxAccessGatewayAsyncStub | None = None
    ) -> None:
        """Close a session nobody uses any more, best effort (``why`` goes to the log).

        Gone already, unreachable, or the channel closed under it: the gateway ends
        the session when its lease expires. ``stub``: a retired channel's, where it lives.
        """
        try:
            if stub is None:
                await self.close_session(session_id, timeout=CLOSE_TIMEOUT_S)
            else:
                closed: pb.CloseSessionReply = await self.unary(
                    stub.CloseSession,
                    pb.CloseSessionRequest(session_id=session_id),
                    method="CloseSession",
                    scope=SESSION_CLOSE,
                    timeout=CLOSE_TIMEOUT_S,
                    hint=False,
                )
                session_id = closed.session_id or session_id
        except (MxGatewayError, grpc.aio.UsageError) as exc:
            _log.debug("closing session %s (%s): %s", session_id, why, exc)
            return
        _log.info("closed session %s: %s", session_id, why)

    async def settle_opens(self, timeout: float) -> None:
        """Wait (bounded) until no OpenSession is in flight (the client is closing)."""
        if self._opens:
            await wait_event(self._opens_done, timeout)

    async def close_session(
        self, session_id: str, *, client_correlation_id: str = "", timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> pb.CloseSessionReply:
        """CloseSession (also while the client closes): the reply; a failed status raises.

        Right after an outage the channel may still be in its reconnect back-off, where
        a call fails at once, and the session would live on until its lease: once the
        gateway was reached, the close waits for the connection (one back-off step at
        most) instead.
        """
        request = pb.CloseSessionRequest(session_id=session_id, client_correlation_id=client_correlation_id)
        wait_for_ready = None
        if self._reached:
            wait_for_ready = True
            patience = max(self.options.reconnect.max_backoff_s + 1.0, 3.0)
            deadline = self.default_timeout if isinstance(timeout, UseClientDefault) else timeout
            timeout = patience if deadline is None else min(deadline, patience)
        reply: pb.CloseSessionReply = await self.unary(
            self.stub.CloseSession,
            request,
            method="CloseSession",
            scope=SESSION_CLOSE,
            timeout=timeout,
            hint=False,
            wait_for_ready=wait_for_ready,
        )
        check_protocol_status(reply, method="CloseSession", secrets=self.secrets)
        return reply

    def open_events_call(self, session_id: str, after_worker_sequence: int) -> StreamCall:
        """Start a StreamEvents call on the current channel (a session's event pump)."""
        self.check_open("StreamEvents")
        request = pb.StreamEventsRequest(session_id=session_id, after_worker_sequence=after_worker_sequence)
        # No deadline: an event stream lives as long as its session.
        call: StreamCall = self.stub.StreamEvents(request, metadata=self.metadata)
        return call

    def events_opener(self, session_id: str) -> StreamOpener:
        """What a raw event stream calls to start (and restart) its StreamEvents call."""

        def open_stream(after_worker_sequence: int) -> StreamCall:
            return self.open_events_call(session_id, after_worker_sequence)

        return open_stream

    def open_alarm_call(self, prefix: str = "") -> AlarmCall:
        """Start a StreamAlarms call (no deadline)."""
        self.check_open("StreamAlarms")
        request = pb.StreamAlarmsRequest(alarm_filter_prefix=prefix)
        call: AlarmCall = self.stub.StreamAlarms(request, metadata=self.metadata)
        return call

    async def query_active_alarms_raw(
        self, prefix: str = "", *, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> list[pb.ActiveAlarmSnapshot]:
        """QueryActiveAlarms: the generated snapshots of the active set under ``prefix``."""
        self.check_open("QueryActiveAlarms")
        request = pb.QueryActiveAlarmsRequest(alarm_filter_prefix=prefix)
        call = self.stub.QueryActiveAlarms(
            request,
            timeout=self.default_timeout if isinstance(timeout, UseClientDefault) else timeout,
            metadata=self.metadata,
        )
        failure: grpc.aio.AioRpcError | None = None
        try:
            return [snapshot async for snapshot in call]
        except grpc.aio.AioRpcError as exc:
            failure = exc
        # Raised out here, not in the except block: the raw error, which may hold what
        # the gateway echoed (a key included), must not become __context__.
        error = map_rpc_error(failure, method="QueryActiveAlarms", scope=EVENTS_READ, secrets=self.secrets)
        raise error from error.__cause__


def _closed(transport: weakref.ref[GatewayTransport]) -> bool:
    """True when the transport closed (or is gone)."""
    alive = transport()
    return alive is None or alive.closed
