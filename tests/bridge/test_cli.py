"""``mxgw-py bridge mqtt --simulator --config examples/bridge.toml`` end to end, as an operator runs it."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import Mosquitto, Recorder, until

pytestmark = pytest.mark.anyio

EXAMPLE = Path(__file__).parents[2] / "examples" / "bridge.toml"


async def test_the_example_publishes_the_demo_plant_and_stops_cleanly_on_sigterm(
    broker: Mosquitto, tmp_path: Path
) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    text = text.replace("port = 1883", f"port = {broker.port}")
    text = text.replace('path = "mxgateway-bridge.sqlite3"', f'path = "{tmp_path / "q.sqlite3"}"')
    config = tmp_path / "bridge.toml"
    config.write_text(text, encoding="utf-8")
    async with Recorder(broker.port, "mxgateway/#") as recorder:
        process = subprocess.Popen(
            [sys.executable, "-m", "mxgateway.cli", "bridge", "mqtt", "--simulator", "--config", str(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            level = "mxgateway/WaterPlant/Intake/Tank_001/Level"
            flow = "mxgateway/WaterPlant/Treatment/FlowMeter_001/Flow"
            await until(
                lambda: len(recorder.on(level)) >= 2 and bool(recorder.on(flow)), 30, "the demo plant"
            )
            process.send_signal(signal.SIGTERM)
            out, err = process.communicate(timeout=20)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(10)
        status = "mxgateway/_bridge/mxgateway-demo-bridge/status"
        await until(
            lambda: any(json.loads(p)["state"] == "offline" for p in recorder.on(status)), 5, "offline"
        )
        assert json.loads(recorder.on(status)[0])["state"] == "online"
    assert process.returncode == 0, err
    assert out == ""  # stdout stays free; progress and logs go to stderr
    assert "bridging" in err
    assert json.loads(recorder.on(level)[0])["data_type"] == "Double"
    topics = {t for t, _ in recorder.messages}
    assert "mxgateway/WaterPlant/Intake/Pump_001/Speed" in topics
    assert not any("AppEngine" in t for t in topics)  # only the templates of the example


async def test_the_example_in_the_sparkplug_layout_births_the_demo_plant_and_dies_cleanly(
    broker: Mosquitto, tmp_path: Path
) -> None:
    from .sparkplug_host import Host

    text = EXAMPLE.read_text(encoding="utf-8")
    text = text.replace("port = 1883", f"port = {broker.port}")
    text = text.replace('path = "mxgateway-bridge.sqlite3"', f'path = "{tmp_path / "q.sqlite3"}"')
    text = text.replace('layout = "uns" ', 'layout = "sparkplug" ')
    config = tmp_path / "bridge.toml"
    config.write_text(text, encoding="utf-8")
    host = Host("WaterPlant", "demo-bridge")
    async with Recorder(broker.port, "spBv1.0/#") as recorder:
        process = subprocess.Popen(
            [sys.executable, "-m", "mxgateway.cli", "bridge", "mqtt", "--simulator", "--config", str(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            await until(lambda: [s.kind for s in host.all(recorder)].count("DBIRTH") == 7, 30, "the births")
            process.send_signal(signal.SIGTERM)
            _, err = process.communicate(timeout=20)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(10)
        await until(lambda: host.all(recorder)[-1].kind == "NDEATH", 5, "the NDEATH")
    assert process.returncode == 0, err
    births = [s for s in host.all(recorder) if s.kind == "DBIRTH"]
    assert {s.device for s in births} == {
        "Tank_001",
        "Tank_002",
        "Pump_001",
        "Pump_002",
        "Valve_001",
        "Valve_002",
        "FlowMeter_001",
    }
    # No metric is null at birth unless the gateway itself has no value (the NO_DATA attribute).
    nulls = {f"{s.device}.{m.name}" for s in births for m in s.payload.metrics if m.is_null}
    assert nulls <= {"Tank_001.Spare", "Tank_002.Spare"}


def test_a_glob_that_matches_nothing_exits_2_naming_its_line(tmp_path: Path) -> None:
    config = tmp_path / "bridge.toml"
    config.write_text(
        f'[gateway]\nendpoint = "simulator"\n[publish]\nglobs = ["Tank_*.Level", "Nothing_*.Here"]\n'
        f'[store]\npath = "{tmp_path / "q.sqlite3"}"\n[broker]\nport = 1\n',
        encoding="utf-8",
    )
    result = subprocess.run(
        [sys.executable, "-m", "mxgateway.cli", "bridge", "mqtt", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if "error" in line]
    assert lines == [
        f"mxgw-py: error: {config}:4: [publish] globs: 'Nothing_*.Here' matches no attribute of the Galaxy"
    ]
    assert "Traceback" not in result.stderr
