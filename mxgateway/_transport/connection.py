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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import grpc
import grpc.aio

from mxgateway._model.scopes import EVENTS_READ, SESSION_CLOSE, SESSION_OPEN
from mxgateway._transport.channel import call_metadata, create_channel
from mxgateway._transport.hints import add_hint
from mxgateway._transport.streams import AlarmCall, StreamCall, StreamOpener
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

#: The Invoke RPC of the current channel: ``invoke(request, timeout=..., metadata=...)``.
InvokeRpc = grpc.aio.UnaryUnaryMultiCallable[pb.MxCommandRequest, pb.MxCommandReply]


@dataclass(slots=True)
class _Registration:
    """A session bound to the transport, and what to tell it."""

    owner: object
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
        self.unary = UnaryCaller(options, self.metadata)
        self._sessions: dict[str, _Registration] = {}
        self._retired_channels: set[asyncio.Task[None]] = set()

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
        # Calls still on the old channel are failing anyway; close it without waiting.
        task = asyncio.get_running_loop().create_task(old_channel.close(None))
        self._retired_channels.add(task)
        task.add_done_callback(self._retired_channels.discard)
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

        ``settle(timeout)`` waits for a recovery in flight and gives the session's id then.
        """
        self._sessions[session_id] = _Registration(owner, moved, closed, settle)

    def forget(self, session_id: str, owner: object) -> None:
        """``owner`` no longer uses ``session_id`` (closed or detached)."""
        registration = self._sessions.get(session_id)
        if registration is not None and registration.owner is owner:
            del self._sessions[session_id]

    def rekey(self, owner: object, old_session_id: str, new_session_id: str) -> None:
        """``owner`` now stands for a new gateway session (it recovered)."""
        registration = self._sessions.get(old_session_id)
        if registration is None or registration.owner is not owner:
            return
        del self._sessions[old_session_id]
        self._sessions[new_session_id] = registration

    def release_sessions(self) -> list[ReleasedSession]:
        """Mark every bound session closed and unbind it: what to close on the gateway."""
        registrations = list(self._sessions.items())
        self._sessions.clear()
        for _, registration in registrations:
            registration.closed()
        return [
            ReleasedSession(session_id, registration.settle) for session_id, registration in registrations
        ]

    # ------------------------------------------------------------------ calls

    async def open_session(
        self,
        client_session_name: str = "",
        *,
        client_correlation_id: str = "",
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> pb.OpenSessionReply:
        """OpenSession, failing over when the gateway is unreachable (a failed status raises)."""
        self.check_open("OpenSession")
        request = pb.OpenSessionRequest(
            client_session_name=client_session_name, client_correlation_id=client_correlation_id
        )
        # An unreachable gateway never saw the request: try the next endpoint, if any.
        for attempt in range(len(self._endpoints)):
            generation = self.generation
            last = attempt == len(self._endpoints) - 1
            try:
                reply: pb.OpenSessionReply = await self.unary(
                    self.stub.OpenSession,
                    request,
                    method="OpenSession",
                    scope=SESSION_OPEN,
                    timeout=timeout,
                    hint=False,
                )
                break
            except asyncio.CancelledError:
                # grpc.aio cancels the calls of a channel a fail-over closed (another
                # session moved the client on): not the caller's cancellation.
                if generation == self.generation:
                    raise
                if last:
                    raise MxGatewayUnavailableError(
                        "the connection moved to the next gateway while the session opened",
                        method="OpenSession",
                    ) from None
            except MxGatewayError as error:
                if (
                    last
                    or error.grpc_code is not grpc.StatusCode.UNAVAILABLE
                    or not self.fail_over(generation)
                ):
                    add_hint(error, self.options)
                    raise
        check_protocol_status(reply, method="OpenSession")
        _log.info("opened session %s (%s) on %s", reply.session_id, client_session_name, self.endpoint)
        return reply

    async def close_session(
        self, session_id: str, *, client_correlation_id: str = "", timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> pb.CloseSessionReply:
        """CloseSession (also while the client closes): the reply; a failed status raises."""
        request = pb.CloseSessionRequest(session_id=session_id, client_correlation_id=client_correlation_id)
        reply: pb.CloseSessionReply = await self.unary(
            self.stub.CloseSession,
            request,
            method="CloseSession",
            scope=SESSION_CLOSE,
            timeout=timeout,
            hint=False,
        )
        check_protocol_status(reply, method="CloseSession")
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
        try:
            return [snapshot async for snapshot in call]
        except grpc.aio.AioRpcError as exc:
            error = map_rpc_error(exc, method="QueryActiveAlarms", scope=EVENTS_READ, secrets=self.secrets)
            raise error from error.__cause__
