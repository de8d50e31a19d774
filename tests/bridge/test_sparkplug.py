"""The Sparkplug B layout against a real broker, decoded with the Sparkplug protobuf."""

from __future__ import annotations

from pathlib import Path

import pytest

from mxgateway.bridge import Bridge
from mxgateway.generated import sparkplug_b_pb2 as spb
from mxgateway.simulator.faultproxy import FaultProxy
from mxgateway.simulator.server import Simulator

from .conftest import Mosquitto, Recorder, bridge_config, running, until

pytestmark = pytest.mark.anyio

SPARKPLUG = '[topics]\nlayout = "sparkplug"\ngroup_id = "Plant"\nedge_node_id = "bridge1"\n'
BASE = "spBv1.0/Plant"


def decoded(recorder: Recorder) -> list[tuple[str, spb.Payload]]:
    return [(t, spb.Payload.FromString(p)) for t, p in recorder.messages if t.startswith(BASE)]


async def test_births_data_and_death_with_sequence_numbers(
    broker: Mosquitto, sim: Simulator, tmp_path: Path
) -> None:
    publish = 'templates = ["$Tank.Level", "$Pump.Speed"]'
    config = bridge_config(broker.port, sim.endpoint, tmp_path / "q.sqlite3", SPARKPLUG, publish)
    bridge = Bridge(config)
    async with Recorder(broker.port, "spBv1.0/#") as recorder:
        async with running(bridge):
            await until(lambda: len(decoded(recorder)) >= 5, 10, "the births")
            # 4 moving tags x 140 advances: more than 256 messages, so seq wraps.
            for _ in range(140):
                await sim.advance(0.1)
            await until(
                lambda: sum("/DDATA/" in t for t, _ in decoded(recorder)) == bridge.counters.changes >= 560,
                20,
                "one DDATA per change",
            )
        await until(lambda: "/NDEATH/" in decoded(recorder)[-1][0], 5, "the death")
    messages = decoded(recorder)
    topics = [t for t, _ in messages]
    assert topics[0] == f"{BASE}/NBIRTH/bridge1"
    assert topics[1:5] == [
        f"{BASE}/DBIRTH/bridge1/Tank_001",
        f"{BASE}/DBIRTH/bridge1/Tank_002",
        f"{BASE}/DBIRTH/bridge1/Pump_001",
        f"{BASE}/DBIRTH/bridge1/Pump_002",
    ]
    nbirth = messages[0][1]
    metrics = {m.name: m for m in nbirth.metrics}
    bd_seq = metrics["bdSeq"].long_value
    assert metrics["bdSeq"].datatype == spb.Int64
    # seq: 0 on NBIRTH, then +1 per message, wrapping after 255; NDEATH carries none.
    sequenced = [p for t, p in messages if "/NDEATH/" not in t]
    assert [p.seq for p in sequenced] == [i % 256 for i in range(len(sequenced))]
    assert len(sequenced) > 256
    # DBIRTH names every metric with an alias, type and current value; DDATA uses the alias.
    aliases: dict[int, tuple[str, str]] = {}
    for topic, payload in messages[1:5]:
        device = topic.rsplit("/", 1)[1]
        (metric,) = payload.metrics
        assert metric.name in ("Level", "Speed")
        assert metric.datatype == (spb.Double if metric.name == "Level" else spb.Float)
        assert metric.timestamp > 0
        assert not metric.is_null
        aliases[metric.alias] = (device, metric.name)
    assert len(aliases) == 4
    levels = []
    for topic, payload in messages[5:-1]:
        assert "/DDATA/" in topic
        (metric,) = payload.metrics
        assert not metric.name
        assert metric.alias in aliases
        assert aliases[metric.alias][0] == topic.rsplit("/", 1)[1]
        if aliases[metric.alias] == ("Tank_001", "Level"):
            levels.append(metric.double_value)
    # Every change from the gateway became one DDATA.
    assert len(messages[5:-1]) == bridge.counters.changes
    assert len(levels) == 141
    assert len(set(levels)) > 1
    death_topic, death = messages[-1]
    assert death_topic == f"{BASE}/NDEATH/bridge1"
    assert [(m.name, m.long_value) for m in death.metrics] == [("bdSeq", bd_seq)]
    assert not death.HasField("seq")


async def test_a_new_broker_connection_is_a_new_birth_with_the_next_bd_seq(
    broker: Mosquitto, sim: Simulator, tmp_path: Path
) -> None:
    publish = 'tags = ["Tank_001.Level"]'
    async with FaultProxy("127.0.0.1", broker.port) as broker_proxy:
        config = bridge_config(broker_proxy.port, sim.endpoint, tmp_path / "q.sqlite3", SPARKPLUG, publish)
        bridge = Bridge(config)
        async with running(bridge):
            broker.stop()
            await until(lambda: not bridge.broker_connected, 5, "the broker to go")
            await sim.advance(0.5)  # a change while the broker is away waits on disk
            await until(lambda: bridge.counters.changes >= 2 and bridge.waiting >= 1, 5, "the stored change")
            # The test's subscriber is back before the proxy lets the bridge in again.
            await broker_proxy.cut(1.5)
            broker.start()
            async with Recorder(broker.port, "spBv1.0/#") as recorder:
                await until(lambda: len(decoded(recorder)) >= 3, 10, "the rebirth and the stored data")
    messages = decoded(recorder)
    assert [t.split("/")[2] for t, _ in messages[:3]] == ["NBIRTH", "DBIRTH", "DDATA"]
    assert [p.seq for _, p in messages[:3]] == [0, 1, 2]
    # bdSeq moves on with every CONNECT (failed attempts included), never back to the first one's.
    assert {m.name: m.long_value for m in messages[0][1].metrics}["bdSeq"] >= 1
    # The change that waited on disk is flagged historical.
    assert messages[2][1].metrics[0].is_historical


async def test_an_ncmd_rebirth_publishes_the_births_again_and_seq_restarts(
    broker: Mosquitto, sim: Simulator, tmp_path: Path
) -> None:
    import aiomqtt

    publish = 'tags = ["Tank_001.Level", "Pump_001.Speed"]'
    config = bridge_config(broker.port, sim.endpoint, tmp_path / "q.sqlite3", SPARKPLUG, publish)
    async with Recorder(broker.port, "spBv1.0/#") as recorder, running(Bridge(config)):
        await until(lambda: len(decoded(recorder)) >= 5, 10, "births and the first values")
        for _ in range(3):
            await sim.advance(0.1)
        await until(lambda: len(decoded(recorder)) >= 11, 10, "data")
        command = spb.Payload(timestamp=1)
        command.metrics.add(name="Node Control/Rebirth", datatype=spb.Boolean, boolean_value=True)
        async with aiomqtt.Client("127.0.0.1", broker.port, identifier="host-app") as host:
            await host.publish(f"{BASE}/NCMD/bridge1", command.SerializeToString(), qos=1)
        await until(lambda: sum("/NBIRTH/" in t for t, _ in decoded(recorder)) == 2, 10, "the rebirth")
        await sim.advance(0.1)
        await until(lambda: "/DDATA/" in decoded(recorder)[-1][0], 10, "data after the rebirth")
    messages = [(t, p) for t, p in decoded(recorder) if "/NCMD/" not in t and "/NDEATH/" not in t]
    second = next(i for i, (t, _) in enumerate(messages) if "/NBIRTH/" in t and i > 0)
    assert [t.split("/")[2] for t, _ in messages[second : second + 3]] == ["NBIRTH", "DBIRTH", "DBIRTH"]
    # seq restarts at 0 with the NBIRTH and counts on through the data that follows.
    after = [p.seq for _, p in messages[second:]]
    assert after == list(range(len(after)))
    before = [p.seq for _, p in messages[:second]]
    assert before == list(range(len(before)))
