"""The ``MxAccessGateway`` servicer: sessions, Invoke and StreamEvents.

An unknown (or closed) session id is answered the same way on every unary RPC:
a successful reply whose protocol status is ``SESSION_NOT_FOUND``. StreamEvents,
which has no reply message to carry it, fails with gRPC ``NOT_FOUND``.
Closing a session twice is not an error: the second close answers ``CLOSED``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import grpc.aio
from google.protobuf.timestamp_pb2 import Timestamp

from mxgateway._version import GATEWAY_PROTOCOL_VERSION
from mxgateway.generated import mxaccess_gateway_pb2 as pb
from mxgateway.generated import mxaccess_gateway_pb2_grpc as pb_grpc
from mxgateway.simulator.alarm_service import AlarmRpcs
from mxgateway.simulator.alarms import AlarmMonitor
from mxgateway.simulator.commands import CommandProcessor
from mxgateway.simulator.sessions import SessionRegistry
from mxgateway.simulator.stats import SimulatorStats

BACKEND_NAME = "simulator"
#: Production allows at most this many event subscribers per session when more than one is enabled.
MAX_EVENT_SUBSCRIBERS_LIMIT = 8
WORKER_PROTOCOL_VERSION = 1

_Context = grpc.aio.ServicerContext[object, object]


def _not_found(session_id: str) -> pb.ProtocolStatus:
    return pb.ProtocolStatus(
        code=pb.PROTOCOL_STATUS_CODE_SESSION_NOT_FOUND, message=f"session {session_id!r} not found"
    )


class MxAccessGatewayService(AlarmRpcs, pb_grpc.MxAccessGatewayServicer):
    """Serves the MXAccess side of the contract from the simulator's state."""

    def __init__(
        self,
        sessions: SessionRegistry,
        commands: CommandProcessor,
        stats: SimulatorStats,
        alarms: AlarmMonitor | None = None,
        *,
        max_event_subscribers: int = 1,
    ) -> None:
        self.alarm_monitor = alarms
        self._sessions = sessions
        self._commands = commands
        self._stats = stats
        self._max_subscribers = max_event_subscribers

    async def OpenSession(self, request: pb.OpenSessionRequest, context: _Context) -> pb.OpenSessionReply:
        """Open a READY session with a fresh lease."""
        session = self._sessions.open(request.client_session_name)
        lease = Timestamp()
        lease.FromNanoseconds(session.lease_expires_at_ns())
        return pb.OpenSessionReply(
            session_id=session.session_id,
            backend_name=BACKEND_NAME,
            gateway_protocol_version=GATEWAY_PROTOCOL_VERSION,
            worker_protocol_version=WORKER_PROTOCOL_VERSION,
            protocol_status=pb.ProtocolStatus(code=pb.PROTOCOL_STATUS_CODE_OK),
            lease_expires_at=lease,
        )

    async def CloseSession(self, request: pb.CloseSessionRequest, context: _Context) -> pb.CloseSessionReply:
        """Close a session; closing a closed one answers CLOSED again."""
        reply = pb.CloseSessionReply(session_id=request.session_id)
        if self._sessions.close(request.session_id) or self._sessions.was_closed(request.session_id):
            reply.final_state = pb.SESSION_STATE_CLOSED
            reply.protocol_status.code = pb.PROTOCOL_STATUS_CODE_OK
        else:
            reply.protocol_status.CopyFrom(_not_found(request.session_id))
        return reply

    async def Invoke(self, request: pb.MxCommandRequest, context: _Context) -> pb.MxCommandReply:
        """Run one MXAccess command in the session's simulated worker."""
        session = self._sessions.get(request.session_id)
        if session is None:
            return pb.MxCommandReply(
                session_id=request.session_id,
                kind=request.command.kind,
                protocol_status=_not_found(request.session_id),
            )
        session.touch()
        return self._commands.execute(session, request)

    async def StreamEvents(
        self, request: pb.StreamEventsRequest, context: _Context
    ) -> AsyncIterator[pb.MxEvent]:
        """Replay retained events after ``after_worker_sequence``, then stream live ones."""
        session = self._sessions.get(request.session_id)
        if session is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"session {request.session_id!r} not found")
            return
        if session.events.subscriber_count >= self._max_subscribers:
            await context.abort(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"session {request.session_id!r} already has {session.events.subscriber_count} event "
                f"subscriber(s), the limit (MaxEventSubscribersPerSession {self._max_subscribers})",
            )
            return
        newest = session.events.last_sequence
        if request.after_worker_sequence > newest:
            await context.abort(
                grpc.StatusCode.OUT_OF_RANGE,
                f"after_worker_sequence {request.after_worker_sequence} is beyond the newest event {newest}",
            )
            return
        replay, subscriber = session.events.subscribe(request.after_worker_sequence)
        self._sessions.stream_attached(session)
        self._stats.streams_opened += 1
        try:
            # Headers now, not with the first event: a client awaiting initial
            # metadata then knows that live events from here on will reach it.
            await context.send_initial_metadata(())
            for event in replay:
                self._stats.events_sent += 1
                yield event
            async for batch in subscriber.batches():
                for event in batch:
                    self._stats.events_sent += 1
                    yield event
            if subscriber.abort_code is not None:
                await context.abort(subscriber.abort_code, subscriber.abort_message)
        finally:
            session.events.unsubscribe(subscriber)
            self._stats.streams_closed += 1
            self._sessions.stream_detached(session)

    def end_streams(self, code: grpc.StatusCode, message: str) -> None:
        """Fail every open StreamEvents call with ``code`` (sessions stay open)."""
        for session in self._sessions.all():
            session.events.end_streams(code, message)
