"""``GatewayClient``: the connection to an MXAccess Gateway and its raw RPCs.

``async with GatewayClient.connect(endpoint, api_key=...) as client`` (or
``client = await GatewayClient.connect(...)``) gives a client; ``open_session``
gives a ``Session`` the same two ways. The ``*_raw`` methods return the generated messages: they
raise typed errors for gateway failures but never interpret MXAccess outcomes.
"""

from __future__ import annotations

import functools
import logging
import weakref
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

import grpc
import grpc.aio

from mxgateway._model.checks import checked
from mxgateway._model.scopes import INVOKE_WRITE
from mxgateway._transport.client_base import ClientBase
from mxgateway._transport.connection import CLOSE_TIMEOUT_S, GatewayTransport, ReleasedSession
from mxgateway._transport.connector import Connector
from mxgateway._transport.streams import LazyStream, RawEventStream
from mxgateway._version import GATEWAY_PROTOCOL_VERSION
from mxgateway.errors import check_protocol_status
from mxgateway.generated import mxaccess_gateway_pb2 as pb
from mxgateway.options import USE_CLIENT_DEFAULT, ClientOptions, Timeout

if TYPE_CHECKING:
    # Imported where used: sessions (the event pump, results, commands) and alarms
    # are half of the package, and `from mxgateway import GatewayClient` need not load them.
    from mxgateway._alarms.feed import AlarmFeed
    from mxgateway._alarms.model import Alarm
    from mxgateway._alarms.streams import AlarmStream, RawAlarmStream
    from mxgateway._model.display import ResultList
    from mxgateway._session.session import Session

__all__ = ["GatewayClient"]

AlarmReaderT = TypeVar("AlarmReaderT", "RawAlarmStream", "AlarmStream", "AlarmFeed")

_log = logging.getLogger("mxgateway.client")


class GatewayClient(ClientBase):
    """A connection to one MXAccess Gateway (the channel connects on first use).

    Build it with ``GatewayClient.connect(...)``, or directly from ``ClientOptions``
    inside a running event loop. Pass ``channel`` to share an existing channel
    (the client then leaves it open on ``close()``).
    """

    def __init__(
        self, options: ClientOptions | None = None, *, channel: grpc.aio.Channel | None = None
    ) -> None:
        transport = GatewayTransport(options if options is not None else ClientOptions(), channel)
        super().__init__(transport.options)
        self._transport = transport
        # Weak: a raw stream dropped after ``break`` must be collectable (its
        # finaliser cancels the call); close() cancels the ones still alive.
        self._streams: weakref.WeakSet[LazyStream[pb.MxEvent]] = weakref.WeakSet()
        #: Alarm streams and feeds handed out: closed before the channel, or it waits for them.
        self._alarm_readers: weakref.WeakSet[RawAlarmStream | AlarmStream | AlarmFeed] = weakref.WeakSet()

    @property
    def channel(self) -> grpc.aio.Channel:
        """The gRPC channel (share it with other clients of the same gateway)."""
        return self._transport.channel

    @property
    def transport(self) -> GatewayTransport:
        """The connection as sessions use it (for session types built on this client; async only)."""
        return self._transport

    # ------------------------------------------------------------------ sessions

    @checked
    async def open_session_raw(
        self,
        client_session_name: str = "",
        *,
        client_correlation_id: str = "",
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> pb.OpenSessionReply:
        """OpenSession: the reply as is (a failed protocol status raises the typed error)."""
        return await self._transport.open_session(
            client_session_name, client_correlation_id=client_correlation_id, timeout=timeout
        )

    @checked
    def open_session(
        self,
        client_session_name: str = "",
        *,
        client_correlation_id: str = "",
        timeout: Timeout = USE_CLIENT_DEFAULT,
        recover: bool | None = None,
    ) -> Connector[Session]:
        """Open a session (one MXAccess worker on the gateway); close it when done.

        ``session = await client.open_session()``, or
        ``async with client.open_session() as session:`` to close it on exit
        (also when the block raises or is cancelled). ``recover`` (None:
        ``ClientOptions.recover_sessions``) lets its tag-level API continue on a
        new session when the gateway loses this one.
        """
        return Connector(
            functools.partial(
                self._open_session,
                client_session_name,
                client_correlation_id=client_correlation_id,
                timeout=timeout,
                recover=recover,
            )
        )

    async def _open_session(
        self, client_session_name: str, *, client_correlation_id: str, timeout: Timeout, recover: bool | None
    ) -> Session:
        reply = await self.open_session_raw(
            client_session_name, client_correlation_id=client_correlation_id, timeout=timeout
        )
        version = reply.gateway_protocol_version
        if version and version != GATEWAY_PROTOCOL_VERSION:
            _log.warning(
                "gateway speaks protocol %d, these bindings target %d", version, GATEWAY_PROTOCOL_VERSION
            )
        from mxgateway._session.session import Session

        return Session(self._transport, reply, client_session_name=client_session_name, recover=recover)

    @checked
    def attach_session(
        self, session_id: str, *, client_session_name: str = "", recover: bool = False
    ) -> Session:
        """A ``Session`` for an existing session id (opened by another client or process).

        Its handles belong to whoever opened it, so by default it is not replaced
        when the gateway loses it (``recover``).
        """
        self._transport.check_open("OpenSession")
        from mxgateway._session.session import Session

        return Session(
            self._transport,
            pb.OpenSessionReply(session_id=session_id),
            client_session_name=client_session_name,
            recover=recover,
            fresh=False,
        )

    @checked
    async def close_session_raw(
        self, session_id: str, *, client_correlation_id: str = "", timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> pb.CloseSessionReply:
        """CloseSession: the reply as is; closing twice is not an error."""
        self._transport.check_open("CloseSession")
        return await self._transport.close_session(
            session_id, client_correlation_id=client_correlation_id, timeout=timeout
        )

    # ------------------------------------------------------------------ commands and events

    @checked
    async def invoke_raw(
        self, request: pb.MxCommandRequest, *, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> pb.MxCommandReply:
        """Invoke: the reply as is. Gateway failures raise; MXAccess failures do not."""
        transport = self._transport
        transport.check_open("Invoke")
        reply = await transport.unary(transport.invoke, request, method="Invoke", timeout=timeout)
        check_protocol_status(reply, method="Invoke", secrets=transport.secrets)
        return reply

    @checked
    def stream_events_raw(self, session_id: str, *, after_worker_sequence: int = 0) -> RawEventStream:
        """StreamEvents: the generated ``MxEvent`` messages (the call starts on first use)."""
        self._transport.check_open("StreamEvents")
        stream = RawEventStream(
            self._transport.events_opener(session_id),
            after_worker_sequence=after_worker_sequence,
            secrets=self._transport.secrets,
            on_close=self._streams.discard,
        )
        self._streams.add(stream)
        return stream

    # ------------------------------------------------------------------ closing

    def _closing(self) -> list[Coroutine[Any, Any, None]]:
        transport = self._transport
        transport.closed = True
        streams = [stream.aclose() for stream in [*self._streams, *self._alarm_readers]]
        # Each session is marked closed now; closing them on the gateway is awaited, and
        # so are sessions still opening (they close themselves on seeing the client closed).
        closes = [self._close_released(released) for released in transport.release_sessions()]
        return [*streams, *closes, transport.settle_opens(CLOSE_TIMEOUT_S), transport.settle_retired(1.0)]

    async def _close_released(self, released: ReleasedSession) -> None:
        # A recovery in flight may be about to replace the session: close that one.
        await self._transport.close_quietly(await released.final_id(CLOSE_TIMEOUT_S), "the client closed")

    def _owned_channel(self) -> grpc.aio.Channel | None:
        transport = self._transport
        return transport.channel if transport.owns_channel else None

    # ------------------------------------------------------------------ alarms (no session needed)

    @checked
    async def query_active_alarms_raw(
        self, prefix: str = "", *, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> list[pb.ActiveAlarmSnapshot]:
        """QueryActiveAlarms: the generated snapshots of the active set whose reference starts with ``prefix``."""
        return await self._transport.query_active_alarms_raw(prefix, timeout=timeout)

    @checked
    async def active_alarms(
        self, prefix: str = "", *, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> ResultList[Alarm]:
        """The active set (active, or cleared and unacknowledged alarms) whose reference starts with ``prefix``."""
        from mxgateway._alarms.model import alarm_from_proto
        from mxgateway._model.display import ResultList

        found = await self.query_active_alarms_raw(prefix, timeout=timeout)
        return ResultList(alarm_from_proto(s) for s in found)

    @checked
    async def acknowledge_alarm_raw(
        self,
        reference: str,
        *,
        comment: str = "",
        operator: str = "",
        operator_node: str = "",
        operator_domain: str = "",
        operator_full_name: str = "",
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> pb.AcknowledgeAlarmReply:
        """AcknowledgeAlarm: the reply as is (gRPC failures raise; a failed status does not)."""
        transport = self._transport
        transport.check_open("AcknowledgeAlarm")
        request = pb.AcknowledgeAlarmRequest(
            alarm_full_reference=reference,
            comment=comment,
            operator_user=operator,
            operator_node=operator_node,
            operator_domain=operator_domain,
            operator_full_name=operator_full_name,
        )
        # Never retried: an acknowledgement is a write.
        return await transport.unary(
            transport.stub.AcknowledgeAlarm,
            request,
            method="AcknowledgeAlarm",
            scope=INVOKE_WRITE,
            timeout=timeout,
            hint=False,
        )

    @checked
    async def acknowledge_alarm(
        self,
        reference: str,
        *,
        comment: str = "",
        operator: str = "",
        operator_node: str = "",
        operator_domain: str = "",
        operator_full_name: str = "",
        timeout: Timeout = USE_CLIENT_DEFAULT,
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
        from mxgateway._alarms.acknowledge import raise_for_acknowledge_reply

        raise_for_acknowledge_reply(reply, reference, secrets=self._transport.secrets)

    async def _alarm_transport(self) -> GatewayTransport:
        return self._transport

    @checked
    def stream_alarms_raw(self, prefix: str = "") -> RawAlarmStream:
        """StreamAlarms: the generated feed messages of one call (starts on first use; no reconnect)."""
        self._transport.check_open("StreamAlarms")
        from mxgateway._alarms.streams import RawAlarmStream

        return self._tracked(RawAlarmStream(self._alarm_transport, prefix))

    @checked
    def stream_alarms(self, prefix: str = "") -> AlarmStream:
        """StreamAlarms as typed items, in the feed's order (one call; no reconnect).

        The snapshot's ``Alarm``s, ``AlarmSnapshotComplete``, ``AlarmProviderStatus``,
        then ``AlarmTransition``s.
        """
        self._transport.check_open("StreamAlarms")
        from mxgateway._alarms.streams import AlarmStream

        return self._tracked(AlarmStream(self._alarm_transport, prefix))

    @checked
    def alarm_feed(self, prefix: str = "", *, queue_size: int = 32_768) -> AlarmFeed:
        """An ``AlarmFeed``: the active set kept right across reconnects, and its transitions."""
        self._transport.check_open("StreamAlarms")
        from mxgateway._alarms.feed import AlarmFeed

        return self._tracked(AlarmFeed(self._alarm_transport, prefix, queue_size=queue_size))

    def _tracked(self, reader: AlarmReaderT) -> AlarmReaderT:
        self._alarm_readers.add(reader)
        return reader
