"""The Unified Namespace layout against a real broker: topics, payloads, status, writes."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path

import pytest

from mxgateway import Client
from mxgateway.bridge import Bridge
from mxgateway.simulator.server import Simulator

from .conftest import Mosquitto, Recorder, bridge_config, running, until

pytestmark = pytest.mark.anyio

EXPECTED_TOPICS = {
    "Tank_001.Level": "mxgateway/WaterPlant/Intake/Tank_001/Level",
    "Tank_001.Notes": "mxgateway/WaterPlant/Intake/Tank_001/Notes",
    "Tank_002.Level": "mxgateway/WaterPlant/Treatment/Tank_002/Level",
    "Tank_002.Notes": "mxgateway/WaterPlant/Treatment/Tank_002/Notes",
    "Pump_001.Speed": "mxgateway/WaterPlant/Intake/Pump_001/Speed",
    "Pump_002.Speed": "mxgateway/WaterPlant/Treatment/Pump_002/Speed",
}


async def test_demo_plant_topics_and_payloads(broker: Mosquitto, sim: Simulator, tmp_path: Path) -> None:
    config = bridge_config(broker.port, sim.endpoint, tmp_path / "q.sqlite3")
    bridge = Bridge(config)
    async with Recorder(broker.port) as recorder, running(bridge):
        assert dict(bridge.topics) == EXPECTED_TOPICS
        await until(lambda: all(recorder.on(t) for t in EXPECTED_TOPICS.values()), 10, "every tag's value")
        async with Client(endpoint=sim.endpoint, plaintext=True) as reader:
            current = {r.tag: r for r in await reader.read(list(EXPECTED_TOPICS))}
        for tag, topic in EXPECTED_TOPICS.items():
            payload = json.loads(recorder.on(topic)[0])
            assert set(payload) == {"value", "quality", "quality_name", "timestamp", "data_type"}
            expected = current[tag].value
            assert payload["value"] == (pytest.approx(expected) if isinstance(expected, float) else expected)
            assert payload["quality"] == 192
            assert payload["quality_name"] == "good"
            assert dt.datetime.fromisoformat(payload["timestamp"]).tzinfo is not None
        level = json.loads(recorder.on(EXPECTED_TOPICS["Tank_001.Level"])[0])
        assert level["data_type"] == "Double"
        assert json.loads(recorder.on(EXPECTED_TOPICS["Tank_001.Notes"])[0])["data_type"] == "BigString"
        assert json.loads(recorder.on(EXPECTED_TOPICS["Pump_001.Speed"])[0])["data_type"] == "Float"
        # A change moves the values: one more message per moving tag.
        before = len(recorder.on(EXPECTED_TOPICS["Tank_001.Level"]))
        await sim.advance(1.0)
        await until(lambda: len(recorder.on(EXPECTED_TOPICS["Tank_001.Level"])) > before, 5, "the change")
        status_topic = config.status_topic
        await until(lambda: bool(recorder.on(status_topic)), 5, "the status")
        online = json.loads(recorder.on(status_topic)[-1])
        assert online["state"] == "online"
        assert online["counters"]["dropped"] == 0
    # The counters show what went out.
    assert bridge.counters.published >= len(EXPECTED_TOPICS) + 1
    assert bridge.counters.changes >= len(EXPECTED_TOPICS) + 1


async def test_status_goes_offline_on_a_clean_stop_and_values_are_retained(
    broker: Mosquitto, sim: Simulator, tmp_path: Path
) -> None:
    config = bridge_config(broker.port, sim.endpoint, tmp_path / "q.sqlite3")
    bridge = Bridge(config)
    async with Recorder(broker.port, config.status_topic) as status:
        async with Recorder(broker.port, "mxgateway/WaterPlant/#") as live, running(bridge):
            await until(lambda: bool(status.messages), 5, "online")
            assert json.loads(status.messages[0][1])["state"] == "online"
            # A clean stop leaves unsent values on disk, so wait until the broker has them all.
            await until(lambda: all(live.on(t) for t in EXPECTED_TOPICS.values()), 10, "every value")
        # Still listening while the bridge stops: its offline status comes last.
        await until(lambda: json.loads(status.messages[-1][1])["state"] == "offline", 5, "offline")
    # A subscriber arriving later gets the retained values of the UNS, marked stale: the bridge is gone.
    async with Recorder(broker.port, "mxgateway/WaterPlant/#") as late:
        await until(lambda: all(late.on(t) for t in EXPECTED_TOPICS.values()), 5, "retained values")
    for topic in EXPECTED_TOPICS.values():
        (retained,) = late.on(topic)
        document = json.loads(retained)
        assert document["stale"] is True
        assert document["value"] == json.loads(live.on(topic)[-1])["value"]
        assert [r.retain for r in late.received if r.topic == topic] == [True]


async def test_writes_from_a_command_topic_only_for_allowed_tags(
    broker: Mosquitto, sim: Simulator, tmp_path: Path
) -> None:
    extra = '[writes]\nenabled = true\nallow = ["Tank_001.Notes"]\n'
    config = bridge_config(broker.port, sim.endpoint, tmp_path / "q.sqlite3", extra)
    bridge = Bridge(config)
    allowed = EXPECTED_TOPICS["Tank_001.Notes"]
    refused = EXPECTED_TOPICS["Tank_002.Notes"]
    async with (
        Recorder(broker.port) as recorder,
        running(bridge),
        Client(endpoint=sim.endpoint, plaintext=True) as reader,
    ):
        before = (await reader.read(["Tank_002.Notes"]))[0].value
        async with aiomqtt_client(broker.port) as commander:
            await commander.publish(allowed + "/set", json.dumps({"value": "from mqtt", "id": "a1"}), qos=1)
            await until(lambda: bool(recorder.on(allowed + "/set/response")), 10, "the response")
            response = json.loads(recorder.on(allowed + "/set/response")[0])
            assert response == {
                "error": None,
                "id": "a1",
                "ok": True,
                "status": "written",
                "tag": "Tank_001.Notes",
                "value": "from mqtt",
            }
            assert (await reader.read(["Tank_001.Notes"]))[0].value == "from mqtt"
            # The change comes back on the value topic like any other.
            await until(
                lambda: any(json.loads(p)["value"] == "from mqtt" for p in recorder.on(allowed)),
                5,
                "the change",
            )
            await commander.publish(refused + "/set", json.dumps({"value": "sneaky", "id": "b2"}), qos=1)
            await until(lambda: bool(recorder.on(refused + "/set/response")), 10, "the refusal")
            response = json.loads(recorder.on(refused + "/set/response")[0])
            assert response["ok"] is False
            assert response["status"] == "refused"
            assert response["id"] == "b2"
            assert "allow-list" in response["error"]
            assert (await reader.read(["Tank_002.Notes"]))[0].value == before
            await commander.publish(allowed + "/set", b"not json", qos=1)
            await until(lambda: len(recorder.on(allowed + "/set/response")) == 2, 10, "the bad command")
            assert json.loads(recorder.on(allowed + "/set/response")[1])["status"] == "refused"
    assert bridge.counters.written == 1
    assert bridge.counters.write_errors == 2


async def test_writes_are_off_by_default(broker: Mosquitto, sim: Simulator, tmp_path: Path) -> None:
    config = bridge_config(broker.port, sim.endpoint, tmp_path / "q.sqlite3")
    topic = EXPECTED_TOPICS["Tank_001.Notes"]
    async with (
        Recorder(broker.port) as recorder,
        running(Bridge(config)),
        Client(endpoint=sim.endpoint, plaintext=True) as reader,
    ):
        before = (await reader.read(["Tank_001.Notes"]))[0].value
        async with aiomqtt_client(broker.port) as commander:
            await commander.publish(topic + "/set", json.dumps({"value": "ignored"}), qos=1)
        # The command itself arrives at the broker (the recorder sees it); nobody answers.
        await until(lambda: bool(recorder.on(topic + "/set")), 5, "the command")
        await asyncio.sleep(0.5)
        assert recorder.on(topic + "/set/response") == []
        assert (await reader.read(["Tank_001.Notes"]))[0].value == before


def aiomqtt_client(port: int):  # type: ignore[no-untyped-def]
    import aiomqtt

    return aiomqtt.Client("127.0.0.1", port, identifier="commander")
