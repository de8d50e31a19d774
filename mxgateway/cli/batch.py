"""``mxgw-py batch``: one command per stdin line, in one process.

Each non-blank line that does not start with ``#`` is split like a shell would
(quotes, backslashes; no variables, no globbing) and run as ``mxgw-py <line>``.
Its output is followed by the line :data:`END_OF_RECORD`, so a program driving
the batch through a pipe knows when a result is complete. A failing line prints
its JSON error object (``{"error": {...}}``) as the result and the loop goes on.

Every line shares the batch's connections: the gateway client, the embedded
simulator of ``--simulator`` and so the sessions opened on it. An ``open-session``
line makes its session the default of the following lines (over
``MXGATEWAY_SESSION_ID``; ``--session-id`` still wins), until it is closed. The
batch's own connection options are the defaults of every line.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable, Iterable
from typing import IO

import typer

from mxgateway.cli.connections import batch_scope
from mxgateway.cli.context import emit
from mxgateway.cli.errors import CliUsageError, error_object
from mxgateway.cli.exit_codes import ExitCode
from mxgateway.cli.options import CommonOptions, gateway_command

__all__ = ["END_OF_RECORD", "FORBIDDEN", "batch", "parse_batch_line", "run_batch"]

#: Printed after the output of every line.
END_OF_RECORD = "---"

#: Commands that make no sense inside a batch (they would run forever or nest).
FORBIDDEN = frozenset({"batch", "simulate"})

#: Runs one command line; returns its exit code.
LineRunner = Callable[[list[str]], int]


def parse_batch_line(line: str) -> list[str] | None:
    """The arguments of one batch line, or None for a blank line or a comment.

    Raises ``CliUsageError`` for unbalanced quotes and for forbidden commands.
    """
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return None
    try:
        argv = shlex.split(stripped)
    except ValueError as exc:
        raise CliUsageError(f"cannot split the line: {exc}") from None
    if argv and argv[0] in FORBIDDEN:
        raise CliUsageError(f"{argv[0]!r} cannot run inside a batch")
    return argv


def _lines(stream: IO[str]) -> Iterable[str]:
    # readline, not iteration: a driver waits for each record before writing the next line.
    while True:
        line = stream.readline()
        if not line:
            return
        yield line


def run_batch(
    run_line: LineRunner,
    stream: IO[str] | None = None,
    out: IO[str] | None = None,
    *,
    defaults: CommonOptions | None = None,
) -> ExitCode:
    """Run every line of ``stream`` (stdin) with ``run_line``; ``defaults`` apply to every line.

    Returns OK when every line succeeded, INTERRUPTED when one was interrupted
    (the batch stops there), else the exit code of the last failing line.
    """
    source = stream if stream is not None else sys.stdin
    result = ExitCode.OK
    with batch_scope(defaults):
        for line in _lines(source):
            try:
                argv = parse_batch_line(line)
            except CliUsageError as exc:
                emit(error_object(exc), as_json=True)
                code = int(ExitCode.USAGE)
            else:
                if argv is None:
                    continue
                code = run_line(argv)
            target = out if out is not None else sys.stdout
            target.write(END_OF_RECORD + "\n")
            target.flush()
            if code == ExitCode.INTERRUPTED:
                return ExitCode.INTERRUPTED
            if code != ExitCode.OK:
                result = ExitCode(code) if code in ExitCode._value2member_map_ else ExitCode.ERROR
    return result


@gateway_command
def batch(ctx: typer.Context, common: CommonOptions) -> None:
    """Run one command per stdin line; each result ends with a line "---".

    A failing line prints a JSON error object and the batch goes on; the exit
    code is that of the last failing line (0 when all succeeded). The batch's
    options are the defaults of every line, and the lines share one connection;
    an open-session line makes its session the default of the following lines.
    """
    root = ctx.find_root().command

    def run_line(argv: list[str]) -> int:
        from typer._click.exceptions import ClickException

        try:
            result = root.main(args=argv, prog_name="mxgw-py", standalone_mode=False)
        except ClickException as exc:
            emit(error_object(exc), as_json=True)
            return int(ExitCode.USAGE if exc.exit_code == ExitCode.USAGE else ExitCode.ERROR)
        except typer.Abort:
            emit(error_object(KeyboardInterrupt()), as_json=True)
            return int(ExitCode.INTERRUPTED)
        return result if isinstance(result, int) else int(ExitCode.OK)

    code = run_batch(run_line, defaults=common)
    if code != ExitCode.OK:
        raise typer.Exit(code)
