"""The terminal views as real processes: on a pseudo-terminal they draw for people, piped they print JSON."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

from .terminal import run_on_terminal

#: Rich moves the cursor up to redraw a view in place.
REDRAW = "\x1b[1A"
TAGS = ["Tank_001.Level", "Pump_001.Speed", "Tank_001.Name"]


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("MXGATEWAY_")}


def _plain(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)


def test_watch_on_a_terminal_redraws_a_table_in_place() -> None:
    screen = run_on_terminal(["watch", *TAGS, "--simulator", "--seconds", "2"])
    assert screen.code == 0, screen.text
    assert REDRAW in screen.text
    last = _plain(screen.text).split("Ctrl-C to stop")[-1]
    for heading in ("tag", "value", "quality", "source time", "age", "changes/s"):
        assert heading in last
    rows = {
        line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:-1]]
        for line in last.splitlines()
        if line.count("│") == 7
    }
    assert set(rows) == set(TAGS)
    value, quality, _stamp, age, rate = rows["Tank_001.Level"]
    assert float(value) >= 60
    assert quality == "good"
    assert age.endswith(" s")
    assert float(rate) > 1  # the demo plant moves it ten times a second
    assert rows["Tank_001.Name"][0] == '"Raw water tank 1"'
    assert float(rows["Tank_001.Name"][4]) == 0  # its first value is not a change
    assert "{" not in screen.text  # no JSON for people


def test_watch_piped_prints_one_json_document_per_change() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mxgateway.cli", "watch", *TAGS, "--simulator", "--max-events", "5"],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(records) == 5
    assert [r["tag"] for r in records[:3]] == TAGS
    assert all(r["quality_name"] == "good" for r in records)
    assert done.stderr == ""


def test_alarms_watch_on_a_terminal_orders_by_severity_and_marks_unacknowledged() -> None:
    screen = run_on_terminal(["alarms", "watch", "--simulator", "--max-events", "1"])
    assert screen.code == 0, screen.text
    text = _plain(screen.text)
    last = text[text.rindex("active alarms") - 2 :]
    assert "3 active alarms, 3 unacknowledged - provider ALARMMGR" in last
    references = re.findall(r"(Pump_002\.Fault|Tank_002\.LevelHi|Valve_002\.Interlock)\.DSC", last)
    assert references == ["Pump_002.Fault", "Tank_002.LevelHi", "Valve_002.Interlock"]  # 800, 600, 300
    assert len(re.findall(r"│ ! │", last)) == 3
    assert '"alarm"' not in text  # a summary, not raw JSON


def test_alarms_active_says_when_there_are_none_on_a_terminal_only() -> None:
    screen = run_on_terminal(["alarms", "active", "--simulator", "--prefix", "Nowhere."])
    assert screen.code == 0
    assert "no active alarms whose reference starts with 'Nowhere.'" in screen.text
    piped = run_on_terminal(["alarms", "active", "--simulator", "--prefix", "Nowhere."], pipe_stdout=True)
    assert piped.code == 0
    assert piped.stdout == ""  # piped: nothing to parse, no prose
    standing = run_on_terminal(["alarms", "active", "--simulator"], pipe_stdout=True)
    assert standing.stdout.count("state=ACTIVE") == 3
    assert 'description="pump tripped"' in standing.stdout  # logfmt quotes values with spaces


def test_progress_shows_rate_elapsed_and_eta_on_the_terminal_never_on_stdout() -> None:
    screen = run_on_terminal(["galaxy", "hierarchy", "--simulator", "--json"], pipe_stdout=True)
    assert screen.code == 0
    assert re.search(r"objects \[[#-]+\] \d+/\d+  [\d.,]+/s  0:\d\d elapsed  ETA \d+:\d\d", screen.text)
    assert "ETA" not in screen.stdout
    assert all(json.loads(line)["tag_name"] for line in screen.stdout.splitlines())
    piped = subprocess.run(
        [sys.executable, "-m", "mxgateway.cli", "galaxy", "hierarchy", "--simulator", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
        stdin=subprocess.DEVNULL,
    )
    assert piped.returncode == 0
    assert piped.stderr == ""  # no progress when stderr is not a terminal


def test_the_terminal_views_do_not_load_rich_for_piped_commands() -> None:
    code = (
        "import sys, mxgateway.cli.main, mxgateway.cli.watch_command, mxgateway.cli.alarm_commands;"
        "print(sorted(m for m in sys.modules if m == 'rich' or m.startswith('rich.')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=_env()
    )
    assert done.stdout.strip() == "[]"


def test_a_bulk_subscribe_of_many_tags_shows_progress_on_the_terminal() -> None:
    tags = " ".join(["Tank_001.Level", "Pump_001.Speed"] * 600)
    script = f"open-session\nregister\nsubscribe-bulk {tags} --server-handle 1\n"
    controller_args = ["batch", "--simulator"]
    screen = run_on_terminal(controller_args, pipe_stdout=True, stdin_text=script)
    assert screen.code == 0, screen.text
    assert re.search(r"subscribing \[[#-]+\] \d+/1200  [\d.,]+/s  0:\d\d elapsed  ETA \d+:\d\d", screen.text)
    results = [line for line in screen.stdout.splitlines() if line.startswith("{") or "item_handle=" in line]
    assert len(results) >= 1200
    assert "subscribing" not in screen.stdout


def test_ctrl_c_stops_watch_on_a_terminal_with_exit_130_and_the_cursor_back() -> None:
    screen = run_on_terminal(["watch", *TAGS, "--simulator"], interrupt_after="changes/s", timeout=60)
    assert screen.code == 130
    assert "Tank_001.Level" in _plain(screen.text)
    assert "\x1b[?25h" in screen.text  # the view stopped: the cursor is shown again
    assert "mxgw-py: error: interrupted" in screen.text
    assert "Traceback" not in screen.text
