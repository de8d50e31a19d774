"""The bridge's TOML configuration: parsed, checked and located.

Every mistake in the file is a ``ConfigError`` that names the file, the line and the
key (``bridge.toml:12: [broker] port: expected an integer``), so an operator can fix
it without reading code. Secrets (the broker password, the gateway API key, the
passwords of secured writes) are read from a file or the environment named in the
config, never from the file itself, and are held in ``Secret`` so that no repr, log
line or error can show them.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from mxgateway.bridge.config_reader import ConfigError, Locations, Reader, Secret

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

__all__ = [
    "AlarmsConfig",
    "BridgeConfig",
    "BrokerConfig",
    "ConfigError",
    "GatewayConfig",
    "HealthConfig",
    "MetricsConfig",
    "PublishConfig",
    "Secret",
    "StoreConfig",
    "TopicsConfig",
    "WritesConfig",
    "load_config",
    "parse_config",
    "sparkplug_id_problem",
]


@dataclass(frozen=True)
class GatewayConfig:
    """Where the gateway is: an endpoint (``simulator`` runs the embedded one) and its key."""

    endpoint: str = ""
    api_key: Secret | None = None
    plaintext: bool | None = None
    ca_file: str | None = None
    session_name: str = "mxgateway-bridge"


@dataclass(frozen=True)
class BrokerConfig:
    """The MQTT broker and how to reach it."""

    host: str = "127.0.0.1"
    port: int = 1883
    client_id: str = "mxgateway-bridge"
    username: str | None = None
    password: Secret | None = None
    tls: bool = False
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    keepalive_s: int = 30
    connect_timeout_s: float = 5.0
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 10.0


@dataclass(frozen=True)
class PublishConfig:
    """What to publish: tag references, Galaxy attribute globs and templates."""

    tags: tuple[str, ...] = ()
    globs: tuple[str, ...] = ()
    templates: tuple[str, ...] = ()
    qos: int = 1
    retain: bool = True


@dataclass(frozen=True)
class TopicsConfig:
    """The topic layout: ``uns`` (JSON) or ``sparkplug`` (Sparkplug B protobuf)."""

    layout: str = "uns"
    prefix: str = "mxgateway"
    group_id: str = "mxgateway"
    edge_node_id: str = "bridge"
    #: The Sparkplug primary host application whose STATE gates births ("" for none).
    primary_host_id: str = ""


@dataclass(frozen=True)
class StoreConfig:
    """The on-disk store-and-forward queue and its limits."""

    path: str = "mxgateway-bridge.sqlite3"
    max_messages: int = 100_000
    max_age_s: float = 86_400.0


@dataclass(frozen=True)
class WritesConfig:
    """Writes from MQTT: off unless enabled, and only for tags matching ``allow``."""

    enabled: bool = False
    allow: tuple[str, ...] = ()
    timeout_s: float = 10.0
    #: The user that signs secured and verified writes (WriteSecured), and the verifier.
    user: str | None = None
    password: Secret | None = None
    verifier_user: str | None = None
    verifier_password: Secret | None = None


@dataclass(frozen=True)
class HealthConfig:
    """The status topic (online/offline, with the last will) and how often counters go out."""

    status_topic: str = ""
    interval_s: float = 10.0


@dataclass(frozen=True)
class MetricsConfig:
    """The Prometheus ``/metrics`` endpoint: off unless enabled, on loopback by default."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 9464


@dataclass(frozen=True)
class AlarmsConfig:
    """Alarms bridged under ``prefix`` once the SDK's alarm feed is available."""

    enabled: bool = False
    prefix: str = ""


@dataclass(frozen=True)
class BridgeConfig:
    """The whole configuration of one bridge."""

    gateway: GatewayConfig = field(default_factory=GatewayConfig)
    broker: BrokerConfig = field(default_factory=BrokerConfig)
    publish: PublishConfig = field(default_factory=PublishConfig)
    topics: TopicsConfig = field(default_factory=TopicsConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    writes: WritesConfig = field(default_factory=WritesConfig)
    health: HealthConfig = field(default_factory=HealthConfig)
    alarms: AlarmsConfig = field(default_factory=AlarmsConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    source: str = "<config>"
    #: Where each key is in the file, for mistakes found once the Galaxy is known.
    locations: Locations = field(default_factory=Locations, repr=False, compare=False)

    def error(self, table: str, key: str | None, message: str) -> ConfigError:
        """A ``ConfigError`` that names the file, the line and the key."""
        return self.locations.error(table, key, message)

    @property
    def status_topic(self) -> str:
        """The status topic, ``{prefix}/_bridge/{client_id}/status`` unless configured."""
        if self.health.status_topic:
            return self.health.status_topic
        return f"{self.topics.prefix}/_bridge/{self.broker.client_id}/status"

    @property
    def sparkplug(self) -> bool:
        """True for the Sparkplug B layout."""
        return self.topics.layout == "sparkplug"


_TABLES = ("gateway", "broker", "publish", "topics", "store", "writes", "health", "alarms", "metrics")


def sparkplug_id_problem(value: str) -> str | None:
    """Why ``value`` cannot be a Sparkplug group, edge node, device or host id (None: it can).

    Sparkplug ids are topic levels: non-empty UTF-8 without ``+``, ``/`` and ``#``
    (and, as MQTT forbids it in topics, without the NUL character).
    """
    if not value:
        return "must not be empty"
    bad = sorted({c for c in value if c in "+/#\x00"})
    if bad:
        shown = ", ".join("NUL" if c == "\x00" else repr(c) for c in bad)
        return f"{value!r} is not a valid Sparkplug id: it must not contain {shown}"
    return None


def _topics(r: Reader) -> TopicsConfig:
    layout = r.string("topics", "layout", "uns")
    if layout not in ("uns", "sparkplug"):
        raise r.fail("topics", "layout", f'expected "uns" or "sparkplug", got {layout!r}')
    topics = TopicsConfig(
        layout=layout,
        prefix=r.string("topics", "prefix", "mxgateway").strip("/"),
        group_id=r.string("topics", "group_id", "mxgateway"),
        edge_node_id=r.string("topics", "edge_node_id", "bridge"),
        primary_host_id=r.string("topics", "primary_host_id", ""),
    )
    if not topics.prefix or any(c in topics.prefix for c in "+#\x00"):
        raise r.fail("topics", "prefix", "must be non-empty and contain no MQTT wildcard (+ or #)")
    for key in ("group_id", "edge_node_id"):
        problem = sparkplug_id_problem(getattr(topics, key))
        if problem is not None:
            raise r.fail("topics", key, problem)
    if r.has("topics", "primary_host_id"):
        if layout != "sparkplug":
            raise r.fail("topics", "primary_host_id", 'only the "sparkplug" layout has a primary host')
        problem = sparkplug_id_problem(topics.primary_host_id)
        if problem is not None:
            raise r.fail("topics", "primary_host_id", problem)
    return topics


def _writes(r: Reader) -> WritesConfig:
    writes = WritesConfig(
        enabled=r.boolean("writes", "enabled", False),
        allow=r.strings("writes", "allow"),
        timeout_s=r.number("writes", "timeout_s", 10.0, 0.01),
        user=r.optional_string("writes", "user"),
        password=r.secret("writes", "password"),
        verifier_user=r.optional_string("writes", "verifier_user"),
        verifier_password=r.secret("writes", "verifier_password"),
    )
    for user, secret in (("user", "password"), ("verifier_user", "verifier_password")):
        if (getattr(writes, user) is None) != (getattr(writes, secret) is None):
            missing = f"{secret}_env or {secret}_file" if getattr(writes, user) else user
            raise r.fail(
                "writes", user, f"a secured-write user needs both {user} and {secret}: give {missing}"
            )
    if writes.verifier_user and not writes.user:
        raise r.fail("writes", "verifier_user", "a verifier needs a user to verify: give user too")
    if writes.enabled and not writes.allow:
        raise r.fail("writes", "allow", "writes are enabled but nothing may be written: list tag patterns")
    return writes


def parse_config(text: str, source: str = "<config>") -> BridgeConfig:
    """Parse a configuration from TOML text; ``source`` names it in errors."""
    try:
        data = tomllib.loads(text)
    except RecursionError:
        # tomllib parses nested arrays and tables recursively.
        raise ConfigError(f"{source}: nested too deeply to be a configuration") from None
    except tomllib.TOMLDecodeError as exc:
        # The decoder's message ends with "(at line N, column M)" or "(at end of document)".
        found = re.search(r"at line (\d+), column (\d+)", str(exc))
        line = found.group(1) if found else str(max(len(text.splitlines()), 1))
        where = f"{source}:{line}"
        reason = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", str(exc))
        if not found:
            reason += " (at the end of the file)"
        raise ConfigError(f"{where}: not valid TOML: {reason}") from None
    r = Reader(Locations(text, source), data, _TABLES)
    gateway = GatewayConfig(
        endpoint=r.string("gateway", "endpoint", ""),
        api_key=r.secret("gateway", "api_key"),
        plaintext=r.optional_boolean("gateway", "plaintext"),
        ca_file=r.optional_string("gateway", "ca_file"),
        session_name=r.string("gateway", "session_name", "mxgateway-bridge"),
    )
    broker = BrokerConfig(
        host=r.string("broker", "host", "127.0.0.1"),
        port=r.integer("broker", "port", 1883, 1, 65535),
        client_id=r.string("broker", "client_id", "mxgateway-bridge"),
        username=r.optional_string("broker", "username"),
        password=r.secret("broker", "password"),
        tls=r.boolean("broker", "tls", False),
        ca_file=r.optional_string("broker", "ca_file"),
        cert_file=r.optional_string("broker", "cert_file"),
        key_file=r.optional_string("broker", "key_file"),
        keepalive_s=r.integer("broker", "keepalive_s", 30, 1, 65535),
        connect_timeout_s=r.number("broker", "connect_timeout_s", 5.0, 0.1),
        reconnect_min_s=r.number("broker", "reconnect_min_s", 0.5, 0.01),
        reconnect_max_s=r.number("broker", "reconnect_max_s", 10.0, 0.01),
    )
    publish = PublishConfig(
        tags=r.strings("publish", "tags"),
        globs=r.strings("publish", "globs"),
        templates=r.strings("publish", "templates"),
        qos=r.integer("publish", "qos", 1, 0, 2),
        retain=r.boolean("publish", "retain", True),
    )
    topics = _topics(r)
    store = StoreConfig(
        path=r.string("store", "path", "mxgateway-bridge.sqlite3"),
        max_messages=r.integer("store", "max_messages", 100_000, 1, 2**62),
        max_age_s=r.number("store", "max_age_s", 86_400.0, 0.001),
    )
    writes = _writes(r)
    health = HealthConfig(
        status_topic=r.string("health", "status_topic", ""),
        interval_s=r.number("health", "interval_s", 10.0, 0.05),
    )
    alarms = AlarmsConfig(
        enabled=r.boolean("alarms", "enabled", False),
        prefix=r.string("alarms", "prefix", "").strip("/"),
    )
    metrics = MetricsConfig(
        enabled=r.boolean("metrics", "enabled", False),
        host=r.string("metrics", "host", "127.0.0.1"),
        port=r.integer("metrics", "port", 9464, 0, 65535),
    )
    r.check_unknown()
    if broker.reconnect_max_s < broker.reconnect_min_s:
        raise r.fail("broker", "reconnect_max_s", "must not be below reconnect_min_s")
    if not (publish.tags or publish.globs or publish.templates or alarms.enabled):
        raise r.fail("publish", None, "nothing to publish: give tags, globs or templates")
    if topics.layout == "sparkplug":
        for tag in publish.tags:
            problem = sparkplug_id_problem(tag.partition(".")[0])
            if problem is not None:
                raise r.fail("publish", "tags", f"{tag}: its object is a Sparkplug device id: {problem}")
    return BridgeConfig(
        gateway, broker, publish, topics, store, writes, health, alarms, metrics, source, r.locations
    )


def load_config(path: str | Path) -> BridgeConfig:
    """Read and parse a configuration file; relative store paths stay relative to the working directory."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the configuration: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: the configuration is not UTF-8 text (byte {exc.start})") from None
    return parse_config(text, str(path))
