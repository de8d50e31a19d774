"""Shared pytest configuration, and the fixtures of the core's layers: a simulator on loopback, a client and a session on it."""

from __future__ import annotations

import asyncio
import errno
import os
import signal
from collections.abc import AsyncIterator
from typing import Any

import pytest

from mxgateway import GatewayClient, Session
from mxgateway._transport.grpc_teardown import is_grpc_teardown_noise
from mxgateway.simulator.server import Simulator

# A test run started in the background by a shell without job control inherits
# SIGINT ignored, and so would every process the tests start: their Ctrl-C tests
# would wait for an interrupt that never comes. Ctrl-C means KeyboardInterrupt here.
signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: twice the cores, at most eight workers.

    Most tests spend their time waiting on sockets, child processes and timers,
    not on a CPU, so a second worker per core keeps the cores busy.
    """
    return min(8, 2 * (os.cpu_count() or 1))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Files with slow tests first, the rest in their order.

    Each file runs on one worker, handed out in this order: the longest start
    first instead of finishing last on one worker while the others idle.
    """
    slow_files = {item.path for item in items if item.get_closest_marker("slow") is not None}
    items.sort(key=lambda item: item.path not in slow_files)


def _is_aiomqtt_closed_socket(context: dict[str, Any]) -> bool:
    """aiomqtt asking the loop to watch a socket paho already closed (the broker went away).

    A race inside aiomqtt, seen on Python 3.13 when a test stops the broker: asyncio
    logs it, and the bridge reconnects as usual (the tests check what it delivers).
    """
    error = context.get("exception")
    return (
        isinstance(error, OSError)
        and error.errno == errno.EBADF
        and "_on_socket_register_write" in repr(context.get("handle"))
    )


class _TestLoop(asyncio.SelectorEventLoop):
    """A test's loop: grpc.aio's leftovers for loops gone with earlier tests are not its errors.

    anyio fails a test on any error its loop reports. A completion grpc.aio could
    not hand to an earlier test's closed loop is reported on whichever loop is
    still bound to grpc's poller, so it failed whichever test ran then.
    """

    dropped = 0

    def call_exception_handler(self, context: dict[str, Any]) -> None:
        if is_grpc_teardown_noise(context) or _is_aiomqtt_closed_socket(context):
            self.dropped += 1
        else:
            super().call_exception_handler(context)


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, Any]]:
    """grpc.aio runs on asyncio only."""
    return "asyncio", {"loop_factory": _TestLoop}


@pytest.fixture
async def simulator(anyio_backend: object) -> AsyncIterator[Simulator]:
    """A simulator on loopback whose values move only on ``advance()``: tests decide when events happen."""
    async with Simulator(update_rate_hz=0) as sim:
        yield sim


@pytest.fixture
async def client(simulator: Simulator) -> AsyncIterator[GatewayClient]:
    """A ``GatewayClient`` connected to ``simulator``."""
    async with GatewayClient.connect(simulator.endpoint, plaintext=True, default_timeout=5.0) as gateway:
        yield gateway


@pytest.fixture
async def session(client: GatewayClient) -> AsyncIterator[Session]:
    """A session opened on ``client``."""
    async with client.open_session("core-tests") as opened:
        yield opened
