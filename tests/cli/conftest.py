"""A simulator for the command-line tests, and two ways to run ``mxgw-py`` against it.

``cli`` runs a command in this process through Typer's runner (fast); ``run_cli``
runs the real ``python -m mxgateway.cli`` as a subprocess, so the simulator (in
this process) and the command line are separate processes, as for a user. Both
check that no output ever contains an API key.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from typer.testing import CliRunner

from mxgateway.cli.app import app
from mxgateway.cli.credentials import REDACTOR
from mxgateway.simulator.background import BackgroundSimulator
from mxgateway.simulator.server import Simulator

ADMIN_KEY = "mxgw_cli_admin_Zq8rT2vX9s"
READ_ONLY_KEY = "mxgw_cli_reader_K4mP7wL1nB"
WRONG_KEY = "mxgw_cli_wrong_H6yU3eR5tD"
SECRETS = (ADMIN_KEY, READ_ONLY_KEY, WRONG_KEY)


@pytest.fixture(scope="session")
def simulator() -> Iterator[BackgroundSimulator]:
    """A simulator whose values stay put (rate 0), requiring API keys."""
    with Simulator.start_in_background(
        api_keys={
            ADMIN_KEY: ["admin"],
            READ_ONLY_KEY: ["session:open", "session:close", "invoke:read", "events:read", "metadata:read"],
        },
        update_rate_hz=0,
    ) as background:
        yield background


@pytest.fixture(autouse=True)
def _clean_simulator(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "simulator" in request.fixturenames:
        background: BackgroundSimulator = request.getfixturevalue("simulator")
        background.simulator.faults.clear()


@pytest.fixture(autouse=True)
def _fresh_redactor() -> Iterator[None]:
    # One command per process in real use: the secrets one test's commands registered
    # must not redact another test's output.
    yield
    REDACTOR.clear()


@dataclass
class Outcome:
    """What a command printed and how it ended."""

    code: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        return self.stdout.splitlines()


def _check_no_secret(outcome: Outcome) -> Outcome:
    # In any letter case: a gateway may echo a key upper-cased.
    for secret in SECRETS:
        assert secret.casefold() not in outcome.stdout.casefold(), "an API key was printed"
        assert secret.casefold() not in outcome.stderr.casefold(), "an API key was printed"
    return outcome


@pytest.fixture
def cli_env(simulator: BackgroundSimulator, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment naming the simulator and the admin key (also applied to this process)."""
    env = {"MXGATEWAY_ENDPOINT": simulator.endpoint, "MXGATEWAY_API_KEY": ADMIN_KEY}
    monkeypatch.delenv("MXGATEWAY_SESSION_ID", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def cli(cli_env: dict[str, str]) -> Any:
    """Run ``mxgw-py ARGS`` in this process; returns an ``Outcome``."""
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Outcome:
        result = runner.invoke(app, list(args), input=input, env=env)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return _check_no_secret(Outcome(result.exit_code, result.stdout, result.stderr))

    return invoke


def cli_command(*args: str) -> list[str]:
    """The argv of a real ``mxgw-py`` process."""
    return [sys.executable, "-m", "mxgateway.cli", *args]


def subprocess_env(extra: dict[str, str]) -> dict[str, str]:
    """This process's environment without MXGATEWAY_* variables, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MXGATEWAY_")}
    env.update(extra)
    return env


def run_python(script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run ``python -c script`` in ``subprocess_env(env)``."""
    return subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=subprocess_env(env),
        timeout=60,
        check=False,
    )


@pytest.fixture
def run_cli(cli_env: dict[str, str]) -> Any:
    """Run ``python -m mxgateway.cli ARGS`` as a subprocess; returns an ``Outcome``."""

    def run(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Outcome:
        completed = subprocess.run(
            cli_command(*args),
            input=input,
            capture_output=True,
            text=True,
            env=subprocess_env({**cli_env, **(env or {})}),
            timeout=60,
            check=False,
        )
        return _check_no_secret(Outcome(completed.returncode, completed.stdout, completed.stderr))

    return run
