"""The options every gateway command shares, as data: one table for Typer and for the fast path.

``mxgateway.cli.options`` declares them to Typer from this table, and the Typer-free
``mxgateway.cli.fast`` parses ``read`` with it, so the two parsers cannot drift
apart: a flag, its kind or its bound changes here, for both. Nothing here imports
Typer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mxgateway.cli.credentials import DEFAULT_API_KEY_ENV
from mxgateway.options import MAX_TIMEOUT_S

__all__ = ["ATTACH_SESSION", "GATEWAY_OPTIONS", "JSON_OPTION", "OptionSpec"]

#: What an option's value is: text, a file path, a flag (no value) or seconds (a float between bounds).
Kind = Literal["text", "path", "flag", "seconds"]


@dataclass(frozen=True)
class OptionSpec:
    """One command-line option: the keyword its value goes to, its flag, its kind and its help."""

    name: str
    flag: str
    kind: Kind
    help: str
    metavar: str | None = None
    show_default: bool = True
    #: The smallest value a ``seconds`` option takes.
    minimum: float | None = None
    #: The largest value a ``seconds`` option takes.
    maximum: float | None = None
    #: A blank value is refused (an unset shell variable), not taken as "none".
    refuse_blank: bool = False


JSON_OPTION = OptionSpec(
    "json", "--json", "flag", "Machine output: deterministic JSON, one document per line."
)

#: The connection and output options of every gateway command, in --help order.
GATEWAY_OPTIONS: tuple[OptionSpec, ...] = (
    # No environment variable on the option itself: CommonOptions.resolved_endpoint reads
    # MXGATEWAY_ENDPOINT, so that inside a batch the batch's own --endpoint beats it.
    OptionSpec(
        "endpoint",
        "--endpoint",
        "text",
        "Gateway address host:port, or simulator [env MXGATEWAY_ENDPOINT; default localhost:5000].",
    ),
    OptionSpec(
        "api_key",
        "--api-key",
        "text",
        "API key. Visible to other local users: prefer --api-key-env or --api-key-file.",
        show_default=False,
    ),
    OptionSpec(
        "api_key_env",
        "--api-key-env",
        "text",
        f"Read the API key from this variable [default {DEFAULT_API_KEY_ENV}].",
        metavar="NAME",
    ),
    OptionSpec("api_key_file", "--api-key-file", "path", "Read the API key from this file (one line)."),
    OptionSpec("plaintext", "--plaintext", "flag", "No TLS (the default for loopback endpoints)."),
    OptionSpec("tls", "--tls", "flag", "Use TLS even on a loopback endpoint."),
    OptionSpec("ca_file", "--ca-file", "path", "PEM file of the CA that signed the gateway's certificate."),
    OptionSpec(
        "client_cert",
        "--client-cert",
        "path",
        "PEM client certificate, for gateways that require one (with --client-key).",
    ),
    OptionSpec("client_key", "--client-key", "path", "PEM private key of --client-cert."),
    OptionSpec(
        "server_name_override",
        "--server-name-override",
        "text",
        "Name to check the server certificate against.",
    ),
    OptionSpec(
        "timeout",
        "--timeout",
        "seconds",
        "Deadline of each call, in seconds, up to a year [default 30].",
        minimum=0.001,
        maximum=MAX_TIMEOUT_S,
    ),
    JSON_OPTION,
    OptionSpec(
        "simulator",
        "--simulator",
        "flag",
        "Run against an embedded simulator started in this process (as --endpoint simulator).",
    ),
    OptionSpec(
        "allow_insecure_api_key",
        "--allow-insecure-api-key",
        "flag",
        "Send the API key even over plaintext to a host other than loopback (anyone on the path can read it).",
    ),
)

#: ``--session-id`` of the commands that open a session of their own unless given one (read, subscribe).
# No environment variable on the option itself: session_id_for reads MXGATEWAY_SESSION_ID, so
# that an error can say where a stale id came from, and a batch's open-session can win.
ATTACH_SESSION = OptionSpec(
    "session_id",
    "--session-id",
    "text",
    "Use this open session (left open) instead of opening one [env MXGATEWAY_SESSION_ID].",
    refuse_blank=True,
)
