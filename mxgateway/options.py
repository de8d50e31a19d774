"""How to reach a gateway: endpoint, credentials, TLS, deadlines and channel tuning.

``ClientOptions`` is shared by every client of the package (the MXAccess gateway
client and the Galaxy Repository client). Values not given explicitly come from the
environment: ``MXGATEWAY_ENDPOINT`` and ``MXGATEWAY_API_KEY``.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypedDict

from mxgateway._retry import ReconnectPolicy

if TYPE_CHECKING:
    from mxgateway.errors import MxGatewayArgumentError

__all__ = [
    "DEFAULT_ENDPOINT",
    "ENV_API_KEY",
    "ENV_ENDPOINT",
    "MAX_TIMEOUT_S",
    "USE_CLIENT_DEFAULT",
    "ClientOptions",
    "ConnectKeywords",
    "Timeout",
    "UseClientDefault",
    "endpoint_host",
    "connect_options",
    "is_loopback_endpoint",
    "join_endpoints",
    "resolve_options",
    "split_endpoints",
]

ENV_ENDPOINT = "MXGATEWAY_ENDPOINT"
ENV_API_KEY = "MXGATEWAY_API_KEY"
DEFAULT_ENDPOINT = "localhost:5000"
#: The longest deadline a call takes (a year): gRPC turns one past about 2**33
#: seconds from now into an immediate DEADLINE_EXCEEDED; None means no deadline.
MAX_TIMEOUT_S = 365 * 24 * 3600
#: gRPC's keepalive settings travel as an int32 of milliseconds.
_MAX_KEEPALIVE_S = (2**31 - 1) / 1000
#: Far above any real key, far below the 16 KiB of headers gRPC accepts.
_MAX_API_KEY_LENGTH = 8192

#: gRPC target schemes whose remainder is an address list (``dns:///host:port``).
_SCHEMES = ("dns:///", "dns:", "ipv4:", "ipv6:")
#: gRPC target schemes of Unix domain sockets, which the kernel never carries off the machine.
_UNIX_SCHEMES = ("unix:", "unix-abstract:")
#: gRPC target schemes that are not host:port lists (no comma list, no port check).
_OPAQUE_SCHEMES = (*_UNIX_SCHEMES, "vsock:")

ChannelOptionValue = str | int


class UseClientDefault:
    """The type of ``USE_CLIENT_DEFAULT``: "the deadline ``ClientOptions.default_timeout`` gives"."""

    _instance: UseClientDefault | None = None

    def __new__(cls) -> UseClientDefault:
        """The one instance (so ``is`` comparisons hold after copying or pickling)."""
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "USE_CLIENT_DEFAULT"

    def __reduce__(self) -> str:
        return "USE_CLIENT_DEFAULT"


#: A call's ``timeout`` by default: the client's ``default_timeout``. A number is the
#: call's own deadline in seconds; None means no deadline.
USE_CLIENT_DEFAULT = UseClientDefault()
#: What every ``timeout`` parameter takes.
Timeout = float | None | UseClientDefault


@dataclass(frozen=True)
class ClientOptions:
    """Connection settings for a gateway client.

    ``endpoint`` is a gRPC target (``host:port``); empty means ``MXGATEWAY_ENDPOINT``
    or ``localhost:5000``. A comma list (``primary:5001,backup:5001``) names
    gateways to fail over to, in order, when the current one stays unreachable
    (``reconnect.endpoint_attempts``); there is no automatic fail-back. ``api_key`` of None means ``MXGATEWAY_API_KEY`` (unset:
    no key); an empty string means "no key" without looking at the environment.
    The key travels as ``authorization: Bearer <key>`` and never appears in a repr.

    Transport: ``plaintext`` None (the default) means plaintext for a loopback
    endpoint without TLS settings and TLS otherwise; ``plaintext=True`` forces an
    unencrypted channel, ``False`` forces TLS verified
    against the system roots or ``ca_file``, with an optional client certificate
    (``client_cert_file`` and ``client_key_file``) and ``server_name_override``
    (the name the server certificate is checked against). A key is never sent in
    plaintext to a host other than loopback unless ``allow_insecure_api_key``.

    ``default_timeout`` (seconds, at most ``MAX_TIMEOUT_S``, a year) is the
    deadline of every unary call that does not pass its own; None disables it. Event streams never get a deadline.
    ``keepalive_time_s`` is the interval of HTTP/2 keepalive pings, sent only while
    a call (such as a session's event stream) is open, so that a half-open
    connection is noticed (None turns them off; the gateway must permit the
    interval); ``channel_options`` are extra gRPC channel arguments, applied last.
    ``read_retries`` is how often an idempotent read is retried on a transient
    failure (writes are never retried).

    Events: ``reconnect`` says how a session's event stream (and the alarm feed)
    reconnects after a transport failure and how long it resumes before the
    session counts as lost; ``recover_sessions`` lets the tag-level API (``read``,
    ``subscribe``, ``write_tag``, ``write_and_confirm``) open a new session when
    the old one is gone. ``event_queue_size`` bounds each event consumer's queue
    and ``event_backlog_size`` the events kept for the next ``events()`` call.
    """

    endpoint: str = ""
    api_key: str | None = field(default=None, repr=False)
    plaintext: bool | None = None
    ca_file: str | os.PathLike[str] | None = None
    client_cert_file: str | os.PathLike[str] | None = None
    client_key_file: str | os.PathLike[str] | None = None
    server_name_override: str | None = None
    default_timeout: float | None = 30.0
    keepalive_time_s: float | None = 60.0
    keepalive_timeout_s: float = 20.0
    keepalive_permit_without_calls: bool = False
    max_receive_message_bytes: int = 64 * 1024 * 1024
    channel_options: tuple[tuple[str, ChannelOptionValue], ...] = ()
    allow_insecure_api_key: bool = False
    read_retries: int = 2
    reconnect: ReconnectPolicy = field(default_factory=ReconnectPolicy)
    recover_sessions: bool = True
    event_queue_size: int = 32_768
    event_backlog_size: int = 32_768
    #: Where ``endpoint`` and ``api_key`` came from (``"argument"``, ``"environment"``,
    #: ``"default"``), for errors that tell what to check; the CLI names its flags here.
    endpoint_source: str = field(default="", compare=False)
    api_key_source: str = field(default="", compare=False)
    #: True when ``plaintext`` was derived from the endpoint (so ``replace`` derives it again).
    _plaintext_derived: bool = field(default=False, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._check_types()
        if not self.endpoint:
            from_env = os.environ.get(ENV_ENDPOINT)
            object.__setattr__(self, "endpoint", from_env or DEFAULT_ENDPOINT)
            object.__setattr__(self, "endpoint_source", ENV_ENDPOINT if from_env else "default")
        elif not self.endpoint_source:
            object.__setattr__(self, "endpoint_source", "argument")
        for endpoint in split_endpoints(self.endpoint):  # an error now, not at connect time
            _check_port(endpoint)
        if self.api_key is None:
            from_env = os.environ.get(ENV_API_KEY)
            object.__setattr__(self, "api_key", from_env or None)
            object.__setattr__(self, "api_key_source", ENV_API_KEY if from_env else "")
        elif self.api_key == "":
            object.__setattr__(self, "api_key", None)
            object.__setattr__(self, "api_key_source", "")
        elif not self.api_key_source:
            object.__setattr__(self, "api_key_source", "argument")
        if self.api_key is not None and any(c in self.api_key for c in "\r\n"):
            raise ValueError("api_key must not contain line breaks")
        if (self.client_cert_file is None) != (self.client_key_file is None):
            raise ValueError("client_cert_file and client_key_file go together")
        object.__setattr__(self, "_plaintext_derived", self.plaintext is None)
        if self.plaintext is None:
            # Loopback needs no TLS (a local gateway or the simulator); anything else,
            # or any TLS setting given, gets TLS.
            wants_tls = (
                self.ca_file is not None or self.client_cert_file is not None or self.server_name_override
            )
            object.__setattr__(self, "plaintext", not wants_tls and is_loopback_endpoint(self.endpoint))
        if self.plaintext and (
            self.ca_file is not None or self.client_cert_file is not None or self.server_name_override
        ):
            raise ValueError("ca_file, client certificates and server_name_override need TLS, not plaintext")
        object.__setattr__(self, "channel_options", tuple(tuple(o) for o in self.channel_options))

    def _check_types(self) -> None:
        """Every field of the right type and range: a typed error naming it, before any use."""
        from mxgateway.errors import MxGatewayArgumentError

        def fail(name: str, expected: str) -> MxGatewayArgumentError:
            shown = "<redacted>" if name == "api_key" else repr(getattr(self, name))
            return MxGatewayArgumentError(
                f"ClientOptions.{name} must be {expected}, not {shown}", argument=name
            )

        def seconds(name: str, value: object, optional: bool, high: float = MAX_TIMEOUT_S) -> None:
            if value is None and optional:
                return
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise fail(name, "a number of seconds" + (" or None" if optional else ""))
            if isinstance(value, float) and not math.isfinite(value):
                raise fail(name, "a finite number of seconds" + (" or None" if optional else ""))
            if not 0 < value <= high:
                raise fail(
                    name, f"more than 0 and at most {high:g} seconds" + (" or None" if optional else "")
                )

        for name in ("endpoint",):
            if not isinstance(getattr(self, name), str):
                raise fail(name, "a host:port string")
        if self.api_key is not None and not isinstance(self.api_key, str):
            raise fail("api_key", "a string or None")
        if isinstance(self.api_key, str) and not (self.api_key.isascii() and self.api_key.isprintable()):
            # It travels as an HTTP/2 header, which carries printable ASCII only.
            raise fail("api_key", "printable ASCII (it is sent as an HTTP header)")
        if isinstance(self.api_key, str) and len(self.api_key) > _MAX_API_KEY_LENGTH:
            # gRPC refuses a request whose headers pass 16 KiB; say so before sending it.
            raise fail("api_key", f"at most {_MAX_API_KEY_LENGTH} characters (it is sent as an HTTP header)")
        for name in ("plaintext",):
            value = getattr(self, name)
            if value is not None and not isinstance(value, bool):
                raise fail(name, "True, False or None")
        for name in ("allow_insecure_api_key", "keepalive_permit_without_calls", "recover_sessions"):
            if not isinstance(getattr(self, name), bool):
                raise fail(name, "True or False")
        for name in ("ca_file", "client_cert_file", "client_key_file"):
            value = getattr(self, name)
            if value is None or isinstance(value, str):
                continue
            if not isinstance(value, os.PathLike):
                raise fail(name, "a path or None")
        if self.server_name_override is not None and not isinstance(self.server_name_override, str):
            raise fail("server_name_override", "a string or None")
        seconds("default_timeout", self.default_timeout, optional=True)
        seconds("keepalive_time_s", self.keepalive_time_s, optional=True, high=_MAX_KEEPALIVE_S)
        seconds("keepalive_timeout_s", self.keepalive_timeout_s, optional=False, high=_MAX_KEEPALIVE_S)
        for name, low in (("read_retries", 0), ("max_receive_message_bytes", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise fail(name, f"an int of at least {low}")
        if not isinstance(self.reconnect, ReconnectPolicy):
            raise fail("reconnect", "a ReconnectPolicy")
        for name in ("event_queue_size", "event_backlog_size"):
            size = getattr(self, name)
            if isinstance(size, bool) or not isinstance(size, int) or size < 1:
                raise fail(name, "a positive int")
        options = self.channel_options
        if not isinstance(options, (tuple, list)) or not all(
            isinstance(o, (tuple, list))
            and len(o) == 2
            and isinstance(o[0], str)
            and isinstance(o[1], (str, int))
            for o in options
        ):
            raise fail("channel_options", "(name, value) pairs")

    def __repr__(self) -> str:
        shown = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in ("endpoint_source", "api_key_source") or f.name.startswith("_"):
                continue
            if f.name == "api_key":
                shown.append(f"api_key={'<redacted>' if value else None}")
            elif value != f.default or f.name in ("endpoint", "plaintext"):
                shown.append(f"{f.name}={value!r}")
        return f"ClientOptions({', '.join(shown)})"

    __str__ = __repr__

    def replace(self, **changes: object) -> ClientOptions:
        """A copy with some fields changed (the key is kept unless ``api_key`` is given).

        A ``plaintext`` that was derived from the endpoint is derived again for the
        copy's endpoint: a remote host never inherits loopback's plaintext.
        """
        # A changed endpoint or key has a new origin unless the caller names one.
        if "endpoint" in changes:
            changes.setdefault("endpoint_source", "")
        if "api_key" in changes:
            changes.setdefault("api_key_source", "")
        if self._plaintext_derived:
            changes.setdefault("plaintext", None)
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    @property
    def has_api_key(self) -> bool:
        """True when a key will be sent."""
        return bool(self.api_key)

    @property
    def endpoints(self) -> tuple[str, ...]:
        """Every gateway to try, in order (``endpoint`` split at its commas)."""
        return split_endpoints(self.endpoint)

    @property
    def is_loopback(self) -> bool:
        """True when the endpoint names this machine (loopback address, localhost, unix socket)."""
        return is_loopback_endpoint(self.endpoint)

    def check_key_transport(self) -> None:
        """Raise ``ValueError`` if the key would travel in plaintext off this machine."""
        if self.api_key and self.plaintext and not self.allow_insecure_api_key and not self.is_loopback:
            raise ValueError(
                f"refusing to send the API key in plaintext to {endpoint_host(self.endpoint)!r}: "
                "use TLS, or pass allow_insecure_api_key=True"
            )


class ConnectKeywords(TypedDict, total=False):
    """The connection keywords of ``connect()`` and ``Client()``: each given (not None) overrides ``options``.

    ``endpoints`` lists gateways to fail over to after ``endpoint``, in order (the
    same as a comma list in ``endpoint``); the others are the ``ClientOptions``
    fields of the same names.
    """

    endpoints: Sequence[str] | None
    api_key: str | None
    plaintext: bool | None
    ca_file: str | os.PathLike[str] | None
    client_cert_file: str | os.PathLike[str] | None
    client_key_file: str | os.PathLike[str] | None
    server_name_override: str | None
    default_timeout: float | None
    allow_insecure_api_key: bool | None


def connect_options(
    options: ClientOptions | None, endpoint: str, keywords: ConnectKeywords, *, caller: str
) -> ClientOptions:
    """``options`` (default: ``ClientOptions()``) with ``endpoint`` and the connection keywords applied.

    A keyword ``ConnectKeywords`` does not name is a ``TypeError``, as for any
    function that ``caller`` names.
    """
    unknown = sorted(keywords.keys() - ConnectKeywords.__annotations__.keys())
    if unknown:
        raise TypeError(f"{caller}() got an unexpected keyword argument {unknown[0]!r}")
    overrides = {name: value for name, value in keywords.items() if name != "endpoints"}
    return resolve_options(options, endpoint=join_endpoints(endpoint, keywords.get("endpoints")), **overrides)


def resolve_options(base: ClientOptions | None, **overrides: object) -> ClientOptions:
    """``base`` (default: ``ClientOptions()``) with every override that is not None applied.

    The clients' ``connect(...)`` keywords default to None, meaning "as in ``base``";
    an empty ``endpoint`` also means that.
    """
    given = {name: value for name, value in overrides.items() if value is not None}
    if given.get("endpoint") == "":
        del given["endpoint"]
    if base is None:
        return ClientOptions(**given)  # type: ignore[arg-type]
    return base.replace(**given) if given else base


def join_endpoints(endpoint: str, endpoints: Sequence[str] | None) -> str:
    """``endpoint`` followed by ``endpoints``, as one comma list (what ``connect()`` takes)."""
    if endpoints is None:
        return endpoint
    if isinstance(endpoints, str):
        raise ValueError("endpoints must be a list of host:port strings, not one string")
    parts = [endpoint] if endpoint else []
    parts += [str(e).strip() for e in endpoints]
    if not parts or not all(parts):
        raise ValueError("endpoints must name at least one gateway and no empty one")
    return ",".join(parts)


def _check_port(endpoint: str) -> None:
    if endpoint.startswith(_OPAQUE_SCHEMES) or endpoint.startswith(_SCHEMES):
        return  # a gRPC target with a scheme is gRPC's to parse
    host = endpoint_host(endpoint)
    rest = endpoint[len(host) :].lstrip("]") if endpoint.startswith("[") else endpoint[len(host) :]
    if not rest.startswith(":"):
        return
    port = rest[1:]
    if not port.isdigit():
        return  # not a number at all: an embedded gateway's argument ("simulator:plant.json")
    if not (port.isascii() and 0 < int(port) <= 65535):
        from mxgateway.errors import MxGatewayArgumentError

        raise MxGatewayArgumentError(
            f"ClientOptions.endpoint {endpoint!r} has no valid port (1 to 65535)", argument="endpoint"
        )


def split_endpoints(endpoint: str) -> tuple[str, ...]:
    """The gateways a comma list names; a gRPC target with a scheme is one endpoint."""
    if "," not in endpoint or endpoint.startswith(_SCHEMES + _OPAQUE_SCHEMES):
        return (endpoint,)
    parts = tuple(part.strip() for part in endpoint.split(","))
    if not all(parts):
        raise ValueError(f"endpoint {endpoint!r} has an empty entry in its comma list")
    return parts


def endpoint_host(endpoint: str) -> str:
    """The host part of a gRPC target (``[::1]:5000`` gives ``::1``)."""
    target = endpoint
    for scheme in _SCHEMES:
        if target.startswith(scheme):
            target = target[len(scheme) :]
            break
    target = target.split(",", 1)[0]
    if target.startswith("//"):  # dns://authority/host:port
        target = target[2:].split("/", 1)[-1]
    if target.startswith("["):
        return target[1:].split("]", 1)[0]
    if target.count(":") > 1:  # a bare IPv6 address without a port
        return target
    return target.rsplit(":", 1)[0] if ":" in target else target


def is_loopback_endpoint(endpoint: str) -> bool:
    """True when every address the gRPC target names is this machine's, by its text alone.

    That is a literal loopback address (``127.0.0.0/8``, ``::1``; also after
    ``ipv4:`` / ``ipv6:``), the name ``localhost`` itself (also as ``dns:localhost``
    or ``dns:///localhost``), or a Unix domain socket (``unix:``, ``unix-abstract:``),
    which the kernel never carries off the machine. Nothing else: not a name under
    ``localhost`` (``evil.localhost``), not a ``dns:`` target with an authority
    (``dns://8.8.8.8/localhost:5000``: that DNS server says where the name points),
    not ``vsock:`` (another virtual machine). A comma list counts only when every
    entry does. The rule decides where plaintext is the default and where an API key
    may travel in plaintext.
    """
    if endpoint.startswith(_UNIX_SCHEMES):
        return True
    if endpoint.startswith("dns:"):
        target = endpoint[len("dns:") :]
        if target.startswith("//"):
            authority, _, target = target[2:].partition("/")
            if authority:
                return False
        return "," not in target and _is_loopback_host(target, names=True)
    for scheme in ("ipv4:", "ipv6:"):
        if endpoint.startswith(scheme):
            return all(_is_loopback_host(part, names=False) for part in endpoint[len(scheme) :].split(","))
    if endpoint.startswith(_OPAQUE_SCHEMES):  # vsock: leaves this machine for another one
        return False
    parts = [part.strip() for part in endpoint.split(",")] if "," in endpoint else [endpoint]
    return all(_is_loopback_host(part, names=True) for part in parts)


def _is_octet(text: str) -> bool:
    # As ipaddress reads an IPv4 octet: 1-3 ASCII digits, no leading zero, at most 255.
    return (
        text.isascii()
        and text.isdigit()
        and len(text) <= 3
        and (text == "0" or text[0] != "0")
        and int(text) <= 255
    )


def _is_loopback_host(address: str, *, names: bool) -> bool:
    """``host[:port]`` names loopback: a loopback address, or (``names``) exactly ``localhost``."""
    host = endpoint_host(address)
    if names and host.lower() == "localhost":
        return True
    octets = host.split(".")
    if len(octets) == 4 and all(_is_octet(octet) for octet in octets):
        return octets[0] == "127"  # what ipaddress answers, without importing it
    if ":" not in host:
        return False  # a name (or a malformed address): only DNS knows where it points
    import ipaddress  # here: most scripts never need it before connecting

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
