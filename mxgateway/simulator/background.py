"""A simulator on its own daemon thread and event loop, for blocking code and test suites."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from types import TracebackType
from typing import Any, Generic, Protocol, TypeVar

from mxgateway._transport.loop_thread import LoopThread


class Startable(Protocol):
    """What runs in the background: a ``Simulator``, started and closed on its own loop."""

    @property
    def endpoint(self) -> str:
        """``host:port`` to connect to."""
        ...

    @property
    def port(self) -> int:
        """The bound port."""
        ...

    async def start(self) -> None:
        """Start serving."""
        ...

    async def close(self) -> None:
        """Stop serving."""
        ...


SimulatorT = TypeVar("SimulatorT", bound=Startable)

_START_TIMEOUT_S = 30.0


class BackgroundSimulator(Generic[SimulatorT]):
    """Handle on a running background simulator; a context manager that closes it.

    ``call(fn, *args)`` runs ``fn(*args)`` on the simulator's loop (awaiting it when it
    returns an awaitable) and returns the result, e.g. ``bg.call(bg.simulator.advance, 1.0)``.
    """

    def __init__(self, simulator: SimulatorT) -> None:
        self.simulator = simulator
        self._closed = False
        self._runner = LoopThread("mxgateway-simulator")
        try:
            self._runner.submit(simulator.start()).result(timeout=_START_TIMEOUT_S)
        except BaseException:
            self._runner.stop(_START_TIMEOUT_S)
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
        if self._runner.in_thread():
            # Waiting here for the loop that runs this very thread would never end.
            raise RuntimeError("call() from the simulator's own thread: await the coroutine instead")

        async def run() -> Any:
            result = fn(*args)
            if inspect.isawaitable(result):
                result = await result
            return result

        return self._runner.submit(run()).result(timeout)

    def close(self) -> None:
        """Stop the simulator and its thread (idempotent)."""
        if self._closed:
            return
        self._closed = True
        try:
            self._runner.submit(self.simulator.close()).result(_START_TIMEOUT_S)
        finally:
            self._runner.stop(_START_TIMEOUT_S)

    def __enter__(self) -> BackgroundSimulator[SimulatorT]:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
