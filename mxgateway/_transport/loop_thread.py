"""``LoopThread``: an asyncio event loop running on a named daemon thread of its own.

Blocking code hands it coroutines (``submit``); the facade's runtime and the
background simulator each run on one. Stopping it cancels the tasks still
pending, lets them unwind, and closes the loop on its own thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from mxgateway._transport.grpc_teardown import quiet_grpc_teardown

__all__ = ["ExceptionHandler", "LoopThread"]

T = TypeVar("T")

#: ``loop.set_exception_handler``'s callback.
ExceptionHandler = Callable[[asyncio.AbstractEventLoop, dict[str, Any]], object]


class LoopThread:
    """A new event loop, running forever on a new daemon thread named ``name`` (started at once).

    Its exception handler drops grpc.aio's teardown leftovers (see ``grpc_teardown``)
    unless another ``exception_handler`` is given.
    """

    def __init__(self, name: str, *, exception_handler: ExceptionHandler = quiet_grpc_teardown) -> None:
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        self.thread = threading.Thread(
            target=self._serve, args=(ready, exception_handler), name=name, daemon=True
        )
        self.thread.start()
        ready.wait()

    def __repr__(self) -> str:
        return f"LoopThread({self.thread.name!r}, alive={self.thread.is_alive()})"

    def _serve(self, ready: threading.Event, exception_handler: ExceptionHandler) -> None:
        loop = self.loop
        asyncio.set_event_loop(loop)
        loop.set_exception_handler(exception_handler)
        loop.call_soon(ready.set)
        try:
            loop.run_forever()
        finally:
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def in_thread(self) -> bool:
        """True when called on the loop's own thread (where waiting for the loop never ends)."""
        return threading.current_thread() is self.thread

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Run ``coro`` on the loop; its future, for a blocking caller to wait on."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def stop(self, timeout: float | None = None) -> None:
        """Stop the loop (pending tasks are cancelled and unwind) and join the thread."""
        if self.thread.is_alive():
            if not self.loop.is_closed():
                self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout)
