"""``mxgw-py read`` without Typer: the same output and exit codes as the Typer path, or Typer itself.

Each command line runs twice: in this process through Typer's runner (the Typer
path) and as a real ``python -m mxgateway.cli`` process (the fast path when it
understands the line); what each prints and its exit code must match.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from mxgateway.cli import fast
from tests.cli.conftest import WRONG_KEY, run_python

Run = Any

_TIMESTAMP = re.compile(r"(source_timestamp[=\":\s]+)[^ ,}\n]+")


def _same_text(text: str) -> str:
    # Each read stamps its own time; the program name differs between the runner and a
    # process, and so does the wrapping of help text around it.
    text = _TIMESTAMP.sub(r"\1T", text).replace("python -m mxgateway.cli", "mxgw-py")
    return " ".join(text.split())


FAST_LINES = [
    (["read", "Tank_002.Name", "Tank_002.FillDuration", "--json"], {}),
    (["read", "Tank_002.Name", "No_Such.Tag"], {}),
    (["read", "--json", "Tank_002.Name", "--endpoint=127.0.0.1:1", "--timeout", "0.5"], {}),
    (["read", "Tank_002.Name", "--api-key-env", "MXGW_TEST_UNSET_VARIABLE"], {}),
    (["read", "Tank_002.Name", "--plaintext", "--tls", "--json"], {}),
    (["read", "Tank_002.Name", "--json"], {"MXGATEWAY_API_KEY": WRONG_KEY}),
    (["read", "Tank_002.Name", "--session-id", "no-such-session", "--json"], {}),
]

TYPER_LINES = [
    ["read"],
    ["read", "--help"],
    ["read", "Tank_002.Name", "--timeout", "soon"],
    ["read", "Tank_002.Name", "--timeout", "0"],
    ["read", "Tank_002.Name", "--no-such-option"],
    ["read", "Tank_002.Name", "--endpoint"],
    ["read", "Tank_002.Name", "--json=yes"],
    ["read", "--", "-Tank_002.Name"],
    # Text Typer refuses (too long, or bytes that are not UTF-8): refused the same way.
    ["read", "T" * 9000],
    ["read", "Tank_002.Name", "--endpoint", "ho\udcffst:5000"],
    ["read", "Tank_002.Name", "--session-id", "s" * 9000],
]


@pytest.mark.parametrize(("args", "env"), FAST_LINES)
def test_the_fast_path_answers_like_typer(
    cli: Run, run_cli: Run, args: list[str], env: dict[str, str]
) -> None:
    assert fast._parse_read(args[1:]) is not None
    typer_path = cli(*args, env=env)
    fast_path = run_cli(*args, env=env)
    assert fast_path.code == typer_path.code, fast_path.stderr
    assert _same_text(fast_path.stdout) == _same_text(typer_path.stdout)
    assert _same_text(fast_path.stderr) == _same_text(typer_path.stderr)


@pytest.mark.parametrize("args", TYPER_LINES)
def test_lines_the_fast_path_does_not_understand_go_to_typer(cli: Run, run_cli: Run, args: list[str]) -> None:
    assert fast._parse_read(args[1:]) is None
    typer_path = cli(*args)
    process = run_cli(*args)
    assert process.code == typer_path.code
    assert _same_text(process.stdout) == _same_text(typer_path.stdout)
    assert _same_text(process.stderr) == _same_text(typer_path.stderr)


def test_a_fast_read_never_imports_typer(run_cli: Run, cli_env: dict[str, str]) -> None:
    script = (
        "import sys\n"
        "from mxgateway.cli.main import main\n"
        "sys.argv = ['mxgw-py', 'read', 'Tank_002.Name', '--json']\n"
        "try:\n    main()\nfinally:\n    print('typer' in sys.modules, file=sys.stderr)\n"
    )
    completed = run_python(script, cli_env)
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["tag"] == "Tank_002.Name"
    assert completed.stderr.strip().splitlines()[-1] == "False"


def test_shell_completion_is_left_to_typer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_MXGW_PY_COMPLETE", "complete_bash")
    assert fast.run(["read", "Tank_002.Name"]) is False
