"""``mxgw-py`` as real processes against the simulator running in the test process."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import grpc
import pytest

from mxgateway.generated import mxaccess_gateway_pb2 as pb
from mxgateway.simulator.background import BackgroundSimulator
from tests.cli.conftest import ADMIN_KEY, READ_ONLY_KEY, WRONG_KEY, cli_command, subprocess_env

Run = Any


@pytest.mark.slow
def test_a_session_opened_by_one_invocation_is_used_by_the_next(
    run_cli: Run, simulator: BackgroundSimulator
) -> None:
    opened = run_cli("open-session")
    session_id = opened.stdout.strip()
    assert opened.code == 0
    assert session_id in simulator.simulator.session_ids()
    env = {"MXGATEWAY_SESSION_ID": session_id}
    server = json.loads(run_cli("register", "--json", env=env).stdout)["server_handle"]
    added = run_cli("add-item", "Tank_002.Temperature", "--server-handle", str(server), "--json", env=env)
    item = json.loads(added.stdout)["item_handle"]
    written = run_cli(
        "write",
        "--server-handle",
        str(server),
        "--item-handle",
        str(item),
        "--type",
        "float",
        "--value",
        "7.25",
        env=env,
    )
    assert written.code == 0, written.stderr
    read = run_cli("read", "Tank_002.Temperature", "--json", env=env)
    assert json.loads(read.stdout)["value"] == 7.25
    assert session_id in simulator.simulator.session_ids()
    assert run_cli("close-session", env=env).code == 0
    assert session_id not in simulator.simulator.session_ids()


def _batch_golden(run_cli: Run) -> str:
    script = "\n".join(
        [
            "read Tank_002.Name Tank_002.FillDuration Tank_002.LevelHistory Tank_002.LastFilled",
            "galaxy hierarchy --glob Tank_002",
            "galaxy browse --no-attributes",
            "galaxy last-deploy",
            "read No_Such.Tag",
        ]
    )
    outcome = run_cli("batch", "--json", input=script + "\n")
    assert outcome.code == 7
    return outcome.stdout


@pytest.mark.slow
def test_golden_json_is_byte_identical_between_runs(run_cli: Run) -> None:
    first = _batch_golden(run_cli)
    second = _batch_golden(run_cli)
    assert first == second
    documents = [json.loads(line) for line in first.splitlines() if line != "---"]
    assert all(list(d) == sorted(d) for d in documents)  # sorted keys
    assert documents[0]["tag"] == "Tank_002.Name"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "env", "fault", "code", "kind"),
    [
        (["read", "Tank_002.Name"], {}, None, 0, None),
        (
            [
                "write",
                "--session-id",
                "s",
                "--server-handle",
                "1",
                "--item-handle",
                "1",
                "--type",
                "bool",
                "--value",
                "perhaps",
            ],
            {},
            None,
            2,
            "usage",
        ),
        (["read", "Tank_002.Name"], {"MXGATEWAY_API_KEY": WRONG_KEY}, None, 3, "authentication"),
        (["smoke", "Tank_002.Level"], {"MXGATEWAY_API_KEY": READ_ONLY_KEY}, None, 0, None),
        (["galaxy", "last-deploy"], {"MXGATEWAY_API_KEY": "", "K": READ_ONLY_KEY}, None, 0, None),
        (["demo"], {"MXGATEWAY_API_KEY": READ_ONLY_KEY}, None, 4, "permission"),
        (["read", "Tank_002.Name", "--endpoint", "127.0.0.1:1"], {}, None, 5, "unavailable"),
        (["galaxy", "last-deploy", "--timeout", "0.3"], {}, "latency", 6, "timeout"),
        (["read", "No_Such.Tag"], {}, None, 7, None),
        (["close-session", "--session-id", "session-0"], {}, "not_found", 8, "not_found"),
        (["galaxy", "last-deploy"], {}, grpc.StatusCode.INVALID_ARGUMENT, 9, "invalid_request"),
        (["galaxy", "last-deploy"], {}, grpc.StatusCode.INTERNAL, 1, "error"),
    ],
    ids=[
        "ok",
        "usage",
        "auth",
        "read-only-ok",
        "env-name",
        "permission",
        "unavailable",
        "timeout",
        "mxaccess",
        "not-found",
        "invalid",
        "error",
    ],
)
def test_exit_codes(
    run_cli: Run,
    simulator: BackgroundSimulator,
    args: list[str],
    env: dict[str, str],
    fault: Any,
    code: int,
    kind: str | None,
) -> None:
    faults = simulator.simulator.faults
    if fault == "latency":
        faults.latency_s = 1.0
    elif fault == "not_found":
        faults.fail_next(grpc_code=grpc.StatusCode.NOT_FOUND, methods=["CloseSession"])
    elif fault is not None:
        faults.fail_next(grpc_code=fault, methods=["GetLastDeployTime"])
    if "K" in env:
        args = [*args, "--api-key-env", "K"]
    outcome = run_cli(*args, "--json", env=env)
    assert outcome.code == code, outcome.stderr
    if kind is not None:
        error = json.loads(outcome.stderr)["error"]
        assert error["kind"] == kind
        assert error["exit_code"] == code
    assert "Traceback" not in outcome.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    "echo", [ADMIN_KEY, ADMIN_KEY.upper(), ADMIN_KEY.swapcase()], ids=["same", "upper", "swapped"]
)
def test_the_key_is_redacted_even_when_the_gateway_echoes_it(
    run_cli: Run, simulator: BackgroundSimulator, echo: str
) -> None:
    simulator.simulator.faults.fail_next(
        grpc_code=grpc.StatusCode.UNAUTHENTICATED,
        message=f"key {echo} is revoked",
        methods=["OpenSession"],
    )
    outcome = run_cli("read", "Tank_002.Name", "--api-key", ADMIN_KEY)  # run_cli asserts no key in any output
    assert outcome.code == 3
    assert "<redacted>" in outcome.stderr


@pytest.mark.parametrize("json_output", [False, True], ids=["text", "json"])
def test_a_key_echoed_in_a_reply_is_redacted_from_cli_output(
    cli: Run, simulator: BackgroundSimulator, json_output: bool
) -> None:
    # A reply's protocol status (not a gRPC error) echoing the key, upper-cased.
    simulator.simulator.faults.fail_next(
        protocol_status=pb.PROTOCOL_STATUS_CODE_INVALID_REQUEST,
        message=f"caller {ADMIN_KEY.upper()} may not",
        methods=["Invoke"],
    )
    outcome = cli("read", "Tank_001.Level", "--api-key", ADMIN_KEY, *(["--json"] if json_output else []))
    assert outcome.code != 0
    assert "<redacted>" in outcome.stderr  # cli asserts no key in any output, in any case


@pytest.mark.slow
def test_a_key_from_a_file_and_a_missing_variable(run_cli: Run, tmp_path: Any) -> None:
    key_file = tmp_path / "key"
    key_file.write_text(ADMIN_KEY + "\n")
    assert (
        run_cli("read", "Tank_002.Name", "--api-key-file", str(key_file), env={"MXGATEWAY_API_KEY": ""}).code
        == 0
    )
    missing = run_cli("read", "Tank_002.Name", "--api-key-env", "NOT_SET_ANYWHERE")
    assert missing.code == 2
    assert "NOT_SET_ANYWHERE" in missing.stderr


def test_subscribe_exits_130_on_sigint_and_leaves_no_session(
    cli_env: dict[str, str], simulator: BackgroundSimulator
) -> None:
    before = set(simulator.simulator.session_ids())
    process = subprocess.Popen(
        cli_command("subscribe", "Tank_002.Level", "--json"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=subprocess_env(cli_env),
    )
    try:
        assert process.stdout is not None
        first = json.loads(process.stdout.readline())  # the current value: the subscription is live
        assert first["tag"] == "Tank_002.Level"
        assert len(set(simulator.simulator.session_ids()) - before) == 1
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "interrupted" in stderr
    deadline = time.monotonic() + 5
    while set(simulator.simulator.session_ids()) != before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert set(simulator.simulator.session_ids()) == before


@pytest.mark.slow
def test_help_renders_in_a_real_process(run_cli: Run) -> None:
    outcome = run_cli("--help")
    assert outcome.code == 0
    assert "galaxy" in outcome.stdout
    assert "subscribe" in outcome.stdout
    version = run_cli("version", "--json")
    assert json.loads(version.stdout)["gateway_protocol_version"] == 1


@pytest.mark.parametrize(
    "args", [["galaxy", "hierarchy"], ["subscribe", "Tank_001.Level", "--simulator"]], ids=" ".join
)
def test_a_closed_stdout_ends_the_command_quietly(cli_env: dict[str, str], args: list[str]) -> None:
    process = subprocess.Popen(
        cli_command(*args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=subprocess_env(cli_env),
    )
    assert process.stdout is not None
    process.stdout.close()  # like `| head -1` exiting: the next write fails with EPIPE
    try:
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 1
    assert "Broken pipe" not in stderr
    assert "mxgw-py: error" not in stderr
    if "--simulator" not in args:
        assert stderr == ""


def _docs_block(heading: str) -> str:
    text = (Path(__file__).parents[2] / "docs" / "cli.md").read_text()
    section = text[text.index(heading) :]
    start = section.index("```bash\n") + len("```bash\n")
    return section[start : section.index("```", start)]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("bash") is None or shutil.which("jq") is None, reason="needs bash and jq")
def test_the_sessions_walkthrough_of_the_docs_runs_as_written(
    cli_env: dict[str, str], simulator: BackgroundSimulator, tmp_path: Path
) -> None:
    shim = tmp_path / "mxgw-py"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m mxgateway.cli "$@"\n')
    shim.chmod(0o755)
    script = _docs_block("## Sessions across invocations")
    env = subprocess_env({**cli_env, "PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}"})
    before = set(simulator.simulator.session_ids())
    completed = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", script + 'echo "left: ${MXGATEWAY_SESSION_ID-unset}"\n'],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    documented = [line.removeprefix("# ") for line in script.splitlines() if line.startswith("# [")]
    lines = completed.stdout.splitlines()
    assert documented
    assert all(line in lines for line in documented), completed.stdout
    assert lines[-1] == "left: unset"
    assert set(simulator.simulator.session_ids()) == before  # closed at the end


@pytest.mark.slow
def test_the_readme_demo_runs_as_a_process_with_nothing_on_stderr() -> None:
    # The README's first command, exactly: the embedded simulator with its live values
    # moving (Volume ramps by 5 a second), run twice so a ramp collision would show.
    for _ in range(2):
        done = subprocess.run(
            cli_command("demo", "--simulator"),
            env=subprocess_env({}),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert "(through the subscription)" in done.stdout
        assert done.stdout.rstrip().endswith("closed the session")
        assert done.stderr == ""
