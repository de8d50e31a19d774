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
