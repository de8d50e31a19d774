"""What to do next, in command-line terms, for an unreachable gateway or a refused key.

The core's hints name Python arguments (``endpoint="simulator"``); a shell user
needs the flags and variables instead, and where the CLI took the endpoint and
the key from.
"""

from __future__ import annotations

import os
import sys
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CONNECTION_ORIGIN",
    "ConnectionOrigin",
    "cli_hint",
    "endpoint_origin",
    "key_origin",
    "message_with_cli_hint",
]

ENV_ENDPOINT = "MXGATEWAY_ENDPOINT"
ENV_API_KEY = "MXGATEWAY_API_KEY"


@dataclass(frozen=True)
class ConnectionOrigin:
    """Where the current command took its endpoint and API key from."""

    endpoint: str
    endpoint_origin: str  # "--endpoint", "--simulator", MXGATEWAY_ENDPOINT or "default"
    key_origin: str  # "--api-key", "--api-key-file", "$NAME" or "" (no key)


#: Set by each gateway command once its options are known.
CONNECTION_ORIGIN: ContextVar[ConnectionOrigin | None] = ContextVar("mxgw_py_connection_origin", default=None)


def key_origin(values: dict[str, Any], key: str | None) -> str:
    """Which option or variable the API key came from ('' when none is sent)."""
    if not key:
        return ""
    if values.get("api_key") is not None:
        return "--api-key"
    if values.get("api_key_file") is not None:
        return "--api-key-file"
    return f"${values.get('api_key_env') or ENV_API_KEY}"


def endpoint_origin(flag: str | None, simulator: bool) -> str:
    """Which option or variable the endpoint came from."""
    if simulator:
        return "--simulator"
    if flag:
        return "--endpoint"
    return ENV_ENDPOINT if os.environ.get(ENV_ENDPOINT) else "default"


def cli_hint(kind: str) -> str:
    """The hint for an ``"unavailable"`` or ``"authentication"`` failure ('' when unknown)."""
    origin = CONNECTION_ORIGIN.get()
    if origin is None:
        return ""
    if kind == "unavailable":
        where = {
            "--endpoint": f"{origin.endpoint} was given with --endpoint",
            ENV_ENDPOINT: f"{origin.endpoint} came from {ENV_ENDPOINT}",
            "default": f"{origin.endpoint} is the default endpoint (no --endpoint, {ENV_ENDPOINT} not set)",
        }.get(origin.endpoint_origin, f"{origin.endpoint} did not answer")
        return f"{where}; is a gateway listening there? --endpoint HOST:PORT names one, --simulator runs an embedded one"
    if kind == "authentication":
        if not origin.key_origin:
            return (
                f"no API key was sent: pass --api-key-file FILE or --api-key-env NAME, or set {ENV_API_KEY}"
            )
        return f"the API key from {origin.key_origin} was sent and refused: check that the gateway knows it"
    return ""


def message_with_cli_hint(exc: BaseException) -> str | None:
    """The message with the CLI's hint instead of the core's, for failures the CLI can explain."""
    # By module lookup: importing the SDK's errors here would pull grpc into every start.
    errors = sys.modules.get("mxgateway.errors")
    if errors is None or not isinstance(exc, errors.MxGatewayError) or not exc.hint:
        return None
    kind = "unavailable" if isinstance(exc, errors.MxGatewayUnavailableError) else "authentication"
    hint = cli_hint(kind)
    return f"{exc.message}; hint: {hint}" if hint else None
