"""The opt-in Prometheus endpoint: ``GET /metrics`` with the bridge's counters and gauges.

Off unless ``[metrics] enabled = true``; it listens on ``[metrics] host`` (loopback
by default) and ``port``. The HTTP server runs on its own thread and reads only a
snapshot that the bridge's loop refreshes (``update``), never the bridge's state
itself.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["MetricsServer"]

_log = logging.getLogger("mxgateway.bridge")

#: counter name -> (snapshot key, help)
_COUNTERS = {
    "changes": ("changes", "Data changes received from the gateway."),
    "published": ("published", "Messages sent to the broker (QoS 0) or acknowledged by it (QoS 1, 2)."),
    "stored": ("queued", "Messages that waited on disk (the broker or the primary host was away, or slow)."),
    "dropped": ("dropped", "Messages dropped by the store's size or age limit."),
    "broker_connects": ("broker_connects", "MQTT sessions begun (reconnects are this minus one)."),
    "births": ("births", "Sparkplug NBIRTH and DBIRTH messages published."),
    "writes": ("written", "Writes from MQTT carried out."),
    "write_errors": ("write_errors", "Writes from MQTT refused or failed."),
}
#: gauge name -> (snapshot key, help)
_GAUGES = {
    "waiting": ("waiting", "Messages waiting to be published (memory and disk)."),
    "lag_seconds": ("lag_seconds", "Age of the oldest message waiting to be published (0 when none waits)."),
    "broker_connected": ("broker_connected", "1 while the broker connection is up and publishing."),
    "gateway_connected": ("gateway_connected", "1 while the gateway's event stream is connected."),
}


class _Collector:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._snapshot: dict[str, float] = {}

    def set(self, snapshot: Mapping[str, float]) -> None:
        with self._lock:
            self._snapshot = dict(snapshot)

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        with self._lock:
            snapshot = dict(self._snapshot)
        for name, (key, doc) in _COUNTERS.items():
            yield CounterMetricFamily(f"mxgateway_bridge_{name}", doc, value=snapshot.get(key, 0))
        for name, (key, doc) in _GAUGES.items():
            yield GaugeMetricFamily(f"mxgateway_bridge_{name}", doc, value=snapshot.get(key, 0))


class MetricsServer:
    """The ``/metrics`` HTTP endpoint; ``start()`` binds it, ``close()`` stops it."""

    def __init__(self, host: str, port: int) -> None:
        self._host = host
        self._port = port
        self._collector = _Collector()
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"MetricsServer({self._host}:{self.port})"

    @property
    def port(self) -> int:
        """The port it listens on (the one chosen when ``port`` was 0)."""
        return int(self._server.server_port) if self._server is not None else self._port

    def start(self) -> None:
        """Listen; raises ``OSError`` when the address cannot be bound."""
        from prometheus_client import CollectorRegistry, start_http_server

        registry = CollectorRegistry(auto_describe=False)
        registry.register(self._collector)
        self._server, self._thread = start_http_server(self._port, self._host, registry=registry)
        _log.info("Prometheus metrics on http://%s:%s/metrics", self._host, self.port)

    def update(self, snapshot: Mapping[str, float]) -> None:
        """The values the next scrape reports."""
        self._collector.set(snapshot)

    def close(self) -> None:
        """Stop listening."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(5)
