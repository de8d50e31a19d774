"""What ``connect()`` and ``open_session()`` return: an awaitable that is also an async context manager."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Generator
from types import TracebackType
from typing import Any, Protocol, TypeVar

__all__ = ["Connector"]


class _Closable(Protocol):
    async def close(self) -> None: ...


T = TypeVar("T", bound=_Closable)


class Connector(Coroutine[Any, Any, T]):
    """``await`` it for the opened object, or ``async with`` it to close that object on exit.

    The object (a client, a session) is made on first use, inside the running
    loop: grpc.aio channels belong to the loop they are created on. It is also a
    coroutine, so ``asyncio.create_task(client.open_session())`` works as before.
    """

    def __init__(self, factory: Callable[[], Awaitable[T]]) -> None:
        self._factory = factory
        self._opened: T | None = None
        #: The open that ``send``/``throw`` drive (a task running this object).
        self._stepping: Generator[Any, None, T] | None = None

    async def _open(self) -> T:
        if self._opened is None:
            self._opened = await self._factory()
        return self._opened

    def __await__(self) -> Generator[Any, None, T]:
        return self._open().__await__()

    def _steps(self) -> Generator[Any, None, T]:
        if self._stepping is None:
            self._stepping = self.__await__()
        return self._stepping

    def send(self, value: Any) -> Any:
        """Coroutine protocol: advance the open (what a task running this object calls)."""
        return self._steps().send(value)

    def throw(self, *args: Any) -> Any:
        """Coroutine protocol: raise into the open (a cancelled task)."""
        return self._steps().throw(*args)

    def close(self) -> None:
        """Coroutine protocol: stop an open in progress (the opened object stays open)."""
        if self._stepping is not None:
            self._stepping.close()

    async def __aenter__(self) -> T:
        return await self._open()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._opened is not None:
            await self._opened.close()
