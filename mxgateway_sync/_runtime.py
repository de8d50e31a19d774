"""The event-loop thread behind the blocking facade.

One process-wide asyncio loop runs on one named daemon thread, started on first
use and shared by every facade object: grpc.aio objects belong to the loop that
created them, so every channel, call and stream of the facade lives on this loop.

- A blocking call submits a coroutine to the loop and waits for it. On a timeout
  or a KeyboardInterrupt the coroutine is cancelled on the loop and the caller
  waits for it to unwind before the exception propagates, so no call is left
  running behind the caller's back.
- Exceptions reach the caller as the very objects the coroutine raised.
- A call made from the loop thread itself raises :class:`LoopThreadCallError`
  at once instead of deadlocking.
- At interpreter exit, objects still open are closed and the loop is stopped;
  in a forked child the runtime starts afresh (the parent's loop thread does
  not exist there).
- SIGTERM (a service manager's stop) unwinds the process like Ctrl-C does, as
  ``SystemExit(143)``, so those exit-time closes run and no session is left open
  on the gateway (see ``_signals``).
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import concurrent.futures
import contextlib
import os
import sys
import threading
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from types import TracebackType
from typing import Any, Generic, TypeVar

from mxgateway._transport.loop_thread import LoopThread
from mxgateway_sync import _signals

__all__ = [
    "LOOP_THREAD_NAME",
    "LoopThreadCallError",
    "SyncIterator",
    "call",
    "close_soon",
    "in_loop_thread",
    "on_loop",
    "register_for_exit",
    "run",
    "shutdown",
]

T = TypeVar("T")
U = TypeVar("U")

LOOP_THREAD_NAME = "mxgateway-sync-loop"

#: How long a cancelled call may take to unwind before the caller gives up waiting.
UNWIND_TIMEOUT_S = 10.0
#: How long exit-time clean-up may take in all.
EXIT_TIMEOUT_S = 5.0
#: How often a waiting main thread wakes up to run signal handlers (see ``_acquire``).
SIGNAL_CHECK_S = 0.2


class LoopThreadCallError(RuntimeError):
    """A blocking facade call was made from the facade's own event-loop thread."""


class _Runtime:
    """The loop, its thread, and the objects to close at exit."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: LoopThread | None = None
        self._open: weakref.WeakSet[Any] = weakref.WeakSet()
        #: Closes of dropped objects still running (touched on the loop's thread only).
        self._closing: set[asyncio.Task[Any]] = set()
        #: Calls submitted from other threads that the loop has not started yet.
        self._pending: collections.deque[_Job[Any]] = collections.deque()
        self._start_scheduled = False

    def loop(self) -> asyncio.AbstractEventLoop:
        """The running loop, started on first use."""
        loop = self._loop
        if loop is not None:
            return loop
        with self._lock:
            if self._loop is None:
                runner = LoopThread(LOOP_THREAD_NAME)
                self._runner = runner
                self._thread = runner.thread
                self._loop = runner.loop
                # Calls queued for a loop that is gone never run; this loop starts afresh.
                self._pending = collections.deque()
                self._start_scheduled = False
                _signals.install()
                _signals.mark_in_use()
            return self._loop

    def in_loop_thread(self) -> bool:
        thread = self._thread
        return thread is not None and thread is threading.current_thread()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        if self.in_loop_thread():
            coro.close()
            raise LoopThreadCallError(
                "a blocking mxgateway_sync call was made on the facade's event-loop thread, where it "
                "would wait for itself; use the async mxgateway API from coroutines on that loop"
            )
        loop = self.loop()
        job: _Job[T] = _Job(coro)
        try:
            self._submit(loop, job)
            if not _acquire(job.done, timeout):
                loop.call_soon_threadsafe(self._cancel, loop, job)
                job.done.acquire(timeout=UNWIND_TIMEOUT_S)
                # The builtin on every Python (before 3.11 the futures one is a different class).
                raise TimeoutError(f"the call did not finish within {timeout} s") from None
        except (KeyboardInterrupt, SystemExit):
            loop.call_soon_threadsafe(self._cancel, loop, job)
            job.done.acquire(timeout=UNWIND_TIMEOUT_S)
            raise
        return job.outcome()

    def _submit(self, loop: asyncio.AbstractEventLoop, job: _Job[Any]) -> None:
        # Calls submitted while the loop has not yet taken the last ones share one
        # wake-up of the loop (a write to its self-pipe) and one callback.
        self._pending.append(job)
        if not self._start_scheduled:
            self._start_scheduled = True
            try:
                loop.call_soon_threadsafe(self._start_pending, loop)
            except RuntimeError:  # the loop closed under us: the next call must try again
                self._start_scheduled = False
                raise

    def _start_pending(self, loop: asyncio.AbstractEventLoop) -> None:
        """On ``loop``: start every submitted call as a task."""
        # Cleared before taking the jobs: a job appended after this point either
        # is taken below or schedules another round itself.
        self._start_scheduled = False
        pending = self._pending
        while pending:
            job = pending.popleft()
            if job.coro is not None:
                job.task = loop.create_task(job.drive())

    def _cancel(self, loop: asyncio.AbstractEventLoop, job: _Job[Any]) -> None:
        """On ``loop``: cancel ``job`` (a timeout or an interrupt of its caller)."""
        # An interrupt may have come between queueing the job and waking the loop.
        self._start_pending(loop)
        if job.task is not None:
            if not job.started:
                # Cancelled before its first step, the task never runs ``drive``: nothing
                # else would close the coroutine or release the caller.
                job.abandon()
            job.task.cancel()
        elif job.coro is not None:  # never queued: nothing ever ran
            job.abandon()

    @property
    def closing_tasks(self) -> set[asyncio.Task[Any]]:
        """Closes of dropped objects still running (for the loop's thread)."""
        return self._closing

    def register_for_exit(self, obj: object) -> None:
        self._open.add(obj)

    def shutdown(self) -> None:
        """Close what is still open, stop the loop and join its thread."""
        with self._lock:
            loop, thread, runner = self._loop, self._thread, self._runner
            self._loop = self._thread = self._runner = None
        if loop is None or thread is None or runner is None:
            return
        still_open = list(self._open)
        self._open = weakref.WeakSet()
        if thread.is_alive() and not loop.is_closed():
            # Dropped objects may still be closing: they finish too, or their grpc
            # calls would be cancelled under the interpreter's exit.
            closing = asyncio.run_coroutine_threadsafe(_close_all(still_open, self._closing), loop)
            try:
                closing.result(EXIT_TIMEOUT_S)
            except BaseException:  # exit-time clean-up must not raise
                closing.cancel()
        runner.stop(EXIT_TIMEOUT_S)

    def reset_after_fork(self) -> None:
        # The parent's loop thread does not exist in the child; forget it
        # without touching it and start a fresh one on next use.
        self._lock = threading.Lock()
        self._loop = None
        self._thread = None
        self._runner = None
        self._open = weakref.WeakSet()
        self._closing = set()
        self._pending = collections.deque()
        self._start_scheduled = False


class _Job(Generic[T]):
    """One blocking call: its coroutine, its task, and the lock its caller waits on.

    A plain lock, held until the task is done, is the cheapest wait a thread has
    (a ``concurrent.futures.Future`` plus a ``threading.Event`` made two
    conditions per call).
    """

    __slots__ = ("coro", "done", "error", "result", "started", "task")

    def __init__(self, coro: Coroutine[Any, Any, T]) -> None:
        self.coro: Coroutine[Any, Any, T] | None = coro
        self.task: asyncio.Task[None] | None = None
        self.done = threading.Lock()
        self.done.acquire()
        self.error: BaseException | None = None
        self.result: T | None = None
        #: True once ``drive`` runs: from then on it releases the caller itself.
        self.started = False

    def abandon(self) -> None:
        """On the loop: the coroutine will never run; close it and release the caller."""
        if self.coro is not None:
            self.coro.close()
            self.coro = None
        self.error = concurrent.futures.CancelledError()
        self.done.release()

    async def drive(self) -> None:
        """On the loop, as the job's task: run the coroutine, keep its outcome, release the caller.

        The caller is released from inside the task, not by a done callback, which
        would cost the loop one more turn per call.
        """
        self.started = True
        coro = self.coro
        assert coro is not None
        try:
            self.result = await coro
        except asyncio.CancelledError:
            self.error = concurrent.futures.CancelledError()
            raise  # the task stays cancelled
        except Exception as exc:  # handed to the caller, who raises it
            self.error = exc
        except BaseException as exc:  # KeyboardInterrupt, SystemExit: the loop sees them too
            self.error = exc
            raise
        finally:
            self.done.release()

    def outcome(self) -> T:
        """The coroutine's result; raises what it raised (``CancelledError`` when cancelled)."""
        error = self.error
        if error is not None:
            self.error = None  # no reference cycle through the traceback
            raise error
        return self.result  # type: ignore[return-value]


def _acquire(lock: threading.Lock, timeout: float | None) -> bool:
    """Wait for ``lock`` up to ``timeout`` seconds (None: no limit; 0 or less: just look).

    The main thread waits in slices of ``SIGNAL_CHECK_S``: the kernel may deliver
    SIGINT or SIGTERM to any thread (the loop's, gRPC's), and then only the handler's
    flag is set; a main thread blocked in one long wait would never run the handler,
    and Ctrl-C would do nothing. Between slices it does.
    """
    if timeout is not None and timeout <= 0:
        return lock.acquire(False)
    if threading.current_thread() is not threading.main_thread():
        return lock.acquire() if timeout is None else lock.acquire(True, timeout)
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        wait = SIGNAL_CHECK_S if deadline is None else min(SIGNAL_CHECK_S, deadline - time.monotonic())
        if wait <= 0:
            return lock.acquire(False)
        if lock.acquire(True, wait):
            return True


def _async_closer(obj: object) -> Callable[[], Awaitable[None]] | None:
    closer = getattr(obj, "aclose", None) or getattr(obj, "close", None)
    return closer if callable(closer) else None


async def _close_all(objects: list[object], closing: set[asyncio.Task[Any]]) -> None:
    closers = [c for c in map(_async_closer, objects) if c is not None]
    await asyncio.gather(*(c() for c in closers), *closing, return_exceptions=True)


_RUNTIME = _Runtime()
# grpc registers its own exit hook after this module is imported; atexit runs
# hooks last-in first-out, so grpc would shut down under a still-running loop.
# threading's exit hooks run before any atexit hook (concurrent.futures relies on
# the same), so the loop stops first.
_register_early_exit = getattr(threading, "_register_atexit", None)
if _register_early_exit is not None:
    _register_early_exit(_RUNTIME.shutdown)
else:  # pragma: no cover - interpreters without the hook
    atexit.register(_RUNTIME.shutdown)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_RUNTIME.reset_after_fork)
    os.register_at_fork(after_in_child=_signals.reset_after_fork)


def run(coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
    """Run ``coro`` on the loop thread and block until it finishes.

    A timeout (``TimeoutError``) or a KeyboardInterrupt cancels the coroutine and
    waits for it to unwind before re-raising.
    """
    return _RUNTIME.run(coro, timeout)


def call(function: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
    """Call an async function on the loop thread (so objects it creates belong to that loop)."""

    async def invoke() -> T:
        return await function(*args, **kwargs)

    return _RUNTIME.run(invoke())


def on_loop(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call a plain function on the loop thread and return its result.

    grpc.aio objects bind to the loop they are made on, and the async objects'
    state belongs to that thread: constructors and plain methods run there too.
    """

    async def invoke() -> T:
        return function(*args, **kwargs)

    return _RUNTIME.run(invoke())


def close_soon(obj: object) -> None:
    """Schedule ``await obj.aclose()`` on the loop without waiting (a facade object was dropped).

    The scheduled callback keeps ``obj`` alive until it is closed on its own loop,
    so grpc objects are never finalised from another thread.
    """
    closer = _async_closer(obj)
    loop = _RUNTIME._loop
    if closer is None or loop is None or loop.is_closed() or getattr(obj, "closed", False):
        return

    # A stopping loop refuses new callbacks; its own shutdown cancels what is left.
    def start() -> None:
        task = loop.create_task(_call(closer))
        tracked = _RUNTIME.closing_tasks
        tracked.add(task)
        task.add_done_callback(tracked.discard)

    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(start)


def in_loop_thread() -> bool:
    """True when the current thread is the facade's loop thread."""
    return _RUNTIME.in_loop_thread()


def register_for_exit(obj: object) -> None:
    """Close ``obj`` (``await obj.aclose()``, else ``await obj.close()``) at exit if it is still alive."""
    _RUNTIME.register_for_exit(obj)


def watch_in_notebook(facade: object) -> None:
    """In IPython, close ``facade`` after a cell once only the output history holds it."""
    if "IPython" in sys.modules:
        from mxgateway_sync import _notebook

        _notebook.watch(facade)


def shutdown() -> None:
    """Close registered objects and stop the loop thread; the next call starts a new one."""
    _RUNTIME.shutdown()


class SyncIterator(Generic[T, U]):
    """A blocking iterator over an async iterator, and a context manager that closes it.

    Each ``next()`` waits for the async iterator's next item on the loop thread and
    passes it through ``convert``. Leaving a ``with`` block (or calling ``close()``)
    closes the async side, which cancels its stream; an iterator dropped without
    being closed is closed in the background.
    """

    def __init__(self, source: AsyncIterator[U], convert: Callable[[U], T]) -> None:
        self._source = source
        self._convert = convert
        self._closed = False

    def __iter__(self) -> SyncIterator[T, U]:
        return self

    def __next__(self) -> T:
        if self._closed:
            raise StopIteration
        try:
            item = run(_anext(self._source))
        except StopAsyncIteration:
            self._closed = True
            raise StopIteration from None
        return self._convert(item)

    def close(self) -> None:
        """Close the underlying stream; idempotent."""
        if self._closed:
            return
        self._closed = True
        closer = _async_closer(self._source)
        if closer is not None:
            run(_await_none(closer()))

    def __enter__(self) -> SyncIterator[T, U]:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:
        if not self._closed:
            close_soon(self._source)


async def _await_none(awaitable: Awaitable[None]) -> None:
    await awaitable


async def _call(closer: Callable[[], Awaitable[None]]) -> None:
    # The closer's coroutine is made inside the task: a task cancelled before its
    # first step (the loop stopping at exit) then leaves no coroutine never awaited.
    await closer()


async def _anext(source: AsyncIterator[U]) -> U:
    return await source.__anext__()
