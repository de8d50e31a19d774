"""Every option and argument of every ``mxgw-py`` command, fed bad values.

The commands and their parameters are read from the Typer application itself
(the lazily loaded commands included), so a new command or option is covered
without touching this file. Every parameter is a case of its own (the shared
connection options once, on ``read``). Each example gives it a bad value, the
others a harmless one, and runs the command in this process against the test
simulator. Whatever happens, the command ends with a documented exit code, never
the "unexpected" exit 1, and an error is one line without a traceback.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args, get_origin

import pytest
import typer.main
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer._click.core import Context

from mxgateway.cli.app import app
from mxgateway.cli.exit_codes import ExitCode
from mxgateway.cli.lazy_commands import LAZY_COMMANDS

#: A command still running after this long is interrupted (SIGINT, as Ctrl-C)
#: and must then stop like any interrupted command; only the commands that run
#: until stopped may get that far.
WATCHDOG_S = 45.0  # generous: on a loaded machine a demo alone can take seconds

#: Commands that may run until stopped: servers, and watches waiting on a quiet
#: simulator for events that do not come (an accepted large ``--max-events``
#: waits for that many). For them an accepted value means running, so they are interrupted sooner.
RUN_UNTIL_STOPPED = dict.fromkeys(
    ("simulate", "bridge mqtt", "alarms watch", "galaxy watch-deploy-events", "smoke", "subscribe"), 2.0
)

#: Harmless values for parameters by name: what a command needs to get as far as
#: using the bad value, bounded so that no command waits for events that never come.
FILLERS: dict[str, list[str]] = {
    "session_id": ["s-fuzz"],
    "server_handle": ["1"],
    "item_handle": ["1"],
    "type_name": ["int32"],
    "value": ["1"],
    "timestamp": ["2024-01-01T00:00:00Z"],
    "user": ["operator"],
    "tag": ["Tank_001.Level"],
    "tags": ["Tank_001.Level"],
    "entries": ["1=1"],
    "reference": ["Tank_001.Level.HiAlarm"],
    "file": ["export.json"],
    "config": ["missing-bridge.toml"],
    "max_events": ["1"],
    "port": ["0"],
    "rate": ["0"],
    "mxgw_timeout": ["5"],
}

_INTS = [
    str(2**31),
    str(-(2**31) - 1),
    str(2**63),
    str(2**64),
    str(10**30),
    "-1",
    "nan",
    "inf",
    "-inf",
    "1_000",
    "\u0661\u0662\u0663",  # Arabic-Indic 123
    "\uff11\uff12",  # fullwidth 12
    "",
    " ",
    "1.5",
    "1e3",
    "0x10",
    "9" * 5000,
]
_FLOATS = ["nan", "inf", "-inf", "-1", "1e400", "1_000", "\u0663.\u0665", "", "0x1p3", "9" * 5000, "1,5"]
_TEXT = [
    "",
    " ",
    "x" * 100_000,
    os.fsdecode(b"\xff\xfe-invalid-utf8"),  # what a shell passes for bytes that are not UTF-8
    "cl\u00e9 \u65e5\u672c \u0627\u0644",
    "\u0661\u0662\u0663",
    "1_000",
    "nan",
    "[" * 50_000,
    '{"a":' * 10_000,
    "2024-13-45T25:61:61",
    "0001-01-01T00:00:00+05:00",
    "9999-12-31T23:59:59-05:00",
    "a\nb",
    "\x1b[31mred",
    "=",
    "-",
]
#: Addresses stay on loopback: only the port or the syntax is wrong (no lookup leaves the machine).
_ADDRESSES = [
    "127.0.0.1:70000",
    "127.0.0.1:-1",
    "127.0.0.1:nan",
    "127.0.0.1:1_000",
    "127.0.0.1:\u0665\u0660\u0660\u0660",
    "127.0.0.1:" + "9" * 5000,
    "127.0.0.1:5000" + os.fsdecode(b"\xff"),
    "[::1",
    "127.0.0.1:5000:1",
    "127.0.0.1:5000,",
]
_ADDRESS_PARAMS = frozenset({"mxgw_endpoint", "host"})


@dataclass(frozen=True)
class Param:
    """One parameter of one command, as the command line sees it."""

    command: tuple[str, ...]
    name: str
    opt: str | None  # None for an argument
    annotation: Any
    is_flag: bool
    is_path: bool


def _commands() -> dict[tuple[str, ...], list[Param]]:
    root = typer.main.get_command(app)
    found: dict[tuple[str, ...], list[Param]] = {}

    def walk(command: Any, path: tuple[str, ...], ctx: Context) -> None:
        if hasattr(command, "list_commands"):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                walk(sub, (*path, name), Context(sub, parent=ctx, info_name=name))
            return
        found[path] = [
            Param(
                command=path,
                name=p.name,
                opt=max(p.opts, key=len) if p.param_type_name == "option" else None,
                annotation=p.type_descriptor.annotation,
                is_flag=bool(getattr(p, "is_flag", False)),
                is_path=bool(p.type_descriptor.is_path),
            )
            for p in command.params
            if p.name != "help"
        ]

    walk(root, (), Context(root, info_name="mxgw-py"))
    return found


COMMANDS = _commands()


def _leaf(annotation: Any) -> Any:
    args = [a for a in get_args(annotation) if a is not type(None)]
    if get_origin(annotation) is list or (args and len(args) == 1):
        return _leaf(args[0])
    return annotation


def _bad_values(param: Param, scratch: Path) -> st.SearchStrategy[list[str]]:
    """argv pieces giving ``param`` a bad value."""
    if param.is_flag:
        return st.sampled_from([[f"{param.opt}=maybe"], [f"{param.opt}="], [f"{param.opt}=\u0661"]])
    kind = _leaf(param.annotation)
    if param.name in _ADDRESS_PARAMS:
        values = st.sampled_from(_ADDRESSES)
    elif param.is_path:
        values = st.sampled_from(
            [
                str(scratch / "missing" / "file"),
                str(scratch),  # a directory
                "",
                str(scratch / ("n" * 300)),
                str(scratch / os.fsdecode(b"\xff.pem")),
                str(scratch / "garbage.bin"),  # a file that is not text
                str(scratch / "deep.txt"),  # nested deeper than a recursive parser goes
            ]
        )
    elif kind is int:
        values = st.sampled_from(_INTS) | st.integers(min_value=2**31).map(str)
    elif kind is float:
        values = st.sampled_from(_FLOATS)
    else:
        values = st.sampled_from(_TEXT) | st.text(max_size=20)
    return values.map(lambda v: [param.opt, v] if param.opt else [v])


def _argv(command: tuple[str, ...], bad: Param, bad_piece: list[str]) -> list[str]:
    options: list[str] = []
    arguments: list[str] = []
    for param in COMMANDS[command]:
        if param is bad:
            (options if param.opt else arguments).extend(bad_piece)
            continue
        filler = FILLERS.get(param.name)
        if filler is None:
            continue
        if param.opt:
            options += [param.opt, *filler]
        else:
            arguments += filler
    # "--" so that an argument starting with "-" is still an argument.
    return [*command, *options, "--", *arguments] if arguments else [*command, *options]


@contextlib.contextmanager
def _inside(folder: Path) -> Iterator[None]:
    # contextlib.chdir arrives only with Python 3.11.
    previous = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(previous)


@contextlib.contextmanager
def _watchdog(seconds: float) -> Iterator[threading.Event]:
    fired = threading.Event()
    stop = threading.Event()
    lost = threading.Event()
    main = threading.main_thread().ident
    assert main is not None
    previous_hook = sys.unraisablehook

    def hook(unraisable: Any) -> None:
        # Python drops a KeyboardInterrupt it cannot raise (one that lands in a gc
        # callback): the command then runs on, and needs another interrupt.
        if isinstance(unraisable.exc_value, KeyboardInterrupt):
            lost.set()
        else:
            previous_hook(unraisable)

    def interrupt() -> None:
        if stop.wait(seconds):
            return
        fired.set()
        for _ in range(20):
            if stop.is_set():
                return
            # A real signal: it also wakes a main thread blocked waiting on a lock.
            signal.pthread_kill(main, signal.SIGINT)
            while not lost.wait(0.05):
                if stop.is_set():
                    return
            lost.clear()

    sys.unraisablehook = hook
    watchdog = threading.Thread(target=interrupt, name="fuzz watchdog", daemon=True)
    watchdog.start()
    try:
        yield fired
    finally:
        stop.set()
        # A signal already sent is then handled here, inside the caller's try, not in a later test.
        watchdog.join()
        sys.unraisablehook = previous_hook


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder to run in: files a command writes land here, never in the repository."""
    path = tmp_path_factory.mktemp("fuzz")
    (path / "garbage.bin").write_bytes(bytes(range(256)) * 4)
    (path / "deep.txt").write_text("a = " + "[" * 100_000)
    return path


DOCUMENTED = {int(code) for code in ExitCode}


def test_every_command_is_enumerated() -> None:
    names = {" ".join(path) for path in COMMANDS}
    for lazy in LAZY_COMMANDS:
        assert any(name == lazy or name.startswith(lazy + " ") for name in names), lazy
    assert "simulate" in names
    assert any(p.name == "mxgw_endpoint" for p in COMMANDS[("read",)]), "the shared options were not found"


def test_required_parameters_have_fillers() -> None:
    root = typer.main.get_command(app)
    ctx = Context(root, info_name="mxgw-py")
    for path in COMMANDS:
        command: Any = root
        for name in path:
            command = command.get_command(ctx, name)
        for p in command.params:
            if p.required:
                assert p.name in FILLERS, f"add a harmless value for {p.name} of {' '.join(path)} to FILLERS"


def _cases() -> list[Param]:
    """Every command's own parameters, and each shared connection option once (on ``read``)."""
    own = [p for params in COMMANDS.values() for p in params if not p.name.startswith("mxgw_")]
    shared: dict[str, Param] = {}
    for command in sorted(COMMANDS, key=lambda path: path != ("read",)):
        for p in COMMANDS[command]:
            if p.name.startswith("mxgw_"):
                shared.setdefault(p.name, p)
    return own + list(shared.values())


CASES = _cases()


@pytest.mark.parametrize("bad", CASES, ids=lambda p: f"{' '.join(p.command)} {p.opt or p.name}")
def test_bad_values_end_in_a_documented_code_and_one_line(cli: Any, scratch: Path, bad: Param) -> None:
    command = bad.command

    @settings(
        max_examples=3,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        argv = _argv(command, bad, data.draw(_bad_values(bad, scratch)))
        name = " ".join(command)
        try:
            with _inside(scratch), _watchdog(RUN_UNTIL_STOPPED.get(name, WATCHDOG_S)) as fired:
                outcome = cli(*argv, input="")
        except KeyboardInterrupt:
            outcome = None  # the signal came as the command was returning
        where = f"{name} {bad.opt or bad.name}={argv!r:.200}"
        if fired.is_set():
            assert name in RUN_UNTIL_STOPPED, f"still running after {WATCHDOG_S} s: {where}"
        if outcome is None:
            return
        output = outcome.stdout + outcome.stderr
        assert outcome.code in DOCUMENTED, (where, outcome.code, outcome.stderr[:500])
        assert outcome.code != ExitCode.ERROR, (where, outcome.stderr[:500])
        assert "Traceback" not in output, where
        assert "unexpected" not in output, (where, outcome.stderr[:500])
        error_lines = [line for line in outcome.stderr.splitlines() if line.strip()]
        if outcome.code == ExitCode.USAGE:
            assert len(error_lines) == 1, (where, outcome.stderr[:1000])
        else:
            assert len(error_lines) <= 1, (where, outcome.stderr[:1000])

    run()
