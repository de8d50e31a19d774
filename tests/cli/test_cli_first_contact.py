"""First contact with mxgw-py: suggestions, --version, completion, panels, metavars, terminal output, hints.

Terminal behaviour is checked in real processes on a pseudo-terminal, as a user
sees it; the rest through real processes where the entry point matters.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import time
from pathlib import Path

import pytest
import trustme
from typer.testing import CliRunner

from mxgateway import __version__
from mxgateway.cli.app import app
from mxgateway.cli.lazy_commands import LAZY_COMMANDS
from mxgateway.simulator.server import Simulator
from tests.loopback import closed_port

from .conftest import ADMIN_KEY, cli_command, subprocess_env
from .test_cli_help import EXPECTED, _command_paths

runner = CliRunner()


def on_terminal(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> tuple[int, str]:
    """Run mxgw-py with stdout and stderr on a pseudo-terminal; (exit code, what the terminal showed)."""
    master, slave = pty.openpty()
    process = subprocess.Popen(
        cli_command(*args),
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=slave,
        env=subprocess_env(env or {}),
    )
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        for _ in range(100_000):  # bounded in count, and by the deadline below
            if time.monotonic() > deadline:
                break
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the process closed the terminal
                    break
                if not data:
                    break
                chunks.append(data)
            elif process.poll() is not None:
                break
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()
        code = process.wait(timeout=10)
    return code, b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")


# ------------------------------------------------------------------ discovery


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_typo_of_every_command_gets_a_suggestion(name: str) -> None:
    typo = name[:2] + "q" + name[2:]  # one letter too many: "reqad"
    assert typo not in EXPECTED
    result = runner.invoke(app, [typo])
    assert result.exit_code == 2
    assert f"Did you mean '{name}'" in result.output


def test_galaxy_subcommands_get_suggestions() -> None:
    result = runner.invoke(app, ["galaxy", "hierarchi"])
    assert result.exit_code == 2
    assert "Did you mean 'hierarchy'" in result.output


def test_lazy_commands_are_suggested_in_a_real_process() -> None:
    done = subprocess.run(
        cli_command("subscrib"), capture_output=True, text=True, timeout=60, env=subprocess_env({})
    )
    assert done.returncode == 2
    assert "No such command 'subscrib'. Did you mean 'subscribe'" in done.stderr
    assert "subscribe" in LAZY_COMMANDS


def test_version_flag() -> None:
    for argv in (["--version"], ["--version", "read"]):
        done = subprocess.run(
            cli_command(*argv), capture_output=True, text=True, timeout=60, env=subprocess_env({})
        )
        assert (done.returncode, done.stdout, done.stderr) == (0, f"mxgw-py {__version__}\n", "")


def test_shell_completion_lists_lazy_commands() -> None:
    env = subprocess_env(
        {"_MXGW_PY_COMPLETE": "complete_bash", "COMP_WORDS": "mxgw-py re", "COMP_CWORD": "1"}
    )
    done = subprocess.run(["mxgw-py"], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0
    assert {"read", "register", "read-bulk", "remove-item"} <= set(done.stdout.split())
    shown = subprocess.run(
        cli_command("--show-completion", "bash"),
        capture_output=True,
        text=True,
        timeout=60,
        env=subprocess_env({}),
    )
    assert "_MXGW_PY_COMPLETE" in shown.stdout or "complete" in shown.stdout


def test_root_help_puts_everyday_commands_first() -> None:
    result = runner.invoke(app, ["--help"])
    output = result.output
    headings = [line for line in output.splitlines() if line.endswith(":") and not line.startswith(" ")]
    assert headings[:3] == ["Options:", "Everyday commands:", "Checks:"]
    everyday = output.split("Everyday commands:")[1].split("\n\n")[0]
    assert [line.split()[0] for line in everyday.strip().splitlines()][:3] == ["read", "subscribe", "watch"]
    assert output.index("read ") < output.index("open-session")


@pytest.mark.parametrize("path", _command_paths(), ids=" ".join)
def test_metavars_are_readable(path: list[str]) -> None:
    output = runner.invoke(app, [*path, "--help"]).output
    assert not re.search(r"<(str|int|float|path|list\[\w+\]|\w+ range)>", output), output
    assert not re.search(r"\{\w+\}", output.split("\n", 1)[0])


def test_tag_arguments_read_tag_dots() -> None:
    output = runner.invoke(app, ["read", "--help"]).output
    assert output.startswith("Usage: mxgw-py read [OPTIONS] TAG...")
    assert "--timeout SECONDS" in output
    assert "--endpoint HOST:PORT" in output


# ------------------------------------------------------------------ terminal output


def test_read_on_a_terminal_is_aligned_with_quoted_strings() -> None:
    code, shown = on_terminal("read", "Tank_001.Level", "Tank_001.Name", "Pump_001.Running", "--simulator")
    assert code == 0, shown
    lines = [line for line in shown.splitlines() if line.strip()]
    assert len(lines) == 3, shown
    assert [line.index(" = ") for line in lines] == [len("Pump_001.Running")] * 3
    # The embedded simulator's level moves in real time: any number, as a number.
    assert re.match(r"Tank_001\.Level   = \d+\.\d+  \(good, ", lines[0]), lines[0]
    assert re.search(r'Tank_001\.Name    = "[^"]+"  \(good, \d\d:\d\d:\d\dZ\)', lines[1])
    assert lines[2].startswith("Pump_001.Running = false  (good, ")


def test_read_piped_stays_key_value_and_json_stays_json() -> None:
    env = subprocess_env({})
    piped = subprocess.run(
        cli_command("read", "Tank_001.Name", "--simulator"),
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert piped.stdout.startswith("data_type=STRING ")
    assert "tag=Tank_001.Name" in piped.stdout
    code, shown = on_terminal("read", "Tank_001.Name", "--simulator", "--json")
    assert code == 0
    assert json.loads(shown.strip())["tag"] == "Tank_001.Name"


def test_galaxy_listings_are_tables_on_a_terminal_and_json_when_piped() -> None:
    for command in (["galaxy", "hierarchy", "--glob", "Tank_*"], ["galaxy", "browse"]):
        code, shown = on_terminal(*command, "--simulator")
        assert code == 0, shown
        shown = shown.rsplit("\x1b[2K", 1)[-1]  # after the progress line, which erases itself
        assert shown.startswith("GOBJECT_ID"), shown
        assert "{" not in shown
        code, shown = on_terminal(*command, "--simulator", "--json")
        without_progress = re.sub(r"\x1b\[2K[^\r\n]*\r?", "", shown)  # the progress line erases itself
        documents = [d for d in without_progress.split("\n") if d.strip()]
        assert code == 0
        assert documents
        assert all(json.loads(d)["tag_name"] for d in documents)
        assert "GOBJECT_ID" not in shown
        piped = subprocess.run(
            cli_command(*command, "--simulator"),
            capture_output=True,
            text=True,
            timeout=60,
            env=subprocess_env({}),
        )
        assert piped.returncode == 0
        assert piped.stderr == ""
        assert all("tag_name" in json.loads(line) for line in piped.stdout.splitlines())
    assert (
        "Tank_001"
        in subprocess.run(
            cli_command("galaxy", "browse", "--parent-tag", "Intake", "--simulator", "--table"),
            capture_output=True,
            text=True,
            timeout=60,
            env=subprocess_env({}),
        ).stdout
    )


# ------------------------------------------------------------------ options and errors


def test_simulator_with_endpoint_is_a_usage_error() -> None:
    result = runner.invoke(app, ["read", "Tank_001.Level", "--simulator", "--endpoint", "127.0.0.1:1"])
    assert result.exit_code == 2
    assert "--simulator and --endpoint contradict each other" in result.output


def test_client_certificate_options(tmp_path: Path) -> None:
    authority = trustme.CA()
    server = authority.issue_cert("127.0.0.1")
    client = authority.issue_cert("mxgw-py-client.example")
    files = {name: tmp_path / f"{name}.pem" for name in ("ca", "cert", "key", "client_cert", "client_key")}
    authority.cert_pem.write_to_path(files["ca"])
    server.cert_chain_pems[0].write_to_path(files["cert"])
    server.private_key_pem.write_to_path(files["key"])
    client.cert_chain_pems[0].write_to_path(files["client_cert"])
    client.private_key_pem.write_to_path(files["client_key"])
    lone = runner.invoke(app, ["read", "Tank_001.Level", "--client-cert", str(files["client_cert"])])
    assert lone.exit_code == 2
    assert "--client-cert and --client-key go together" in lone.output
    with Simulator.start_in_background(
        update_rate_hz=0, tls_cert_file=files["cert"], tls_key_file=files["key"]
    ) as sim:
        done = subprocess.run(
            cli_command(
                "read",
                "Tank_001.Level",
                "--json",
                "--endpoint",
                sim.endpoint,
                "--ca-file",
                str(files["ca"]),
                "--client-cert",
                str(files["client_cert"]),
                "--client-key",
                str(files["client_key"]),
            ),
            capture_output=True,
            text=True,
            timeout=60,
            env=subprocess_env({}),
        )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["ok"] is True


def test_unreachable_gateway_says_where_the_endpoint_came_from() -> None:
    port = closed_port()
    flag = subprocess.run(
        cli_command("read", "T.A", "--endpoint", f"127.0.0.1:{port}", "--timeout", "3"),
        capture_output=True,
        text=True,
        timeout=60,
        env=subprocess_env({}),
    )
    assert flag.returncode == 5
    assert f"127.0.0.1:{port} was given with --endpoint" in flag.stderr
    assert "--simulator" in flag.stderr
    assert 'endpoint="simulator"' not in flag.stderr  # the Python hint is not for shell users
    env = subprocess.run(
        cli_command("read", "T.A", "--timeout", "3", "--json"),
        capture_output=True,
        text=True,
        timeout=60,
        env=subprocess_env({"MXGATEWAY_ENDPOINT": f"127.0.0.1:{port}"}),
    )
    message = json.loads(env.stderr)["error"]["message"]
    assert f"127.0.0.1:{port} came from MXGATEWAY_ENDPOINT" in message


def test_refused_key_says_whether_one_was_sent(tmp_path: Path) -> None:
    with Simulator.start_in_background(api_keys={ADMIN_KEY: ["admin"]}, update_rate_hz=0) as sim:
        none = subprocess.run(
            cli_command("read", "Tank_001.Level", "--endpoint", sim.endpoint),
            capture_output=True,
            text=True,
            timeout=60,
            env=subprocess_env({}),
        )
        key_file = tmp_path / "key.txt"
        key_file.write_text("not-the-right-key-123456\n", encoding="utf-8")
        wrong = subprocess.run(
            cli_command(
                "read", "Tank_001.Level", "--endpoint", sim.endpoint, "--api-key-file", str(key_file)
            ),
            capture_output=True,
            text=True,
            timeout=60,
            env=subprocess_env({}),
        )
    assert none.returncode == 3
    assert "no API key was sent: pass --api-key-file FILE" in none.stderr
    assert wrong.returncode == 3
    assert "the API key from --api-key-file was sent and refused" in wrong.stderr
    assert "not-the-right-key" not in wrong.stderr
