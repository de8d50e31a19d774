"""How a failed command is reported: its exit code, one line (or a JSON document), no secret."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

from mxgateway.cli.context import ENV_SESSION_ID, IN_BATCH, JSON_MODE, SESSION_ORIGIN, emit
from mxgateway.cli.credentials import REDACTOR, SecretSourceError
from mxgateway.cli.exit_codes import ExitCode
from mxgateway.cli.hints import message_with_cli_hint
from mxgateway.cli.output import dumps

__all__ = ["CliUsageError", "CommandExit", "error_object", "exit_code_for", "guarded", "report_error"]

_DEBUG_ENV = "MXGW_PY_DEBUG"


class CliUsageError(ValueError):
    """The command line asks for something impossible (exit code 2)."""


class CommandExit(Exception):
    """Ends a command with ``code`` inside :func:`guarded`; whatever failed was already reported."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def _value_parse_error(exc: BaseException) -> bool:
    # By module lookup: a value that does not parse comes from value_parsing, loaded by then.
    parsing = sys.modules.get("mxgateway.cli.value_parsing")
    return parsing is not None and isinstance(exc, parsing.ValueParseError)


def _click_exception(exc: BaseException, name: str) -> bool:
    # By module lookup: the one-shot fast path runs without Typer, and then no
    # exception can be one of its click exceptions.
    exceptions = sys.modules.get("typer._click.exceptions")
    return exceptions is not None and isinstance(exc, getattr(exceptions, name))


_GATEWAY_CODES: tuple[tuple[str, ExitCode], ...] = (
    # Most specific first: MxGatewaySessionNotFoundError is an MxGatewayNotFoundError.
    ("MxAccessError", ExitCode.MXACCESS),
    # A refused argument is the command line's mistake, whatever part of the SDK checked it.
    ("MxGatewayArgumentError", ExitCode.USAGE),
    ("MxGatewayAuthenticationError", ExitCode.AUTHENTICATION),
    ("MxGatewayPermissionError", ExitCode.PERMISSION),
    ("MxGatewayUnavailableError", ExitCode.UNAVAILABLE),
    ("MxGatewayTimeoutError", ExitCode.TIMEOUT),
    ("MxGatewayNotFoundError", ExitCode.NOT_FOUND),
    ("MxGatewayInvalidRequestError", ExitCode.INVALID_REQUEST),
)

#: Core modules whose ValueError/TypeError are documented argument checks (option
#: validation, value conversion): raised there, they mean the input does not fit.
#: The same exceptions from anywhere else are bugs, not usage errors.
_ARGUMENT_CHECKS = frozenset({"mxgateway.options", "mxgateway._model.values"})


def _raised_in(exc: BaseException) -> str:
    """The module of the innermost Python frame ``exc`` passed through."""
    tb = exc.__traceback__
    if tb is None:
        return ""
    while tb.tb_next is not None:
        tb = tb.tb_next
    return str(tb.tb_frame.f_globals.get("__name__", ""))


def _gateway_error(exc: BaseException) -> bool:
    # By name: the SDK's errors exist only once mxgateway.errors was imported,
    # and importing it here would pull grpc into every start.
    errors = sys.modules.get("mxgateway.errors")
    return errors is not None and isinstance(exc, errors.MxGatewayError)


def exit_code_for(exc: BaseException) -> ExitCode:
    """The exit code that reports ``exc``."""
    if isinstance(exc, KeyboardInterrupt):
        return ExitCode.INTERRUPTED
    if (
        isinstance(exc, (CliUsageError, SecretSourceError))
        or _value_parse_error(exc)
        or _click_exception(exc, "UsageError")
    ):
        return ExitCode.USAGE
    if _gateway_error(exc):
        from mxgateway import errors

        for name, code in _GATEWAY_CODES:
            if isinstance(exc, getattr(errors, name)):
                return code
        return ExitCode.ERROR
    if isinstance(exc, TimeoutError):
        return ExitCode.TIMEOUT
    if isinstance(exc, (ValueError, TypeError)) and _raised_in(exc) in _ARGUMENT_CHECKS:
        return ExitCode.USAGE
    return ExitCode.ERROR


def _expected(exc: BaseException) -> bool:
    """Whether ``exc`` is a failure the CLI anticipates (else it is reported as unexpected)."""
    return (
        exit_code_for(exc) is not ExitCode.ERROR
        or _click_exception(exc, "ClickException")
        or _gateway_error(exc)
    )


def _session_note(exc: BaseException) -> str:
    origin = SESSION_ORIGIN.get()
    errors = sys.modules.get("mxgateway.errors")
    if origin is None or errors is None or not isinstance(exc, errors.MxGatewaySessionNotFoundError):
        return ""
    if origin == ENV_SESSION_ID:
        return (
            f" (the session id came from {ENV_SESSION_ID}: that session was closed or has expired;"
            f" open a new one, or unset {ENV_SESSION_ID})"
        )
    return f" (the session id came from {origin})"


def _printable(text: str) -> str:
    """``text`` on one line: control characters (from a bad argument echoed back) become escapes."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)


def _message(exc: BaseException) -> str:
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    clicks = _click_exception(exc, "ClickException")
    text = exc.format_message() if clicks else (str(exc) or type(exc).__name__)  # type: ignore[attr-defined]
    text = message_with_cli_hint(exc) or text
    if not _expected(exc):
        # One line even for a multi-line message; MXGW_PY_DEBUG=1 adds the traceback.
        text = f"unexpected {type(exc).__name__}: {' '.join(text.split())}"
    return REDACTOR.redact(_printable(text + _session_note(exc)))


def error_object(exc: BaseException) -> dict[str, Any]:
    """The JSON error document for ``exc`` (secrets redacted)."""
    code = exit_code_for(exc)
    body: dict[str, Any] = {
        "exit_code": int(code),
        "kind": code.name.lower(),
        "message": _message(exc),
        "type": type(exc).__name__,
    }
    grpc_code = getattr(exc, "grpc_code", None)
    if grpc_code is not None:
        body["grpc_code"] = getattr(grpc_code, "name", str(grpc_code))
    method = getattr(exc, "method", "")
    if method:
        body["method"] = str(method)
    return {"error": body}


def report_error(exc: BaseException, *, as_json: bool | None = None) -> ExitCode:
    """Print ``exc`` the way the current mode wants it; return its exit code."""
    code = exit_code_for(exc)
    if IN_BATCH.get():
        emit(error_object(exc), as_json=True)
    elif JSON_MODE.get() if as_json is None else as_json:
        sys.stderr.write(dumps(error_object(exc)) + "\n")
    else:
        sys.stderr.write(f"mxgw-py: error: {_message(exc)}\n")
    sys.stderr.flush()
    if os.environ.get(_DEBUG_ENV) and code is ExitCode.ERROR and not isinstance(exc, KeyboardInterrupt):
        import traceback

        sys.stderr.write(REDACTOR.redact("".join(traceback.format_exception(exc))))
    return code


def _typer_exit(code: int) -> BaseException:
    import typer  # loaded already whenever Typer runs the command

    return typer.Exit(code)


@contextlib.contextmanager
def guarded(exit_with: Callable[[int], BaseException] | None = None) -> Iterator[None]:
    """Turn any failure inside into its exit code (``typer.Exit``) after reporting it once.

    ``exit_with`` makes the exception that ends the command (the fast path, which
    runs without Typer, passes ``SystemExit``); a ``CommandExit`` inside ends it
    with its code without another report. A closed stdout (``| head -1``) is left
    to the command line's own handler, which ends every command quietly with exit code 1.
    """
    exit_with = exit_with or _typer_exit
    try:
        yield
    except KeyboardInterrupt as exc:
        raise exit_with(report_error(exc)) from None
    except BrokenPipeError:
        raise
    except CommandExit as exc:
        raise exit_with(exc.code) from None
    except Exception as exc:
        # typer.Exit and click's own errors go to Typer, which reports them.
        if type(exc).__module__.startswith(("click", "typer")):
            raise
        raise exit_with(report_error(exc)) from None
