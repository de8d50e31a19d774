"""Command-line values converted without pydantic agree with Typer's own conversion."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer._click.exceptions import BadParameter
from typer._coercion import build_runtime_param, resolve_type_descriptor
from typer.models import ArgumentInfo, OptionInfo

from mxgateway.cli.light_params import UNDECIDED, light_converter
from tests.cli.conftest import run_python, subprocess_env

_NUMBERISH = st.from_regex(r"\A[ +-]?[0-9_]{0,20}(\.[0-9]{0,20})?([eE][0-9]{1,3})?\s?\Z", fullmatch=True)
_TEXT = st.one_of(_NUMBERISH, st.text(max_size=12), st.sampled_from(["inf", "nan", "-0", "1e3", "00"]))
_TYPES: list[tuple[Any, Any]] = [
    (str, OptionInfo()),
    (int, OptionInfo()),
    (float, OptionInfo()),
    (bool, OptionInfo()),
    (int, OptionInfo(min=0)),
    (int, OptionInfo(min=1, max=10)),
    (float, OptionInfo(min=0.5)),
    (list[str], ArgumentInfo()),
    (list[int], OptionInfo()),
]


def _typer(annotation: Any, info: Any, value: Any) -> tuple[str, Any]:
    runtime = build_runtime_param(resolve_type_descriptor(annotation, info))
    try:
        return "ok", runtime._coerce_value(value, param=None, ctx=None)  # type: ignore[arg-type]
    except Exception as exc:
        return "error", type(exc).__name__


@given(index=st.integers(0, len(_TYPES) - 1), text=_TEXT, many=st.lists(_TEXT, max_size=3))
def test_a_decided_conversion_is_exactly_typers(index: int, text: str, many: list[str]) -> None:
    annotation, info = _TYPES[index]
    value: Any = tuple(many) if annotation in (list[str], list[int]) else text
    try:
        light = light_converter(resolve_type_descriptor(annotation, info))(value)
    except BadParameter:
        # The one deliberate difference: a number with an underscore or a non-ASCII
        # character is refused, where int()/pydantic may take "1_000" or Arabic-Indic digits.
        assert annotation in (int, float, list[int])
        pieces = [value] if isinstance(value, str) else list(value)
        assert any("_" in piece or not piece.isascii() for piece in pieces)
        return
    if light is UNDECIDED:
        return  # Typer's own conversion runs, so the outcome is Typer's by construction
    outcome, expected = _typer(annotation, info, value)
    assert outcome == "ok"
    assert light == expected
    assert type(light) is type(expected)
    if isinstance(light, list):
        assert [type(x) for x in light] == [type(x) for x in expected]


@pytest.mark.parametrize(
    ("annotation", "value", "expected"),
    [
        (int, "42", 42),
        (int, "-7", -7),
        (float, "2.5", 2.5),
        (float, "3", 3.0),
        (str, "Tank_001.Level", "Tank_001.Level"),
    ],
)
def test_plain_values_are_decided_without_typer(annotation: Any, value: str, expected: Any) -> None:
    converted = light_converter(resolve_type_descriptor(annotation, OptionInfo()))(value)
    assert converted == expected
    assert type(converted) is type(expected)


def test_a_bad_number_still_gets_typers_message() -> None:
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


@pytest.mark.parametrize("value", ["1_000", "\u0661\u0660", "\uff11\uff12"])
def test_numbers_with_underscores_or_other_digits_are_refused(value: str) -> None:
    with pytest.raises(BadParameter, match="digits 0-9"):
        light_converter(resolve_type_descriptor(int, OptionInfo()))(value)
