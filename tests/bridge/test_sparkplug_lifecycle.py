"""Sparkplug sessions across a kill -9 of the bridge process and across a lost gateway session."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from mxgateway import Client, ClientOptions, ReconnectPolicy
from mxgateway.bridge import Bridge
from mxgateway.simulator.faultproxy import FaultProxy
from mxgateway.simulator.server import Simulator

from .conftest import Mosquitto, Recorder, bridge_config, running, until
from .sparkplug_host import Host

pytestmark = pytest.mark.anyio

SPARKPLUG = '[topics]\nlayout = "sparkplug"\ngroup_id = "Plant"\nedge_node_id = "bridge1"\n'


def bd_seq_of(payload: object) -> int:
    return int(next(m.value for m in payload.metrics if m.name == "bdSeq"))  # type: ignore[attr-defined]


def start_bridge(config: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "mxgateway.cli", "bridge", "mqtt", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def test_kill_9_the_ndeath_matches_the_last_nbirth_and_the_restart_moves_on(
    broker: Mosquitto, sim: Simulator, tmp_path: Path
) -> None:
    config = tmp_path / "bridge.toml"
    config.write_text(
        f'[gateway]\nendpoint = "{sim.endpoint}"\nplaintext = true\n'
        f'[broker]\nport = {broker.port}\nclient_id = "killed-bridge"\nkeepalive_s = 5\n'
        f'[publish]\ntags = ["Tank_001.Level"]\n[store]\npath = "{tmp_path / "q.sqlite3"}"\n{SPARKPLUG}',
        encoding="utf-8",
    )
    host = Host("Plant", "bridge1")
    processes: list[subprocess.Popen[bytes]] = []
    try:
        async with Recorder(broker.port, "spBv1.0/Plant/#") as recorder:

            def seen(kind: str) -> list[object]:
                return [s.payload for s in host.all(recorder) if s.kind == kind]

            processes.append(start_bridge(config))
            await until(lambda: len(seen("NBIRTH")) == 1, 30, "the first birth")
            os.kill(processes[0].pid, signal.SIGKILL)
            await until(lambda: processes[0].poll() is not None, 10, "the killed process to end")
            # The broker sends the will: the NDEATH of that session.
            await until(lambda: len(seen("NDEATH")) == 1, 15, "the will")
            processes.append(start_bridge(config))
            await until(lambda: len(seen("NBIRTH")) == 2, 30, "the birth after the restart")
            processes[1].send_signal(signal.SIGTERM)
            # Polled, not waited for: the simulator the bridge talks to runs on this loop.
            await until(lambda: processes[1].poll() is not None, 20, "the clean stop")
            await until(lambda: len(seen("NDEATH")) == 2, 10, "the clean stop's NDEATH")
        will_message = next(s for s in host.all(recorder) if s.kind == "NDEATH")
        assert (will_message.raw.qos, will_message.raw.retain) == (1, False)
        first, second = (bd_seq_of(p) for p in seen("NBIRTH"))
        will, clean = (p.bd_seq_metric.value for p in seen("NDEATH"))  # type: ignore[attr-defined]
        assert first == 0  # a new store: bdSeq starts at zero
        assert will == first
        assert second == first + 1
        assert clean == second
        assert processes[1].returncode == 0
        # MQTT 3.1.1 ("p2") with the clean session flag ("c1"), as Mosquitto logs each connection.
        log = (broker.directory / "mosquitto.log").read_text(encoding="utf-8", errors="replace")
        connects = [line for line in log.splitlines() if "as killed-bridge" in line]
        assert len(connects) == 2
        assert all("(p2, c1," in line for line in connects)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait(10)


async def test_a_lost_gateway_session_kills_every_device_and_recovery_gives_births_with_values(
    broker: Mosquitto, tmp_path: Path
) -> None:
    fast = ReconnectPolicy(initial_backoff_s=0.05, max_backoff_s=0.5)
    publish = 'tags = ["Tank_001.Level", "Tank_001.Notes", "Pump_001.Speed"]'
    host = Host("Plant", "bridge1")
    async with (
        Simulator(update_rate_hz=0, detach_grace_s=0.5) as sim,
        FaultProxy(sim.host, sim.port) as proxy,
    ):
        options = ClientOptions(endpoint=proxy.endpoint, default_timeout=5.0, reconnect=fast)
        async with Client(options=options) as client, Client(endpoint=sim.endpoint, plaintext=True) as writer:
            config = bridge_config(broker.port, proxy.endpoint, tmp_path / "q.sqlite3", SPARKPLUG, publish)
            bridge = Bridge(config, client=client)
            async with Recorder(broker.port, "spBv1.0/Plant/#") as recorder, running(bridge):
                await until(
                    lambda: [s.kind for s in host.all(recorder)].count("DBIRTH") == 2, 10, "the births"
                )
                await proxy.cut(2.0)  # longer than the detach grace: the session is lost
                await writer.write_tag("Tank_001.Notes", "while the session was lost")
                await until(
                    lambda: [s.kind for s in host.all(recorder)].count("DDEATH") == 2, 20, "the deaths"
                )
                await until(
                    lambda: [s.kind for s in host.all(recorder)].count("DBIRTH") == 4, 20, "the rebirths"
                )
    seen = host.all(recorder)
    kinds = [s.kind for s in seen]
    first_death = kinds.index("DDEATH")
    # The node says the gateway is gone, then each device dies; back: the node says so, then births.
    assert kinds[first_death - 1 : first_death + 2] == ["NDATA", "DDEATH", "DDEATH"]
    assert seen[first_death - 1].payload.metrics[0].name == "Gateway/Connected"
    assert seen[first_death - 1].payload.metrics[0].value is False
    back = kinds.index("NDATA", first_death)
    assert seen[back].payload.metrics[0].value is True
    assert kinds[back + 1 : back + 3] == ["DBIRTH", "DBIRTH"]
    tank = next(s for s in seen[back:] if s.device == "Tank_001" and s.kind == "DBIRTH")
    values = {m.name: m.value for m in tank.payload.metrics}
    assert values["Notes"] == "while the session was lost"
    assert values["Level"] is not None
    # Nothing of a dead device between its death and its birth; seq unbroken throughout.
    assert [s.kind for s in seen[first_death + 2 : back]] == []
    assert {(s.raw.qos, s.raw.retain) for s in seen if s.kind != "NDEATH"} == {(0, False)}
    numbered = [s for s in seen if s.kind != "NDEATH"]
    assert [s.payload.seq for s in numbered] == [i % 256 for i in range(len(numbered))]
