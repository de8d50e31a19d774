"""``GatewayClient``: the connection to an MXAccess Gateway and its raw RPCs.

``async with GatewayClient.connect(endpoint, api_key=...) as client`` (or
``client = await GatewayClient.connect(...)``) gives a client; ``open_session``
returns a ``Session``. The ``*_raw`` methods return the generated messages: they
raise typed errors for gateway failures but never interpret MXAccess outcomes.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import grpc
import grpc.aio

from mxgateway._version import GATEWAY_PROTOCOL_VERSION
from mxgateway.channel import call_metadata, create_channel
from mxgateway.connector import Connector, client_connector
from mxgateway.endpoints import EmbeddedGateway
from mxgateway.errors import MxGatewayClosedError, MxGatewayError, check_protocol_status, map_rpc_error
from mxgateway.generated import mxaccess_gateway_pb2 as pb
from mxgateway.generated import mxaccess_gateway_pb2_grpc as pb_grpc
from mxgateway.hints import add_hint
from mxgateway.options import ClientOptions, join_endpoints, resolve_options
from mxgateway.raw_stream import RawEventStream, StreamBase, StreamCall, StreamOpener

if TYPE_CHECKING:
    # Imported where used: sessions (the event pump, results, commands) and alarms
    # are half of the package, and `from mxgateway import GatewayClient` need not load them.
    from mxgateway.alarm_feed import AlarmFeed
    from mxgateway.alarm_streams import AlarmCall, AlarmStream, RawAlarmStream
    from mxgateway.alarms import Alarm
    from mxgateway.session import Session

__all__ = ["GatewayClient"]

_log = logging.getLogger("mxgateway.client")
#: How long ``close()`` gives each open session to close on the gateway.
_CLOSE_TIMEOUT_S = 5.0


class GatewayClient:
    """A connection to one MXAccess Gateway (the channel connects on first use).

    Build it with ``GatewayClient.connect(...)``, or directly from ``ClientOptions``
    inside a running event loop. Pass ``channel`` to share an existing channel
    (the client then leaves it open on ``close()``).
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
        self._endpoints = self._options.endpoints
        self._endpoint_index = 0
        self._channel = channel if channel is not None else self._new_channel()
        self._stub = pb_grpc.MxAccessGatewayStub(self._channel)
        self._retired_channels: set[asyncio.Task[None]] = set()
        self._sessions: dict[str, Session] = {}
        # Weak: a raw stream dropped after ``break`` must be collectable (its
        # finaliser cancels the call); close() cancels the ones still alive.
        self._streams: weakref.WeakSet[StreamBase] = weakref.WeakSet()
        self._closed = False

    def _new_channel(self) -> grpc.aio.Channel:
        options = self._options
        if len(self._endpoints) > 1:
            options = options.replace(endpoint=self._endpoints[self._endpoint_index])
        return create_channel(options)

    @property
    def _endpoint(self) -> str:
        return self._endpoints[self._endpoint_index]

    def _fail_over(self) -> bool:
        """Move to the next endpoint of the list (sessions rebind); False when there is none."""
        if self._closed or not self._owns_channel or len(self._endpoints) < 2:
            return False
        previous = self._endpoint
        self._endpoint_index = (self._endpoint_index + 1) % len(self._endpoints)
        old_channel = self._channel
        self._channel = self._new_channel()
        self._stub = pb_grpc.MxAccessGatewayStub(self._channel)
        for session in list(self._sessions.values()):
            session._bind_transport()
        # Calls still on the old channel are failing anyway; close it without waiting.
        task = asyncio.get_running_loop().create_task(old_channel.close(None))
        self._retired_channels.add(task)
        task.add_done_callback(self._retired_channels.discard)
        _log.info("gateway %s unreachable; failing over to %s", previous, self._endpoint)
        return True

    @classmethod
    def connect(
        cls,
        endpoint: str = "",
        *,
        endpoints: Sequence[str] | None = None,
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
    ) -> Connector[GatewayClient]:
        """Connect to a gateway: ``await`` the result, or use it with ``async with``.

        Keywords given (not None) override ``options`` (default: ``ClientOptions()``,
        which reads ``MXGATEWAY_ENDPOINT`` and ``MXGATEWAY_API_KEY``). ``endpoints``
        lists gateways to fail over to, in order (the same as a comma list in
        ``endpoint``).
        """
        resolved = resolve_options(
            options,
            endpoint=join_endpoints(endpoint, endpoints),
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
        return f"GatewayClient(endpoint={self._options.endpoint!r}, api_key={key}, {state})"

    @property
    def options(self) -> ClientOptions:
        """The options the client was built with."""
        return self._options

    @property
    def channel(self) -> grpc.aio.Channel:
        """The gRPC channel (share it with other clients of the same gateway)."""
        return self._channel

    @property
    def closed(self) -> bool:
        """True once ``close()`` was called."""
        return self._closed

    async def __aenter__(self) -> GatewayClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def _check_open(self, method: str) -> None:
        if self._closed:
            raise MxGatewayClosedError("the client is closed", method=method)

    # ------------------------------------------------------------------ sessions

    async def open_session_raw(
        self, client_session_name: str = "", *, client_correlation_id: str = "", timeout: float | None = None
    ) -> pb.OpenSessionReply:
        """OpenSession: the reply as is (a failed protocol status raises the typed error)."""
        self._check_open("OpenSession")
        request = pb.OpenSessionRequest(
            client_session_name=client_session_name, client_correlation_id=client_correlation_id
        )
        # An unreachable gateway never saw the request: try the next endpoint, if any.
        for attempt in range(len(self._endpoints)):
            try:
                reply: pb.OpenSessionReply = await self._stub.OpenSession(
                    request, timeout=timeout or self._options.default_timeout, metadata=self._metadata
                )
                break
            except grpc.aio.AioRpcError as exc:
                error = map_rpc_error(exc, method="OpenSession", scope="session:open", secrets=self._secrets)
                last = attempt == len(self._endpoints) - 1
                if last or exc.code() is not grpc.StatusCode.UNAVAILABLE or not self._fail_over():
                    add_hint(error, self._options)
                    raise error from error.__cause__
        check_protocol_status(reply, method="OpenSession")
        _log.info("opened session %s (%s) on %s", reply.session_id, client_session_name, self._endpoint)
        return reply

    async def open_session(
        self,
        client_session_name: str = "",
        *,
        client_correlation_id: str = "",
        timeout: float | None = None,
        recover: bool | None = None,
    ) -> Session:
        """Open a session (one MXAccess worker on the gateway); close it when done.

        ``recover`` (None: ``ClientOptions.recover_sessions``) lets its tag-level
        API continue on a new session when the gateway loses this one.
        """
        reply = await self.open_session_raw(
            client_session_name, client_correlation_id=client_correlation_id, timeout=timeout
        )
        version = reply.gateway_protocol_version
        if version and version != GATEWAY_PROTOCOL_VERSION:
            _log.warning(
                "gateway speaks protocol %d, these bindings target %d", version, GATEWAY_PROTOCOL_VERSION
            )
        from mxgateway.session import Session

        session = Session(self, reply, client_session_name=client_session_name, recover=recover)
        if self._closed:  # closed while opening: do not leak the session
            await self._close_quietly(reply.session_id)
            raise MxGatewayClosedError("the client was closed while the session opened", method="OpenSession")
        self._sessions[session.session_id] = session
        return session

    def attach_session(
        self, session_id: str, *, client_session_name: str = "", recover: bool = False
    ) -> Session:
        """A ``Session`` for an existing session id (opened by another client or process).

        Its handles belong to whoever opened it, so by default it is not replaced
        when the gateway loses it (``recover``).
        """
        self._check_open("OpenSession")
        from mxgateway.session import Session

        session = Session(
            self,
            pb.OpenSessionReply(session_id=session_id),
            client_session_name=client_session_name,
            recover=recover,
            fresh=False,
        )
        self._sessions[session_id] = session
        return session

    async def close_session_raw(
        self, session_id: str, *, client_correlation_id: str = "", timeout: float | None = None
    ) -> pb.CloseSessionReply:
        """CloseSession: the reply as is; closing twice is not an error."""
        self._check_open("CloseSession")
        return await self._close_session(session_id, client_correlation_id, timeout)

    async def _close_session(
        self, session_id: str, client_correlation_id: str = "", timeout: float | None = None
    ) -> pb.CloseSessionReply:
        # No closed-client check: close() itself closes the sessions through here.
        request = pb.CloseSessionRequest(session_id=session_id, client_correlation_id=client_correlation_id)
        try:
            reply: pb.CloseSessionReply = await self._stub.CloseSession(
                request, timeout=timeout or self._options.default_timeout, metadata=self._metadata
            )
        except grpc.aio.AioRpcError as exc:
            error = map_rpc_error(exc, method="CloseSession", scope="session:close", secrets=self._secrets)
            raise error from error.__cause__
        check_protocol_status(reply, method="CloseSession")
        return reply

    def _forget(self, session: Session) -> None:
        if self._sessions.get(session.session_id) is session:
            del self._sessions[session.session_id]

    def _rekey(self, session: Session, old_session_id: str, new_session_id: str) -> None:
        """``session`` now stands for a new gateway session (it recovered)."""
        if self._sessions.get(old_session_id) is session:
            del self._sessions[old_session_id]
        self._sessions[new_session_id] = session

    # ------------------------------------------------------------------ commands and events

    async def invoke_raw(
        self, request: pb.MxCommandRequest, *, timeout: float | None = None
    ) -> pb.MxCommandReply:
        """Invoke: the reply as is. Gateway failures raise; MXAccess failures do not."""
        self._check_open("Invoke")
        try:
            reply: pb.MxCommandReply = await self._stub.Invoke(
                request, timeout=timeout or self._options.default_timeout, metadata=self._metadata
            )
        except grpc.aio.AioRpcError as exc:
            error = add_hint(map_rpc_error(exc, method="Invoke", secrets=self._secrets), self._options)
            raise error from error.__cause__
        check_protocol_status(reply, method="Invoke")
        return reply

    def _open_events_call(self, session_id: str, after_worker_sequence: int) -> StreamCall:
        """Start a StreamEvents call on the current connection (a session's event pump)."""
        self._check_open("StreamEvents")
        request = pb.StreamEventsRequest(session_id=session_id, after_worker_sequence=after_worker_sequence)
        # No deadline: an event stream lives as long as its session.
        call: StreamCall = self._stub.StreamEvents(request, metadata=self._metadata)
        return call

    def _stream_opener(self, session_id: str) -> StreamOpener:
        stream_events = self._stub.StreamEvents
        metadata = self._metadata

        def open_stream(after_worker_sequence: int) -> StreamCall:
            self._check_open("StreamEvents")
            request = pb.StreamEventsRequest(
                session_id=session_id, after_worker_sequence=after_worker_sequence
            )
            # No deadline: an event stream lives as long as its reader wants.
            call: StreamCall = stream_events(request, metadata=metadata)
            return call

        return open_stream

    def stream_events_raw(self, session_id: str, *, after_worker_sequence: int = 0) -> RawEventStream:
        """StreamEvents: the generated ``MxEvent`` messages (the call starts on first use)."""
        self._check_open("StreamEvents")
        stream = RawEventStream(
            self._stream_opener(session_id),
            after_worker_sequence=after_worker_sequence,
            secrets=self._secrets,
            on_close=self._streams.discard,
        )
        self._streams.add(stream)
        return stream

    # ------------------------------------------------------------------ closing

    async def close(self) -> None:
        """Close the sessions this client opened, cancel its streams and close the channel.

        Idempotent; after it no call of this client is pending.
        """
        if self._closed:
            return
        self._closed = True
        sessions = list(self._sessions.values())
        self._sessions.clear()
        for stream in list(self._streams):
            stream._cancel()
        for session in sessions:
            session._mark_closed()
        try:
            if sessions:
                results = await asyncio.gather(
                    *(self._close_quietly(s.session_id) for s in sessions), return_exceptions=True
                )
                for result in results:
                    if isinstance(result, BaseException) and not isinstance(result, Exception):
                        raise result
        finally:
            # Even when closing the sessions is cancelled: a second close() returns
            # at once, so this is the only chance to release the channel.
            embedded, self._embedded = self._embedded, None
            try:
                if self._owns_channel:
                    await self._channel.close(None)
            finally:
                if embedded is not None:
                    await embedded.aclose()

    async def _close_quietly(self, session_id: str) -> None:
        try:
            await self._close_session(session_id, timeout=_CLOSE_TIMEOUT_S)
        except (MxGatewayError, grpc.aio.UsageError) as exc:
            # Gone already, unreachable, or the channel closed under us: the
            # gateway ends the session when its lease expires.
            _log.debug("closing session %s while closing the client: %s", session_id, exc)

    # ------------------------------------------------------------------ alarms (no session needed)

    def open_alarm_call(self, prefix: str = "") -> AlarmCall:
        """Start a raw StreamAlarms call (no deadline); ``stream_alarms`` and ``alarm_feed`` build on it."""
        self._check_open("StreamAlarms")
        request = pb.StreamAlarmsRequest(alarm_filter_prefix=prefix)
        call: AlarmCall = self._stub.StreamAlarms(request, metadata=self._metadata)
        return call

    async def query_active_alarms_raw(
        self, prefix: str = "", *, timeout: float | None = None
    ) -> list[pb.ActiveAlarmSnapshot]:
        """QueryActiveAlarms: the generated snapshots of the active set whose reference starts with ``prefix``."""
        self._check_open("QueryActiveAlarms")
        request = pb.QueryActiveAlarmsRequest(alarm_filter_prefix=prefix)
        call = self._stub.QueryActiveAlarms(
            request, timeout=timeout or self._options.default_timeout, metadata=self._metadata
        )
        try:
            return [snapshot async for snapshot in call]
        except grpc.aio.AioRpcError as exc:
            error = map_rpc_error(exc, method="QueryActiveAlarms", scope="events:read", secrets=self._secrets)
            raise error from error.__cause__

    async def active_alarms(self, prefix: str = "", *, timeout: float | None = None) -> list[Alarm]:
        """The active set (active, or cleared and unacknowledged alarms) whose reference starts with ``prefix``."""
        from mxgateway.alarms import alarm_from_proto

        return [alarm_from_proto(s) for s in await self.query_active_alarms_raw(prefix, timeout=timeout)]

    async def acknowledge_alarm_raw(
        self,
        reference: str,
        *,
        comment: str = "",
        operator: str = "",
        operator_node: str = "",
        operator_domain: str = "",
        operator_full_name: str = "",
        timeout: float | None = None,
    ) -> pb.AcknowledgeAlarmReply:
        """AcknowledgeAlarm: the reply as is (gRPC failures raise; a failed status does not)."""
        self._check_open("AcknowledgeAlarm")
        request = pb.AcknowledgeAlarmRequest(
            alarm_full_reference=reference,
            comment=comment,
            operator_user=operator,
            operator_node=operator_node,
            operator_domain=operator_domain,
            operator_full_name=operator_full_name,
        )
        try:
            # Never retried: an acknowledgement is a write.
            reply: pb.AcknowledgeAlarmReply = await self._stub.AcknowledgeAlarm(
                request, timeout=timeout or self._options.default_timeout, metadata=self._metadata
            )
        except grpc.aio.AioRpcError as exc:
            error = map_rpc_error(exc, method="AcknowledgeAlarm", scope="invoke:write", secrets=self._secrets)
            raise error from error.__cause__
        return reply

    async def acknowledge_alarm(
        self,
        reference: str,
        *,
        comment: str = "",
        operator: str = "",
        operator_node: str = "",
        operator_domain: str = "",
        operator_full_name: str = "",
        timeout: float | None = None,
    ) -> None:
        """Acknowledge one alarm; acknowledging it again is not an error.

        An unknown reference raises ``MxGatewayAlarmNotFoundError``.
        """
        reply = await self.acknowledge_alarm_raw(
            reference,
            comment=comment,
            operator=operator,
            operator_node=operator_node,
            operator_domain=operator_domain,
            operator_full_name=operator_full_name,
            timeout=timeout,
        )
        from mxgateway.alarms import raise_for_acknowledge_reply

        raise_for_acknowledge_reply(reply, reference)

    async def _as_alarm_gateway(self) -> GatewayClient:
        return self

    def stream_alarms_raw(self, prefix: str = "") -> RawAlarmStream:
        """StreamAlarms: the generated feed messages of one call (starts on first use; no reconnect)."""
        self._check_open("StreamAlarms")
        from mxgateway.alarm_streams import RawAlarmStream

        return RawAlarmStream(self._as_alarm_gateway, prefix)

    def stream_alarms(self, prefix: str = "") -> AlarmStream:
        """StreamAlarms as typed items, in the feed's order (one call; no reconnect).

        The snapshot's ``Alarm``s, ``AlarmSnapshotComplete``, ``AlarmProviderStatus``,
        then ``AlarmTransition``s.
        """
        self._check_open("StreamAlarms")
        from mxgateway.alarm_streams import AlarmStream

        return AlarmStream(self._as_alarm_gateway, prefix)

    def alarm_feed(self, prefix: str = "", *, queue_size: int = 32_768) -> AlarmFeed:
        """An ``AlarmFeed``: the active set kept right across reconnects, and its transitions."""
        self._check_open("StreamAlarms")
        from mxgateway.alarm_feed import AlarmFeed

        return AlarmFeed(self._as_alarm_gateway, prefix, queue_size=queue_size)
