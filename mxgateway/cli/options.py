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
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from mxgateway.cli.common import CommonOptions, build_common_options, run_command
from mxgateway.cli.credentials import DEFAULT_API_KEY_ENV
from mxgateway.options import MAX_TIMEOUT_S

__all__ = ["CommonOptions", "build_common_options", "gateway_command", "output_command"]

F = TypeVar("F", bound=Callable[..., Any])


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
_TIMEOUT_OPT = typer.Option(
    "--timeout",
    min=0.001,
    max=MAX_TIMEOUT_S,
    help="Deadline of each call, in seconds, up to a year [default 30].",
)
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
        return run_command(fn, values, kwargs, connects=connects)

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
