"""Bad input on the command line ends with exit 2 and one line naming it, never 'unexpected'."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

CASES: list[tuple[str, list[str]]] = [
    (
        "handle above int32",
        ["advise", "--session-id", "s-1", "--server-handle", "1", "--item-handle", str(2**31)],
    ),
    ("after-sequence above uint64", ["stream-events", "--session-id", "s-1", "--after-sequence", str(2**64)]),
    ("an option's number in Arabic-Indic digits", ["read", "Tank_001.Level", "--timeout", "\u0661\u0660"]),
    (
        "deeply nested JSON",
        [
            "write",
            "--session-id",
            "s-1",
            "--server-handle",
            "1",
            "--item-handle",
            "1",
            "--type",
            "int32[]",
            "--value",
            "[" * 50_000,
        ],
    ),
    (
        "date at the limits",
        [
            "write",
            "--session-id",
            "s-1",
            "--server-handle",
            "1",
            "--item-handle",
            "1",
            "--type",
            "time",
            "--value",
            "0001-01-01T00:00:00+05:00",
        ],
    ),
    (
        "underscore digits",
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
            "1_000",
        ],
    ),
    (
        "Arabic-Indic digits",
        [
            "write",
            "--session-id",
            "s-1",
            "--server-handle",
            "1",
            "--item-handle",
            "1",
            "--type",
            "double",
            "--value",
            "\u0663.\u0665",
        ],
    ),
    ("non-ASCII API key", ["read", "Tank_001.Level", "--api-key", "cl\u00e9-secr\u00e8te"]),
    ("port above 65535", ["read", "Tank_001.Level", "--endpoint", "127.0.0.1:70000"]),
    ("empty tag", ["read", ""]),
    ("page size above int32", ["galaxy", "hierarchy", "--page-size", str(2**40), "--json"]),
]


@pytest.mark.parametrize(("what", "args"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_a_usage_error_of_one_line(cli: Any, what: str, args: list[str]) -> None:
    outcome = cli(*args)
    assert outcome.code == 2, (what, outcome.code, outcome.stderr)
    lines = [line for line in outcome.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, outcome.stderr
    assert "unexpected" not in lines[0]
    assert "Traceback" not in outcome.stderr


def test_a_missing_or_directory_ca_file_is_a_usage_error(cli: Any, tmp_path: Path) -> None:
    for ca_file in (tmp_path / "missing.pem", tmp_path):
        outcome = cli("read", "Tank_001.Level", "--endpoint", "127.0.0.1:5001", "--ca-file", str(ca_file))
        assert outcome.code == 2, outcome.stderr
        assert "ca_file" in outcome.stderr
        assert "unexpected" not in outcome.stderr


@pytest.mark.parametrize(("option", "value"), [("--port", "70000"), ("--rate", "nan")])
def test_simulate_refuses_what_it_cannot_serve(cli: Any, option: str, value: str) -> None:
    outcome = cli("simulate", option, value)
    assert outcome.code == 2, outcome.stderr
    assert "unexpected" not in outcome.stderr


def test_exporting_into_a_missing_folder_is_a_usage_error(cli: Any, tmp_path: Path) -> None:
    target = tmp_path / "missing" / "plant.json"
    outcome = cli("galaxy", "export", str(target))
    assert outcome.code == 2, outcome.stderr
    assert "does not exist" in outcome.stderr
    assert not target.parent.exists()
