"""The bridge's TOML configuration: parsed, checked and located.

Every mistake in the file is a ``ConfigError`` that names the file, the line and the
key (``bridge.toml:12: [broker] port: expected an integer``), so an operator can fix
it without reading code. Secrets (the broker password, the gateway API key) are read
from a file or the environment named in the config, never from the file itself, and
are held in ``Secret`` so that no repr, log line or error can show them.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    "PublishConfig",
    "Secret",
    "StoreConfig",
    "TopicsConfig",
    "WritesConfig",
    "load_config",
    "parse_config",
]


class ConfigError(ValueError):
    """A configuration file that cannot be used; the message names the line and the key."""


class Secret:
    """A secret value (password, API key) that never shows itself in a repr or str."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret itself, for the one call that needs it."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


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


@dataclass(frozen=True)
class HealthConfig:
    """The status topic (online/offline, with the last will) and how often counters go out."""

    status_topic: str = ""
    interval_s: float = 10.0


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
    source: str = "<config>"

    @property
    def status_topic(self) -> str:
        """The status topic, ``{prefix}/_bridge/{client_id}/status`` unless configured."""
        if self.health.status_topic:
            return self.health.status_topic
        return f"{self.topics.prefix}/_bridge/{self.broker.client_id}/status"

    @property
    def alarm_prefix(self) -> str:
        """The topic prefix of alarms, ``{prefix}/_alarms`` unless configured."""
        return self.alarms.prefix or f"{self.topics.prefix}/_alarms"


_TABLES = ("gateway", "broker", "publish", "topics", "store", "writes", "health", "alarms")
_TOPIC_LEVEL = re.compile(r"^[^#+]+$")


class _Reader:
    """Typed access to one parsed file, each failure located at its line."""

    def __init__(self, text: str, source: str, data: Mapping[str, Any]) -> None:
        self._lines = text.splitlines()
        self._source = source
        self._data = data
        self._used: dict[str, set[str]] = {}

    def fail(self, table: str, key: str | None, message: str) -> ConfigError:
        line = self._line_of(table, key)
        where = f"{self._source}:{line}" if line else self._source
        name = f"[{table}] {key}" if key else f"[{table}]"
        return ConfigError(f"{where}: {name}: {message}")

    def _line_of(self, table: str, key: str | None) -> int | None:
        current = ""
        header_line: int | None = None
        for number, raw in enumerate(self._lines, start=1):
            line = raw.strip()
            if line.startswith("[") and not line.startswith("[["):
                current = line.strip("[]").strip()
                if current == table:
                    header_line = number
                continue
            if key is not None and current == table and re.match(rf"^{re.escape(key)}\s*=", line):
                return number
        return header_line

    def table(self, name: str) -> Mapping[str, Any]:
        value = self._data.get(name, {})
        if not isinstance(value, Mapping):
            raise self.fail(name, None, "expected a table")
        self._used.setdefault(name, set())
        return value

    def _get(self, table: str, key: str) -> Any:
        self._used.setdefault(table, set()).add(key)
        return self.table(table).get(key)

    def string(self, table: str, key: str, default: str) -> str:
        value = self._get(table, key)
        if value is None:
            return default
        if not isinstance(value, str):
            raise self.fail(table, key, f"expected a string, got {type(value).__name__}")
        return value

    def optional_string(self, table: str, key: str) -> str | None:
        value = self.string(table, key, "")
        return value or None

    def boolean(self, table: str, key: str, default: bool) -> bool:
        value = self._get(table, key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.fail(table, key, f"expected true or false, got {type(value).__name__}")
        return value

    def optional_boolean(self, table: str, key: str) -> bool | None:
        return None if self._get(table, key) is None else self.boolean(table, key, False)

    def integer(self, table: str, key: str, default: int, low: int, high: int) -> int:
        value = self._get(table, key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(table, key, f"expected an integer, got {type(value).__name__}")
        if not low <= value <= high:
            raise self.fail(table, key, f"must be between {low} and {high}, got {value}")
        return value

    def number(self, table: str, key: str, default: float, low: float) -> float:
        value = self._get(table, key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(table, key, f"expected a number, got {type(value).__name__}")
        if not value >= low:
            raise self.fail(table, key, f"must be at least {low}, got {value}")
        return float(value)

    def strings(self, table: str, key: str) -> tuple[str, ...]:
        value = self._get(table, key)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.fail(table, key, "expected a list of non-empty strings")
        return tuple(value)

    def secret(self, table: str, key: str) -> Secret | None:
        """``{key}_env`` names an environment variable, ``{key}_file`` a file; never the value."""
        if key in self.table(table):
            raise self.fail(table, key, f"put secrets in {key}_file or {key}_env, not in the file")
        env = self.optional_string(table, f"{key}_env")
        path = self.optional_string(table, f"{key}_file")
        if env and path:
            raise self.fail(table, f"{key}_file", f"give {key}_env or {key}_file, not both")
        if env:
            value = os.environ.get(env)
            if value is None:
                raise self.fail(table, f"{key}_env", f"the environment variable {env} is not set")
            return Secret(value)
        if path:
            try:
                text = Path(path).expanduser().read_text(encoding="utf-8")
            except OSError as exc:
                reason = exc.strerror or type(exc).__name__
                raise self.fail(table, f"{key}_file", f"cannot read {path}: {reason}") from None
            return Secret(text.strip())
        return None

    def check_unknown(self) -> None:
        for name in self._data:
            if name not in _TABLES:
                raise self.fail(name, None, f"unknown table (known: {', '.join(_TABLES)})")
        for name, used in self._used.items():
            for key in self.table(name):
                if key not in used:
                    raise self.fail(name, key, "unknown key")


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
    r = _Reader(text, source, data)
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
    layout = r.string("topics", "layout", "uns")
    if layout not in ("uns", "sparkplug"):
        raise r.fail("topics", "layout", f'expected "uns" or "sparkplug", got {layout!r}')
    topics = TopicsConfig(
        layout=layout,
        prefix=r.string("topics", "prefix", "mxgateway").strip("/"),
        group_id=r.string("topics", "group_id", "mxgateway"),
        edge_node_id=r.string("topics", "edge_node_id", "bridge"),
    )
    for key in ("prefix", "group_id", "edge_node_id"):
        if not _TOPIC_LEVEL.match(getattr(topics, key)):
            raise r.fail("topics", key, "must be non-empty and contain no MQTT wildcard (+ or #)")
    store = StoreConfig(
        path=r.string("store", "path", "mxgateway-bridge.sqlite3"),
        max_messages=r.integer("store", "max_messages", 100_000, 1, 2**62),
        max_age_s=r.number("store", "max_age_s", 86_400.0, 0.001),
    )
    writes = WritesConfig(
        enabled=r.boolean("writes", "enabled", False),
        allow=r.strings("writes", "allow"),
        timeout_s=r.number("writes", "timeout_s", 10.0, 0.01),
    )
    health = HealthConfig(
        status_topic=r.string("health", "status_topic", ""),
        interval_s=r.number("health", "interval_s", 10.0, 0.05),
    )
    alarms = AlarmsConfig(
        enabled=r.boolean("alarms", "enabled", False),
        prefix=r.string("alarms", "prefix", "").strip("/"),
    )
    r.check_unknown()
    if broker.reconnect_max_s < broker.reconnect_min_s:
        raise r.fail("broker", "reconnect_max_s", "must not be below reconnect_min_s")
    if not (publish.tags or publish.globs or publish.templates or alarms.enabled):
        raise r.fail("publish", None, "nothing to publish: give tags, globs or templates")
    return BridgeConfig(gateway, broker, publish, topics, store, writes, health, alarms, source)


def load_config(path: str | Path) -> BridgeConfig:
    """Read and parse a configuration file; relative store paths stay relative to the working directory."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the configuration: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: the configuration is not UTF-8 text (byte {exc.start})") from None
    return parse_config(text, str(path))
