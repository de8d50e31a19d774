"""Every README and docs/*.md code block runs as pasted, against the simulator.

Python blocks run in a fresh interpreter; bash blocks in bash with ``set -euo
pipefail``, from the repository root, with this environment's ``mxgw-py`` on
PATH and ``MXGATEWAY_ENDPOINT`` naming a ``mxgw-py simulate`` process (as the
CLI docs tell a reader to start one). Skipped blocks must say why, and stay few.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .snippets import ROOT, Snippet, all_snippets

SNIPPETS = all_snippets()
RUNNABLE = [s for s in SNIPPETS if s.skip_reason is None]
#: Seconds any one snippet may take.
SNIPPET_TIMEOUT_S = 90


@pytest.fixture(scope="module")
def simulate_endpoint() -> Iterator[str]:
    """A ``mxgw-py simulate`` process on a free loopback port (values stay put)."""
    command = [str(Path(sys.executable).with_name("mxgw-py")), "simulate", "--port", "0", "--rate", "0"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 30)
        assert ready, "mxgw-py simulate printed no endpoint within 30 s"
        line = process.stdout.readline()  # the first line is the endpoint document
        yield str(json.loads(line)["endpoint"])
    finally:
        process.terminate()
        process.wait(timeout=10)


def _environment(endpoint: str, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MXGATEWAY_", "MXGW_PY_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["MXGATEWAY_ENDPOINT"] = endpoint
    # ./dev in a snippet uses the environment these tests run in (CI's is not .venv):
    # else a fresh clone would create and install .venv inside the snippet's time.
    env["MXGATEWAY_VENV"] = sys.prefix
    env["HOME"] = str(home)
    return env


def test_the_docs_have_runnable_snippets_and_few_skips() -> None:
    assert len(RUNNABLE) >= 10
    skipped = [s for s in SNIPPETS if s.skip_reason]
    assert all(s.skip_reason and len(s.skip_reason) > 5 for s in skipped)
    assert len(skipped) <= len(RUNNABLE) // 2, [s.id for s in skipped]


def test_snippet_extraction_finds_fences_and_skip_markers(tmp_path: Path) -> None:
    from .snippets import snippets_of

    page = tmp_path / "page.md"
    page.write_text(
        "text\n```python\nprint(1)\n```\n<!-- snippet: skip (needs a plant) -->\n```bash\nexit 1\n```\n"
        "```text\nnot code\n```\n",
        encoding="utf-8",
    )
    first, second = snippets_of(page)
    assert (first.language, first.code, first.skip_reason, first.line) == ("python", "print(1)\n", None, 2)
    assert (second.language, second.skip_reason) == ("bash", "needs a plant")


PYTHON = [s for s in SNIPPETS if s.language == "python"]


@pytest.mark.parametrize("snippet", PYTHON, ids=[s.id for s in PYTHON])
def test_python_snippet_is_valid_on_this_python(snippet: Snippet) -> None:
    # Every Python version runs this; running the snippets (slow) is for one of them.
    # A fragment may await at its top level, as in a notebook cell.
    compile(snippet.code, snippet.id, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True)


@pytest.mark.slow
@pytest.mark.parametrize("snippet", RUNNABLE, ids=[s.id for s in RUNNABLE])
def test_snippet_runs_as_pasted(snippet: Snippet, simulate_endpoint: str, tmp_path: Path) -> None:
    if snippet.language == "bash" and "jq " in snippet.code and shutil.which("jq") is None:
        pytest.skip("this snippet pipes into jq, which is not installed")
    env = _environment(simulate_endpoint, tmp_path)
    if snippet.language == "python":
        command = [sys.executable, "-c", snippet.code]
        cwd = tmp_path
    else:
        command = ["bash", "-euo", "pipefail", "-c", snippet.code]
        cwd = ROOT
    started = time.monotonic()
    # Its own process group: whatever the snippet starts in the background ends with it.
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=SNIPPET_TIMEOUT_S)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    done = subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
    assert done.returncode == 0, (
        f"{snippet.id} failed ({time.monotonic() - started:.1f} s):\n{done.stderr[-3000:]}"
    )
    # Printed output is part of what a reader sees: no warnings or tracebacks.
    assert "Traceback" not in done.stderr
    assert "Error" not in done.stderr, done.stderr[-2000:]
    # A comment beside a print shows what it prints: some printed line must look like it.
    printed = done.stdout.splitlines()
    for shown in printed_comments(snippet) if snippet.language == "python" else []:
        pattern = shown_pattern(shown)
        assert any(pattern.fullmatch(line) for line in printed), (
            f"{snippet.id}: no printed line looks like the comment {shown!r}; printed:\n{done.stdout[-2000:]}"
        )


_PRINT_WITH_OUTPUT = re.compile(r"^\s*print\(.*\)\s+#\s(?P<shown>.+)$")


def shown_pattern(shown: str) -> re.Pattern[str]:
    """What a ``print(...)  # output`` comment promises: its text, any number where it shows one
    (or ``PORT``), ``...`` anything."""
    number = r"-?\d+(?:\.\d+)?"
    parts = re.split(rf"(\.\.\.|PORT|{number})", shown.strip())
    regex = "".join(
        ".*" if part == "..." else number if part == "PORT" or re.fullmatch(number, part) else re.escape(part)
        for part in parts
    )
    return re.compile(regex)


def printed_comments(snippet: Snippet) -> list[str]:
    """The comments of a snippet's ``print(...)  # ...`` lines: the output it shows the reader."""
    return [m.group("shown") for line in snippet.code.splitlines() if (m := _PRINT_WITH_OUTPUT.match(line))]


def test_shown_output_patterns() -> None:
    assert shown_pattern("#1 Tank_001.Level = 60.0 (good, 08:05:56Z)").fullmatch(
        "#1 Tank_001.Level = 61.25 (good, 20:09:37Z)"
    )
    assert not shown_pattern("#1 item 1/1 = 60.0 (good, 08:05:56Z)").fullmatch(
        "#1 Tank_001.Level = 60.0 (good, 20:09:37Z)"
    )
    assert shown_pattern("[Tank_001.Level = 60.0 (good, 08:05:56Z), ...]").fullmatch(
        "[Tank_001.Level = 60.0 (good, 08:05:56Z), Tank_001.Volume = 1000 (good, 08:05:56Z)]"
    )
