"""What the clients' ``connect()`` returns: an awaitable that is also an async context manager."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from types import TracebackType
from typing import Any, Generic, Protocol, TypeVar

__all__ = ["Connector"]


class _Closable(Protocol):
    async def close(self) -> None: ...


ClientT = TypeVar("ClientT", bound=_Closable)


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
