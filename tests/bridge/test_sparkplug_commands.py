"""DCMD from a Sparkplug host: written under the allow-list, secured and verified writes signed, refusals logged."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import aiomqtt
import pytest

from mxgateway import Client
from mxgateway.bridge import Bridge
from mxgateway.simulator.server import Simulator

from .conftest import Mosquitto, Recorder, bridge_config, running, until
from .sparkplug_host import Host, psp

pytestmark = pytest.mark.anyio

BASE = "spBv1.0/Plant"
PUBLISH = 'tags = ["Tank_001.Notes", "Tank_002.Notes", "Pump_001.SpeedSetpoint", "Valve_001.Interlock"]'


def dcmd(*metrics: object) -> bytes:
    now = int(time.time() * 1000)
    return psp.DCmd(timestamp=now, metrics=tuple(metrics)).encode()  # type: ignore[no-any-return]


async def test_dcmd_writes_allowed_tags_signed_as_their_security_asks_and_refuses_the_rest(
    broker: Mosquitto,
    sim: Simulator,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TEST_OPERATOR_PASSWORD", "operator")
    verifier = tmp_path / "verifier-password"
    verifier.write_text("supervisor\n", encoding="utf-8")
    extra = (
        '[topics]\nlayout = "sparkplug"\ngroup_id = "Plant"\nedge_node_id = "bridge1"\n'
        '[writes]\nenabled = true\nallow = ["Tank_001.Notes", "Pump_*.SpeedSetpoint", "Valve_001.Interlock"]\n'
        'user = "operator"\npassword_env = "TEST_OPERATOR_PASSWORD"\n'
        f'verifier_user = "supervisor"\nverifier_password_file = "{verifier}"\n'
    )
    config = bridge_config(broker.port, sim.endpoint, tmp_path / "q.sqlite3", extra, PUBLISH)
    bridge = Bridge(config)
    host = Host("Plant", "bridge1")
    caplog.set_level(logging.INFO, logger="mxgateway.bridge")
    async with (
        Recorder(broker.port, "spBv1.0/Plant/#") as recorder,
        running(bridge),
        Client(endpoint=sim.endpoint, plaintext=True) as reader,
        aiomqtt.Client("127.0.0.1", broker.port, identifier="scada") as scada,
    ):
        await until(lambda: [s.kind for s in host.all(recorder)].count("DBIRTH") == 4, 10, "the births")
        births = {
            s.device: {m.name: m for m in s.payload.metrics} for s in host.all(recorder) if s.kind == "DBIRTH"
        }
        before = (await reader.read(["Tank_002.Notes"]))[0].value
        # By name; by alias (a secured write, signed by the operator); a verified write (operator and supervisor).
        notes = psp.Metric(timestamp=1, name="Notes", datatype=psp.DataType.STRING, value="from a DCMD")
        await scada.publish(f"{BASE}/DCMD/bridge1/Tank_001", dcmd(notes), qos=0)
        setpoint = births["Pump_001"]["SpeedSetpoint"]
        by_alias = psp.Metric(
            timestamp=1, name=None, alias=setpoint.alias, datatype=psp.DataType.FLOAT, value=42.5
        )
        await scada.publish(f"{BASE}/DCMD/bridge1/Pump_001", dcmd(by_alias), qos=0)
        interlock = psp.Metric(timestamp=1, name="Interlock", datatype=psp.DataType.BOOLEAN, value=True)
        await scada.publish(f"{BASE}/DCMD/bridge1/Valve_001", dcmd(interlock), qos=0)
        # Refused: not on the allow-list; a Double for a String metric; a metric the device does not have.
        sneaky = psp.Metric(timestamp=1, name="Notes", datatype=psp.DataType.STRING, value="sneaky")
        await scada.publish(f"{BASE}/DCMD/bridge1/Tank_002", dcmd(sneaky), qos=0)
        wrong = psp.Metric(timestamp=1, name="Notes", datatype=psp.DataType.DOUBLE, value=1.5)
        await scada.publish(f"{BASE}/DCMD/bridge1/Tank_001", dcmd(wrong), qos=0)
        nope = psp.Metric(timestamp=1, name="Nope", datatype=psp.DataType.STRING, value="x")
        await scada.publish(f"{BASE}/DCMD/bridge1/Tank_001", dcmd(nope), qos=0)
        await until(lambda: bridge.counters.written + bridge.counters.write_errors >= 6, 15, "every command")
        values = {
            r.tag: r.value
            for r in await reader.read(
                ["Tank_001.Notes", "Pump_001.SpeedSetpoint", "Valve_001.Interlock", "Tank_002.Notes"]
            )
        }
        # The written values come back as DDATA, like any change.
        await until(
            lambda: any(
                m.value == "from a DCMD"
                for s in host.all(recorder)
                if s.kind == "DDATA"
                for m in s.payload.metrics
            ),
            10,
            "the written value as DDATA",
        )
    assert values["Tank_001.Notes"] == "from a DCMD"
    assert values["Pump_001.SpeedSetpoint"] == pytest.approx(42.5)
    assert values["Valve_001.Interlock"] is True
    assert values["Tank_002.Notes"] == before
    assert bridge.counters.written == 3
    assert bridge.counters.write_errors == 3
    refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 3
    assert any("Tank_002.Notes" in line and "allow-list" in line for line in refusals)
    assert any("Tank_001.Notes" in line and "String" in line and "double_value" in line for line in refusals)
    assert any("Nope" in line and "no metric" in line for line in refusals)
    everything = caplog.text + repr(bridge) + repr(config)
    assert "supervisor\n" not in everything
    assert "TEST_OPERATOR_PASSWORD" not in caplog.text


async def test_a_secured_setpoint_is_refused_without_credentials_and_dcmd_with_writes_off_is_logged(
    broker: Mosquitto, sim: Simulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    extra = '[topics]\nlayout = "sparkplug"\ngroup_id = "Plant"\nedge_node_id = "bridge1"\n'
    config = bridge_config(broker.port, sim.endpoint, tmp_path / "q.sqlite3", extra, PUBLISH)
    bridge = Bridge(config)
    caplog.set_level(logging.WARNING, logger="mxgateway.bridge")
    async with (
        running(bridge),
        aiomqtt.Client("127.0.0.1", broker.port, identifier="scada") as scada,
    ):
        setpoint = psp.Metric(timestamp=1, name="SpeedSetpoint", datatype=psp.DataType.FLOAT, value=10.0)
        await scada.publish(f"{BASE}/DCMD/bridge1/Pump_001", dcmd(setpoint), qos=0)
        await scada.publish(f"{BASE}/DCMD/bridge1/Pump_001", b"not protobuf at all \xff", qos=0)
        await until(lambda: bridge.counters.write_errors == 2, 10, "both refusals")
    lines = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert lines == [
        "DCMD Pump_001.SpeedSetpoint refused: writes are disabled ([writes] enabled = false)",
        "DCMD to Pump_001 refused: not a Sparkplug B payload",
    ]
