"""Endpoint names that stand for an embedded gateway instead of a network address.

``Client(endpoint="simulator")`` starts the embedded simulator in the background
and connects to it; ``"simulator:plant.json"`` serves the Galaxy in that file.
Providers are found through the ``mxgateway.embedded_gateways`` entry-point group,
so the core never imports the simulator itself: the simulator package registers
itself there, and other packages may add their own names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from importlib import metadata

    from mxgateway.options import ClientOptions

__all__ = [
    "ENTRY_POINT_GROUP",
    "EmbeddedGateway",
    "embedded_gateway_name",
    "open_endpoint",
    "start_embedded_gateway",
]

ENTRY_POINT_GROUP = "mxgateway.embedded_gateways"


class EmbeddedGateway(Protocol):
    """A gateway running inside this process, on the caller's event loop."""

    @property
    def endpoint(self) -> str:
        """The ``host:port`` it listens on."""
        ...

    async def aclose(self) -> None:
        """Stop serving."""
        ...


def _providers() -> dict[str, metadata.EntryPoint]:
    # Imported here: importlib.metadata and the scan of every installed
    # distribution cost more than the rest of a client's import, and only a
    # name that is not an address ever needs them.
    from importlib import metadata

    return {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}


def embedded_gateway_name(endpoint: str) -> tuple[str, str] | None:
    """Split ``name[:argument]`` when ``name`` is a registered embedded gateway, else None."""
    if not endpoint or "/" in endpoint.split(":", 1)[0]:
        return None
    name, _, argument = endpoint.partition(":")
    # "localhost:5000" must stay an address: a numeric port rules a name out
    # before any entry point is looked at, and otherwise only registered names count.
    if argument.isdigit() or name.startswith("["):
        return None
    if name in _providers():
        return name, argument
    return None


async def start_embedded_gateway(name: str, argument: str = "") -> EmbeddedGateway:
    """Start the embedded gateway registered as ``name`` on the running loop."""
    provider = _providers().get(name)
    if provider is None:
        known = ", ".join(sorted(_providers())) or "none installed"
        raise ValueError(f"no embedded gateway named {name!r} (known: {known})")
    start = provider.load()
    gateway: EmbeddedGateway = await start(argument)
    return gateway


async def open_endpoint(options: ClientOptions) -> tuple[ClientOptions, EmbeddedGateway | None]:
    """The options to connect with: for an embedded gateway name, start it and point at it.

    An embedded gateway listens on loopback without TLS or keys, so those settings
    are dropped for it; any other endpoint is returned unchanged.
    """
    named = embedded_gateway_name(options.endpoint)
    if named is None:
        return options, None
    gateway = await start_embedded_gateway(*named)
    local = options.replace(
        endpoint=gateway.endpoint,
        plaintext=True,
        api_key="",
        ca_file=None,
        client_cert_file=None,
        client_key_file=None,
        server_name_override=None,
    )
    return local, gateway
