"""Running it for years: the metrics endpoint, store drops made visible, alarms in the namespace."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
import urllib.request
from pathlib import Path

import aiomqtt
import pytest

from mxgateway.bridge import Bridge
from mxgateway.bridge.outbox import DropLog, Outbox
from mxgateway.bridge.store import DiskQueue
from mxgateway.bridge.topics import Message
from mxgateway.simulator.server import Simulator

from .conftest import Mosquitto, Recorder, bridge_config, running, until
from .sparkplug_host import Host, data_metrics, state

pytestmark = pytest.mark.anyio


def scrape(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    values = {}
    for line in text.splitlines():
        if line.startswith("mxgateway_bridge_") and not line.endswith("_created"):
            name, _, value = line.partition(" ")
            values[name] = float(value)
    return values


async def test_the_metrics_endpoint_reports_counters_on_loopback(
    broker: Mosquitto, sim: Simulator, tmp_path: Path
) -> None:
    extra = "[metrics]\nenabled = true\nport = 0\n"
    config = bridge_config(
        broker.port, sim.endpoint, tmp_path / "q.sqlite3", extra, 'tags = ["Tank_001.Level"]'
    )
    bridge = Bridge(config)
    async with Recorder(broker.port) as recorder, running(bridge):
        await sim.advance(1.0)
        await until(lambda: len(recorder.messages) >= 2, 10, "published changes")
        port = bridge.metrics_port
        assert port
        values: dict[str, float] = {}
        for _ in range(40):  # the snapshot is refreshed twice a second
            values = await asyncio.to_thread(scrape, port)
            if values.get("mxgateway_bridge_published_total", 0) >= 2:
                break
            await asyncio.sleep(0.1)
    assert values["mxgateway_bridge_changes_total"] >= 2
    assert values["mxgateway_bridge_published_total"] >= 2
    assert values["mxgateway_bridge_broker_connects_total"] == 1
    assert values["mxgateway_bridge_broker_connected"] == 1
    assert values["mxgateway_bridge_gateway_connected"] == 1
    assert values["mxgateway_bridge_dropped_total"] == 0
    assert "mxgateway_bridge_lag_seconds" in values
    assert "mxgateway_bridge_births_total" in values
    # Stopped with the bridge.
    with pytest.raises(OSError, match=r"[Cc]onnection refused"):
        await asyncio.to_thread(scrape, port)


def test_drops_are_logged_once_per_interval_with_their_count(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="mxgateway.bridge")
    queue = DiskQueue(tmp_path / "q.sqlite3", max_messages=10, max_age_s=60)
    outbox = Outbox(queue)
    for i in range(2_000):
        outbox.put([Message(f"t/{i}", b"x")])
    outbox.close()
    lines = [r.getMessage() for r in caplog.records]
    # The first drop at once, the rest counted and logged once (on close here, else after the interval).
    assert lines == [
        "store-and-forward dropped 1 message(s): the queue is full (store.max_messages)",
        "store-and-forward dropped 1989 message(s): the queue is full (store.max_messages)",
    ]
    clock = [0.0]
    log = DropLog(interval_s=10, clock=lambda: clock[0])
    caplog.clear()
    log.add(3, "r")
    log.add(4, "r")
    clock[0] = 10.5
    log.add(5, "r")
    assert [r.getMessage() for r in caplog.records] == [
        "store-and-forward dropped 3 message(s): r",
        "store-and-forward dropped 9 message(s): r",
    ]


async def test_drops_while_the_host_is_away_are_followed_by_a_rebirth_that_counts_them(
    broker: Mosquitto, sim: Simulator, tmp_path: Path
) -> None:
    extra = '[topics]\nlayout = "sparkplug"\ngroup_id = "Plant"\nedge_node_id = "bridge1"\nprimary_host_id = "scada"\n'
    config = bridge_config(
        broker.port, sim.endpoint, tmp_path / "q.sqlite3", extra, 'tags = ["Tank_001.Level"]'
    )
    config = dataclasses.replace(config, store=dataclasses.replace(config.store, max_messages=5))
    bridge = Bridge(config)
    host = Host("Plant", "bridge1")
    async with (
        aiomqtt.Client("127.0.0.1", broker.port, identifier="scada") as scada,
        Recorder(broker.port, "spBv1.0/Plant/#") as recorder,
    ):
        t0 = int(time.time() * 1000)
        await scada.publish("spBv1.0/STATE/scada", state(False, t0), qos=1, retain=True)
        async with running(bridge):
            for _ in range(20):
                await sim.advance(0.5)
            await until(lambda: bridge.counters.dropped == 15, 10, "the drops")
            await scada.publish("spBv1.0/STATE/scada", state(True, t0 + 1), qos=1, retain=True)
            await until(lambda: data_metrics(host.all(recorder)) == 5, 10, "what was kept")
        await scada.publish("spBv1.0/STATE/scada", b"", qos=1, retain=True)
    seen = host.all(recorder)
    assert [s.kind for s in seen[:2]] == ["NBIRTH", "DBIRTH"]
    node = {m.name: m.value for m in seen[0].payload.metrics}
    assert node["Store/Dropped"] == 15
    kept = [s for s in seen if s.kind == "DDATA"]
    assert all(m.is_historical for s in kept for m in s.payload.metrics)


async def test_uns_alarms_go_under_their_object_in_the_area_path(
    broker: Mosquitto, sim: Simulator, tmp_path: Path
) -> None:
    extra = "[alarms]\nenabled = true\n"
    config = bridge_config(
        broker.port, sim.endpoint, tmp_path / "q.sqlite3", extra, 'tags = ["Tank_001.Level"]'
    )
    async with Recorder(broker.port, "mxgateway/#") as recorder, running(Bridge(config)):
        for _ in range(600):  # the demo plant's schedules cross their limits within minutes of plant time
            if sim.alarms.active_references():
                break
            await sim.advance(1.0)
        assert sim.alarms.active_references(), "the demo plant raised no alarm"
        await until(lambda: any("/_alarms/" in t for t, _ in recorder.messages), 10, "an alarm message")
    topic, payload = next((t, p) for t, p in recorder.messages if "/_alarms/" in t and p)
    document = json.loads(payload)
    areas = {
        "Tank_001": "WaterPlant/Intake",
        "Tank_002": "WaterPlant/Treatment",
        "FlowMeter_001": "WaterPlant/Treatment",
    }
    source = document["source"]
    assert "." not in source
    assert topic == f"mxgateway/{areas.get(source, topic.split('/')[1])}/{source}/_alarms/{document['name']}"
    assert document["reference"].endswith(f"{source}.{document['name']}")
