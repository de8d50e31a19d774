"""Endpoint names that stand for an embedded gateway instead of a network address.

``Client(endpoint="simulator")`` starts the embedded simulator in the background
and connects to it; ``"simulator:plant.json"`` serves the Galaxy in that file.
Providers are found through the ``mxgateway.embedded_gateways`` entry-point group,
so the core never imports the simulator itself: the simulator package registers
itself there, and other packages may add their own names.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Protocol

from mxgateway.options import ENV_ENDPOINT

if TYPE_CHECKING:
    from importlib import metadata

    from mxgateway.options import ClientOptions

__all__ = [
    "ENTRY_POINT_GROUP",
    "ENVIRONMENT_NOTICE",
    "EmbeddedGateway",
    "OncePerProcess",
    "embedded_gateway_name",
    "environment_notice",
    "open_endpoint",
    "start_embedded_gateway",
]

ENTRY_POINT_GROUP = "mxgateway.embedded_gateways"

_log = logging.getLogger("mxgateway.connect")


class OncePerProcess:
    """A flag that says yes once: the first ``first()`` is True, every later one False."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done = False

    def first(self) -> bool:
        """True the first time only (whichever thread asks first)."""
        with self._lock:
            done, self._done = self._done, True
        return not done


#: Whether this process has said that MXGATEWAY_ENDPOINT named an embedded gateway.
ENVIRONMENT_NOTICE = OncePerProcess()


def environment_notice(endpoint: str) -> str | None:
    """The warning for an embedded gateway that ``MXGATEWAY_ENDPOINT`` named; None after the first time.

    A variable left over in a shell or a service's unit silently turns a plant
    client into a demo: every write "succeeds", against nothing real. Said once
    per process; naming the gateway explicitly (``endpoint="simulator"``,
    ``--simulator``) means it and says nothing.
    """
    if not ENVIRONMENT_NOTICE.first():
        return None
    return (
        f"{ENV_ENDPOINT}={endpoint!r} runs an embedded gateway inside this process, not a plant's gateway: "
        "its values are simulated and writes succeed against nothing real; set "
        f"{ENV_ENDPOINT} to your gateway's host:port, or name {endpoint!r} as the endpoint to mean it"
    )


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
    if options.endpoint_source == ENV_ENDPOINT:
        notice = environment_notice(options.endpoint)
        if notice is not None:
            _log.warning(notice)
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
