"""Fixtures of the bridge tests: a real Mosquitto broker on a loopback port, a recorder, a running bridge."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

aiomqtt = pytest.importorskip("aiomqtt", reason="the mqtt extra (aiomqtt) is not installed")

from mxgateway.bridge import Bridge, BridgeConfig, parse_config  # noqa: E402
from mxgateway.simulator.server import Simulator  # noqa: E402

MOSQUITTO = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")


def _reserve_port() -> socket.socket:
    """A loopback port held for a broker: bound (SO_REUSEADDR) but not listening.

    While it is held the kernel gives the port to no other bind or connect, in
    this process or another (parallel test workers, other test runs), so a
    broker started, stopped and restarted on it always finds it free. Mosquitto
    binds with SO_REUSEADDR beside it; connections reach the broker, or are
    refused while it is stopped.
    """
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.bind(("127.0.0.1", 0))
    return holder


@dataclass
class Mosquitto:
    """A Mosquitto broker of this test, stopped and restarted by PID."""

    directory: Path
    holder: socket.socket = field(default_factory=_reserve_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def port(self) -> int:
        return int(self.holder.getsockname()[1])

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def start(self) -> None:
        assert MOSQUITTO is not None
        config = self.directory / "mosquitto.conf"
        config.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n", encoding="utf-8"
        )
        log = open(self.directory / "mosquitto.log", "ab")  # noqa: SIM115 - the broker's own log, kept open
        self.process = subprocess.Popen([MOSQUITTO, "-c", str(config)], stdout=log, stderr=log)
        deadline = time.monotonic() + 10
        for _ in range(1000):
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2),
            ):
                return
            if self.process.poll() is not None or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        raise RuntimeError(f"mosquitto did not start on port {self.port}")

    def stop(self) -> None:
        if self.process is None:
            return
        os.kill(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(5)
        self.process = None


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    if MOSQUITTO is None:
        pytest.skip("the mosquitto binary is not installed (apt-get install mosquitto)")
    mosquitto = Mosquitto(tmp_path)
    try:
        mosquitto.start()
        yield mosquitto
    finally:
        mosquitto.stop()
        mosquitto.holder.close()


@pytest.fixture
async def sim(anyio_backend: object) -> AsyncIterator[Simulator]:
    async with Simulator(update_rate_hz=0) as simulator:
        yield simulator


@dataclass(frozen=True)
class Received:
    """One message as a subscriber got it: QoS and retain as the publisher sent them (MQTT 5)."""

    topic: str
    payload: bytes
    qos: int
    retain: bool
    at: float


class Recorder:
    """Every message on a topic filter, in arrival order; reconnects (bounded) when the broker restarts.

    It subscribes with MQTT 5's retain-as-published at QoS 2, so each message keeps the
    QoS and retain flag its publisher gave it.
    """

    def __init__(self, port: int, topic: str = "#") -> None:
        self.port = port
        self.topic = topic
        self.received: list[Received] = []
        self.subscribed = asyncio.Event()
        self.connections = 0
        self._task: asyncio.Task[None] | None = None

    @property
    def messages(self) -> list[tuple[str, bytes]]:
        return [(r.topic, r.payload) for r in self.received]

    def on(self, topic: str) -> list[bytes]:
        return [r.payload for r in self.received if r.topic == topic]

    async def _run(self) -> None:
        from paho.mqtt.subscribeoptions import SubscribeOptions

        for _ in range(2000):
            try:
                async with aiomqtt.Client(
                    "127.0.0.1",
                    self.port,
                    identifier=f"recorder-{id(self)}",
                    protocol=aiomqtt.ProtocolVersion.V5,
                ) as client:
                    await client.subscribe(
                        self.topic, options=SubscribeOptions(qos=2, retainAsPublished=True)
                    )
                    self.connections += 1
                    self.subscribed.set()
                    async for message in client.messages:
                        assert isinstance(message.payload, bytes)
                        self.received.append(
                            Received(
                                message.topic.value,
                                message.payload,
                                message.qos,
                                bool(message.retain),
                                time.monotonic(),
                            )
                        )
            except aiomqtt.MqttError:
                self.subscribed.clear()
                await asyncio.sleep(0.02)

    async def __aenter__(self) -> Recorder:
        self._task = asyncio.create_task(self._run())
        await asyncio.wait_for(self.subscribed.wait(), 10)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


async def until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Wait (bounded in time and steps) until ``predicate()`` holds."""
    deadline = time.monotonic() + timeout
    for _ in range(int(timeout / 0.01) + 1):
        if predicate():
            return
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def bridge_config(
    broker_port: int, endpoint: str, store: Path, extra: str = "", publish: str = ""
) -> BridgeConfig:
    """A configuration for a test, parsed from TOML like a user's file."""
    text = f"""
[gateway]
endpoint = "{endpoint}"
plaintext = true

[broker]
port = {broker_port}
client_id = "bridge-under-test"
connect_timeout_s = 0.5
reconnect_min_s = 0.05
reconnect_max_s = 0.3

[publish]
{publish or 'templates = ["$Tank.Level", "$Tank.Notes", "$Pump.Speed"]'}

[store]
path = "{store}"

[health]
interval_s = 0.5
{extra}
"""
    return parse_config(text, "test.toml")


@contextlib.asynccontextmanager
async def running(bridge: Bridge) -> AsyncIterator[asyncio.Task[None]]:
    """Run the bridge until the block ends; it must be ready (subscribed, connected) within 15 s."""
    task = asyncio.create_task(bridge.run())
    ready = asyncio.create_task(bridge.wait_ready())
    done, _ = await asyncio.wait([task, ready], timeout=15, return_when=asyncio.FIRST_COMPLETED)
    if ready not in done:
        ready.cancel()
        if task in done:
            task.result()
        task.cancel()
        raise AssertionError("the bridge did not get ready within 15 s")
    try:
        yield task
    finally:
        bridge.stop()
        await asyncio.wait_for(task, 15)
