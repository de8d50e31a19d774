"""The facade's event-loop thread: one shared loop, cancellation, errors, exit and fork."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import threading
import time
import warnings
from collections.abc import AsyncIterator

import pytest

from mxgateway_sync import _runtime
from mxgateway_sync._runtime import LOOP_THREAD_NAME, LoopThreadCallError, SyncIterator, run


class _Boom(Exception):
    pass


def _loop_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == LOOP_THREAD_NAME]


def test_runs_on_one_named_daemon_thread() -> None:
    async def where() -> str:
        return threading.current_thread().name

    assert run(where()) == LOOP_THREAD_NAME
    assert run(where()) == LOOP_THREAD_NAME
    threads = _loop_threads()
    assert len(threads) == 1
    assert threads[0].daemon


def test_exceptions_keep_their_type_and_identity() -> None:
    error = _Boom("kept")

    async def fail() -> None:
        raise error

    with pytest.raises(_Boom) as caught:
        run(fail())
    assert caught.value is error


def test_call_from_loop_thread_raises_clear_error() -> None:
    async def nested() -> int:
        return run(asyncio.sleep(0, result=1))

    with pytest.raises(LoopThreadCallError, match="event-loop thread"):
        run(nested())


def test_timeout_cancels_and_waits_for_unwind() -> None:
    unwound = threading.Event()

    async def slow() -> None:
        try:
            await asyncio.sleep(30)
        finally:
            await asyncio.sleep(0.05)  # clean-up that itself awaits
            unwound.set()

    started = time.monotonic()
    with pytest.raises(TimeoutError):
        run(slow(), timeout=0.1)
    assert unwound.is_set(), "the coroutine must have unwound before the caller got the timeout"
    assert time.monotonic() - started < 5


def test_keyboard_interrupt_cancels_the_coroutine() -> None:
    unwound = threading.Event()
    entered = threading.Event()

    async def blocked() -> None:
        entered.set()
        try:
            await asyncio.sleep(30)
        finally:
            unwound.set()

    def interrupt() -> None:
        entered.wait(5)
        signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)

    threading.Thread(target=interrupt).start()
    with pytest.raises(KeyboardInterrupt):
        run(blocked())
    assert unwound.is_set()
    # The loop keeps serving after an interrupted call.
    assert run(asyncio.sleep(0, result="alive")) == "alive"


def test_an_interrupt_before_the_loop_started_the_call_releases_the_caller_at_once() -> None:
    ran = threading.Event()

    async def current_loop() -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    async def never_started() -> None:
        ran.set()

    def interrupt() -> None:
        time.sleep(0.1)
        signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)

    loop = run(current_loop())
    loop.call_soon_threadsafe(time.sleep, 0.6)  # the loop is busy: the call waits in its queue
    threading.Thread(target=interrupt).start()
    started = time.monotonic()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(KeyboardInterrupt):
            run(never_started())
        gc.collect()
    # Released when the loop took the cancel, not after the unwind timeout.
    assert time.monotonic() - started < _runtime.UNWIND_TIMEOUT_S / 2
    assert not ran.is_set()
    assert not [w for w in caught if "never awaited" in str(w.message)]  # closed, not dropped
    assert run(asyncio.sleep(0, result="alive")) == "alive"


def test_an_interrupt_delivered_to_another_thread_still_interrupts_the_call() -> None:
    # The kernel delivers a process's SIGINT to any thread; the handler then only sets
    # a flag, which a main thread blocked in one long wait never looks at.
    entered = threading.Event()
    cancelled = threading.Event()
    finished = threading.Event()

    async def blocked() -> None:
        entered.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        finished.set()

    def interrupt_from_here() -> None:
        entered.wait(5)
        signal.pthread_kill(threading.get_ident(), signal.SIGINT)

    threading.Thread(target=interrupt_from_here, name="not the main thread").start()
    with pytest.raises(KeyboardInterrupt):
        run(blocked())
    # The interrupt cancelled the call: it did not end by itself first, 30 s later.
    assert cancelled.is_set()
    assert not finished.is_set()


class _Counter:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.closed = False
        self.value = 0

    def __aiter__(self) -> AsyncIterator[int]:
        return self

    async def __anext__(self) -> int:
        if self.closed or self.value >= self.limit:
            raise StopAsyncIteration
        self.value += 1
        return self.value

    async def aclose(self) -> None:
        self.closed = True


def test_sync_iterator_converts_and_ends() -> None:
    source = _Counter(3)
    assert list(SyncIterator(source, lambda v: v * 10)) == [10, 20, 30]


def test_sync_iterator_closes_on_early_exit() -> None:
    source = _Counter(1000)
    with SyncIterator(source, str) as items:
        for item in items:
            if item == "2":
                break
    assert source.closed
    assert source.value == 2


def test_shutdown_closes_registered_objects_and_restarts_lazily() -> None:
    resource = _Counter(1)
    _runtime.register_for_exit(resource)
    run(asyncio.sleep(0))
    _runtime.shutdown()
    assert resource.closed
    assert _loop_threads() == []
    assert run(asyncio.sleep(0, result=5)) == 5
    assert len(_loop_threads()) == 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
# Forking a process with threads (the loop thread, a test worker's) is the point here.
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded, use of fork:DeprecationWarning")
def test_forked_child_gets_a_fresh_loop() -> None:
    run(asyncio.sleep(0))
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        try:
            ok = run(asyncio.sleep(0, result=7), timeout=5) == 7 and len(_loop_threads()) == 1
            os._exit(0 if ok else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
