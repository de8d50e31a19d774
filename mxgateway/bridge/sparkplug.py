"""The Sparkplug B layout: one edge node (the bridge), one device per Galaxy object.

Topics are ``spBv1.0/{group_id}/{NBIRTH|NDATA|NDEATH|NCMD}/{edge_node_id}`` and
``spBv1.0/{group_id}/{DBIRTH|DDATA|DDEATH|DCMD}/{edge_node_id}/{object}``; payloads
are the Sparkplug B protobuf. This module keeps the node's model (each metric's
alias, type fixed at birth and current value; each device alive or dead) and
builds the messages; ``SparkplugSession`` numbers them when they are sent.

Payloads leave here without ``timestamp`` and ``seq``: both are stamped when a
message is actually sent (protobuf takes fields in any order, so they are appended
to the encoded bytes). A device dies (DDEATH) when every one of its metrics has bad
quality, and with all devices when the gateway session is lost; it is born again
(DBIRTH with current values) when data comes back.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from mxgateway import DataChange, DataType, ReadResult
from mxgateway.bridge.sparkplug_types import (
    MetricKind,
    encoded_value,
    kind_of_value,
    metric_kind,
    millis,
    set_value,
    varint,
)
from mxgateway.bridge.topics import Message, TagInfo
from mxgateway.generated import sparkplug_b_pb2 as spb

__all__ = ["NAMESPACE", "REBIRTH", "SparkplugLayout", "historical", "message_type", "stamped"]

NAMESPACE = "spBv1.0"
REBIRTH = "Node Control/Rebirth"
#: Sparkplug's quality codes (the metric property ``Quality``, an Int32).
_GOOD, _BAD = 192, 0


def message_type(topic: str) -> str:
    """``DDATA`` for ``spBv1.0/G/DDATA/E/D`` (empty for another topic)."""
    parts = topic.split("/", 3)
    return parts[2] if len(parts) > 2 and parts[0] == NAMESPACE else ""


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(eq=False)
class _Metric:
    """One metric: where it is, its type (fixed at birth) and its current value."""

    info: TagInfo
    device: _Device
    alias: int
    kind: MetricKind | None
    value: Any = None
    stamp_ms: int = 0
    quality: int = _GOOD
    seen: bool = False
    #: A value arrived since the gateway session was last lost.
    fresh: bool = False
    #: The metric's alias, encoded (field 2), the start of every DDATA metric.
    head: bytes = b""

    @property
    def bad(self) -> bool:
        return self.seen and self.quality & 0xC0 not in (0xC0, 0x40)


@dataclass(eq=False)
class _Device:
    id: str
    metrics: list[_Metric] = field(default_factory=list)
    alive: bool = True
    bad: int = 0


class SparkplugLayout:
    """The node's metrics and devices, and the Sparkplug messages about them."""

    kind = "sparkplug"

    def __init__(self, group_id: str, edge_node_id: str, tags: Sequence[TagInfo]) -> None:
        self._group = group_id
        self._node = edge_node_id
        self._devices: dict[str, _Device] = {}
        self._by_tag: dict[str, _Metric] = {}
        for alias, info in enumerate(tags, 1):
            device = self._devices.get(info.object)
            if device is None:
                device = self._devices[info.object] = _Device(info.object)
            kind = metric_kind(info.mx_data_type, info.is_array) if info.mx_data_type is not None else None
            metric = _Metric(info, device, alias, kind, head=b"\x10" + varint(alias))
            device.metrics.append(metric)
            self._by_tag[info.tag] = metric
        #: Node metrics come after the device metrics' aliases (Rebirth has none).
        self._node_alias = len(tags) + 1
        self._topics = {
            (kind, d): self._topic(kind, d) for d in self._devices for kind in ("DDATA", "DBIRTH")
        }
        #: Set while every metric has a value (since the start, or since the gateway session was lost).
        self.complete = asyncio.Event()
        self._unfresh = len(self._by_tag)
        if not self._unfresh:
            self.complete.set()
        self._gateway_up = True
        #: Until ``start()`` values only fill the model: the first births will carry them.
        self._started = False
        self.dropped = 0

    def _topic(self, kind: str, device: str | None = None) -> str:
        base = f"{NAMESPACE}/{self._group}/{kind}/{self._node}"
        return f"{base}/{device}" if device else base

    def __repr__(self) -> str:
        return f"SparkplugLayout({self._group}/{self._node}, {len(self._devices)} devices)"

    # ------------------------------------------------------------------ topics

    @property
    def ncmd_topic(self) -> str:
        """Where host applications send node commands (Rebirth)."""
        return self._topic("NCMD")

    @property
    def dcmd_filter(self) -> str:
        """The subscription for every device's commands."""
        return self._topic("DCMD") + "/+"

    def device_of_command(self, topic: str) -> str | None:
        """The device a DCMD topic names (None for another topic)."""
        prefix = self._topic("DCMD") + "/"
        return topic[len(prefix) :] if topic.startswith(prefix) else None

    @property
    def devices(self) -> list[str]:
        """The device ids, in the order of their births."""
        return list(self._devices)

    def tag_of(self, device: str, metric: spb.Payload.Metric) -> tuple[str, MetricKind] | None:
        """The tag and type a command metric names, by name or alias (None when it names none)."""
        dev = self._devices.get(device)
        if dev is None:
            return None
        for m in dev.metrics:
            if (metric.HasField("alias") and m.alias == metric.alias) or (
                metric.name and m.info.attribute == metric.name
            ):
                return m.info.tag, self._kind(m)
        return None

    # ------------------------------------------------------------------ values

    def _kind(self, m: _Metric) -> MetricKind:
        kind = m.kind
        if kind is None:
            # A tag the Galaxy did not describe and that had no value at its birth: text, for good.
            kind = m.kind = kind_of_value(None, DataType.UNSPECIFIED)
        return kind

    def start(self) -> None:
        """From now on changes become messages (before, they only fill the values of the first births)."""
        self._started = True

    @property
    def missing(self) -> list[str]:
        """Tags without a value yet (since the start, or since the gateway session was lost)."""
        return [tag for tag, m in self._by_tag.items() if not m.fresh]

    def note_reads(self, results: Iterable[ReadResult]) -> None:
        """Values read from the gateway for tags that have none yet (before a birth)."""
        for result in results:
            m = self._by_tag.get(result.tag)
            if m is None or m.fresh or not result.ok:
                continue
            stamp = result.source_timestamp
            self._typed(m, result.value, result.data_type)
            self._update(
                m, result.value, millis(stamp) if stamp is not None else _now_ms(), result.raw.quality
            )

    @staticmethod
    def _typed(m: _Metric, value: Any, data_type: DataType) -> None:
        """A tag the Galaxy did not describe takes the type of its first value, for good."""
        if m.kind is None and value is not None:
            m.kind = kind_of_value(value, data_type)

    def _update(self, m: _Metric, value: Any, stamp_ms: int, quality: int) -> None:
        if not m.fresh:
            self._unfresh -= 1
            if not self._unfresh:
                self.complete.set()
        was_bad = m.bad
        m.value, m.stamp_ms, m.quality, m.seen, m.fresh = value, stamp_ms, quality, True, True
        bad = m.bad
        if bad != was_bad:
            m.device.bad += 1 if bad else -1

    # ------------------------------------------------------------------ births and deaths

    def will(self, bd_seq: int) -> Message:
        """The NDEATH of an MQTT session: its ``bdSeq`` only, QoS 1, not retained."""
        payload = spb.Payload(timestamp=_now_ms())
        payload.metrics.add(name="bdSeq", datatype=spb.Int64, long_value=bd_seq, timestamp=payload.timestamp)
        return Message(self._topic("NDEATH"), payload.SerializeToString(), 1, False)

    def births(self, bd_seq: int) -> tuple[list[Message], set[str]]:
        """NBIRTH, then a DBIRTH per living device with every metric's current value; and who was born."""
        now = _now_ms()
        node = spb.Payload()
        alias = self._node_alias
        node.metrics.add(name="bdSeq", alias=alias, datatype=spb.Int64, long_value=bd_seq, timestamp=now)
        node.metrics.add(name=REBIRTH, datatype=spb.Boolean, boolean_value=False, timestamp=now)
        node.metrics.add(
            name="Gateway/Connected",
            alias=alias + 1,
            datatype=spb.Boolean,
            boolean_value=self._gateway_up,
            timestamp=now,
        )
        node.metrics.add(
            name="Store/Dropped", alias=alias + 2, datatype=spb.Int64, long_value=self.dropped, timestamp=now
        )
        out = [Message(self._topic("NBIRTH"), node.SerializeToString(), 0, False)]
        born: set[str] = set()
        for device in self._devices.values():
            device.alive = self._gateway_up and device.bad < len(device.metrics)
            if device.alive:
                out.append(self._dbirth(device, now))
                born.add(device.id)
        return out, born

    def _dbirth(self, device: _Device, now: int) -> Message:
        payload = spb.Payload()
        for m in device.metrics:
            metric = payload.metrics.add(name=m.info.attribute, alias=m.alias, timestamp=m.stamp_ms or now)
            kind = self._kind(m)
            metric.datatype = kind.datatype
            set_value(metric, m.value, kind)
            _quality(metric, m.quality if m.seen else _GOOD, always=True)
        return Message(self._topics["DBIRTH", device.id], payload.SerializeToString(), 0, False)

    def _ddeath(self, device: _Device) -> Message:
        return Message(self._topic("DDEATH", device.id), b"", 0, False)

    def _ndata_gateway(self, connected: bool) -> Message:
        payload = spb.Payload()
        payload.metrics.add(alias=self._node_alias + 1, boolean_value=connected, timestamp=_now_ms())
        return Message(self._topic("NDATA"), payload.SerializeToString(), 0, False)

    def gateway_lost(self) -> list[Message]:
        """The gateway session is gone: its values are no longer live (NDATA, then DDEATH per device)."""
        if not self._gateway_up:
            return []
        self._gateway_up = False
        out = [self._ndata_gateway(False)]
        self._unfresh = len(self._by_tag)
        self.complete.clear()
        for device in self._devices.values():
            for m in device.metrics:
                m.fresh = False
            if device.alive:
                device.alive = False
                out.append(self._ddeath(device))
        return out

    def gateway_back(self) -> list[Message]:
        """The gateway session is back and values were read: NDATA, then DBIRTH per device with data."""
        if self._gateway_up:
            return []
        self._gateway_up = True
        now = _now_ms()
        out = [self._ndata_gateway(True)]
        for device in self._devices.values():
            if device.bad < len(device.metrics):
                device.alive = True
                out.append(self._dbirth(device, now))
        return out

    # ------------------------------------------------------------------ data

    def data_messages(self, changes: Sequence[DataChange]) -> list[Message]:
        """One DDATA per change (the metric by alias), or the device's DDEATH/DBIRTH when its data went or came."""
        out: list[Message] = []
        by_tag = self._by_tag
        for change in changes:
            m = by_tag.get(change.tag or "")
            if m is None:
                continue
            raw = change.raw
            ts = raw.source_timestamp
            stamp = (
                ts.seconds * 1000 + ts.nanos // 1_000_000 if raw.HasField("source_timestamp") else _now_ms()
            )
            previous = m.quality
            value = change.value
            if m.kind is None:
                self._typed(m, value, change.data_type)
            self._update(m, value, stamp, raw.quality)
            device = m.device
            if not (self._gateway_up and self._started):
                continue
            if not device.alive:
                if device.bad < len(device.metrics):
                    device.alive = True
                    out.append(self._dbirth(device, _now_ms()))
                continue
            if device.bad == len(device.metrics):
                device.alive = False
                out.append(self._ddeath(device))
                continue
            kind = m.kind or self._kind(m)
            if raw.quality == _GOOD_OPC and previous == _GOOD_OPC:
                # The common case, encoded by hand: alias, timestamp, value (the tests decode it
                # with an independent Sparkplug implementation).
                body = m.head + b"\x18" + varint(stamp) + encoded_value(m.value, kind)
                payload = b"\x12" + varint(len(body)) + body
            else:
                message = spb.Payload()
                metric = message.metrics.add(alias=m.alias, timestamp=stamp)
                set_value(metric, m.value, kind)
                # Hosts keep a metric's quality until told otherwise: say when it is good again.
                _quality(metric, raw.quality, always=True)
                payload = message.SerializeToString()
            out.append(Message(self._topics["DDATA", device.id], payload, 0, False))
        return out


_GOOD_OPC = 192


def _quality(metric: spb.Payload.Metric, opc: int, *, always: bool = False) -> None:
    """The ``Quality`` property (192 good, 0 otherwise) and the exact OPC code MXAccess reported."""
    good = opc & 0xC0 == 0xC0
    if good and not always and opc == _GOOD_OPC:
        return
    properties = metric.properties
    properties.keys.append("Quality")
    properties.values.add(type=spb.Int32, int_value=_GOOD if good else _BAD)
    if opc != _GOOD_OPC:
        properties.keys.append("MXAccess Quality")
        properties.values.add(type=spb.Int32, int_value=opc & 0xFFFFFFFF)


def historical(payload: bytes) -> bytes:
    """A DDATA payload with every metric flagged ``is_historical`` (it was stored before this session)."""
    message = spb.Payload.FromString(payload)
    for metric in message.metrics:
        metric.is_historical = True
    return message.SerializeToString()


def stamped(payload: bytes, seq: int, now_ms: int | None = None) -> bytes:
    """The payload with the time it is sent (field 1) and its ``seq`` (field 3) appended."""
    stamp = now_ms if now_ms is not None else _now_ms()
    return payload + b"\x08" + varint(stamp) + b"\x18" + varint(seq)
