"""grpc.aio's leftovers for a loop that closed are dropped quietly by the package's loops, nothing else is."""

from __future__ import annotations

import asyncio
import errno
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mxgateway._transport.grpc_teardown import is_grpc_teardown_noise, quiet_grpc_teardown
from mxgateway._transport.loop_thread import LoopThread

# Run in a fresh interpreter: any other live loop bound to grpc's poller (the facade's,
# left by an earlier test) could take the completion, and this scenario needs exactly
# one live loop besides the one that closes.
_SCENARIO = r"""
import asyncio, json, logging, runpy, socket, sys, threading
import grpc
from mxgateway._transport.grpc_teardown import quiet_grpc_teardown
from mxgateway._transport.loop_thread import LoopThread

live_kind, conftest = sys.argv[1], sys.argv[2]
logged = []
class Keep(logging.Handler):
    def emit(self, record):
        logged.append(record.getMessage())
logging.getLogger("asyncio").addHandler(Keep())

with socket.socket() as probe:
    probe.bind(("127.0.0.1", 0))
    endpoint = "127.0.0.1:%d" % probe.getsockname()[1]  # nothing listens: calls wait for their deadline

seen = []
def recording(loop, context):  # like anyio's test runner: every error reported is kept
    seen.append("%s: %s" % (type(context.get("exception")).__name__, context.get("exception")))
    if live_kind == "package":
        quiet_grpc_teardown(loop, context)

def leave_a_call_pending_on_a_closed_loop():
    loop = asyncio.new_event_loop()
    async def start():
        channel = grpc.aio.insecure_channel(endpoint)
        call = channel.unary_unary("/test.Nowhere/Wait")(b"", timeout=0.3, wait_for_ready=True)
        return channel, call, asyncio.ensure_future(call)
    kept = loop.run_until_complete(start())
    loop.close()  # before the deadline: its completion is still due
    return kept

async def live_loop_waits():
    async with grpc.aio.insecure_channel(endpoint):  # binds this loop to grpc's poller
        kept = await asyncio.to_thread(leave_a_call_pending_on_a_closed_loop)
        for _ in range(40):
            if seen or getattr(asyncio.get_running_loop(), "dropped", 0):
                break
            await asyncio.sleep(0.05)
        return kept

if live_kind == "package":
    live = LoopThread("live", exception_handler=recording)
    live.submit(live_loop_waits()).result(timeout=10)
    live.stop(10)
    dropped = None
else:
    loop = runpy.run_path(conftest)["_TestLoop"]() if live_kind == "test" else asyncio.new_event_loop()
    loop.set_exception_handler(recording)
    loop.run_until_complete(live_loop_waits())
    dropped = getattr(loop, "dropped", None)
    loop.close()
print(json.dumps({"seen": seen, "dropped": dropped, "logged": logged}))
"""


def _scenario(live_kind: str) -> dict[str, Any]:
    conftest = Path(__file__).parents[1] / "conftest.py"
    done = subprocess.run(
        [sys.executable, "-c", _SCENARIO, live_kind, str(conftest)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_a_completion_for_a_closed_loop_is_reported_on_a_plain_live_loop() -> None:
    # What the quiet handlers are for: a plain loop reports it, an anyio test fails on it.
    assert _scenario("plain")["seen"] == ["RuntimeError: Event loop is closed"]


def test_a_package_loop_drops_the_completion_for_a_closed_loop() -> None:
    result = _scenario("package")
    assert result["seen"] == ["RuntimeError: Event loop is closed"]  # it arrived, and ...
    assert result["logged"] == []  # ... quiet_grpc_teardown reported nothing


def test_the_tests_loop_drops_the_completion_for_a_closed_loop() -> None:
    result = _scenario("test")
    assert result["seen"] == []
    assert result["dropped"] == 1


@pytest.mark.anyio
async def test_anyio_tests_run_on_the_tests_loop() -> None:
    assert type(asyncio.get_running_loop()).__name__ == "_TestLoop"


def test_the_package_loops_drop_grpc_leftovers_by_default() -> None:
    live = LoopThread("test-default-handler")
    try:
        assert live.loop.get_exception_handler() is quiet_grpc_teardown
    finally:
        live.stop(10)
    assert not live.thread.is_alive()


def _raised_in(frame: str, error: BaseException) -> BaseException:
    def PollerCompletionQueue() -> None:  # named like the grpc frame it stands for
        raise error

    def user_callback() -> None:
        raise error

    try:
        {"PollerCompletionQueue": PollerCompletionQueue, "user_callback": user_callback}[frame]()
    except BaseException as caught:
        return caught
    raise AssertionError("unreachable")


@pytest.mark.parametrize(
    ("frame", "error", "noise"),
    [
        ("PollerCompletionQueue", OSError(errno.EBADF, "Bad file descriptor"), True),
        ("PollerCompletionQueue", RuntimeError("Event loop is closed"), True),
        ("PollerCompletionQueue", OSError(errno.EPIPE, "Broken pipe"), False),
        ("PollerCompletionQueue", RuntimeError("something else"), False),
        ("PollerCompletionQueue", ValueError("Event loop is closed"), False),
        ("user_callback", OSError(errno.EBADF, "Bad file descriptor"), False),
        ("user_callback", RuntimeError("Event loop is closed"), False),
    ],
)
def test_only_the_pollers_leftovers_count_as_noise(frame: str, error: BaseException, noise: bool) -> None:
    assert (
        is_grpc_teardown_noise({"message": "callback failed", "exception": _raised_in(frame, error)}) is noise
    )


def test_other_errors_are_reported_as_asyncio_would(caplog: pytest.LogCaptureFixture) -> None:
    loop = asyncio.new_event_loop()
    try:
        for frame in ("PollerCompletionQueue", "user_callback"):
            error = _raised_in(frame, OSError(errno.EBADF, "Bad file descriptor"))
            quiet_grpc_teardown(loop, {"message": f"callback failed in {frame}", "exception": error})
        quiet_grpc_teardown(loop, {"message": "no exception at all"})
    finally:
        loop.close()
    reported = [r.getMessage() for r in caplog.records if r.name == "asyncio"]
    assert reported == ["callback failed in user_callback", "no exception at all"]
