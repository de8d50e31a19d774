"""Embedded gateways (the simulator) for blocking code, run on the facade's loop thread.

``start_embedded_gateway("simulator")`` starts one that several facade clients
can share (``endpoint`` is where it listens); ``close()`` stops it.
"""

from __future__ import annotations

from mxgateway._transport import endpoints
from mxgateway_sync import _runtime

__all__ = ["EmbeddedGateway", "start_embedded_gateway"]


class EmbeddedGateway:
    """A gateway running on the facade's loop thread."""

    def __init__(self, gateway: endpoints.EmbeddedGateway) -> None:
        self._gateway = gateway

    def __repr__(self) -> str:
        return f"EmbeddedGateway(endpoint={self.endpoint!r})"

    @property
    def endpoint(self) -> str:
        """The ``host:port`` it listens on."""
        return self._gateway.endpoint

    def close(self) -> None:
        """Stop serving."""
        _runtime.run(self._gateway.aclose())


def start_embedded_gateway(name: str, argument: str = "") -> EmbeddedGateway:
    """Start the embedded gateway registered as ``name`` (``simulator``) on the facade's loop.

    Raises ``ValueError`` for an unknown name, ``OSError`` for an unreadable argument file.
    """
    return EmbeddedGateway(_runtime.call(endpoints.start_embedded_gateway, name, argument))
