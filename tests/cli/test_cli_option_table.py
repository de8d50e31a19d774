"""The shared options come from one table: Typer's ``read`` and the Typer-free fast path agree on it.

The fast path (``mxgateway.cli.fast``) parses ``read`` without Typer; Typer parses
it from the options built from the same table. Each command line below is parsed
both ways: where the fast path answers, it must give exactly Typer's values; where
it declines, Typer decides (and must accept or refuse the line on its own).
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer._click.exceptions import BadParameter
from typer.core import TyperArgument, TyperOption

from mxgateway.cli import fast
from mxgateway.cli.lazy_commands import load_command
from mxgateway.cli.option_table import ATTACH_SESSION, GATEWAY_OPTIONS, OptionSpec
from mxgateway.cli.text_limits import MAX_TEXT
from mxgateway.options import MAX_TIMEOUT_S
from tests.cli.conftest import run_python, subprocess_env

READ = load_command("read")
_PREFIX = "mxgw_"


def typer_values(args: list[str]) -> dict[str, Any]:
    """The values Typer's ``read`` gets for ``args`` (shared options by their table names)."""
    ctx = READ.make_context("read", list(args))
    values = {name.removeprefix(_PREFIX): value for name, value in ctx.params.items()}
    return {name: value for name, value in values.items() if value not in (None, False, "")}


def fast_values(args: list[str]) -> dict[str, Any] | None:
    """The values the fast path gets for ``args``, in the same shape; None when it leaves them to Typer."""
    parsed = fast._parse_read(list(args))
    if parsed is None:
        return None
    values, tags, session_id = parsed
    found = {**values, "tags": tags, "session_id": session_id}
    return {name: value for name, value in found.items() if value not in (None, False, "")}


def test_typers_read_has_exactly_the_options_of_the_table() -> None:
    options = {opt: p for p in READ.params if isinstance(p, TyperOption) for opt in p.opts}
    assert set(options) == set(fast.READ_OPTIONS)
    for flag, spec in fast.READ_OPTIONS.items():
        param = options[flag]
        assert param.name == (spec.name if spec is ATTACH_SESSION else _PREFIX + spec.name)
        assert param.is_flag == (spec.kind == "flag"), flag
        assert param.type_descriptor.is_path == (spec.kind == "path"), flag
        assert param.type_descriptor.parameter_info.min == spec.minimum, flag
        assert param.type_descriptor.parameter_info.max == spec.maximum, flag
        assert (param.callback is not None) == spec.refuse_blank, flag
        assert param.help == spec.help, flag
    (argument,) = [p for p in READ.params if isinstance(p, TyperArgument)]
    assert argument.name == "tags"


def _line(spec: OptionSpec, value: str) -> list[str]:
    if spec.kind == "flag":
        return [spec.flag]
    return [spec.flag, value]


@pytest.mark.parametrize("spec", [*GATEWAY_OPTIONS, ATTACH_SESSION], ids=lambda spec: spec.flag)
def test_each_option_parses_the_same_or_is_left_to_typer(spec: OptionSpec) -> None:
    value = "2.5" if spec.kind == "seconds" else "key.pem" if spec.kind == "path" else "some-text"
    args = ["Tank_001.Level", *_line(spec, value)]
    answered = fast_values(args)
    if spec.kind == "path":
        assert answered is None  # Typer converts paths
        return
    assert answered == typer_values(args)
    assert answered[spec.name] == (True if spec.kind == "flag" else 2.5 if spec.kind == "seconds" else value)


_PLAIN_TEXT = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789._:", min_size=1, max_size=12)
# Around both bounds of --timeout: below its floor, inside, and beyond a year.
_SECONDS = st.one_of(
    st.decimals(min_value="0", max_value="999", places=3),
    st.decimals(min_value=str(MAX_TIMEOUT_S - 2), max_value=str(MAX_TIMEOUT_S + 2), places=1),
).map(str)
# Blank text too: an option that refuses it must be refused by both parsers.
_TEXT = st.one_of(_PLAIN_TEXT, st.sampled_from([" ", "\t", "\u00a0"]))
_FLAGS_AND_VALUES = st.lists(
    st.sampled_from([*GATEWAY_OPTIONS, ATTACH_SESSION]).flatmap(
        lambda spec: st.tuples(st.just(spec), _SECONDS if spec.kind == "seconds" else _TEXT)
    ),
    max_size=6,
)


# No deadline: Typer builds a parameter's converter (pydantic) the first time it parses it.
@settings(deadline=None)
@given(tags=st.lists(_PLAIN_TEXT, min_size=1, max_size=3), options=_FLAGS_AND_VALUES, equals=st.booleans())
def test_any_line_the_fast_path_answers_is_what_typer_gets(
    tags: list[str], options: list[tuple[OptionSpec, str]], equals: bool
) -> None:
    args = list(tags)
    for spec, value in options:
        if spec.kind == "flag":
            args.append(spec.flag)
        elif equals:
            args.append(f"{spec.flag}={value}")
        else:
            args += [spec.flag, value]
    try:
        expected: dict[str, Any] | None = typer_values(args)
    except BadParameter:
        expected = None  # a value Typer refuses (a timeout out of bounds, a blank session id)
    answered = fast_values(args)
    if answered is None:
        # Declined: only for a path (Typer converts it), a timeout Typer must judge or a blank value.
        assert any(
            spec.kind in ("path", "seconds") or (spec.refuse_blank and not value.strip())
            for spec, value in options
        )
        return
    assert answered == expected


def test_text_no_call_could_carry_is_refused_naming_the_parameter(cli: Any) -> None:
    long = cli("subscribe", "Tank_001.Level", "--session-id", "s" * (MAX_TEXT + 1), "--max-events", "1")
    assert long.code == 2
    assert "'--session-id'" in long.stderr
    assert f"longer than {MAX_TEXT} characters" in long.stderr
    undecodable = cli("read", "Tank_001.Level", "T\udcffank")
    assert undecodable.code == 2
    assert "not valid UTF-8" in undecodable.stderr
    assert "'TAG'" in undecodable.stderr
    assert len([line for line in undecodable.stderr.splitlines() if line.strip()]) == 1


def test_a_path_may_be_any_text_the_system_takes(cli: Any) -> None:
    # Not refused as text: the file is looked for, and is not there.
    outcome = cli("read", "Tank_001.Level", "--ca-file", "/no/such/dir/\udcff.pem")
    assert outcome.code == 2
    assert "not valid UTF-8" not in outcome.stderr
    assert "No such file" in outcome.stderr


def test_a_bad_number_gets_typers_message() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "mxgateway.cli", "read", "T.A", "--timeout", "soon"],
        capture_output=True,
        text=True,
        env=subprocess_env({}),
        timeout=60,
        check=False,
    )
    assert completed.returncode == 2
    assert "--timeout" in completed.stderr
    assert "valid number" in completed.stderr


def test_a_one_shot_read_never_imports_pydantic() -> None:
    script = (
        "import sys\n"
        "from mxgateway.cli.main import main\n"
        "sys.argv = ['mxgw-py', 'read', 'T.A', '--json', '--endpoint', '127.0.0.1:1', '--timeout', '0.2']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('pydantic' in sys.modules, 'importlib.metadata' in sys.modules)\n"
    )
    completed = run_python(script, {})
    assert completed.stdout.strip().splitlines()[-1] == "False False"
