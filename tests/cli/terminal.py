"""Run ``mxgw-py`` as a real process on a pseudo-terminal, as a person at a terminal would."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

import pytest


@dataclass
class Screen:
    """What a command wrote to its terminal (and to a piped stdout), and how it ended."""

    code: int
    text: str
    stdout: str = ""


def run_on_terminal(
    args: list[str],
    *,
    timeout: float = 60,
    columns: int = 110,
    pipe_stdout: bool = False,
    stdin_text: str | None = None,
    interrupt_after: str | None = None,
) -> Screen:
    """``python -m mxgateway.cli ARGS`` with stdin, stdout and stderr on one pseudo-terminal.

    ``pipe_stdout``: stdout goes to a pipe instead (``mxgw-py ... | jq``), stderr stays on the terminal;
    ``stdin_text``: stdin is a pipe that gives this text; ``interrupt_after``: Ctrl-C (SIGINT)
    once the terminal shows this text.
    """
    if not hasattr(pty, "openpty"):
        pytest.skip("no pseudo-terminals here")
    controller, terminal = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MXGATEWAY_")}
    env.update({"TERM": "xterm-256color", "COLUMNS": str(columns), "LINES": "40", "NO_COLOR": "1"})
    process = subprocess.Popen(
        [sys.executable, "-m", "mxgateway.cli", *args],
        stdin=subprocess.PIPE if stdin_text is not None else terminal,
        stdout=subprocess.PIPE if pipe_stdout else terminal,
        stderr=terminal,
        env=env,
        close_fds=True,
    )
    os.close(terminal)
    if process.stdin is not None:
        process.stdin.write((stdin_text or "").encode())
        process.stdin.close()
    chunks: list[bytes] = []
    piped: list[bytes] = []
    open_streams = {controller: chunks}
    if process.stdout is not None:
        open_streams[process.stdout.fileno()] = piped
    deadline = time.monotonic() + timeout
    try:
        for _ in range(100_000):  # bounded in count and by the deadline
            if time.monotonic() > deadline:
                raise AssertionError(f"{args} did not end within {timeout} s")
            if not open_streams:
                break
            ready, _, _ = select.select(list(open_streams), [], [], 0.2)
            for fd in ready:
                try:
                    data = os.read(fd, 65536)
                except OSError:  # the terminal closed: the process is gone
                    data = b""
                if data:
                    open_streams[fd].append(data)
                else:
                    del open_streams[fd]
            if interrupt_after is not None and interrupt_after.encode() in b"".join(chunks):
                process.send_signal(signal.SIGINT)
                interrupt_after = None
            if not ready and process.poll() is not None:
                break
        code = process.wait(timeout=max(deadline - time.monotonic(), 1))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(controller)
        if process.stdout is not None:
            process.stdout.close()
    return Screen(code, b"".join(chunks).decode("utf-8", "replace"), b"".join(piped).decode())
