"""Alarm streams: one StreamAlarms call, raw or typed, and what they need of a gateway.

- ``RawAlarmStream``: the generated ``AlarmFeedMessage`` messages of one call;
- ``AlarmStream``: the same call as typed items (``mxgateway._alarms.model.AlarmFeedItem``).

Neither reconnects (``AlarmFeed`` does) and neither needs a session. The gateway
comes from an async ``source``: a ``GatewayClient``'s transport, or that of a
lazily connecting ``Client``'s connection.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Protocol

from mxgateway._alarms.model import AlarmFeedItem, feed_item_from_proto
from mxgateway._model.scopes import EVENTS_READ
from mxgateway._transport.streams import AlarmCall, LazyStream, task_cancelling
from mxgateway.generated import mxaccess_gateway_pb2 as pb
from mxgateway.options import USE_CLIENT_DEFAULT, ClientOptions, Timeout

__all__ = [
    "AlarmGateway",
    "AlarmStream",
    "GatewaySource",
    "RawAlarmStream",
    "gateway_secrets",
    "task_cancelling",
]


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


class _AlarmCallReader(LazyStream[pb.AlarmFeedMessage]):
    """One StreamAlarms call, opened on first use on the gateway ``source`` gives."""

    _method = "StreamAlarms"
    _scope = EVENTS_READ

    def __init__(self, source: GatewaySource, prefix: str) -> None:
        async def open_call() -> AlarmCall:
            gateway = await source()
            # Known only now: the gateway (and its key) comes with the first use.
            self._secrets = gateway_secrets(gateway)
            return gateway.open_alarm_call(prefix)

        super().__init__(open_call, secrets=())

    async def wait_connected(self, timeout: float = 5.0) -> None:
        """Start the call now and wait until the gateway has attached it."""
        await self._attach(timeout)


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
        self._close_now()


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
        self._close_now()
