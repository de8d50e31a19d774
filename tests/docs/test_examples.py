"""The examples/ folder runs: the blocking script, the asyncio service and the notebook (a real kernel)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from .snippets import ROOT

EXAMPLES = ROOT / "examples"


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("MXGATEWAY_")}


def test_blocking_script_runs_against_the_simulator() -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "blocking_script.py")],
        capture_output=True,
        text=True,
        timeout=90,
        env=_env(),
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("Tank_001.Level = ")
    assert "(good, " in lines[0]
    assert lines[2].startswith("Tank_001.Name = '")
    assert "write confirmed: True" in lines
    assert lines[-1].startswith("float attributes of the pumps: Pump_001.Speed")
    assert done.stderr == ""


def test_asyncio_service_forwards_changes_and_closes_cleanly() -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "asyncio_service.py"), "--max-events", "3"],
        capture_output=True,
        text=True,
        timeout=90,
        env=_env(),
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    log = done.stderr
    assert log.count("example.service: #") == 3
    assert "mxgateway.client: opened session" in log
    assert "mxgateway.session: closed session" in log
    assert "forwarded 3 data changes" in log


def test_asyncio_service_stops_on_sigterm() -> None:
    import select
    import signal
    import time

    process = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "asyncio_service.py")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    try:
        assert process.stderr is not None
        deadline = time.monotonic() + 60
        for _ in range(1000):  # bounded in count and by the deadline
            if time.monotonic() > deadline:
                break
            ready, _, _ = select.select([process.stderr], [], [], 0.5)
            line = process.stderr.readline() if ready else ""
            if "example.service: #" in line or (ready and not line):
                break
        process.send_signal(signal.SIGTERM)
        rest = process.communicate(timeout=30)[1]
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0
    assert "closed session" in rest
    assert "forwarded" in rest


#: Run in the kernel around the trend cell: what is running besides it.
_RUNNING = """
import asyncio, json, threading
from mxgateway_sync import _runtime
print(json.dumps({
    "threads": sorted(t.name for t in threading.enumerate()),
    # The embedded simulator's server keeps a pool of call acceptors that grows and shrinks
    # with load (AioServer.*): every other task counts.
    "loop_tasks": _runtime.on_loop(lambda: sorted(
        n for t in asyncio.all_tasks() if not (n := t.get_coro().__qualname__).startswith("AioServer.")
    )),
    "listening": listening(),
}))
"""


def test_notebook_executes_with_a_real_kernel() -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    from tests.notebooks.kernel import LISTENING

    notebook = nbformat.read(EXAMPLES / "notebook.ipynb", as_version=4)
    trend_at = next(i for i, c in enumerate(notebook.cells) if "client.trend(" in c.source)
    # What runs besides the trend, before and after it: it must leave nothing behind.
    notebook.cells.insert(trend_at + 1, nbformat.v4.new_code_cell(_RUNNING))
    notebook.cells.insert(trend_at, nbformat.v4.new_code_cell(LISTENING + _RUNNING))
    client = nbclient.NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(EXAMPLES)}}
    )
    client.execute(env=_env())
    cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    outputs = [cell.get("outputs", []) for cell in cells]
    errors = [o for cell in outputs for o in cell if o.get("output_type") == "error"]
    assert errors == []
    # The read's result list displays as an HTML table, the Galaxy objects too.
    html = [o["data"]["text/html"] for cell in outputs for o in cell if "text/html" in o.get("data", {})]
    assert any("<th>tag</th>" in h and "Tank_001.Level" in h for h in html)
    assert any("<th>tag_name</th>" in h and "Tank_002" in h for h in html)
    assert any("<b>Client</b>" in h and "<td>simulator</td>" in h for h in html)
    texts = [o["data"]["text/plain"] for cell in outputs for o in cell if "text/plain" in o.get("data", {})]
    assert any(t.startswith("GalaxyAttribute(Tank_001.Level: Double") for t in texts)
    streams = [o for cell in outputs for o in cell if o.get("output_type") == "stream"]
    assert not [s for s in streams if s.get("name") == "stderr"], streams

    def cell_of(text: str) -> list[dict[str, object]]:
        return next(c.get("outputs", []) for c in cells if text in c.source and "listening" not in c.source)

    # The wide table, ready for resample: one column per tag.
    wide = next(o["data"]["text/html"] for o in cell_of("to_pandas(wide=True)") if "text/html" in o["data"])
    assert all(f"<th>{tag}</th>" in wide for tag in ("Tank_001.Level", "Tank_001.Volume", "Pump_001.Speed"))
    assert any("image/png" in o.get("data", {}) for o in cell_of("recording.plot()"))
    # The trend displayed one chart and redrew it in place (updates of the same display).
    trend = cell_of("client.trend(")
    assert [o["output_type"] for o in trend] == ["display_data"]
    assert "image/png" in trend[0]["data"]
    before, after = (json.loads(c.outputs[0]["text"]) for c in cells if '"loop_tasks"' in c.source)
    assert after == before  # no task, thread or listening simulator left by the trend
