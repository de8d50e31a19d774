"""What the clients' ``connect()`` returns: an awaitable that is also an async context manager."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Generator
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from mxgateway.endpoints import EmbeddedGateway, open_endpoint

if TYPE_CHECKING:
    import grpc.aio

    from mxgateway.options import ClientOptions

__all__ = ["Connector", "client_connector"]

_log = logging.getLogger("mxgateway.connect")


class _Closable(Protocol):
    async def close(self) -> None: ...


class _GatewayClientLike(_Closable, Protocol):
    _embedded: EmbeddedGateway | None


ClientT = TypeVar("ClientT", bound=_Closable)
GatewayClientT = TypeVar("GatewayClientT", bound=_GatewayClientLike)


class Connector(Generic[ClientT]):
    """``await`` it for the connected client, or ``async with`` it to close the client on exit.

    The client is built on first use, inside the running loop: grpc.aio channels
    belong to the loop they are created on.
    """

    def __init__(self, factory: Callable[[], Awaitable[ClientT]]) -> None:
        self._factory = factory
        self._client: ClientT | None = None

    async def _connect(self) -> ClientT:
        if self._client is None:
            self._client = await self._factory()
        return self._client

    def __await__(self) -> Generator[Any, None, ClientT]:
        return self._connect().__await__()

    async def __aenter__(self) -> ClientT:
        return await self._connect()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._client is not None:
            await self._client.close()


def client_connector(
    client_type: Callable[..., GatewayClientT],
    options: ClientOptions,
    channel: grpc.aio.Channel | None,
) -> Connector[GatewayClientT]:
    """What a client's ``connect()`` returns: ``client_type(options, channel=...)`` built on first use.

    A shared ``channel`` is used as it is; otherwise an embedded gateway name
    (``"simulator"``) is started first, and the client stops it when it closes.
    """

    async def build() -> GatewayClientT:
        if channel is not None:
            return client_type(options, channel=channel)
        local, embedded = await open_endpoint(options)
        if embedded is not None:
            _log.info("started embedded gateway %r on %s", options.endpoint, embedded.endpoint)
        _log.info(
            "connecting to %s (%s, %s)",
            local.endpoint,
            "plaintext" if local.plaintext else "TLS",
            "API key" if local.has_api_key else "no API key",
        )
        try:
            client = client_type(local)
        except BaseException:
            if embedded is not None:
                await embedded.aclose()
            raise
        client._embedded = embedded
        return client

    return Connector(build)
