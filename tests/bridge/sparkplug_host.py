"""What a Sparkplug host application sees: every message decoded by pysparkplug, not by the bridge's code.

pysparkplug ships its own ``sparkplug_b.proto`` under the same protobuf file and
package name as the bridge's generated module, so it is loaded into a descriptor pool
of its own; its payload classes then decode the bridge's bytes independently of
``mxgateway.generated``. Data messages are decoded against their birth (names and
types of aliases), as a host does, so a metric whose type changed, or a DDATA for a
device without a birth, fails here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from google.protobuf import descriptor_pool

from .conftest import Received, Recorder


def _load_pysparkplug() -> Any:
    pool = descriptor_pool.DescriptorPool()
    default = descriptor_pool.Default
    descriptor_pool.Default = lambda: pool  # type: ignore[assignment]
    try:
        return pytest.importorskip("pysparkplug", reason="pysparkplug (./dev installs it) is not installed")
    finally:
        descriptor_pool.Default = default  # type: ignore[assignment]


psp = _load_pysparkplug()
PB = psp._protobuf  # pysparkplug's own protobuf classes (for properties, which its Metric omits)


@dataclass(frozen=True)
class Seen:
    """One decoded Sparkplug message."""

    kind: str
    topic: str
    device: str | None
    payload: Any
    raw: Received


class Host:
    """Decodes every message of an edge node, in order, keeping each device's birth."""

    def __init__(self, group: str, node: str) -> None:
        self.group = group
        self.node = node
        self.births: dict[str | None, Any] = {}

    def decode(self, received: Received) -> Seen | None:
        parts = received.topic.split("/")
        if parts[0] != "spBv1.0" or parts[1] == "STATE" or parts[2] in ("NCMD", "DCMD"):
            return None  # a host's own messages, not the edge node's
        kind = parts[2]
        device = parts[4] if len(parts) > 4 else None
        classes = {
            "NBIRTH": psp.NBirth,
            "DBIRTH": psp.DBirth,
            "NDATA": psp.NData,
            "DDATA": psp.DData,
            "NDEATH": psp.NDeath,
            "DDEATH": psp.DDeath,
        }
        cls = classes[kind]
        if kind in ("NBIRTH", "DBIRTH"):
            payload = cls.decode(received.payload)
            self.births[device] = payload
        elif kind in ("NDATA", "DDATA"):
            payload = cls.decode(received.payload, birth=self.births[device])
        else:
            payload = cls.decode(received.payload)
        return Seen(kind, received.topic, device, payload, received)

    def all(self, recorder: Recorder) -> list[Seen]:
        self.births = {}
        out = []
        for received in list(recorder.received):
            seen = self.decode(received)
            if seen is not None:
                out.append(seen)
        return out


def data_metrics(seen: list[Seen]) -> int:
    """How many metric values the DDATA messages carried (one DDATA may carry several)."""
    return sum(len(s.payload.metrics) for s in seen if s.kind == "DDATA")


def properties(raw: bytes, alias_or_name: int | str) -> dict[str, int]:
    """The property set of one metric, as pysparkplug's protobuf reads it."""
    payload = PB.Payload.FromString(raw)
    for metric in payload.metrics:
        if alias_or_name in (metric.alias, metric.name):
            return {
                k: v.int_value for k, v in zip(metric.properties.keys, metric.properties.values, strict=True)
            }
    raise KeyError(alias_or_name)


def state(online: bool, timestamp: int) -> bytes:
    """A Sparkplug 3.0 STATE payload, encoded by pysparkplug."""
    encoded: bytes = psp.State(timestamp=timestamp, online=online).encode()
    json.loads(encoded)  # it is JSON
    return encoded
