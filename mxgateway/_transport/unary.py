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

from mxgateway._retry import Backoff
from mxgateway._transport.channel import Metadata
from mxgateway._transport.hints import add_hint
from mxgateway._transport.streams import surely_not_cancelled
from mxgateway.errors import MxGatewayClosedError, MxGatewayError, is_tls_failure, map_rpc_error
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

    It holds no reference to its owner (a plain function maps errors, and
    ``closing()`` says whether the owner closed), so a dropped client is freed at
    once rather than by the cycle collector.
    """

    __slots__ = ("_closing", "_default_timeout", "_map_error", "_metadata", "_options", "_secrets")

    def __init__(
        self,
        options: ClientOptions,
        metadata: Metadata,
        *,
        map_error: ErrorMapper = _map_with_scope,
        closing: Callable[[], bool] | None = None,
    ) -> None:
        self._options = options
        self._metadata = metadata
        self._default_timeout = options.default_timeout
        self._secrets: tuple[str, ...] = (options.api_key,) if options.api_key else ()
        self._map_error = map_error
        self._closing = closing

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
        wait_for_ready: bool | None = None,
    ) -> ReplyT:
        """``rpc(request)``; a gRPC failure raises the typed error (with a hint unless ``hint=False``).

        ``retries`` (idempotent reads only) repeats a call the gateway was
        unreachable for, paced by the options' ``ReconnectPolicy``, while ``retry_while()``
        (the owner is still open) holds. ``wait_for_ready`` waits for a channel in
        reconnect back-off to connect (within the deadline) instead of failing at once.
        """
        deadline = self._default_timeout if isinstance(timeout, UseClientDefault) else timeout
        attempt = 0
        backoff: Backoff | None = None
        while True:
            failure: grpc.aio.AioRpcError | None = None
            try:
                return await rpc(
                    request, timeout=deadline, metadata=self._metadata, wait_for_ready=wait_for_ready
                )
            except grpc.aio.AioRpcError as exc:
                failure = exc
            except asyncio.CancelledError:
                # grpc.aio cancels the calls of a channel its client closed under them.
                if self._closing is not None and self._closing() and surely_not_cancelled():
                    raise MxGatewayClosedError(
                        f"the client closed while {method} was in flight", method=method
                    ) from None
                raise
            if (
                failure.code() is grpc.StatusCode.UNAVAILABLE
                and not is_tls_failure(failure.details() or "")  # a certificate does not heal by waiting
                and attempt < retries
                and (retry_while is None or retry_while())
            ):
                attempt += 1
                if backoff is None:
                    backoff = Backoff(self._options.reconnect)
                await asyncio.sleep(backoff.next_delay())
                continue
            # Raised out here, not in the except block: the raw error, which may hold
            # what the gateway echoed (a key included), must not become __context__.
            error = self._map_error(failure, method, scope, self._secrets)
            if hint:
                add_hint(error, self._options)
            raise error from error.__cause__
