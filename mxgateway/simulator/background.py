"""A simulator on its own daemon thread and event loop, for blocking code and test suites."""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import threading
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from mxgateway.simulator.server import Simulator

T = TypeVar("T")

_START_TIMEOUT_S = 30.0


class BackgroundSimulator:
    """Handle on a running background simulator; a context manager that closes it.

    ``call(fn, *args)`` runs ``fn(*args)`` on the simulator's loop (awaiting it when it
    returns an awaitable) and returns the result, e.g. ``bg.call(bg.simulator.advance, 1.0)``.
    """

    def __init__(self, simulator: Simulator) -> None:
        self.simulator = simulator
        self._loop = asyncio.new_event_loop()
        self._closed = False
        started: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._thread = threading.Thread(
            target=self._run, args=(started,), name="mxgateway-simulator", daemon=True
        )
        self._thread.start()
        try:
            started.result(timeout=_START_TIMEOUT_S)
        except BaseException:
            self._stop_loop()
            raise

    def __repr__(self) -> str:
        return f"BackgroundSimulator(endpoint={self.endpoint!r})"

    @property
    def endpoint(self) -> str:
        """``host:port`` to connect to."""
        return self.simulator.endpoint

    @property
    def port(self) -> int:
        """The bound port."""
        return self.simulator.port

    def call(self, fn: Callable[..., Any], *args: Any, timeout: float | None = 30.0) -> Any:
        """Run ``fn(*args)`` on the simulator's loop and return its (awaited) result."""
        if self._closed:
            raise RuntimeError("the background simulator is closed")
        if threading.current_thread() is self._thread:
            # Waiting here for the loop that runs this very thread would never end.
            raise RuntimeError("call() from the simulator's own thread: await the coroutine instead")

        async def run() -> Any:
            result = fn(*args)
            if inspect.isawaitable(result):
                result = await result
            return result

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout)

    def close(self) -> None:
        """Stop the simulator and its thread (idempotent)."""
        if self._closed:
            return
        self._closed = True
        try:
            asyncio.run_coroutine_threadsafe(self.simulator.close(), self._loop).result(_START_TIMEOUT_S)
        finally:
            self._stop_loop()

    def __enter__(self) -> BackgroundSimulator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _run(self, started: concurrent.futures.Future[None]) -> None:
        asyncio.set_event_loop(self._loop)

        async def start() -> None:
            try:
                await self.simulator.start()
            except BaseException as exc:
                started.set_exception(exc)
                raise
            started.set_result(None)

        try:
            self._loop.run_until_complete(start())
        except BaseException:
            self._loop.close()
            return
        self._loop.run_forever()
        self._loop.run_until_complete(self._loop.shutdown_asyncgens())
        self._loop.close()

    def _stop_loop(self) -> None:
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=_START_TIMEOUT_S)
