"""The blocking facade against the simulator: same results as the async core, no leaks."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

import mxgateway
import mxgateway_sync
from mxgateway.simulator.background import BackgroundSimulator
from mxgateway.simulator.server import Simulator
from mxgateway_sync import _runtime

TAGS = ["Tank_001.Level", "Tank_001.Volume", "Tank_001.Name", "Nope.Missing"]


def _summary(reads: list[Any]) -> list[tuple[str, bool, Any, int]]:
    return [(r.tag, r.ok, r.value, int(r.quality)) for r in reads]


def _sync_scenario(endpoint: str) -> dict[str, Any]:
    with mxgateway_sync.GatewayClient.connect(endpoint, plaintext=True) as client:
        session = client.open_session("facade-test")
        handle = session.register("facade")
        item = session.add_item(handle, "Tank_001.Volume")
        before = _summary(session.read(TAGS))
        outcome = session.write_and_confirm("Tank_001.Volume", 1234)
        after = _summary(session.read(TAGS))
        with session.subscribe(["Tank_001.Level"]) as changes:
            first = next(iter(changes))
        galaxy = mxgateway_sync.GalaxyRepositoryClient.connect(endpoint, plaintext=True)
        objects = [o.tag_name for o in galaxy.discover_hierarchy(tag_name_glob="Tank_*")]
        galaxy.close()
        session.close()
        return {
            "handle": handle,
            "item": item,
            "before": before,
            "write_ok": outcome.ok,
            "after": after,
            "first_change": (first.tag, first.value),
            "objects": objects,
        }


async def _async_scenario(endpoint: str) -> dict[str, Any]:
    async with mxgateway.GatewayClient.connect(endpoint, plaintext=True) as client:
        session = await client.open_session("facade-test")
        handle = await session.register("facade")
        item = await session.add_item(handle, "Tank_001.Volume")
        before = _summary(await session.read(TAGS))
        outcome = await session.write_and_confirm("Tank_001.Volume", 1234)
        after = _summary(await session.read(TAGS))
        async with session.subscribe(["Tank_001.Level"]) as changes:
            first = await changes.__anext__()
        galaxy = await mxgateway.GalaxyRepositoryClient.connect(endpoint, plaintext=True)
        objects = [o.tag_name for o in await galaxy.discover_hierarchy(tag_name_glob="Tank_*")]
        await galaxy.close()
        await session.close()
        return {
            "handle": handle,
            "item": item,
            "before": before,
            "write_ok": outcome.ok,
            "after": after,
            "first_change": (first.tag, first.value),
            "objects": objects,
        }


def test_sync_and_async_give_the_same_results() -> None:
    # Two fresh simulators with frozen values, so both runs see the same state.
    with (
        Simulator.start_in_background(update_rate_hz=0) as first,
        Simulator.start_in_background(update_rate_hz=0) as second,
    ):
        sync_result = _sync_scenario(first.endpoint)
        async_result = asyncio.run(_async_scenario(second.endpoint))
    assert sync_result == async_result
    assert sync_result["write_ok"] is True
    assert sync_result["after"][1][2] == 1234
    assert sync_result["before"][3][1] is False  # the unknown tag fails on its own
    assert sync_result["objects"] == ["Tank_001", "Tank_002"]


def test_facade_works_inside_a_running_loop(mx_simulator_endpoint: str) -> None:
    # What a Jupyter cell does: blocking calls from a coroutine on the main thread's loop.
    async def cell() -> list[Any]:
        client = mxgateway_sync.Client(endpoint=mx_simulator_endpoint, plaintext=True)
        try:
            client.register("notebook")
            return _summary(client.read(["Tank_001.Name"]))
        finally:
            client.close()

    assert asyncio.run(cell()) == [("Tank_001.Name", True, "Raw water tank 1", 192)]


def test_lazy_client_opens_on_first_call_and_closes_everything(mx_simulator: BackgroundSimulator) -> None:
    client = mxgateway_sync.Client(endpoint=mx_simulator.endpoint, plaintext=True)
    assert "not connected yet" in repr(client)
    assert mx_simulator.simulator.session_ids() == []
    assert client.register("script") > 0
    assert mx_simulator.simulator.session_ids() == [client.session_id]
    assert client.galaxy().test_connection() is True
    client.close()
    assert client.closed
    assert mx_simulator.simulator.session_ids() == []
    with pytest.raises(mxgateway_sync.MxGatewayError):
        client.register("again")


def test_open_session_returns_the_session_and_is_a_context_manager(
    mx_simulator: BackgroundSimulator,
) -> None:
    sim = mx_simulator.simulator
    with mxgateway_sync.GatewayClient.connect(mx_simulator.endpoint, plaintext=True) as client:
        session = client.open_session("assigned")
        assert isinstance(session, mxgateway_sync.Session)
        assert sim.session_ids() == [session.session_id]
        session.close()
        with client.open_session("scoped") as scoped:
            assert scoped.register("scoped") > 0
            assert sim.session_ids() == [scoped.session_id]
        assert sim.session_ids() == []
        opened: list[str] = []

        def fail_inside() -> None:
            with client.open_session("raises") as failing:
                opened.append(failing.session_id)
                assert sim.session_ids() == opened
                raise LookupError("inside")

        with pytest.raises(LookupError, match="inside"):
            fail_inside()
        assert len(opened) == 1
        assert sim.session_ids() == []


def test_embedded_simulator_endpoint() -> None:
    with mxgateway_sync.Client(endpoint="simulator") as client:
        result = client.read(["Pump_001.Serial"])
        assert result[0].value == "P-00001"
        assert client.backend_name == "simulator"


def _eventually(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _open_fds() -> int:
    return len(os.listdir(f"/proc/{os.getpid()}/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_create_use_close_cycles_leak_no_threads_or_fds(mx_simulator_endpoint: str) -> None:
    def cycle() -> None:
        client = mxgateway_sync.Client(endpoint=mx_simulator_endpoint, plaintext=True)
        client.read(["Tank_001.Level"])
        with client.events() as events:
            events.wait_connected()
        client.close()

    for _ in range(5):  # let lazily started runtime and grpc threads exist first
        cycle()
    threads, fds = threading.active_count(), _open_fds()
    for _ in range(200):
        cycle()
    assert _eventually(lambda: threading.active_count() <= threads), threading.enumerate()
    assert _eventually(lambda: _open_fds() <= fds)


def test_call_from_the_loop_thread_raises_the_clear_error(mx_simulator_endpoint: str) -> None:
    client = mxgateway_sync.Client(endpoint=mx_simulator_endpoint, plaintext=True)
    try:

        async def on_loop() -> None:
            client.register("deadlock?")

        with pytest.raises(mxgateway_sync.LoopThreadCallError):
            _runtime.run(on_loop())
        assert client.register("fine") > 0  # the facade still works afterwards
    finally:
        client.close()


def test_sigint_stops_a_blocked_stream_read_and_closes_it_on_the_server(
    mx_simulator: BackgroundSimulator,
) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        from mxgateway_sync import Client
        client = Client(endpoint={mx_simulator.endpoint!r}, plaintext=True)
        with client.events() as events:
            events.wait_connected()
            print("ready", flush=True)
            next(events)  # nothing happens on this session: blocks until Ctrl-C
        """
    )
    stats = mx_simulator.simulator.stats
    child = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        assert _eventually(lambda: stats.streams_opened - stats.streams_closed == 1)
        sent = time.monotonic()
        child.send_signal(signal.SIGINT)
        child.wait(timeout=10)
        assert time.monotonic() - sent < 5
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode != 0
    assert "KeyboardInterrupt" in (child.stderr.read() if child.stderr else "")
    assert _eventually(lambda: stats.streams_opened == stats.streams_closed)
    assert _eventually(lambda: mx_simulator.simulator.session_ids() == [])  # closed at exit
