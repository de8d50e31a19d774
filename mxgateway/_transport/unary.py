"""``UnaryCaller``: how every unary RPC of the SDK is made (except a session's command path).

One place for the deadline (the call's, else the options' default), the call
metadata, the mapping of a gRPC failure to the typed error (secrets scrubbed),
the optional hint, and, for idempotent reads only, retries on UNAVAILABLE.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

import grpc
import grpc.aio

from mxgateway._transport.channel import Metadata
from mxgateway._transport.hints import add_hint
from mxgateway.errors import MxGatewayError, is_tls_failure, map_rpc_error
from mxgateway.options import USE_CLIENT_DEFAULT, ClientOptions, Timeout, UseClientDefault

__all__ = ["ErrorMapper", "UnaryCaller"]

ReplyT = TypeVar("ReplyT")


class ErrorMapper(Protocol):
    """Turns a failed call into the typed error (``map_rpc_error`` with the call's scope by default)."""

    def __call__(
        self, exc: grpc.aio.AioRpcError, method: str, scope: str | None, secrets: tuple[str, ...]
    ) -> MxGatewayError:
        """The typed error for ``exc``, a failed call of ``method`` that needed ``scope``."""


def _map_with_scope(
    exc: grpc.aio.AioRpcError, method: str, scope: str | None, secrets: tuple[str, ...]
) -> MxGatewayError:
    return map_rpc_error(exc, method=method, scope=scope, secrets=secrets)


class UnaryCaller:
    """Makes unary calls with one connection's deadline, metadata, error mapping and hint.

    It holds no reference to its owner (a plain function maps errors), so a
    dropped client is freed at once rather than by the cycle collector.
    """

    __slots__ = ("_default_timeout", "_map_error", "_metadata", "_options", "_secrets")

    def __init__(
        self, options: ClientOptions, metadata: Metadata, *, map_error: ErrorMapper = _map_with_scope
    ) -> None:
        self._options = options
        self._metadata = metadata
        self._default_timeout = options.default_timeout
        self._secrets: tuple[str, ...] = (options.api_key,) if options.api_key else ()
        self._map_error = map_error

    async def __call__(
        self,
        rpc: Callable[..., Awaitable[ReplyT]],
        request: Any,
        *,
        method: str,
        scope: str | None = None,
        timeout: Timeout = USE_CLIENT_DEFAULT,
        hint: bool = True,
        retries: int = 0,
        retry_while: Callable[[], bool] | None = None,
    ) -> ReplyT:
        """``rpc(request)``; a gRPC failure raises the typed error (with a hint unless ``hint=False``).

        ``retries`` (idempotent reads only) repeats a call the gateway was
        unreachable for, with a short doubling pause, while ``retry_while()``
        (the owner is still open) holds.
        """
        deadline = self._default_timeout if isinstance(timeout, UseClientDefault) else timeout
        attempt = 0
        while True:
            failure: grpc.aio.AioRpcError | None = None
            try:
                return await rpc(request, timeout=deadline, metadata=self._metadata)
            except grpc.aio.AioRpcError as exc:
                failure = exc
            if (
                failure.code() is grpc.StatusCode.UNAVAILABLE
                and not is_tls_failure(failure.details() or "")  # a certificate does not heal by waiting
                and attempt < retries
                and (retry_while is None or retry_while())
            ):
                attempt += 1
                await asyncio.sleep(0.05 * 2 ** (attempt - 1))
                continue
            # Raised out here, not in the except block: the raw error, which may hold
            # what the gateway echoed (a key included), must not become __context__.
            error = self._map_error(failure, method, scope, self._secrets)
            if hint:
                add_hint(error, self._options)
            raise error from error.__cause__
