"""The server interceptor every call passes: authentication, injected faults, latency.

It wraps each method handler rather than only looking at call details, because the
scope of ``Invoke`` depends on the command kind inside the request.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

import grpc
import grpc.aio

from mxgateway.generated import mxaccess_gateway_pb2 as pb
from mxgateway.simulator.auth import ApiKeys, required_scope
from mxgateway.simulator.clock import Clock
from mxgateway.simulator.faults import Fault, Faults
from mxgateway.simulator.probes import HEALTH_PREFIX
from mxgateway.simulator.stats import SimulatorStats

_GATEWAY = "/mxaccess_gateway.v1.MxAccessGateway/"


def _fault_reply(method: str, request: Any, fault: Fault) -> Any | None:
    """The reply that carries ``fault.protocol_status``, for RPCs whose reply has one."""
    if fault.protocol_status is None:
        return None
    status = pb.ProtocolStatus(code=fault.protocol_status, message=fault.message)  # type: ignore[arg-type]
    if method == _GATEWAY + "OpenSession":
        return pb.OpenSessionReply(backend_name="simulator", protocol_status=status)
    if method == _GATEWAY + "CloseSession":
        return pb.CloseSessionReply(session_id=request.session_id, protocol_status=status)
    if method == _GATEWAY + "AcknowledgeAlarm":
        return pb.AcknowledgeAlarmReply(protocol_status=status)
    if method == _GATEWAY + "Invoke":
        return pb.MxCommandReply(
            session_id=request.session_id, kind=request.command.kind, protocol_status=status
        )
    return None


if TYPE_CHECKING:
    _Interceptor = grpc.aio.ServerInterceptor[Any, Any]
else:
    _Interceptor = grpc.aio.ServerInterceptor


#: Unary calls running on after their client went away (``Faults.finish_abandoned_calls``).
_ABANDONED: set[asyncio.Future[Any]] = set()


def _forget_abandoned(call: asyncio.Future[Any]) -> None:
    _ABANDONED.discard(call)
    if not call.cancelled():
        call.exception()  # retrieved: nobody is left to receive the reply or the error


class CallGuard(_Interceptor):
    """Checks the API key and scope, then applies the fault plan, before each call."""

    def __init__(
        self, api_keys: ApiKeys | None, faults: Faults, stats: SimulatorStats, clock: Clock | None = None
    ) -> None:
        self._api_keys = api_keys
        self._faults = faults
        self._stats = stats
        self._clock = clock if clock is not None else Clock()

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any]]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any]:
        """Wrap the unary-unary and unary-stream handlers of every method."""
        handler = await continuation(handler_call_details)
        if handler is None:  # an unknown method: gRPC answers UNIMPLEMENTED
            return handler
        method = handler_call_details.method
        if method.startswith(HEALTH_PREFIX):
            return handler  # probes carry no key, and health reveals nothing
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self._guard_unary(method, handler.unary_unary),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self._guard_stream(method, handler.unary_stream),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.stream_stream is not None:  # server reflection
            return grpc.stream_stream_rpc_method_handler(
                self._guard_bidi(method, handler.stream_stream),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler

    async def _admit(self, method: str, request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        """Fail the call (auth, injected fault) or return an injected reply; None to proceed."""
        if self._api_keys is not None:
            metadata = cast(Any, context.invocation_metadata())
            refusal = self._api_keys.check(metadata, required_scope(method, request))
            if refusal is not None:
                await context.abort(*refusal)
        fault = self._faults.take(method)
        if fault is None:
            return None
        self._stats.faults_injected += 1
        reply = None if fault.grpc_code is not None else _fault_reply(method, request, fault)
        if reply is None:
            await context.abort(fault.grpc_code or grpc.StatusCode.UNAVAILABLE, fault.message)
        return reply

    def _guard_unary(self, method: str, behavior: Any) -> Callable[..., Awaitable[Any]]:
        short = method.rsplit("/", 1)[-1]

        async def serve(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            if self._faults.latency_s > 0:
                await self._clock.sleep(self._faults.latency_s)
            injected = await self._admit(method, request, context)
            if injected is not None:
                return injected
            reply = await behavior(request, context)
            if short == "Invoke":
                hold = self._faults.reply_hold(request.command.kind)
                if hold > 0:
                    await asyncio.sleep(hold)
            return reply

        async def guarded(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            self._stats.unary_calls[short] += 1
            if not self._faults.finish_abandoned_calls:
                return await serve(request, context)
            call = asyncio.ensure_future(serve(request, context))
            _ABANDONED.add(call)
            call.add_done_callback(_forget_abandoned)
            return await asyncio.shield(call)

        return guarded

    def _guard_bidi(self, method: str, behavior: Any) -> Callable[..., AsyncIterator[Any]]:
        async def guarded(requests: Any, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
            # The key is checked before the first request is read: metadata is all it needs.
            if await self._admit(method, None, context) is not None:
                return
            async for message in behavior(requests, context):
                yield message

        return guarded

    def _guard_stream(self, method: str, behavior: Any) -> Callable[..., AsyncIterator[Any]]:
        async def guarded(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
            if self._faults.stream_latency_s > 0:
                await self._clock.sleep(self._faults.stream_latency_s)
            if await self._admit(method, request, context) is not None:
                return
            async for message in behavior(request, context):
                yield message

        return guarded
