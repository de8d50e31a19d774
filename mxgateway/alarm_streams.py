"""Alarm streams: one StreamAlarms call, raw or typed, and what they need of a gateway.

- ``RawAlarmStream``: the generated ``AlarmFeedMessage`` messages of one call;
- ``AlarmStream``: the same call as typed items (``mxgateway.alarms.AlarmFeedItem``).

Neither reconnects (``AlarmFeed`` does) and neither needs a session. The gateway
comes from an async ``source``: a ``GatewayClient``'s transport, or that of a
lazily connecting ``Client``'s connection.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Protocol

import grpc
import grpc.aio

from mxgateway.alarms import AlarmFeedItem, feed_item_from_proto
from mxgateway.errors import map_rpc_error
from mxgateway.generated import mxaccess_gateway_pb2 as pb
from mxgateway.options import USE_CLIENT_DEFAULT, ClientOptions, Timeout
from mxgateway.raw_stream import task_cancelling
from mxgateway.scopes import EVENTS_READ

__all__ = [
    "AlarmCall",
    "AlarmGateway",
    "AlarmStream",
    "GatewaySource",
    "RawAlarmStream",
    "gateway_secrets",
    "task_cancelling",
]

#: One StreamAlarms call.
AlarmCall = grpc.aio.UnaryStreamCall[pb.StreamAlarmsRequest, pb.AlarmFeedMessage]

_METHOD = "StreamAlarms"
_SCOPE = EVENTS_READ


class AlarmGateway(Protocol):
    """What the alarm streams need of a gateway connection (``GatewayTransport`` has it)."""

    @property
    def options(self) -> ClientOptions:
        """The connection's options (the key to redact, the reconnect policy)."""

    @property
    def closed(self) -> bool:
        """True once the connection was closed."""

    def open_alarm_call(self, prefix: str = "") -> AlarmCall:
        """Start a StreamAlarms call."""

    async def query_active_alarms_raw(
        self, prefix: str = "", *, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> list[pb.ActiveAlarmSnapshot]:
        """QueryActiveAlarms: the active set as it is now."""


GatewaySource = Callable[[], Awaitable[AlarmGateway]]


def gateway_secrets(gateway: AlarmGateway) -> tuple[str, ...]:
    """The secrets to keep out of error messages: the connection's API key."""
    key = gateway.options.api_key
    return (key,) if key else ()


class _AlarmCallReader:
    """Opening (on first use), reading and cancelling one StreamAlarms call."""

    def __init__(self, source: GatewaySource, prefix: str) -> None:
        self._source = source
        self._prefix = prefix
        self._call: AlarmCall | None = None
        self._secrets: tuple[str, ...] = ()
        self._closed = False

    @property
    def closed(self) -> bool:
        """True once the stream ended or was closed."""
        return self._closed

    async def _open(self) -> AlarmCall:
        if self._call is None:
            gateway = await self._source()
            self._secrets = gateway_secrets(gateway)
            call = gateway.open_alarm_call(self._prefix)
            if self._closed:
                call.cancel()
            self._call = call
        return self._call

    async def wait_connected(self, timeout: float = 5.0) -> None:
        """Start the call now and wait until the gateway has attached it."""
        if self._closed:
            return
        call = await self._open()
        try:
            await asyncio.wait_for(call.initial_metadata(), timeout)
        except asyncio.TimeoutError:
            pass
        except grpc.aio.AioRpcError as exc:
            self._finish()
            error = map_rpc_error(exc, method=_METHOD, scope=_SCOPE, secrets=self._secrets)
            raise error from error.__cause__

    async def _next_message(self) -> pb.AlarmFeedMessage:
        if self._closed:
            raise StopAsyncIteration
        call = await self._open()
        try:
            message = await call.read()
        except asyncio.CancelledError:
            if self._closed and not task_cancelling():
                raise StopAsyncIteration from None
            self._finish()
            raise
        except grpc.aio.AioRpcError as exc:
            self._finish()
            error = map_rpc_error(exc, method=_METHOD, scope=_SCOPE, secrets=self._secrets)
            raise error from error.__cause__
        if message is grpc.aio.EOF:  # type: ignore[attr-defined]
            self._finish()
            raise StopAsyncIteration
        assert isinstance(message, pb.AlarmFeedMessage)
        return message

    def _finish(self) -> None:
        self._closed = True
        call, self._call = self._call, None
        if call is not None:
            call.cancel()

    async def aclose(self) -> None:
        """Cancel the call; idempotent."""
        self._finish()

    def __del__(self) -> None:
        # ``break`` out of ``async for`` never calls aclose(): do not leave the call running.
        call = getattr(self, "_call", None)
        if call is not None and not call.done():
            with contextlib.suppress(RuntimeError):  # the loop is gone already
                call.cancel()


class RawAlarmStream(_AlarmCallReader):
    """The generated ``AlarmFeedMessage`` messages of one StreamAlarms call, as they come.

    An async iterator and async context manager; no conversion, no reconnect.
    """

    def __aiter__(self) -> RawAlarmStream:
        return self

    async def __anext__(self) -> pb.AlarmFeedMessage:
        return await self._next_message()

    async def __aenter__(self) -> RawAlarmStream:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._finish()


class AlarmStream(_AlarmCallReader):
    """One StreamAlarms call as typed items, in the feed's order, without reconnect.

    Yields every ``Alarm`` of the opening snapshot, an ``AlarmSnapshotComplete``, an
    ``AlarmProviderStatus``, then ``AlarmTransition``s and any later provider status.
    """

    def __aiter__(self) -> AlarmStream:
        return self

    async def __anext__(self) -> AlarmFeedItem:
        while True:
            item = feed_item_from_proto(await self._next_message())
            if item is not None:
                return item

    async def __aenter__(self) -> AlarmStream:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._finish()
