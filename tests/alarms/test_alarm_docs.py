"""The examples of docs/alarms.md run as written, against the embedded simulator."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

# Processes waiting for the demo plant's alarms to raise in real time.
pytestmark = pytest.mark.slow

DOC = Path(__file__).parents[2] / "docs" / "alarms.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), flags=re.DOTALL)


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("MXGATEWAY_")}


def test_the_python_examples_run_and_print_what_they_promise() -> None:
    blocks = _blocks("python")
    assert len(blocks) == 2
    # Both at once: each waits a few seconds of real time for the first alarm.
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", block],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
        )
        for block in blocks
    ]
    outputs = []
    try:
        for process in processes:
            stdout, stderr = process.communicate(timeout=90)
            assert process.returncode == 0, stderr
            outputs.append(stdout)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    sync_lines = outputs[0].splitlines()
    assert sync_lines[0].startswith("ALARMMGR full ")
    assert re.match(r"RAISE demo-water-plant!Treatment\.\S+ ACTIVE \d+$", sync_lines[1])
    acknowledged = sync_lines[1].split()[1]
    assert f"{acknowledged} ACTIVE_ACKNOWLEDGED seen on the dashboard" in sync_lines[2:]
    async_lines = outputs[1].splitlines()
    assert re.match(r"RAISE demo-water-plant!Treatment\.\S+ live$", async_lines[0])
    assert async_lines[1].startswith("['demo-water-plant!Treatment.")


@pytest.mark.parametrize("line", [b for b in _blocks("bash")[0].splitlines() if b.strip()])
def test_the_command_line_examples_run(line: str) -> None:
    command = line.split("#")[0].replace("mxgw-py", f"{sys.executable} -m mxgateway.cli", 1)
    completed = subprocess.run(
        command, shell=True, capture_output=True, text=True, env=_env(), timeout=90, check=False
    )
    assert completed.returncode == 0, completed.stderr
