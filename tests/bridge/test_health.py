"""Health: the last will when the bridge vanishes, the state line, and the alarm seam."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from mxgateway.bridge import Bridge, Counters, parse_config
from mxgateway.bridge.health import StateLine
from mxgateway.simulator.faultproxy import FaultProxy
from mxgateway.simulator.server import Simulator

from .conftest import Mosquitto, Recorder, bridge_config, running, until

pytestmark = pytest.mark.anyio


def states(recorder: Recorder, topic: str) -> list[str]:
    return [json.loads(p)["state"] for p in recorder.on(topic)]


async def test_the_last_will_says_offline_when_the_connection_dies_then_online_again(
    broker: Mosquitto, sim: Simulator, tmp_path: Path
) -> None:
    async with FaultProxy("127.0.0.1", broker.port) as proxy:
        config = bridge_config(
            proxy.port, sim.endpoint, tmp_path / "q.sqlite3", publish='tags = ["Tank_001.Level"]'
        )
        bridge = Bridge(config)
        async with Recorder(broker.port, config.status_topic) as recorder, running(bridge):
            await until(lambda: states(recorder, config.status_topic)[:1] == ["online"], 5, "online")
            await proxy.cut(0.5)  # the broker sees the bridge's connection die: it sends the will
            await until(lambda: "offline" in states(recorder, config.status_topic), 10, "the will")
            await until(lambda: states(recorder, config.status_topic)[-1] == "online", 10, "online again")
            assert bridge.counters.broker_connects == 2
        assert states(recorder, config.status_topic)[-1] == "offline"


async def test_sparkplug_ndeath_is_the_will(broker: Mosquitto, sim: Simulator, tmp_path: Path) -> None:
    from mxgateway.generated import sparkplug_b_pb2 as spb

    extra = '[topics]\nlayout = "sparkplug"\ngroup_id = "G"\nedge_node_id = "E"\n'
    async with FaultProxy("127.0.0.1", broker.port) as proxy:
        config = bridge_config(
            proxy.port, sim.endpoint, tmp_path / "q.sqlite3", extra, 'tags = ["Tank_001.Level"]'
        )
        async with Recorder(broker.port, "spBv1.0/G/#") as recorder, running(Bridge(config)):
            await until(lambda: bool(recorder.on("spBv1.0/G/NBIRTH/E")), 5, "the birth")
            birth = spb.Payload.FromString(recorder.on("spBv1.0/G/NBIRTH/E")[0])
            await proxy.cut(0.5)
            await until(lambda: bool(recorder.on("spBv1.0/G/NDEATH/E")), 10, "the NDEATH will")
            death = spb.Payload.FromString(recorder.on("spBv1.0/G/NDEATH/E")[0])
            bd_seq = {m.name: m.long_value for m in birth.metrics}["bdSeq"]
            assert {m.name: m.long_value for m in death.metrics} == {"bdSeq": bd_seq}
            await until(lambda: len(recorder.on("spBv1.0/G/NBIRTH/E")) == 2, 10, "the rebirth")


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_state_line_is_drawn_only_on_a_terminal() -> None:
    counters = Counters(changes=5, published=4, dropped=1)
    tty = _Tty()
    line = StateLine(tty)
    line.show("connected", "connected", counters, 1)
    line.close()
    text = tty.getvalue()
    assert text.startswith("\r")
    assert text.endswith("\n")
    assert "changes 5 published 4 waiting 1 dropped 1" in text
    pipe = io.StringIO()
    quiet = StateLine(pipe)
    quiet.show("connected", "connected", counters, 1)
    quiet.close()
    assert not quiet.enabled
    assert pipe.getvalue() == ""


class _Feed:
    def __init__(self, records: list[Mapping[str, Any]]) -> None:
        self.records = records

    async def _gen(self) -> AsyncIterator[Mapping[str, Any]]:
        for record in self.records:
            yield record
        await asyncio.Event().wait()  # a live feed does not end

    def __aiter__(self) -> AsyncIterator[Mapping[str, Any]]:
        return self._gen()


async def test_alarms_from_a_feed_are_published_under_the_alarm_prefix(
    broker: Mosquitto, sim: Simulator, tmp_path: Path
) -> None:
    extra = '[alarms]\nenabled = true\nprefix = "plant/alarms"\n'
    config = bridge_config(
        broker.port, sim.endpoint, tmp_path / "q.sqlite3", extra, 'tags = ["Tank_001.Level"]'
    )
    feed = _Feed(
        [
            {"source": "Tank_001", "name": "LevelHi", "active": True, "acknowledged": False, "priority": 500},
            {"source": "Tank_001", "name": "LevelHi", "active": False, "acknowledged": True},
        ]
    )
    async with Recorder(broker.port, "plant/alarms/#") as recorder, running(Bridge(config, alarm_feed=feed)):
        await until(lambda: len(recorder.on("plant/alarms/Tank_001/LevelHi")) == 2, 5, "both records")
    active, cleared = recorder.on("plant/alarms/Tank_001/LevelHi")
    document = json.loads(active)
    assert document["active"] is True
    assert document["priority"] == 500
    assert "published" in document
    assert cleared == b""


async def test_the_gateways_alarms_are_bridged_as_they_raise(
    broker: Mosquitto, sim: Simulator, tmp_path: Path
) -> None:
    extra = '[alarms]\nenabled = true\nprefix = "plant/alarms"\n'
    config = bridge_config(
        broker.port, sim.endpoint, tmp_path / "q.sqlite3", extra, 'tags = ["Tank_001.Level"]'
    )
    async with Recorder(broker.port, "plant/alarms/#") as recorder, running(Bridge(config)):
        for _ in range(600):  # the demo plant's schedules cross their limits within minutes of plant time
            if sim.alarms.active_references():
                break
            await sim.advance(1.0)
        active = sim.alarms.active_references()
        assert active, "the demo plant raised no alarm"
        await until(lambda: bool(recorder.messages), 10, "an alarm message")
    documents = [json.loads(payload) for _, payload in recorder.messages if payload]
    assert {d["reference"] for d in documents} & set(active)
    first = documents[0]
    assert first["active"] is True
    assert first["severity"] > 0
    assert first["state"] in ("ACTIVE", "ACTIVE_ACKNOWLEDGED")
    topic = recorder.messages[0][0]
    assert topic == f"plant/alarms/{first['source']}/{first['name']}"


def test_an_alarm_record_may_be_a_dataclass() -> None:
    import dataclasses

    from mxgateway.bridge.alarms import alarm_message

    @dataclasses.dataclass
    class Alarm:
        source: str
        name: str
        active: bool
        acknowledged: bool

    message = alarm_message("a", Alarm("Pump/1", "Fault", True, False))
    assert message.topic == "a/Pump_1/Fault"
    assert message.retain
    assert json.loads(message.payload)["active"] is True
    assert alarm_message("a", Alarm("P", "F", False, True)).payload == b""
    with pytest.raises(TypeError, match="mapping or a dataclass"):
        alarm_message("a", 42)


async def test_the_broker_password_never_reaches_a_log_or_repr(
    broker: Mosquitto,
    sim: Simulator,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import logging

    monkeypatch.setenv("TEST_MQTT_PASSWORD", "pw-must-stay-hidden")
    caplog.set_level(logging.DEBUG)
    config = parse_config(
        f'[broker]\nport = {broker.port}\nusername = "bridge"\npassword_env = "TEST_MQTT_PASSWORD"\n'
        f'connect_timeout_s = 1\n[gateway]\nendpoint = "{sim.endpoint}"\nplaintext = true\n'
        f'[publish]\ntags = ["Tank_001.Level"]\n[store]\npath = "{tmp_path / "q.sqlite3"}"\n',
        "b.toml",
    )
    bridge = Bridge(config)
    async with Recorder(broker.port, "mxgateway/#") as recorder, running(bridge):
        await until(lambda: bool(recorder.messages), 5, "a message")
    everything = caplog.text + repr(bridge) + repr(config) + str(config.broker)
    assert "pw-must-stay-hidden" not in everything
    assert "Secret('***')" in repr(config.broker)
