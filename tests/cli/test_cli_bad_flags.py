"""Flags with values no command can use: exit 2 and one line on stderr, before anything is sent.

A deadline past what gRPC carries (it would expire at once, exit 6), an empty
``--endpoint`` (it would quietly mean localhost:5000), an empty ``--session-id``
(it would quietly mean "open a session of my own"), a simulator rate or grace that
is not a number of the right size. And a failure reported by the gateway is one
line too, even when grpc itself has something to log.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mxgateway.cli.exit_codes import ExitCode
from mxgateway.options import MAX_TIMEOUT_S
from mxgateway.simulator.background import BackgroundSimulator
from tests.cli.conftest import cli_command, subprocess_env

Run = Any

BAD_TIMEOUTS = st.one_of(
    st.sampled_from(["99999999999999999999", "1e20", "1e12", "nan", "inf", "-1", "0", "0.0001", "1e400"]),
    st.integers(min_value=MAX_TIMEOUT_S + 1, max_value=10**30).map(str),
    st.floats(min_value=MAX_TIMEOUT_S * 1.001, allow_infinity=False).map(repr),
)
BLANKS = st.sampled_from(["", " ", "   ", "\t"])

#: argv templates: "{}" is the bad value. Every command here would otherwise connect.
CASES: list[tuple[list[str], st.SearchStrategy[str]]] = [
    (["read", "Tank_001.Level", "--timeout", "{}"], BAD_TIMEOUTS),
    (["read", "Tank_001.Level", "--json", "--timeout", "{}"], BAD_TIMEOUTS),
    (["galaxy", "hierarchy", "--timeout", "{}"], BAD_TIMEOUTS),
    (["subscribe", "Tank_001.Level", "--max-events", "1", "--timeout", "{}"], BAD_TIMEOUTS),
    (
        [
            "write",
            "--session-id",
            "s-1",
            "--server-handle",
            "1",
            "--item-handle",
            "1",
            "--type",
            "int32",
            "--value",
            "1",
            "--timeout",
            "{}",
        ],
        BAD_TIMEOUTS,
    ),
    (["read", "Tank_001.Level", "--endpoint", "{}"], BLANKS),
    (["galaxy", "last-deploy", "--endpoint", "{}"], BLANKS),
    (["read", "Tank_001.Level", "--session-id", "{}"], BLANKS),
    (["read", "Tank_001.Level", "--json", "--session-id", "{}"], BLANKS),
    (["register", "--session-id", "{}"], BLANKS),
    (["stream-events", "--max-events", "1", "--session-id", "{}"], BLANKS),
]


def _argv(template: list[str], value: str) -> list[str]:
    return [value if part == "{}" else part for part in template]


@settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_a_bad_flag_value_is_exit_2_and_one_line(
    cli: Run, simulator: BackgroundSimulator, data: st.DataObject
) -> None:
    template, values = data.draw(st.sampled_from(CASES), label="command")
    argv = _argv(template, data.draw(values, label="value"))
    opened = simulator.simulator.stats.sessions_opened
    outcome = cli(*argv)
    assert outcome.code == ExitCode.USAGE, (argv, outcome.code, outcome.stderr)
    lines = [line for line in outcome.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, (argv, outcome.stderr)
    flag = template[template.index("{}") - 1]
    assert flag.lstrip("-") in lines[0], (argv, lines[0])  # it names the flag
    assert "unexpected" not in lines[0]
    if "--json" in argv:
        assert json.loads(lines[0])["error"]["kind"] == "usage"
    assert outcome.stdout == ""
    assert simulator.simulator.stats.sessions_opened == opened  # refused before anything was sent


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--detach-grace", "nan"),
        ("--detach-grace", "inf"),
        ("--detach-grace", "-1"),
        ("--detach-grace", "1e20"),
        ("--rate", "1e20"),
        ("--rate", "nan"),
        ("--rate", "inf"),
        ("--rate", "-1"),
    ],
)
def test_simulate_refuses_a_rate_or_grace_it_cannot_keep(option: str, value: str) -> None:
    # A real process: accepted, the simulator would serve until stopped.
    completed = subprocess.run(
        cli_command("simulate", "--port", "0", option, value),
        capture_output=True,
        text=True,
        env=subprocess_env({}),
        timeout=60,
        check=False,
    )
    assert completed.returncode == ExitCode.USAGE, completed.stderr
    (line,) = completed.stderr.splitlines()
    assert option in line
    assert completed.stdout == ""  # it never printed an endpoint: it never served


def test_a_failed_tls_handshake_is_one_line(simulator: BackgroundSimulator) -> None:
    # TLS to the plaintext test simulator: grpc logs each failed handshake itself.
    completed = subprocess.run(
        cli_command("read", "Tank_001.Level", "--endpoint", simulator.endpoint, "--tls", "--timeout", "5"),
        capture_output=True,
        text=True,
        env=subprocess_env({}),
        timeout=60,
        check=False,
    )
    assert completed.returncode == ExitCode.UNAVAILABLE, completed.stderr
    (line,) = completed.stderr.splitlines()
    assert line.startswith("mxgw-py: error: ")
    assert "TLS" in line
