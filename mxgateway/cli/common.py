"""What every ``mxgw-py`` command shares: connection options, output, error handling.

A command declares only its own parameters plus ``common: CommonOptions``; the
:func:`gateway_command` decorator adds the connection and output options to its
``--help``, resolves the API key, runs the body and turns every expected failure
into an exit code (``exit_codes.ExitCode``) and one error message, JSON with
``--json``, without a traceback and without any secret.

Nothing here imports grpc, the core's client or the facade at module level: the
command line must start fast, so they are imported inside the commands.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import os
import sys
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from typer._click.exceptions import ClickException, UsageError

from mxgateway.cli.credentials import DEFAULT_API_KEY_ENV, REDACTOR, SecretSourceError, read_api_key
from mxgateway.cli.exit_codes import ExitCode
from mxgateway.cli.hints import (
    CONNECTION_ORIGIN,
    ConnectionOrigin,
    endpoint_origin,
    key_origin,
    message_with_cli_hint,
)
from mxgateway.cli.human import TAG_WIDTH, human_line, is_value_record, tag_width
from mxgateway.cli.output import dumps, is_terminal, text_line
from mxgateway.cli.value_parsing import ValueParseError

if TYPE_CHECKING:
    from mxgateway.options import ClientOptions

__all__ = [
    "ENV_SESSION_ID",
    "SIMULATOR_ENDPOINT",
    "CliUsageError",
    "CommonOptions",
    "Connections",
    "emit",
    "error_object",
    "exit_code_for",
    "forget_session",
    "gateway_command",
    "guarded",
    "in_batch",
    "output_command",
    "remember_session",
    "session_id_for",
    "shared_connections",
]

F = TypeVar("F", bound=Callable[..., Any])

ENV_ENDPOINT = "MXGATEWAY_ENDPOINT"
ENV_SESSION_ID = "MXGATEWAY_SESSION_ID"
#: The endpoint name of the embedded simulator (``--simulator``).
SIMULATOR_ENDPOINT = "simulator"
_DEBUG_ENV = "MXGW_PY_DEBUG"

#: Whether the command running now was asked for JSON (error reports follow it).
_JSON_MODE: ContextVar[bool] = ContextVar("mxgw_py_json", default=False)
#: Set while ``batch`` runs: errors become records on stdout and the loop goes on.
_IN_BATCH: ContextVar[bool] = ContextVar("mxgw_py_batch", default=False)
#: The options given to ``batch`` itself: the defaults of each of its lines.
_BATCH_DEFAULTS: ContextVar[CommonOptions | None] = ContextVar("mxgw_py_batch_defaults", default=None)


@dataclass
class _BatchSession:
    session_id: str = ""


#: Inside ``batch``: the session its last ``open-session`` line opened.
_BATCH_SESSION: ContextVar[_BatchSession | None] = ContextVar("mxgw_py_batch_session", default=None)
#: Where the running command's session id came from when not from --session-id.
_SESSION_ORIGIN: ContextVar[str | None] = ContextVar("mxgw_py_session_origin", default=None)


class CliUsageError(ValueError):
    """The command line asks for something impossible (exit code 2)."""


@dataclass(frozen=True)
class CommonOptions:
    """The connection and output options every gateway command takes.

    ``api_key`` is already resolved from its source; it never appears in a repr.
    ``plaintext`` None means: plaintext for a loopback endpoint or the embedded
    simulator, TLS otherwise.
    """

    endpoint: str | None = None
    api_key: str | None = field(default=None, repr=False)
    plaintext: bool | None = None
    ca_file: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None
    server_name_override: str | None = None
    timeout: float | None = None
    json: bool = False
    simulator: bool = False
    allow_insecure_api_key: bool = False

    @property
    def resolved_endpoint(self) -> str:
        """The endpoint to dial: ``simulator``, the flag, ``MXGATEWAY_ENDPOINT`` or the default."""
        if self.simulator:
            return SIMULATOR_ENDPOINT
        if self.endpoint:
            return self.endpoint
        from mxgateway.options import DEFAULT_ENDPOINT

        return os.environ.get(ENV_ENDPOINT) or DEFAULT_ENDPOINT

    @property
    def embedded(self) -> tuple[str, str] | None:
        """``(name, argument)`` when the endpoint names an embedded gateway (``simulator``), else None."""
        if self.simulator:
            return SIMULATOR_ENDPOINT, ""
        from mxgateway.endpoints import embedded_gateway_name

        return embedded_gateway_name(self.resolved_endpoint)

    def client_options(self, endpoint: str | None = None) -> ClientOptions:
        """The core's ``ClientOptions`` (``endpoint`` replaces the resolved one, e.g. an embedded gateway's).

        Raises ``CliUsageError`` when the flags contradict each other.
        """
        from mxgateway.options import ClientOptions, endpoint_host

        target = endpoint or self.resolved_endpoint
        try:
            options = ClientOptions(
                endpoint=target,
                # "" means "no key" to ClientOptions: the CLI has resolved the environment itself.
                api_key=self.api_key or "",
                # None: the core's rule, plaintext on loopback without TLS settings.
                plaintext=self.plaintext,
                ca_file=self.ca_file,
                client_cert_file=self.client_cert,
                client_key_file=self.client_key,
                server_name_override=self.server_name_override,
                default_timeout=self.timeout if self.timeout is not None else 30.0,
                allow_insecure_api_key=self.allow_insecure_api_key,
            )
        except ValueError as exc:
            raise CliUsageError(str(exc)) from None
        try:
            options.check_key_transport()
        except ValueError:
            # The core's message names its Python keyword; a shell user needs the flag.
            raise CliUsageError(
                f"refusing to send the API key in plaintext to {endpoint_host(target)!r}: "
                "use TLS (drop --plaintext), or pass --allow-insecure-api-key"
            ) from None
        return options


# ---------------------------------------------------------------------------- options

# No envvar= here: resolved_endpoint reads MXGATEWAY_ENDPOINT, so that inside a
# batch the batch's own --endpoint beats the environment for every line.
_ENDPOINT_OPT = typer.Option(
    "--endpoint",
    help="Gateway address host:port, or simulator [env MXGATEWAY_ENDPOINT; default localhost:5000].",
)
_API_KEY_OPT = typer.Option(
    "--api-key",
    help="API key. Visible to other local users: prefer --api-key-env or --api-key-file.",
    show_default=False,
)
_API_KEY_ENV_OPT = typer.Option(
    "--api-key-env",
    metavar="NAME",
    help=f"Read the API key from this variable [default {DEFAULT_API_KEY_ENV}].",
)
_API_KEY_FILE_OPT = typer.Option("--api-key-file", help="Read the API key from this file (one line).")
_PLAINTEXT_OPT = typer.Option("--plaintext", help="No TLS (the default for loopback endpoints).")
_TLS_OPT = typer.Option("--tls", help="Use TLS even on a loopback endpoint.")
_CA_FILE_OPT = typer.Option("--ca-file", help="PEM file of the CA that signed the gateway's certificate.")
_CLIENT_CERT_OPT = typer.Option(
    "--client-cert", help="PEM client certificate, for gateways that require one (with --client-key)."
)
_CLIENT_KEY_OPT = typer.Option("--client-key", help="PEM private key of --client-cert.")
_SERVER_NAME_OPT = typer.Option(
    "--server-name-override", help="Name to check the server certificate against."
)
_TIMEOUT_OPT = typer.Option("--timeout", min=0.001, help="Deadline of each call, in seconds [default 30].")
_JSON_OPT = typer.Option("--json", help="Machine output: deterministic JSON, one document per line.")
_SIMULATOR_OPT = typer.Option(
    "--simulator",
    help="Run against an embedded simulator started in this process (as --endpoint simulator).",
)
_INSECURE_KEY_OPT = typer.Option(
    "--allow-insecure-api-key",
    help="Send the API key even over plaintext to a host other than loopback (anyone on the path can read it).",
)

_GATEWAY_PARAMS: list[tuple[str, Any, Any]] = [
    ("endpoint", Annotated[str | None, _ENDPOINT_OPT], None),
    ("api_key", Annotated[str | None, _API_KEY_OPT], None),
    ("api_key_env", Annotated[str | None, _API_KEY_ENV_OPT], None),
    ("api_key_file", Annotated[Path | None, _API_KEY_FILE_OPT], None),
    ("plaintext", Annotated[bool, _PLAINTEXT_OPT], False),
    ("tls", Annotated[bool, _TLS_OPT], False),
    ("ca_file", Annotated[Path | None, _CA_FILE_OPT], None),
    ("client_cert", Annotated[Path | None, _CLIENT_CERT_OPT], None),
    ("client_key", Annotated[Path | None, _CLIENT_KEY_OPT], None),
    ("server_name_override", Annotated[str | None, _SERVER_NAME_OPT], None),
    ("timeout", Annotated[float | None, _TIMEOUT_OPT], None),
    ("json", Annotated[bool, _JSON_OPT], False),
    ("simulator", Annotated[bool, _SIMULATOR_OPT], False),
    ("allow_insecure_api_key", Annotated[bool, _INSECURE_KEY_OPT], False),
]
_OUTPUT_PARAMS: list[tuple[str, Any, Any]] = [("json", Annotated[bool, _JSON_OPT], False)]
_PREFIX = "mxgw_"


def build_common_options(values: dict[str, Any]) -> CommonOptions:
    """``CommonOptions`` from the raw option values (resolves the API key)."""
    if values.get("plaintext") and values.get("tls"):
        raise CliUsageError("--plaintext and --tls contradict each other")
    if values.get("simulator") and values.get("endpoint"):
        raise CliUsageError(
            "--simulator and --endpoint contradict each other: give one (--endpoint simulator is --simulator)"
        )
    if (values.get("client_cert") is None) != (values.get("client_key") is None):
        raise CliUsageError("--client-cert and --client-key go together")
    plaintext: bool | None = True if values.get("plaintext") else (False if values.get("tls") else None)
    key_given = any(values.get(n) is not None for n in ("api_key", "api_key_env", "api_key_file"))
    base = _BATCH_DEFAULTS.get()
    if base is not None and not key_given:
        api_key = base.api_key
    else:
        api_key = read_api_key(values.get("api_key"), values.get("api_key_env"), values.get("api_key_file"))
    options = CommonOptions(
        endpoint=values.get("endpoint") or None,
        api_key=api_key,
        plaintext=plaintext,
        ca_file=values.get("ca_file"),
        client_cert=values.get("client_cert"),
        client_key=values.get("client_key"),
        server_name_override=values.get("server_name_override") or None,
        timeout=values.get("timeout"),
        json=bool(values.get("json")),
        simulator=bool(values.get("simulator")),
        allow_insecure_api_key=bool(values.get("allow_insecure_api_key")),
    )
    return options if base is None else _merge(base, options)


def _merge(base: CommonOptions, line: CommonOptions) -> CommonOptions:
    """A batch line's options over the batch's: what the line gives wins."""
    return CommonOptions(
        endpoint=line.endpoint or base.endpoint,
        api_key=line.api_key,
        plaintext=line.plaintext if line.plaintext is not None else base.plaintext,
        ca_file=line.ca_file or base.ca_file,
        client_cert=line.client_cert or base.client_cert,
        client_key=line.client_key or base.client_key,
        server_name_override=line.server_name_override or base.server_name_override,
        timeout=line.timeout if line.timeout is not None else base.timeout,
        json=line.json or base.json,
        simulator=line.simulator or (base.simulator and not line.endpoint),
        allow_insecure_api_key=line.allow_insecure_api_key or base.allow_insecure_api_key,
    )


def _decorate(fn: F, extra: list[tuple[str, Any, Any]], *, connects: bool) -> F:
    """Give ``fn`` the ``extra`` options in its signature and run it guarded."""
    signature = inspect.signature(fn, eval_str=True)
    own = [
        p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
        for p in signature.parameters.values()
        if p.name != "common"
    ]
    added = [
        inspect.Parameter(
            _PREFIX + name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
        )
        for name, annotation, default in extra
    ]
    new_signature = signature.replace(parameters=[*own, *added], return_annotation=None)

    @functools.wraps(fn)
    def wrapper(**kwargs: Any) -> Any:
        values = {name: kwargs.pop(_PREFIX + name) for name, _, _ in extra}
        base = _BATCH_DEFAULTS.get()
        json_token = _JSON_MODE.set(bool(values.get("json")) or (base is not None and base.json))
        origin_token = _SESSION_ORIGIN.set(None)
        tags = kwargs.get("tags")
        width_token = TAG_WIDTH.set(tag_width(tags) if isinstance(tags, list) else 0)
        connection_token = CONNECTION_ORIGIN.set(None)
        try:
            with guarded():
                common = (
                    build_common_options(values) if connects else CommonOptions(json=bool(values["json"]))
                )
                if connects:
                    CONNECTION_ORIGIN.set(
                        ConnectionOrigin(
                            common.resolved_endpoint,
                            endpoint_origin(common.endpoint, common.simulator),
                            key_origin(values, common.api_key),
                        )
                    )
                return fn(common=common, **kwargs)
        finally:
            CONNECTION_ORIGIN.reset(connection_token)
            TAG_WIDTH.reset(width_token)
            _SESSION_ORIGIN.reset(origin_token)
            _JSON_MODE.reset(json_token)

    del wrapper.__wrapped__  # Typer must see the new signature, not fn's
    wrapper.__signature__ = new_signature  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in new_signature.parameters.values()}
    return wrapper  # type: ignore[return-value]


def gateway_command(fn: F) -> F:
    """Add the connection and output options to a command taking ``common: CommonOptions``."""
    return _decorate(fn, _GATEWAY_PARAMS, connects=True)


def output_command(fn: F) -> F:
    """Add only ``--json`` to a command that talks to no gateway."""
    return _decorate(fn, _OUTPUT_PARAMS, connects=False)


# ---------------------------------------------------------------------------- output


def emit(record: Any, *, as_json: bool | None = None) -> None:
    """Print one result on stdout: a JSON line with ``--json``, else ``key=value`` text."""
    json_mode = _JSON_MODE.get() if as_json is None else as_json
    if json_mode:
        line = dumps(record)
    elif isinstance(record, dict) and is_value_record(record) and is_terminal(sys.stdout):
        line = human_line(record, TAG_WIDTH.get())
    elif isinstance(record, dict):
        line = text_line(record)
    else:
        line = str(record)
    out = sys.stdout
    out.write(line + "\n")
    out.flush()


# ---------------------------------------------------------------------------- errors

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
_ARGUMENT_CHECKS = frozenset({"mxgateway.options", "mxgateway.values"})


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
    if isinstance(exc, (CliUsageError, SecretSourceError, ValueParseError, UsageError)):
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
    return exit_code_for(exc) is not ExitCode.ERROR or isinstance(exc, ClickException) or _gateway_error(exc)


def _session_note(exc: BaseException) -> str:
    origin = _SESSION_ORIGIN.get()
    errors = sys.modules.get("mxgateway.errors")
    if origin is None or errors is None or not isinstance(exc, errors.MxGatewaySessionNotFoundError):
        return ""
    if origin == ENV_SESSION_ID:
        return (
            f" (the session id came from {ENV_SESSION_ID}: that session was closed or has expired;"
            f" open a new one, or unset {ENV_SESSION_ID})"
        )
    return f" (the session id came from {origin})"


def _message(exc: BaseException) -> str:
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    text = exc.format_message() if isinstance(exc, ClickException) else (str(exc) or type(exc).__name__)
    text = message_with_cli_hint(exc) or text
    if not _expected(exc):
        # One line even for a multi-line message; MXGW_PY_DEBUG=1 adds the traceback.
        text = f"unexpected {type(exc).__name__}: {' '.join(text.split())}"
    return REDACTOR.redact(text + _session_note(exc))


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


def in_batch() -> bool:
    """Whether ``batch`` is running (its lines report errors as JSON records on stdout)."""
    return _IN_BATCH.get()


def report_error(exc: BaseException, *, as_json: bool | None = None) -> ExitCode:
    """Print ``exc`` the way the current mode wants it; return its exit code."""
    code = exit_code_for(exc)
    if _IN_BATCH.get():
        emit(error_object(exc), as_json=True)
    elif _JSON_MODE.get() if as_json is None else as_json:
        sys.stderr.write(dumps(error_object(exc)) + "\n")
    else:
        sys.stderr.write(f"mxgw-py: error: {_message(exc)}\n")
    sys.stderr.flush()
    if os.environ.get(_DEBUG_ENV) and code is ExitCode.ERROR and not isinstance(exc, KeyboardInterrupt):
        import traceback

        sys.stderr.write(REDACTOR.redact("".join(traceback.format_exception(exc))))
    return code


@contextlib.contextmanager
def guarded() -> Iterator[None]:
    """Turn any failure inside into its exit code (``typer.Exit``) after reporting it once.

    A closed stdout (``| head -1``) is left to the command line's own handler,
    which ends every command quietly with exit code 1.
    """
    try:
        yield
    except typer.Exit:
        raise
    except KeyboardInterrupt as exc:
        raise typer.Exit(report_error(exc)) from None
    except BrokenPipeError:
        raise
    except Exception as exc:
        if type(exc).__module__.startswith(("click", "typer")):
            raise
        raise typer.Exit(report_error(exc)) from None


# ---------------------------------------------------------------------------- sessions


def session_id_for(flag: str) -> str:
    """The session a command works on ("" for none).

    ``--session-id`` first; inside a batch, then the session its last
    ``open-session`` line opened; then ``MXGATEWAY_SESSION_ID``.
    """
    if flag:
        return flag
    batch = _BATCH_SESSION.get()
    if batch is not None and batch.session_id:
        _SESSION_ORIGIN.set("the batch's open-session line")
        return batch.session_id
    from_env = os.environ.get(ENV_SESSION_ID, "")
    if from_env:
        _SESSION_ORIGIN.set(ENV_SESSION_ID)
    return from_env


def remember_session(session_id: str) -> bool:
    """Make ``session_id`` the default of the batch's following lines; False outside a batch."""
    batch = _BATCH_SESSION.get()
    if batch is None:
        return False
    batch.session_id = session_id
    return True


def forget_session(session_id: str) -> None:
    """A closed session is no longer the batch's default."""
    batch = _BATCH_SESSION.get()
    if batch is not None and batch.session_id == session_id:
        batch.session_id = ""


# ---------------------------------------------------------------------------- connections


def _facade() -> Any:
    """The blocking facade, imported on first use (it brings grpc along)."""
    import importlib

    return importlib.import_module("mxgateway_sync")


class Connections:
    """The clients a command uses, opened on first use and closed together.

    One instance serves one command; ``batch`` keeps one for all its lines so a
    session or the embedded simulator of ``--simulator`` lives across them.
    """

    def __init__(self) -> None:
        self._gateways: dict[tuple[Any, ...], Any] = {}
        self._galaxies: dict[tuple[Any, ...], Any] = {}
        self._attached: list[Any] = []
        self._embedded: dict[tuple[str, str], Any] = {}

    @staticmethod
    def _key(common: CommonOptions) -> tuple[Any, ...]:
        # --json does not change the connection.
        return dataclasses.astuple(dataclasses.replace(common, json=False))

    def _options(self, common: CommonOptions) -> ClientOptions:
        named = common.embedded
        if named is None:
            return common.client_options()
        embedded = self._embedded.get(named)
        if embedded is None:
            from mxgateway.endpoints import start_embedded_gateway
            from mxgateway_sync import _runtime

            # Started here rather than by each client's connect, so that the
            # gateway and Galaxy clients (and batch lines) share one simulator.
            # On the facade's loop, like every channel of the facade.
            try:
                embedded = _runtime.call(start_embedded_gateway, *named)
            except (OSError, ValueError) as exc:
                # An unreadable Galaxy file or an unknown name: the endpoint given does not work.
                raise CliUsageError(f"cannot start the embedded gateway {':'.join(named)!r}: {exc}") from None
            self._embedded[named] = embedded
        return common.client_options(embedded.endpoint)

    def gateway(self, common: CommonOptions) -> Any:
        """A connected ``mxgateway_sync.GatewayClient``."""
        key = self._key(common)
        client = self._gateways.get(key)
        if client is None:
            client = _facade().GatewayClient.connect(options=self._options(common))
            self._gateways[key] = client
        return client

    def galaxy(self, common: CommonOptions) -> Any:
        """A connected ``mxgateway_sync.GalaxyRepositoryClient``."""
        key = self._key(common)
        client = self._galaxies.get(key)
        if client is None:
            client = _facade().GalaxyRepositoryClient.connect(options=self._options(common))
            self._galaxies[key] = client
        return client

    def session(self, common: CommonOptions, session_id: str) -> Any:
        """The existing session ``session_id``, left open when the command ends."""
        if not session_id:
            raise CliUsageError(f"--session-id is required (or set {ENV_SESSION_ID})")
        session = self.gateway(common).attach_session(session_id)
        self._attached.append(session)
        return session

    def close(self) -> None:
        """Close every client and the embedded simulator; attached sessions stay open."""
        for session in self._attached:
            session.detach()
        self._attached.clear()
        clients = [*self._galaxies.values(), *self._gateways.values()]
        self._gateways.clear()
        self._galaxies.clear()
        for client in clients:
            with contextlib.suppress(Exception):
                client.close()
        embedded = list(self._embedded.values())
        self._embedded.clear()
        if embedded:
            from mxgateway_sync import _runtime

            for gateway in embedded:
                with contextlib.suppress(Exception):
                    _runtime.run(gateway.aclose())


_SHARED: ContextVar[Connections | None] = ContextVar("mxgw_py_connections", default=None)


@contextlib.contextmanager
def shared_connections() -> Iterator[Connections]:
    """The connections of the current command (or of the running ``batch``)."""
    existing = _SHARED.get()
    if existing is not None:
        yield existing
        return
    connections = Connections()
    token = _SHARED.set(connections)
    try:
        yield connections
    finally:
        _SHARED.reset(token)
        connections.close()


@contextlib.contextmanager
def batch_scope(defaults: CommonOptions | None = None) -> Iterator[Connections]:
    """Run several commands with shared connections, reporting errors as records.

    ``defaults`` are the batch's own options, the defaults of every line.
    """
    connections = Connections()
    token = _SHARED.set(connections)
    batch_token = _IN_BATCH.set(True)
    defaults_token = _BATCH_DEFAULTS.set(defaults)
    session_token = _BATCH_SESSION.set(_BatchSession())
    try:
        yield connections
    finally:
        _BATCH_SESSION.reset(session_token)
        _BATCH_DEFAULTS.reset(defaults_token)
        _IN_BATCH.reset(batch_token)
        _SHARED.reset(token)
        connections.close()
