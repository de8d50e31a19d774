"""The connection and output options every ``mxgw-py`` command shares, and the decorators that add them.

A command declares only its own parameters plus ``common: CommonOptions``; the
:func:`gateway_command` decorator adds the connection and output options to its
``--help``, resolves the API key, runs the body and turns every expected failure
into an exit code and one error message (``mxgateway.cli.errors``).

Nothing here imports grpc, the core's client or the facade at module level: the
command line must start fast, so they are imported inside the commands.
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from mxgateway.cli.context import (
    BATCH_DEFAULTS,
    ENV_ENDPOINT,
    JSON_MODE,
    SESSION_ORIGIN,
    SIMULATOR_ENDPOINT,
)
from mxgateway.cli.credentials import DEFAULT_API_KEY_ENV, read_api_key
from mxgateway.cli.errors import CliUsageError, guarded
from mxgateway.cli.hints import CONNECTION_ORIGIN, ConnectionOrigin, endpoint_origin, key_origin
from mxgateway.cli.human import TAG_WIDTH, tag_width

if TYPE_CHECKING:
    from mxgateway.options import ClientOptions

__all__ = ["CommonOptions", "build_common_options", "gateway_command", "output_command"]

F = TypeVar("F", bound=Callable[..., Any])


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
    base = BATCH_DEFAULTS.get()
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
        base = BATCH_DEFAULTS.get()
        json_token = JSON_MODE.set(bool(values.get("json")) or (base is not None and base.json))
        origin_token = SESSION_ORIGIN.set(None)
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
            SESSION_ORIGIN.reset(origin_token)
            JSON_MODE.reset(json_token)

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
