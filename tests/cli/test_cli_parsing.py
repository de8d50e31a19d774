"""Value parsing, secret sources and batch line parsing: everything that reads user input."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mxgateway.cli.batch import END_OF_RECORD, parse_batch_line, run_batch
from mxgateway.cli.credentials import REDACTOR, Redactor, SecretSourceError, read_api_key, read_password
from mxgateway.cli.errors import CliUsageError
from mxgateway.cli.value_parsing import TYPE_NAMES, ValueParseError, parse_value

# ------------------------------------------------------------------ values


@pytest.mark.parametrize(
    ("text", "type_name", "expected"),
    [
        ("true", "bool", True),
        ("OFF", "bool", False),
        ("-2147483648", "int32", -(2**31)),
        ("0x7fffffff", "int32", 2**31 - 1),
        ("9223372036854775807", "int64", 2**63 - 1),
        ("1.5", "float", 1.5),
        ("-2e3", "double", -2000.0),
        ("  spaced text ", "string", "  spaced text "),
        ("90", "elapsed", dt.timedelta(seconds=90)),
        ("AQID", "bytes", b"\x01\x02\x03"),
        ("[1, 2, 3]", "int32[]", [1, 2, 3]),
        ('["a", "b"]', "string[]", ["a", "b"]),
        ("[]", "double[]", []),
        ('[true, "off"]', "bool[]", [True, False]),
    ],
)
def test_values_parse_as_their_type(text: str, type_name: str, expected: object) -> None:
    assert parse_value(text, type_name).value == expected


def test_time_takes_z_and_offsets_and_keeps_the_instant() -> None:
    utc = parse_value("2024-05-01T12:00:00Z", "time").value
    offset = parse_value("2024-05-01T14:00:00+02:00", "time").value
    assert utc == offset == dt.datetime(2024, 5, 1, 12, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize(
    ("text", "type_name", "fragment"),
    [
        ("maybe", "bool", "is not a bool"),
        ("2147483648", "int32", "out of the int32 range"),
        ("1.5", "int32", "is not an int32"),
        ("abc", "double", "is not a double"),
        ("nan", "double", "finite"),
        ("inf", "float", "finite"),
        ("1e39", "float", "32-bit float"),
        ("2024-05-01T12:00:00", "time", "no time zone"),
        ("yesterday", "time", "ISO-8601"),
        ("***", "bytes", "not base64"),
        ("1,2", "int32[]", "JSON array"),
        ("[1, [2]]", "int32[]", "one-dimensional"),
        ("[1, 2]", "string[]", "JSON string"),
        ('[1, "x"]', "int32[]", "element 1"),
        ("1", "complex", "unknown type"),
    ],
)
def test_bad_values_name_the_text_and_the_type(text: str, type_name: str, fragment: str) -> None:
    with pytest.raises(ValueParseError, match=fragment):
        parse_value(text, type_name)


def test_parsed_value_knows_the_mx_data_type() -> None:
    assert parse_value("1", "double").data_type_name == "DOUBLE"
    assert parse_value("[1]", "float[]").data_type_name == "FLOAT"
    assert parse_value("1", "int64").data_type_name is None
    assert len(TYPE_NAMES) == 18


@given(st.integers(min_value=-(2**31), max_value=2**31 - 1))
def test_any_int32_round_trips(number: int) -> None:
    assert parse_value(str(number), "int32").value == number


@given(st.integers().filter(lambda n: not -(2**31) <= n < 2**31))
def test_int32_outside_the_range_is_rejected(number: int) -> None:
    with pytest.raises(ValueParseError):
        parse_value(str(number), "int32")


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_any_finite_double_round_trips(number: float) -> None:
    assert parse_value(repr(number), "double").value == number


@given(st.text())
def test_arbitrary_text_never_escapes_as_another_error(text: str) -> None:
    for type_name in ("bool", "int32", "double", "float", "time", "elapsed", "bytes", "int32[]"):
        try:
            value = parse_value(text, type_name).value
        except ValueParseError:
            continue
        if isinstance(value, float):
            assert math.isfinite(value)


@given(st.lists(st.integers(min_value=-(2**31), max_value=2**31 - 1)))
def test_int_arrays_round_trip(numbers: list[int]) -> None:
    assert parse_value(json.dumps(numbers), "int32[]").value == numbers


# ------------------------------------------------------------------ secrets


def test_api_key_precedence_flag_then_file_then_variable(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("from-file\n")
    env = {"MXGATEWAY_API_KEY": "from-default", "OTHER": "from-other"}
    assert read_api_key("from-flag", None, None, environ=env) == "from-flag"
    assert read_api_key(None, "OTHER", key_file, environ=env) == "from-file"
    assert read_api_key(None, "OTHER", None, environ=env) == "from-other"
    assert read_api_key(None, None, None, environ=env) == "from-default"
    assert read_api_key(None, None, None, environ={}) is None


def test_api_key_sources_that_cannot_deliver_are_usage_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n")
    two_lines = tmp_path / "two"
    two_lines.write_text("a\nb\n")
    with pytest.raises(SecretSourceError, match="not set"):
        read_api_key(None, "MISSING_VARIABLE", None, environ={})
    with pytest.raises(SecretSourceError, match="empty"):
        read_api_key(None, None, empty, environ={})
    with pytest.raises(SecretSourceError, match="more than one line"):
        read_api_key(None, None, two_lines, environ={})
    with pytest.raises(SecretSourceError, match="cannot read"):
        read_api_key(None, None, tmp_path / "absent", environ={})
    with pytest.raises(SecretSourceError, match="not both"):
        read_api_key("k", None, empty, environ={})


def test_a_secret_file_error_never_shows_the_content(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("line-one-secret\nline-two-secret\n")
    with pytest.raises(SecretSourceError) as caught:
        read_api_key(None, None, key_file, environ={})
    assert "secret" not in str(caught.value).replace(str(key_file), "")


def test_password_sources_and_the_prompt(tmp_path: Path) -> None:
    password_file = tmp_path / "pw"
    password_file.write_text("from-file\n")
    assert read_password("PW", None, environ={"PW": "from-env"}) == "from-env"
    assert read_password(None, password_file, environ={}) == "from-file"
    prompted = read_password(
        None, None, environ={}, interactive=True, prompt=lambda label: f"typed for {label}"
    )
    assert prompted == "typed for Password"
    with pytest.raises(SecretSourceError, match="no password source"):
        read_password(None, None, environ={}, interactive=False)
    with pytest.raises(SecretSourceError, match="not set or empty"):
        read_password("PW", None, environ={})


def test_every_secret_read_is_redacted() -> None:
    read_api_key("key-123-secret", None, None, environ={})
    read_password("PW", None, environ={"PW": "pw-456-secret"})
    text = REDACTOR.redact("key-123-secret and pw-456-secret and more")
    assert text == "<redacted> and <redacted> and more"


def test_redactor_hides_overlapping_secrets_entirely() -> None:
    redactor = Redactor()
    redactor.register("mxgw_k1_secret")
    redactor.register("mxgw_k1_secret_longer")
    assert redactor.redact("xmxgw_k1_secret_longerx mxgw_k1_secret") == "x<redacted>x <redacted>"
    assert "mxgw_k1" not in repr(redactor)


# ------------------------------------------------------------------ batch lines


def test_batch_lines_split_like_a_shell() -> None:
    assert parse_batch_line('read "Tank 1.Level" Tank_001.Name\n') == [
        "read",
        "Tank 1.Level",
        "Tank_001.Name",
    ]
    assert parse_batch_line("   \n") is None
    assert parse_batch_line("# a comment") is None
    with pytest.raises(CliUsageError, match="cannot split"):
        parse_batch_line('read "unterminated')
    with pytest.raises(CliUsageError, match="inside a batch"):
        parse_batch_line("batch")
    with pytest.raises(CliUsageError, match="inside a batch"):
        parse_batch_line("simulate --port 0")


def test_run_batch_marks_each_record_and_goes_on_after_errors(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import io

    seen: list[list[str]] = []

    def run_line(argv: list[str]) -> int:
        seen.append(argv)
        print(f"ran {argv[0]}")
        return 7 if argv[0] == "fails" else 0

    source = io.StringIO('first\n# skipped\n\nfails\nbad "quote\nlast\n')
    code = run_batch(run_line, source)
    out = capsys.readouterr().out.splitlines()
    assert seen == [["first"], ["fails"], ["last"]]
    assert out[0] == "ran first"
    assert out[1] == END_OF_RECORD
    assert out[2] == "ran fails"
    assert out[3] == END_OF_RECORD
    error = json.loads(out[4])
    assert error["error"]["exit_code"] == 2
    assert "cannot split" in error["error"]["message"]
    assert out[5] == END_OF_RECORD
    assert out[6:] == ["ran last", END_OF_RECORD]
    assert code == 2


def test_run_batch_stops_at_an_interrupted_line() -> None:
    import io

    ran: list[str] = []

    def run_line(argv: list[str]) -> int:
        ran.append(argv[0])
        return 130 if argv[0] == "stop" else 0

    assert run_batch(run_line, io.StringIO("one\nstop\nnever\n"), io.StringIO()) == 130
    assert ran == ["one", "stop"]
