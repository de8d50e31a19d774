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

from mxgateway.cli.credentials import DEFAULT_API_KEY_ENV, REDACTOR, SecretSourceError, read_api_key
from mxgateway.cli.exit_codes import ExitCode
from mxgateway.cli.output import dumps, text_line
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
    "gateway_command",
    "guarded",
    "output_command",
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
    server_name_override: str | None = None
    timeout: float | None = None
    json: bool = False
    simulator: bool = False

    @property
    def resolved_endpoint(self) -> str:
        """The endpoint to dial: ``simulator``, the flag, ``MXGATEWAY_ENDPOINT`` or the default."""
        if self.simulator:
            return SIMULATOR_ENDPOINT
        if self.endpoint:
            return self.endpoint
        from mxgateway.options import DEFAULT_ENDPOINT

        return os.environ.get(ENV_ENDPOINT) or DEFAULT_ENDPOINT

    def client_options(self, endpoint: str | None = None) -> ClientOptions:
        """The core's ``ClientOptions`` (``endpoint`` replaces the resolved one, e.g. an embedded gateway's).

        Raises ``ValueError`` when the flags contradict each other.
        """
        from mxgateway.options import ClientOptions

        options = ClientOptions(
            endpoint=endpoint or self.resolved_endpoint,
            # "" means "no key" to ClientOptions: the CLI has resolved the environment itself.
            api_key=self.api_key or "",
            # None: the core's rule, plaintext on loopback without TLS settings.
            plaintext=self.plaintext,
            ca_file=self.ca_file,
            server_name_override=self.server_name_override,
            default_timeout=self.timeout if self.timeout is not None else 30.0,
        )
        options.check_key_transport()
        return options


# ---------------------------------------------------------------------------- options

_ENDPOINT_OPT = typer.Option(
    "--endpoint",
    envvar=ENV_ENDPOINT,
    help="Gateway address host:port [env MXGATEWAY_ENDPOINT; default localhost:5000].",
    show_envvar=False,
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
_SERVER_NAME_OPT = typer.Option(
    "--server-name-override", help="Name to check the server certificate against."
)
_TIMEOUT_OPT = typer.Option("--timeout", min=0.001, help="Deadline of each call, in seconds [default 30].")
_JSON_OPT = typer.Option("--json", help="Machine output: deterministic JSON, one document per line.")
_SIMULATOR_OPT = typer.Option(
    "--simulator", help="Run against an embedded simulator started in this process."
)

_GATEWAY_PARAMS: list[tuple[str, Any, Any]] = [
    ("endpoint", Annotated[str | None, _ENDPOINT_OPT], None),
    ("api_key", Annotated[str | None, _API_KEY_OPT], None),
    ("api_key_env", Annotated[str | None, _API_KEY_ENV_OPT], None),
    ("api_key_file", Annotated[Path | None, _API_KEY_FILE_OPT], None),
    ("plaintext", Annotated[bool, _PLAINTEXT_OPT], False),
    ("tls", Annotated[bool, _TLS_OPT], False),
    ("ca_file", Annotated[Path | None, _CA_FILE_OPT], None),
    ("server_name_override", Annotated[str | None, _SERVER_NAME_OPT], None),
    ("timeout", Annotated[float | None, _TIMEOUT_OPT], None),
    ("json", Annotated[bool, _JSON_OPT], False),
    ("simulator", Annotated[bool, _SIMULATOR_OPT], False),
]
_OUTPUT_PARAMS: list[tuple[str, Any, Any]] = [("json", Annotated[bool, _JSON_OPT], False)]
_PREFIX = "mxgw_"


def build_common_options(values: dict[str, Any]) -> CommonOptions:
    """``CommonOptions`` from the raw option values (resolves the API key)."""
    if values.get("plaintext") and values.get("tls"):
        raise CliUsageError("--plaintext and --tls contradict each other")
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
        server_name_override=values.get("server_name_override") or None,
        timeout=values.get("timeout"),
        json=bool(values.get("json")),
        simulator=bool(values.get("simulator")),
    )
    return options if base is None else _merge(base, options)


def _merge(base: CommonOptions, line: CommonOptions) -> CommonOptions:
    """A batch line's options over the batch's: what the line gives wins."""
    return CommonOptions(
        endpoint=line.endpoint or base.endpoint,
        api_key=line.api_key,
        plaintext=line.plaintext if line.plaintext is not None else base.plaintext,
        ca_file=line.ca_file or base.ca_file,
        server_name_override=line.server_name_override or base.server_name_override,
        timeout=line.timeout if line.timeout is not None else base.timeout,
        json=line.json or base.json,
        simulator=line.simulator or (base.simulator and not line.endpoint),
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
        try:
            with guarded():
                common = (
                    build_common_options(values) if connects else CommonOptions(json=bool(values["json"]))
                )
                return fn(common=common, **kwargs)
        finally:
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
    ("MxGatewayAuthenticationError", ExitCode.AUTHENTICATION),
    ("MxGatewayPermissionError", ExitCode.PERMISSION),
    ("MxGatewayUnavailableError", ExitCode.UNAVAILABLE),
    ("MxGatewayTimeoutError", ExitCode.TIMEOUT),
    ("MxGatewayNotFoundError", ExitCode.NOT_FOUND),
    ("MxGatewayInvalidRequestError", ExitCode.INVALID_REQUEST),
)


def exit_code_for(exc: BaseException) -> ExitCode:
    """The exit code that reports ``exc``."""
    if isinstance(exc, KeyboardInterrupt):
        return ExitCode.INTERRUPTED
    if isinstance(exc, (CliUsageError, SecretSourceError, ValueParseError)):
        return ExitCode.USAGE
    # An SDK error can only exist once mxgateway.errors was imported; the check
    # by name keeps grpc out of processes that never touched the gateway.
    if "mxgateway.errors" in sys.modules:
        from mxgateway import errors

        for name, code in _GATEWAY_CODES:
            if isinstance(exc, getattr(errors, name)):
                return code
        if isinstance(exc, errors.MxGatewayError):
            return ExitCode.ERROR
    if isinstance(exc, TimeoutError):
        return ExitCode.TIMEOUT
    if isinstance(exc, (ValueError, TypeError)):
        # The core's value conversion and option checks: the input does not fit.
        return ExitCode.USAGE
    return ExitCode.ERROR


def _message(exc: BaseException) -> str:
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    text = str(exc) or type(exc).__name__
    return REDACTOR.redact(text)


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


def report_error(exc: BaseException) -> ExitCode:
    """Print ``exc`` the way the current mode wants it; return its exit code."""
    code = exit_code_for(exc)
    if _IN_BATCH.get():
        emit(error_object(exc), as_json=True)
    elif _JSON_MODE.get():
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
    """Turn any failure inside into its exit code (``typer.Exit``) after reporting it once."""
    try:
        yield
    except typer.Exit:
        raise
    except KeyboardInterrupt as exc:
        raise typer.Exit(report_error(exc)) from None
    except Exception as exc:
        if type(exc).__module__.startswith(("click", "typer")):
            raise
        raise typer.Exit(report_error(exc)) from None


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
        self._embedded: Any = None

    @staticmethod
    def _key(common: CommonOptions) -> tuple[Any, ...]:
        values = dataclasses.astuple(common)
        return values[:-2] + values[-1:]  # --json does not change the connection

    def _options(self, common: CommonOptions) -> ClientOptions:
        if not common.simulator:
            return common.client_options()
        if self._embedded is None:
            from mxgateway.endpoints import start_embedded_gateway
            from mxgateway_sync import _runtime

            # On the facade's loop, like every channel of the facade.
            self._embedded = _runtime.call(start_embedded_gateway, SIMULATOR_ENDPOINT)
        return common.client_options(self._embedded.endpoint)

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
        embedded, self._embedded = self._embedded, None
        if embedded is not None:
            from mxgateway_sync import _runtime

            with contextlib.suppress(Exception):
                _runtime.run(embedded.aclose())


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
    try:
        yield connections
    finally:
        _BATCH_DEFAULTS.reset(defaults_token)
        _IN_BATCH.reset(batch_token)
        _SHARED.reset(token)
        connections.close()
