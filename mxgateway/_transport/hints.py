"""What to do next: hints added to connection and authentication errors.

A first call that cannot reach the gateway, or that the gateway refuses for its
key, is the most common first-contact failure. The hint says where the endpoint
or key came from (an argument, the environment, the default) and how to change
it, so the error alone is enough to fix the call.
"""

from __future__ import annotations

import grpc

from mxgateway.errors import MxGatewayAuthenticationError, MxGatewayError, MxGatewayUnavailableError
from mxgateway.options import ENV_API_KEY, ENV_ENDPOINT, ClientOptions

__all__ = ["add_hint", "api_key_hint", "endpoint_hint"]

_TLS_WORDS = ("ssl", "tls", "handshake", "certificate")


def endpoint_hint(options: ClientOptions) -> str:
    """Where the endpoint came from and how to point the client elsewhere."""
    endpoint = options.endpoint
    source = options.endpoint_source
    if source == "default":
        origin = f"{endpoint} is the default endpoint, as neither an endpoint nor {ENV_ENDPOINT} was given"
    elif source == ENV_ENDPOINT:
        origin = f"{endpoint} came from {ENV_ENDPOINT}"
    else:
        origin = f"{endpoint} was given as the endpoint"
    return (
        f"{origin}; is a gateway listening there? "
        'Pass endpoint="host:port", or endpoint="simulator" for the embedded simulator'
    )


def api_key_hint(options: ClientOptions) -> str:
    """Whether a key was sent, from where, and how to pass one."""
    if not options.has_api_key:
        return f'no API key was sent: pass api_key="..." or set {ENV_API_KEY}'
    source = options.api_key_source
    origin = f"from {ENV_API_KEY}" if source == ENV_API_KEY else "given as api_key"
    return f"an API key {origin} was sent and refused: check that the gateway knows it"


def add_hint(error: MxGatewayError, options: ClientOptions) -> MxGatewayError:
    """``error`` with its ``hint`` set when it is a reachability or key failure; returns it."""
    if error.hint:
        return error
    if isinstance(error, MxGatewayUnavailableError) and error.grpc_code is grpc.StatusCode.UNAVAILABLE:
        if any(word in error.details.lower() for word in _TLS_WORDS):
            return error
        error.hint = endpoint_hint(options)
        # The gRPC error repeats the details already in the message: a shorter traceback.
        error.__cause__ = None
    elif isinstance(error, MxGatewayAuthenticationError):
        error.hint = api_key_hint(options)
    return error
