"""``mxgw-py alarms ...`` as real processes against a simulator running in the test process."""

from __future__ import annotations

import concurrent.futures
import json
import signal
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

from mxgateway.generated import mxaccess_gateway_pb2 as pb
from mxgateway.simulator.background import BackgroundSimulator
from mxgateway.simulator.server import Simulator
from tests.alarms.conftest import GALAXY, TANK1_HI, TANK1_HIHI
from tests.cli.conftest import cli_command, subprocess_env

ADMIN = "mxgw_alarm_cli_admin_Pl9oKi8uJy"
READER = "mxgw_alarm_cli_reader_Mn7bVc6xZa"


@pytest.fixture
def background() -> Iterator[BackgroundSimulator]:
    keys = {ADMIN: ["admin"], READER: ["events:read"]}
    with Simulator.start_in_background(update_rate_hz=0, api_keys=keys) as bg:
        yield bg


def _env(bg: BackgroundSimulator, key: str = ADMIN) -> dict[str, str]:
    return subprocess_env({"MXGATEWAY_ENDPOINT": bg.endpoint, "MXGATEWAY_API_KEY": key})


def _run(bg: BackgroundSimulator, *args: str, key: str = ADMIN) -> subprocess.CompletedProcess[str]:
    completed = subprocess.run(
        cli_command(*args), capture_output=True, text=True, env=_env(bg, key), timeout=60, check=False
    )
    for secret in (ADMIN, READER):
        assert secret not in completed.stdout
        assert secret not in completed.stderr
    return completed


def _advance(bg: BackgroundSimulator, seconds: int) -> None:
    for _ in range(seconds):
        bg.call(bg.simulator.advance, 1.0)


def test_active_lists_the_active_set_as_json_lines(background: BackgroundSimulator) -> None:
    _advance(background, 12)
    completed = _run(background, "alarms", "active", "--prefix", GALAXY + "Intake.", "--json")
    assert completed.returncode == 0, completed.stderr
    records = [json.loads(line) for line in completed.stdout.splitlines()]
    assert [(r["reference"], r["state"]) for r in records] == [(TANK1_HI, "ACTIVE"), (TANK1_HIHI, "ACTIVE")]
    assert records[0]["limit_value"] == 72.0
    assert list(records[0]) == sorted(records[0])


def test_ack_acknowledges_and_reports_failures_with_their_exit_codes(background: BackgroundSimulator) -> None:
    _advance(background, 7)
    done = _run(
        background, "alarms", "ack", TANK1_HI, "--comment", "inlet checked", "--operator", "op1", "--json"
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"acknowledged": TANK1_HI}
    condition = background.simulator.alarms.condition(TANK1_HI)
    assert condition is not None
    assert condition.state == pb.ALARM_CONDITION_STATE_ACTIVE_ACKNOWLEDGED
    assert (condition.operator_user, condition.operator_comment) == ("op1", "inlet checked")

    unknown = _run(background, "alarms", "ack", GALAXY + "Nowhere.X.Hi", "--json")
    error = json.loads(unknown.stderr)["error"]
    assert unknown.returncode == 8
    assert error["kind"] == "not_found"
    assert "Nowhere.X.Hi" in error["message"]

    refused = _run(background, "alarms", "ack", TANK1_HI, key=READER)
    assert refused.returncode == 4
    assert "invoke:write" in refused.stderr


def test_watch_prints_transitions_and_survives_a_gateway_restart(background: BackgroundSimulator) -> None:
    process = subprocess.Popen(
        cli_command("alarms", "watch", "--prefix", GALAXY + "Intake.Tank_001.Level.Hi", "--max-events", "4"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(background),
    )
    pool = concurrent.futures.ThreadPoolExecutor(1)

    def next_record() -> dict[str, Any]:
        assert process.stdout is not None
        line = pool.submit(process.stdout.readline).result(timeout=30)
        assert line, "watch ended early"
        record: dict[str, Any] = json.loads(line)
        return record

    async def restart_then_move_on() -> None:
        await background.simulator.restart()
        # Before any client is back: these changes happen while the watch is disconnected.
        for _ in range(17):
            await background.simulator.advance(1.0)

    try:
        status = next_record()
        assert (status["event"], status["mode"]) == ("provider_status", "ALARMMGR")
        _advance(background, 7)
        raised = next_record()
        assert (raised["kind"], raised["alarm"]["reference"], raised["synthetic"]) == (
            "RAISE",
            TANK1_HI,
            False,
        )
        background.call(restart_then_move_on)
        after_restart = [next_record(), next_record()]
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
        pool.shutdown(wait=False, cancel_futures=True)
    assert process.returncode == 0, stderr
    assert stdout == ""
    assert all(r["event"] == "transition" and r["synthetic"] for r in after_restart)
    reconciled = {r["alarm"]["reference"]: (r["kind"], r["alarm"]["state"]) for r in after_restart}
    assert reconciled == {
        TANK1_HI: ("CLEAR", "CLEARED_UNACKNOWLEDGED"),
        TANK1_HIHI: ("RAISE", "CLEARED_UNACKNOWLEDGED"),
    }
    assert ADMIN not in stderr


def test_watch_exits_130_on_sigint(background: BackgroundSimulator) -> None:
    process = subprocess.Popen(
        cli_command("alarms", "watch"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A process that does not end gets SIGABRT: every thread's stack goes to stderr.
        env={**_env(background), "PYTHONFAULTHANDLER": "1"},
    )
    pool = concurrent.futures.ThreadPoolExecutor(1)
    try:
        assert process.stdout is not None
        events = []
        for _ in range(50):  # the standing alarms come first, then the provider's status
            events.append(json.loads(pool.submit(process.stdout.readline).result(timeout=30))["event"])
            if events[-1] != "active":
                break
        assert events[-1] == "provider_status"  # the feed is attached
        process.send_signal(signal.SIGINT)
        try:
            _, stderr = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGABRT)
            _, stacks = process.communicate(timeout=10)
            pytest.fail(f"alarms watch did not end within 30 s of SIGINT; its threads:\n{stacks[-8000:]}")
    finally:
        if process.poll() is None:
            process.kill()
        pool.shutdown(wait=False, cancel_futures=True)
    assert process.returncode == 130
    assert "interrupted" in stderr
    assert "Traceback" not in stderr
    assert _feed_gone(background)  # the call was cancelled on the way out


def _feed_gone(background: BackgroundSimulator) -> bool:
    deadline = time.monotonic() + 5
    for _ in range(100):
        if background.simulator.alarms.subscriber_count == 0:
            return True
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    return False
