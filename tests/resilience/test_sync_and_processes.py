"""The same guarantees through the blocking facade, and SIGTERM as a service manager sends it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator

import pytest

import mxgateway_sync
from mxgateway.simulator.background import BackgroundSimulator
from mxgateway.simulator.faultproxy import FaultProxy
from mxgateway.simulator.server import Simulator

from .conftest import FAST, TAGS


def eventually(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    for _ in range(int(timeout / 0.02) + 1):
        if predicate():
            return True
        if time.monotonic() > deadline:
            break
        time.sleep(0.02)
    return predicate()


@pytest.fixture
def proxied() -> Iterator[tuple[BackgroundSimulator, FaultProxy]]:
    with Simulator.start_in_background(update_rate_hz=0) as background:
        proxy = FaultProxy(background.simulator.host, background.port)
        background.call(proxy.start)
        try:
            yield background, proxy
        finally:
            background.call(proxy.close)


def test_a_lazily_started_sync_iterator_loses_nothing(
    proxied: tuple[BackgroundSimulator, FaultProxy],
) -> None:
    _, proxy = proxied
    client = mxgateway_sync.Client(
        endpoint=proxy.endpoint, options=mxgateway_sync.ClientOptions(reconnect=FAST)
    )
    try:
        events = client.events()  # no next() yet
        client.write_tag("Tank_001.Notes", "written before the first next()")
        first = next(events)
        assert isinstance(first, mxgateway_sync.WriteComplete)
        assert first.worker_sequence == 1
        events.close()
    finally:
        client.close()


def test_the_facade_keeps_every_change_across_a_cut(proxied: tuple[BackgroundSimulator, FaultProxy]) -> None:
    background, proxy = proxied
    sim = background.simulator
    client = mxgateway_sync.Client(
        endpoint=proxy.endpoint, options=mxgateway_sync.ClientOptions(reconnect=FAST)
    )
    stop = threading.Event()

    def produce() -> None:
        for _ in range(2_000):
            if stop.is_set():
                return
            background.call(sim.advance, 0.1)
            time.sleep(0.05)

    producer = threading.Thread(target=produce, daemon=True)
    try:
        with client.subscribe(TAGS) as subscription:
            seen = [next(subscription) for _ in range(len(TAGS))]
            producer.start()
            assert eventually(lambda: sim.stats.events_published > 30)
            background.call(proxy.cut, 2.0)
            time.sleep(2.0)
            published = sim.stats.events_published
            assert eventually(lambda: sim.stats.events_published > published + 20)
            stop.set()
            producer.join(10)
            target = sim.stats.events_published
            deadline = time.monotonic() + 15
            for _ in range(10 * target):
                if seen[-1].worker_sequence >= target or time.monotonic() > deadline:
                    break
                seen.append(next(subscription))
        assert [c.worker_sequence for c in seen] == list(range(1, target + 1))
        assert client.connection_state is mxgateway_sync.ConnectionState.CONNECTED
    finally:
        stop.set()
        client.close()


def _spawn(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def test_sigterm_to_a_sync_script_closes_its_session(mx_simulator: BackgroundSimulator) -> None:
    script = textwrap.dedent(
        f"""
        from mxgateway_sync import Client
        client = Client(endpoint={mx_simulator.endpoint!r})
        with client.subscribe(["Tank_001.Level"]) as changes:
            next(changes)
            print("ready", flush=True)
            next(changes)  # values stay put: blocks until the service manager stops it
        """
    )
    child = _spawn([sys.executable, "-c", script])
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        assert len(mx_simulator.simulator.session_ids()) == 1
        child.send_signal(signal.SIGTERM)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 143
    assert eventually(lambda: mx_simulator.simulator.session_ids() == [])
    assert mx_simulator.simulator.stats.sessions_closed == 1  # closed, not expired


def test_sigterm_closes_a_session_a_worker_thread_opened(mx_simulator: BackgroundSimulator) -> None:
    # The package is imported on the main thread; the first client is made on a worker.
    script = textwrap.dedent(
        f"""
        import threading
        from mxgateway_sync import Client

        def work():
            client = Client(endpoint={mx_simulator.endpoint!r})
            with client.subscribe(["Tank_001.Level"]) as changes:
                next(changes)
                print("ready", flush=True)
                next(changes)  # values stay put: blocks until the process is stopped

        worker = threading.Thread(target=work)
        worker.start()
        worker.join()
        """
    )
    child = _spawn([sys.executable, "-c", script])
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        assert len(mx_simulator.simulator.session_ids()) == 1
        os.kill(child.pid, signal.SIGTERM)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 143
    assert eventually(lambda: mx_simulator.simulator.session_ids() == [])
    assert mx_simulator.simulator.stats.sessions_closed == 1  # closed, not expired


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        # Imported, never used: nothing to close, so SIGTERM keeps its default action.
        ("import mxgateway_sync", -signal.SIGTERM),
        # A handler the program set before the import is kept ...
        ("signal.signal(signal.SIGTERM, lambda *_: sys.exit(7))\nimport mxgateway_sync", 7),
        # ... and one it sets afterwards replaces the facade's.
        (
            "import mxgateway_sync\nmxgateway_sync.ClientOptions()\n"
            "signal.signal(signal.SIGTERM, lambda *_: sys.exit(9))",
            9,
        ),
    ],
    ids=["unused", "handler-set-before", "handler-set-after"],
)
def test_sigterm_is_left_to_the_program_where_it_decides(setup: str, expected: int) -> None:
    script = f"import signal, sys, time\n{setup}\nprint('ready', flush=True)\ntime.sleep(30)\n"
    child = _spawn([sys.executable, "-c", script])
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        os.kill(child.pid, signal.SIGTERM)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == expected


def test_sigterm_to_mxgw_py_subscribe_closes_its_session(mx_simulator: BackgroundSimulator) -> None:
    command = [sys.executable, "-m", "mxgateway.cli", "subscribe", "Tank_001.Level", "--json"]
    child = _spawn(command, env={"MXGATEWAY_ENDPOINT": mx_simulator.endpoint})
    try:
        assert child.stdout is not None
        first = json.loads(child.stdout.readline())
        assert first["tag"] == "Tank_001.Level"
        child.send_signal(signal.SIGTERM)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 143
    assert eventually(lambda: mx_simulator.simulator.session_ids() == [])
    assert mx_simulator.simulator.stats.sessions_closed == 1
