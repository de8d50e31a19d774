"""``ClientBase``: what the gateway and Galaxy Repository clients share.

The connect keywords and ``connect()`` itself, the options, the embedded
gateway that ``connect("simulator")`` starts (and ``close()`` stops), the
closing order and a repr that never shows the key.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Coroutine
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import grpc.aio

from mxgateway._transport.connector import Connector
from mxgateway._transport.endpoints import EmbeddedGateway, open_endpoint
from mxgateway.options import ClientOptions, ConnectKeywords, connect_options

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["ClientBase"]

_log = logging.getLogger("mxgateway.connect")
#: How long calls still in flight when a client closes may run on before they are cancelled.
_CLOSE_GRACE_S = 1.0

ClientT = TypeVar("ClientT", bound="ClientBase")


class ClientBase:
    """The life cycle every gateway connection shares; subclasses add the RPCs.

    A subclass is built as ``cls(options, channel=...)``; on close it ends what
    ends at once and names what to await in ``_closing()``, and names the channel
    it created in ``_owned_channel()``. ``close()`` awaits it all in one coroutine:
    extra await layers there made a close cut short at interpreter exit crash
    grpc's teardown.
    """

    def __init__(self, options: ClientOptions) -> None:
        self._options = options
        self._closed = False
        #: An embedded gateway started by ``connect("simulator")``; stopped on close.
        self._embedded: EmbeddedGateway | None = None

    @classmethod
    def connect(
        cls: type[ClientT],
        endpoint: str = "",
        *,
        options: ClientOptions | None = None,
        channel: grpc.aio.Channel | None = None,
        **keywords: Unpack[ConnectKeywords],
    ) -> Connector[ClientT]:
        """Connect to a gateway: ``await`` the result, or use it with ``async with``.

        The connection keywords (``ConnectKeywords``: ``endpoints``, ``api_key``,
        ``plaintext``, ``ca_file``, ``client_cert_file``, ``client_key_file``,
        ``server_name_override``, ``default_timeout``, ``allow_insecure_api_key``)
        given (not None) override ``options`` (default: ``ClientOptions()``, which
        reads ``MXGATEWAY_ENDPOINT`` and ``MXGATEWAY_API_KEY``). ``endpoints``
        lists gateways to fail over to, in order (the same as a comma list in
        ``endpoint``). ``channel`` shares an open channel (for example
        ``GatewayClient.channel``), which the client then leaves open.
        """
        resolved = connect_options(options, endpoint, keywords, caller="connect")
        # Built on first use, inside the running loop: grpc.aio channels belong to their loop.
        return Connector(functools.partial(cls._build, resolved, channel))

    @classmethod
    async def _build(cls: type[ClientT], options: ClientOptions, channel: grpc.aio.Channel | None) -> ClientT:
        """The client, after starting the embedded gateway ``options`` names (stopped when it closes)."""
        if channel is not None:
            return cls(options, channel=channel)  # type: ignore[call-arg]
        local, embedded = await open_endpoint(options)
        if embedded is not None:
            _log.info("started embedded gateway %r on %s", options.endpoint, embedded.endpoint)
        _log.info(
            "connecting to %s (%s, %s)",
            local.endpoint,
            "plaintext" if local.plaintext else "TLS",
            "API key" if local.has_api_key else "no API key",
        )
        try:
            client = cls(local)
        except BaseException:
            if embedded is not None:
                await embedded.aclose()
            raise
        client._embedded = embedded
        return client

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        key = "<redacted>" if self._options.api_key else None
        return f"{type(self).__name__}(endpoint={self._options.endpoint!r}, api_key={key}, {state})"

    @property
    def options(self) -> ClientOptions:
        """The options the client was built with."""
        return self._options

    @property
    def closed(self) -> bool:
        """True once ``close()`` was called."""
        return self._closed

    async def __aenter__(self: ClientT) -> ClientT:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the client's sessions and streams, then its channel (unless shared) and any embedded gateway.

        Idempotent; after it no call of this client is pending.
        """
        if self._closed:
            return
        # Set before the first await: no call starts while the client closes.
        self._closed = True
        closing = self._closing()
        try:
            if closing:
                results = await asyncio.gather(*closing, return_exceptions=True)
                for result in results:
                    if isinstance(result, BaseException) and not isinstance(result, Exception):
                        raise result
        finally:
            # Even when closing is cancelled: a second close() returns at once,
            # so this is the only chance to release the channel.
            embedded, self._embedded = self._embedded, None
            channel = self._owned_channel()
            try:
                if channel is not None:
                    # A grace, not None: a unary call still in flight ends by itself
                    # rather than raise CancelledError into a task nobody cancelled.
                    await channel.close(_CLOSE_GRACE_S)
            finally:
                if embedded is not None:
                    await embedded.aclose()

    async def aclose(self) -> None:
        """Same as ``close()`` (for ``contextlib.aclosing`` and exit-time clean-up)."""
        await self.close()

    def _closing(self) -> list[Coroutine[Any, Any, None]]:
        """End what ends at once (streams); the closes to await on the gateway (sessions)."""
        return []

    def _owned_channel(self) -> grpc.aio.Channel | None:
        """The channel to close: the one the client created, None for a shared one."""
        return None
