"""The Sparkplug B layout against a real broker, every message decoded by pysparkplug."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest

from mxgateway import Client
from mxgateway.bridge import Bridge
from mxgateway.simulator.server import Simulator

from .conftest import Mosquitto, Recorder, bridge_config, running, until
from .sparkplug_host import PB, Host, Seen, data_metrics, properties, psp

pytestmark = pytest.mark.anyio

SPARKPLUG = '[topics]\nlayout = "sparkplug"\ngroup_id = "Plant"\nedge_node_id = "bridge1"\n'
BASE = "spBv1.0/Plant"
EVERYTHING = 'templates = ["$Tank", "$Pump", "$Valve"]'


def kinds(seen: list[Seen]) -> list[str]:
    return [s.kind for s in seen]


def metric_map(payload: object) -> dict[str, object]:
    return {m.name: m for m in payload.metrics}  # type: ignore[attr-defined]


async def test_births_carry_every_value_typed_and_data_follows_by_alias(
    broker: Mosquitto, sim: Simulator, tmp_path: Path
) -> None:
    # The example's templates: arrays, records, times and a metric with no data at all.
    config = bridge_config(broker.port, sim.endpoint, tmp_path / "q.sqlite3", SPARKPLUG, EVERYTHING)
    bridge = Bridge(config)
    host = Host("Plant", "bridge1")
    async with (
        Recorder(broker.port, "spBv1.0/#") as recorder,
        Client(endpoint=sim.endpoint, plaintext=True) as reader,
    ):
        async with running(bridge):
            await until(lambda: kinds(host.all(recorder))[:7].count("DBIRTH") == 6, 10, "the births")
            current = {r.tag: r for r in await reader.read([t.tag for t in bridge.tags])}
            for _ in range(140):
                await sim.advance(0.1)
            # Only DDATA goes through the queue here: once it is empty, each one sent has arrived.
            await until(
                lambda: (
                    bridge.waiting == 0
                    and data_metrics(host.all(recorder)) == bridge.counters.published >= 1000
                ),
                20,
                "every change",
            )
        await until(lambda: kinds(host.all(recorder))[-1] == "NDEATH", 5, "the death")
    seen = host.all(recorder)
    assert kinds(seen)[:7] == ["NBIRTH", *["DBIRTH"] * 6]
    assert [s.device for s in seen[1:7]] == [
        "Tank_001",
        "Tank_002",
        "Pump_001",
        "Pump_002",
        "Valve_001",
        "Valve_002",
    ]
    births = {s.device: s.payload for s in seen[1:7]}
    nbirth = seen[0].payload
    node = metric_map(nbirth)
    assert node["bdSeq"].datatype == psp.DataType.INT64  # type: ignore[attr-defined]
    assert node["Node Control/Rebirth"].value is False  # type: ignore[attr-defined]
    assert node["Node Control/Rebirth"].alias is None  # type: ignore[attr-defined]
    # Every birth metric: name, alias, type, timestamp, and the gateway's current value (never null when it has one).
    aliases = {m.alias for m in nbirth.metrics if m.alias is not None}
    assert len(aliases) == len(nbirth.metrics) - 1  # every node metric but Rebirth has one
    for birth in seen[1:7]:
        for metric in birth.payload.metrics:
            tag = f"{birth.device}.{metric.name}"
            assert metric.alias is not None
            assert metric.alias not in aliases
            aliases.add(metric.alias)
            assert metric.timestamp is not None
            value = current[tag].value
            if value is None:
                assert metric.is_null, tag
                continue
            assert not metric.is_null, tag
            expected = value
            if isinstance(value, dt.timedelta):
                expected = value.total_seconds()
            elif isinstance(value, list):
                expected = tuple(value)
            if isinstance(value, dt.datetime):
                assert metric.value == value.replace(microsecond=value.microsecond // 1000 * 1000), tag
            elif isinstance(value, float) or (
                isinstance(value, list) and value and isinstance(value[0], float)
            ):
                assert metric.value == pytest.approx(expected, rel=1e-6), tag
            else:
                assert metric.value == expected, tag
    tank = metric_map(births["Tank_001"])
    expected_types = {
        "Level": psp.DataType.DOUBLE,
        "Temperature": psp.DataType.FLOAT,
        "Volume": psp.DataType.INT32,
        "Name": psp.DataType.STRING,
        "LastFilled": psp.DataType.DATETIME,
        "FillDuration": psp.DataType.DOUBLE,
        "LevelHistory": psp.DataType.DOUBLE_ARRAY,
        "Calibration": psp.DataType.BYTES,
        "Mode": psp.DataType.INT32,
        "LevelHi": psp.DataType.BOOLEAN,
        "Spare": psp.DataType.STRING,
    }
    assert {name: tank[name].datatype for name in expected_types} == expected_types  # type: ignore[attr-defined]
    assert tank["LevelHistory"].value == (40.0, 42.5, 45.0, 47.5, 50.0)  # type: ignore[attr-defined]
    commands = metric_map(births["Pump_001"])["Commands"]
    assert (commands.datatype, commands.value) == (psp.DataType.STRING_ARRAY, ("Start", "Stop", "Reset"))  # type: ignore[attr-defined]
    counts = metric_map(births["Valve_001"])["Counts"]
    assert (counts.datatype, counts.value) == (psp.DataType.INT32_ARRAY, (0, 0, 0, 0))  # type: ignore[attr-defined]
    # Data: alias only (no name, no type), decoded against the device's birth, so no type ever changed.
    data = [s for s in seen if s.kind == "DDATA"]
    assert data_metrics(seen) >= 1000
    for s in data:
        for raw_metric in PB.Payload.FromString(s.raw.payload).metrics:
            assert not raw_metric.HasField("name")
            assert not raw_metric.HasField("datatype")
        for metric in s.payload.metrics:
            assert metric.datatype == metric_map(host.births[s.device])[metric.name].datatype  # type: ignore[attr-defined]
            assert not metric.is_historical
            assert metric.timestamp is not None
        # Several values in one DDATA (a backlog) stay in chronological order.
        stamps = [m.timestamp for m in s.payload.metrics]
        assert stamps == sorted(stamps)
    # seq: 0 on NBIRTH, then +1 per message, wrapping after 255; NDEATH carries none.
    numbered = [s for s in seen if s.kind != "NDEATH"]
    assert [s.payload.seq for s in numbered] == [i % 256 for i in range(len(numbered))]
    now_ms = time.time() * 1000
    assert all(abs(s.payload.timestamp - now_ms) < 120_000 for s in numbered)
    # QoS 0 and not retained for births and data; the NDEATH (published on the clean stop) QoS 1.
    assert {(s.raw.qos, s.raw.retain) for s in numbered} == {(0, False)}
    death = seen[-1]
    assert (death.raw.qos, death.raw.retain) == (1, False)
    assert death.payload.bd_seq_metric.value == node["bdSeq"].value  # type: ignore[attr-defined]
    raw_death = PB.Payload.FromString(death.raw.payload)
    assert not raw_death.HasField("seq")
    assert [m.name for m in raw_death.metrics] == ["bdSeq"]


async def test_an_ncmd_rebirth_publishes_the_births_again_and_seq_restarts(
    broker: Mosquitto, sim: Simulator, tmp_path: Path
) -> None:
    import aiomqtt

    publish = 'tags = ["Tank_001.Level", "Pump_001.Speed"]'
    config = bridge_config(broker.port, sim.endpoint, tmp_path / "q.sqlite3", SPARKPLUG, publish)
    host = Host("Plant", "bridge1")
    async with Recorder(broker.port, "spBv1.0/#") as recorder, running(Bridge(config)) as _:
        await until(lambda: len(host.all(recorder)) >= 3, 10, "the births")
        for _ in range(3):
            await sim.advance(0.1)
        await until(lambda: kinds(host.all(recorder)).count("DDATA") >= 6, 10, "data")
        command = psp.NCmd(
            timestamp=1,
            metrics=(
                psp.Metric(
                    timestamp=1, name="Node Control/Rebirth", datatype=psp.DataType.BOOLEAN, value=True
                ),
            ),
        )
        async with aiomqtt.Client("127.0.0.1", broker.port, identifier="host-app") as app:
            await app.publish(f"{BASE}/NCMD/bridge1", command.encode(include_dtypes=True), qos=0)
        await until(lambda: kinds(host.all(recorder)).count("NBIRTH") == 2, 10, "the rebirth")
        await sim.advance(0.1)
        await until(lambda: host.all(recorder)[-1].kind == "DDATA", 10, "data after the rebirth")
    seen = [s for s in host.all(recorder) if s.kind not in ("NCMD", "NDEATH")]
    second = next(i for i, s in enumerate(seen) if s.kind == "NBIRTH" and i > 0)
    assert kinds(seen[second : second + 3]) == ["NBIRTH", "DBIRTH", "DBIRTH"]
    # The same bdSeq (the same MQTT session); seq restarts at 0 and counts on.
    assert metric_map(seen[0].payload)["bdSeq"].value == metric_map(seen[second].payload)["bdSeq"].value  # type: ignore[attr-defined]
    after = [s.payload.seq for s in seen[second:]]
    assert after == list(range(len(after)))


async def test_quality_goes_along_as_the_sparkplug_quality_property(
    broker: Mosquitto, sim: Simulator, tmp_path: Path
) -> None:
    from mxgateway.simulator.demo_plant import demo_galaxy
    from mxgateway.simulator.galaxy import Galaxy

    publish = 'tags = ["Tank_001.Level", "Pump_001.Speed", "Pump_002.Speed"]'
    config = bridge_config(broker.port, sim.endpoint, tmp_path / "q.sqlite3", SPARKPLUG, publish)
    host = Host("Plant", "bridge1")
    async with Recorder(broker.port, "spBv1.0/#") as recorder, running(Bridge(config)):
        await until(lambda: kinds(host.all(recorder)).count("DBIRTH") == 3, 10, "the births")
        birth = next(s for s in host.all(recorder) if s.device == "Pump_002")
        assert properties(birth.raw.payload, "Speed") == {"Quality": 192}
        # Pump_002 leaves the Galaxy: its only metric turns bad, so the device is dead.
        full = demo_galaxy()
        await sim.deploy(Galaxy([o for o in full.objects if o.tag_name != "Pump_002"], name=full.name))
        await until(lambda: "DDEATH" in kinds(host.all(recorder)), 10, "the device's death")
        await sim.advance(0.5)
        await until(lambda: kinds(host.all(recorder)).count("DDATA") >= 2, 10, "data of the other devices")
    seen = host.all(recorder)
    deaths = [s for s in seen if s.kind == "DDEATH"]
    assert [s.device for s in deaths] == ["Pump_002"]
    assert (deaths[0].raw.qos, deaths[0].raw.retain) == (0, False)
    death_index = seen.index(deaths[0])
    assert not any(s.device == "Pump_002" for s in seen[death_index + 1 :])
