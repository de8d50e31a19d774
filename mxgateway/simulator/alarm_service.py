"""The alarm RPCs of the ``MxAccessGateway`` servicer, served from the ``AlarmMonitor``.

A mixin of ``MxAccessGatewayService``: alarms need no session, so these methods
touch nothing but the monitor (``alarm_monitor``). Without one they answer
UNIMPLEMENTED, as a gateway of the first release would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import grpc.aio

from mxgateway.generated import mxaccess_gateway_pb2 as pb
from mxgateway.simulator.alarms import AlarmMonitor

__all__ = ["AlarmRpcs"]

_Context = grpc.aio.ServicerContext[object, object]
_NO_MONITOR = "this gateway serves no alarms"


class AlarmRpcs:
    """StreamAlarms, QueryActiveAlarms and AcknowledgeAlarm over ``alarm_monitor``."""

    alarm_monitor: AlarmMonitor | None = None

    async def StreamAlarms(
        self, request: pb.StreamAlarmsRequest, context: _Context
    ) -> AsyncIterator[pb.AlarmFeedMessage]:
        """The active set, snapshot_complete, the provider status, then every transition."""
        monitor = self.alarm_monitor
        if monitor is None:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, _NO_MONITOR)
            return
        opening, subscriber = monitor.subscribe(request.alarm_filter_prefix)
        try:
            # Headers now: a client waiting for them knows later transitions reach it.
            await context.send_initial_metadata(())
            for message in opening:
                yield message
            queue = subscriber.queue
            while True:
                queued = await queue.get()
                if queued is None:
                    break
                yield queued
            if subscriber.abort_code is not None:
                await context.abort(subscriber.abort_code, subscriber.abort_message)
        finally:
            monitor.unsubscribe(subscriber)

    async def QueryActiveAlarms(
        self, request: pb.QueryActiveAlarmsRequest, context: _Context
    ) -> AsyncIterator[pb.ActiveAlarmSnapshot]:
        """The current active set matching the prefix; then the call completes."""
        monitor = self.alarm_monitor
        if monitor is None:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, _NO_MONITOR)
            return
        for snapshot in monitor.snapshot(request.alarm_filter_prefix):
            yield snapshot

    async def AcknowledgeAlarm(
        self, request: pb.AcknowledgeAlarmRequest, context: _Context
    ) -> pb.AcknowledgeAlarmReply:
        """Acknowledge one alarm with the operator's comment."""
        monitor = self.alarm_monitor
        if monitor is None:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, _NO_MONITOR)
        assert monitor is not None
        return monitor.acknowledge(request)
