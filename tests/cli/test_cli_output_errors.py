"""JSON output rules, the progress bar, and errors -> exit codes and error documents."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Callable

import grpc
import pytest
import typer

from mxgateway import errors, to_mx_value
from mxgateway.cli.credentials import REDACTOR, SecretSourceError
from mxgateway.cli.errors import CliUsageError, error_object, exit_code_for, guarded
from mxgateway.cli.exit_codes import ExitCode
from mxgateway.cli.options import CommonOptions, build_common_options
from mxgateway.cli.output import Progress, dumps, format_table, jsonable, message_to_dict, text_line
from mxgateway.cli.value_parsing import ValueParseError
from mxgateway.generated import mxaccess_gateway_pb2 as pb
from mxgateway.options import ClientOptions

UTC = dt.timezone.utc


def test_json_lines_are_sorted_and_values_take_their_documented_forms() -> None:
    record = {
        "z": dt.datetime(2024, 5, 1, 12, 0, 0, 500000, tzinfo=UTC),
        "a": dt.timedelta(minutes=1, milliseconds=500),
        "m": b"\x00\xff",
        "n": [float("nan"), float("inf"), float("-inf"), 1.5],
        "s": "Zürich",
    }
    line = dumps(record)
    assert line == (
        '{"a": 60.5, "m": "AP8=", "n": ["NaN", "Infinity", "-Infinity", 1.5], '
        '"s": "Zürich", "z": "2024-05-01T12:00:00.500000Z"}'
    )
    assert dumps(dict(reversed(list(record.items())))) == line


def test_a_naive_or_offset_time_is_printed_in_utc() -> None:
    offset = dt.datetime(2024, 5, 1, 14, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert jsonable(offset) == "2024-05-01T12:00:00Z"


def test_raw_messages_use_proto_names_and_enum_names() -> None:
    reply = pb.CloseSessionReply(
        session_id="session-1",
        final_state=pb.SESSION_STATE_CLOSED,
        protocol_status=pb.ProtocolStatus(code=pb.PROTOCOL_STATUS_CODE_OK),
    )
    assert message_to_dict(reply) == {
        "final_state": "SESSION_STATE_CLOSED",
        "protocol_status": {"code": "PROTOCOL_STATUS_CODE_OK"},
        "session_id": "session-1",
    }
    assert json.loads(dumps({"reply": reply}))["reply"]["final_state"] == "SESSION_STATE_CLOSED"


def test_unknown_types_have_no_json_form() -> None:
    with pytest.raises(TypeError, match="object"):
        jsonable(object())


def test_text_lines_and_tables_for_people() -> None:
    assert text_line({"b": None, "a": 1.5, "c": "x y"}) == 'a=1.5 b=- c="x y"'
    table = format_table([{"id": 1, "name": "Tank_001"}, {"id": 22, "name": "P"}], ["id", "name"])
    assert table.splitlines() == ["ID  NAME", "--  --------", "1   Tank_001", "22  P"]


def test_progress_draws_only_when_enabled() -> None:
    silent = io.StringIO()
    with Progress("objects", stream=silent) as progress:  # StringIO is no terminal
        progress.advance(5)
    assert silent.getvalue() == ""
    assert progress.enabled is False

    drawn = io.StringIO()
    now = [100.0]
    with Progress(
        "objects", total=10, stream=drawn, enabled=True, width=10, clock=lambda: now[0]
    ) as progress:
        now[0] = 102.0
        progress.advance(4)
        # 4 in 2 s: 2/s, so the 6 left take 3 s.
        assert progress.render() == "objects [####------] 4/10  2.0/s  0:02 elapsed  ETA 0:03"
    assert "objects [####------] 4/10  2.0/s" in drawn.getvalue()
    assert drawn.getvalue().endswith("\r\x1b[2K")  # erased on close
    unknown = Progress("events", stream=io.StringIO(), clock=lambda: now[0])
    now[0] = 3702.0
    unknown.advance(36_000)
    assert unknown.render() == "events 36000  10/s  1:00:00 elapsed"


def test_logfmt_quotes_what_a_logfmt_reader_would_split() -> None:
    import shlex

    record = {"value": "Raw water tank 1", "empty": "", "eq": "a=b", "quote": 'say "hi"', "plain": "Tank_001"}
    line = text_line(record)
    assert line == 'empty= eq="a=b" plain=Tank_001 quote="say \\"hi\\"" value="Raw water tank 1"'
    # A shell-style reader (double quotes, backslash escapes) gets the values back.
    assert dict(part.split("=", 1) for part in shlex.split(line)) == record


def _rpc_error(code: grpc.StatusCode, details: str) -> errors.MxGatewayError:
    class Fake(grpc.RpcError):
        def code(self) -> grpc.StatusCode:
            return code

        def details(self) -> str:
            return details

    return errors.map_rpc_error(Fake(), method="Invoke")


def _raised_by(call: Callable[[], object]) -> BaseException:
    """The exception ``call`` raises, with its traceback (where it came from decides its code)."""
    try:
        call()
    except Exception as exc:
        return exc
    raise AssertionError("did not raise")


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (_rpc_error(grpc.StatusCode.UNAUTHENTICATED, "missing or invalid API key"), ExitCode.AUTHENTICATION),
        (_rpc_error(grpc.StatusCode.PERMISSION_DENIED, "needs invoke:write"), ExitCode.PERMISSION),
        (_rpc_error(grpc.StatusCode.UNAVAILABLE, "connection refused"), ExitCode.UNAVAILABLE),
        (_rpc_error(grpc.StatusCode.DEADLINE_EXCEEDED, "deadline"), ExitCode.TIMEOUT),
        (_rpc_error(grpc.StatusCode.NOT_FOUND, "no such session"), ExitCode.NOT_FOUND),
        (_rpc_error(grpc.StatusCode.INVALID_ARGUMENT, "bad"), ExitCode.INVALID_REQUEST),
        (_rpc_error(grpc.StatusCode.INTERNAL, "boom"), ExitCode.ERROR),
        (errors.MxAccessError("WRITE failed in MXAccess"), ExitCode.MXACCESS),
        (CliUsageError("bad"), ExitCode.USAGE),
        (SecretSourceError("no"), ExitCode.USAGE),
        (ValueParseError("no"), ExitCode.USAGE),
        (_raised_by(lambda: to_mx_value(2**40, pb.MX_DATA_TYPE_INTEGER)), ExitCode.USAGE),
        (_raised_by(lambda: to_mx_value("text", pb.MX_DATA_TYPE_BOOLEAN)), ExitCode.USAGE),
        (_raised_by(lambda: ClientOptions(endpoint="h:1", default_timeout=-1)), ExitCode.USAGE),
        (ValueError("a bug somewhere else"), ExitCode.ERROR),
        (_raised_by(lambda: int("x")), ExitCode.ERROR),
        (TypeError("a bug"), ExitCode.ERROR),
        (TimeoutError(), ExitCode.TIMEOUT),
        (KeyboardInterrupt(), ExitCode.INTERRUPTED),
        (RuntimeError("unexpected"), ExitCode.ERROR),
    ],
)
def test_every_failure_has_its_exit_code(exc: BaseException, expected: ExitCode) -> None:
    assert exit_code_for(exc) is expected


def test_exit_codes_are_distinct_and_stable() -> None:
    assert [int(c) for c in ExitCode] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 130, 143]


def test_error_documents_name_the_failure_and_hide_secrets() -> None:
    REDACTOR.register("sk-very-secret")
    exc = _rpc_error(grpc.StatusCode.UNAUTHENTICATED, "key sk-very-secret is unknown")
    document = error_object(exc)
    assert document == {
        "error": {
            "exit_code": 3,
            "grpc_code": "UNAUTHENTICATED",
            "kind": "authentication",
            "message": "Invoke failed: UNAUTHENTICATED: key <redacted> is unknown",
            "method": "Invoke",
            "type": "MxGatewayAuthenticationError",
        }
    }


def test_guarded_turns_errors_into_exit_codes_without_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(typer.Exit) as caught, guarded():
        raise errors.MxGatewayUnavailableError("Invoke failed: UNAVAILABLE")
    assert caught.value.exit_code == ExitCode.UNAVAILABLE
    err = capsys.readouterr().err
    assert err == "mxgw-py: error: Invoke failed: UNAVAILABLE\n"

    with pytest.raises(typer.Exit) as interrupted, guarded():
        raise KeyboardInterrupt
    assert interrupted.value.exit_code == 130
    assert "Traceback" not in capsys.readouterr().err


def test_common_options_choose_tls_by_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MXGATEWAY_API_KEY", raising=False)
    monkeypatch.delenv("MXGATEWAY_ENDPOINT", raising=False)
    assert CommonOptions(endpoint="127.0.0.1:5000").client_options().plaintext is True
    assert CommonOptions(endpoint="gateway.plant:5000").client_options().plaintext is False
    assert CommonOptions(endpoint="127.0.0.1:5000", plaintext=False).client_options().plaintext is False
    assert (
        CommonOptions(endpoint="localhost:1", server_name_override="gw").client_options().plaintext is False
    )
    assert CommonOptions().resolved_endpoint == "localhost:5000"
    monkeypatch.setenv("MXGATEWAY_ENDPOINT", "10.0.0.1:7000")
    assert CommonOptions().resolved_endpoint == "10.0.0.1:7000"


def test_a_key_is_never_sent_in_plaintext_off_the_machine_unless_the_flag_says_so() -> None:
    options = CommonOptions(endpoint="gateway.plant:5000", api_key="sk-zz-secret", plaintext=True)
    with pytest.raises(CliUsageError) as caught:
        options.client_options()
    assert str(caught.value) == (
        "refusing to send the API key in plaintext to 'gateway.plant': "
        "use TLS (drop --plaintext), or pass --allow-insecure-api-key"
    )
    assert exit_code_for(caught.value) is ExitCode.USAGE
    assert "sk-zz-secret" not in repr(options) + str(caught.value)
    allowed = build_common_options(
        {
            "endpoint": "gateway.plant:5000",
            "api_key": "sk-zz-secret",
            "plaintext": True,
            "allow_insecure_api_key": True,
        }
    )
    assert allowed.client_options().allow_insecure_api_key is True


def test_an_unexpected_error_is_one_line_without_a_traceback(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MXGW_PY_DEBUG", raising=False)
    with pytest.raises(typer.Exit) as caught, guarded():
        raise KeyError("first\nsecond")
    assert caught.value.exit_code == ExitCode.ERROR
    assert capsys.readouterr().err == "mxgw-py: error: unexpected KeyError: 'first\\nsecond'\n"
    with pytest.raises(typer.Exit), guarded():
        raise RuntimeError("line one\n  line two")
    assert capsys.readouterr().err == "mxgw-py: error: unexpected RuntimeError: line one line two\n"
    monkeypatch.setenv("MXGW_PY_DEBUG", "1")
    with pytest.raises(typer.Exit), guarded():
        raise RuntimeError("boom")
    assert "Traceback" in capsys.readouterr().err


def test_a_closed_stdout_is_left_to_the_quiet_handler(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(BrokenPipeError), guarded():
        raise BrokenPipeError(32, "Broken pipe")
    assert capsys.readouterr().err == ""


def test_plaintext_and_tls_together_are_a_usage_error() -> None:
    with pytest.raises(CliUsageError, match="contradict"):
        build_common_options({"plaintext": True, "tls": True})


def test_progress_reporter_is_the_hook_long_start_ups_call() -> None:
    from mxgateway.cli.output import progress_reporter

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    drawn = Terminal()
    with progress_reporter("connecting tags", stream=drawn) as on_progress:
        on_progress(250, 1000)
        on_progress(500, 1000)
    assert "connecting tags [" in drawn.getvalue()
    assert "250/1000" in drawn.getvalue()
    assert "ETA" in drawn.getvalue()
    assert drawn.getvalue().endswith("\r\x1b[2K")
    piped = io.StringIO()
    with progress_reporter("connecting tags", stream=piped) as on_progress:
        on_progress(1, 2)
    assert piped.getvalue() == ""
