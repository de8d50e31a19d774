"""The Sparkplug B layout: one edge node (the bridge), one device per Galaxy object.

Topics are ``spBv1.0/{group_id}/{NBIRTH|NDEATH}/{edge_node_id}`` and
``spBv1.0/{group_id}/{DBIRTH|DDATA}/{edge_node_id}/{object}``; payloads are the
Sparkplug B protobuf. Every MQTT session starts with NBIRTH (``seq`` 0, a new
``bdSeq``) and one DBIRTH per device carrying every metric's name, alias, type and
current value; DDATA then carries aliases only. ``seq`` is stamped when a message
is actually published, so messages that waited in the store-and-forward queue are
numbered in the session that sends them (and flagged ``is_historical``).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

from google.protobuf.message import DecodeError

from mxgateway._model.events import DataChange
from mxgateway.bridge.topics import Message, TagInfo, json_value, topic_level
from mxgateway.generated import mxaccess_gateway_pb2 as mx
from mxgateway.generated import sparkplug_b_pb2 as spb

__all__ = ["NAMESPACE", "SparkplugLayout", "metric_value"]

NAMESPACE = "spBv1.0"

#: MXAccess data type -> Sparkplug data type, where one fits.
_TYPES = {
    mx.MX_DATA_TYPE_BOOLEAN: spb.Boolean,
    mx.MX_DATA_TYPE_INTEGER: spb.Int32,
    mx.MX_DATA_TYPE_FLOAT: spb.Float,
    mx.MX_DATA_TYPE_DOUBLE: spb.Double,
    mx.MX_DATA_TYPE_STRING: spb.String,
    mx.MX_DATA_TYPE_BIG_STRING: spb.String,
    mx.MX_DATA_TYPE_INTERNATIONALIZED_STRING: spb.String,
    mx.MX_DATA_TYPE_TIME: spb.DateTime,
    mx.MX_DATA_TYPE_ELAPSED_TIME: spb.Double,
}
#: Galaxy data type names (as the Galaxy Repository reports them) -> Sparkplug data type.
_GALAXY_TYPES = {
    "Boolean": spb.Boolean,
    "Integer": spb.Int32,
    "Float": spb.Float,
    "Double": spb.Double,
    "String": spb.String,
    "BigString": spb.String,
    "InternationalizedString": spb.String,
    "Time": spb.DateTime,
    "ElapsedTime": spb.Double,
}


def _millis(value: dt.datetime) -> int:
    return int(value.timestamp() * 1000)


def _sparkplug_type(value: Any, mx_type: int) -> int:
    if isinstance(value, list):
        return spb.String
    known = _TYPES.get(mx_type)  # type: ignore[call-overload]
    if known is not None:
        return int(known)
    if isinstance(value, bool):
        return spb.Boolean
    if isinstance(value, int):
        return spb.Int64
    if isinstance(value, float):
        return spb.Double
    if isinstance(value, dt.datetime):
        return spb.DateTime
    if isinstance(value, bytes):
        return spb.Bytes
    return spb.String


def metric_value(metric: spb.Payload.Metric, value: Any, datatype: int) -> None:
    """Set a metric's type and value; Sparkplug keeps signed integers as two's complement."""
    metric.datatype = datatype
    if value is None:
        metric.is_null = True
    elif datatype == spb.Boolean:
        metric.boolean_value = bool(value)
    elif datatype in (spb.Int8, spb.Int16, spb.Int32):
        metric.int_value = int(value) & 0xFFFFFFFF
    elif datatype == spb.Int64:
        metric.long_value = int(value) & 0xFFFFFFFFFFFFFFFF
    elif datatype == spb.Float:
        metric.float_value = float(value)
    elif datatype == spb.Double:
        metric.double_value = value.total_seconds() if isinstance(value, dt.timedelta) else float(value)
    elif datatype == spb.DateTime:
        metric.long_value = _millis(value) if isinstance(value, dt.datetime) else int(value)
    elif datatype == spb.Bytes:
        metric.bytes_value = bytes(value)
    elif isinstance(value, str):
        metric.string_value = value
    else:
        metric.string_value = json.dumps(json_value(value))


class SparkplugLayout:
    """Births, data and death of one Sparkplug edge node; stamps ``seq`` and ``bdSeq``."""

    kind = "sparkplug"

    def __init__(self, group_id: str, edge_node_id: str, tags: Sequence[TagInfo], *, qos: int = 1) -> None:
        self._group = group_id
        self._node = edge_node_id
        self._qos = qos
        self._tags = list(tags)
        #: tag -> (device id, alias); aliases are unique across the edge node.
        self._where = {info.tag: (topic_level(info.object), alias) for alias, info in enumerate(tags, 1)}
        self._info = {info.tag: info for info in tags}
        self._seq = 0
        self._bd_seq = -1

    def _topic(self, kind: str, device: str | None = None) -> str:
        base = f"{NAMESPACE}/{self._group}/{kind}/{self._node}"
        return f"{base}/{device}" if device else base

    @property
    def ncmd_topic(self) -> str:
        """Where Sparkplug host applications send node commands (Rebirth)."""
        return self._topic("NCMD")

    @staticmethod
    def is_rebirth(payload: bytes) -> bool:
        """True for an NCMD payload that asks for ``Node Control/Rebirth``."""
        try:
            command = spb.Payload.FromString(payload)
        except DecodeError:
            return False
        return any(m.name == "Node Control/Rebirth" and m.boolean_value for m in command.metrics)

    @property
    def bd_seq(self) -> int:
        """The birth/death sequence of the current (or last) MQTT session."""
        return max(self._bd_seq, 0)

    @property
    def devices(self) -> list[str]:
        """The device ids, in the order of their births."""
        return list(dict.fromkeys(device for device, _ in self._where.values()))

    def _death_payload(self) -> bytes:
        payload = spb.Payload(timestamp=_millis(dt.datetime.now(dt.timezone.utc)))
        metric = payload.metrics.add(name="bdSeq", timestamp=payload.timestamp)
        metric_value(metric, self.bd_seq, spb.Int64)
        return payload.SerializeToString()

    def will(self) -> Message:
        """A new MQTT session begins: the next ``bdSeq``, and the NDEATH the broker keeps as its will."""
        self._bd_seq = (self._bd_seq + 1) % 256
        return Message(self._topic("NDEATH"), self._death_payload(), 1, False)

    def death(self) -> Message:
        """The NDEATH a clean shutdown publishes itself (the same ``bdSeq`` as the will)."""
        return Message(self._topic("NDEATH"), self._death_payload(), 1, False)

    def births(self, latest: Mapping[str, DataChange]) -> list[Message]:
        """NBIRTH then one DBIRTH per device with every metric's current value; ``seq`` restarts."""
        self._seq = 0
        now = int(time.time() * 1000)
        node = spb.Payload(timestamp=now)
        metric_value(node.metrics.add(name="bdSeq", timestamp=now), self.bd_seq, spb.Int64)
        metric_value(node.metrics.add(name="Node Control/Rebirth", timestamp=now), False, spb.Boolean)
        out = [Message(self._topic("NBIRTH"), node.SerializeToString(), 0, False)]
        by_device: dict[str, spb.Payload] = {}
        for info in self._tags:
            device, alias = self._where[info.tag]
            payload = by_device.get(device)
            if payload is None:
                payload = by_device[device] = spb.Payload(timestamp=now)
            metric = payload.metrics.add(name=info.attribute, alias=alias)
            change = latest.get(info.tag)
            if change is None:
                metric_value(metric, None, _GALAXY_TYPES.get(info.data_type, spb.String))
                continue
            self._fill(metric, change, info)
        out.extend(
            Message(self._topic("DBIRTH", device), payload.SerializeToString(), 0, False)
            for device, payload in by_device.items()
        )
        return out

    def _fill(self, metric: spb.Payload.Metric, change: DataChange, info: TagInfo | None) -> None:
        value = change.value
        datatype = _GALAXY_TYPES.get(info.data_type) if info is not None else None
        metric_value(metric, value, datatype or _sparkplug_type(value, change.data_type))
        stamp = change.source_timestamp
        if stamp is not None:
            metric.timestamp = _millis(stamp)
        if not change.quality.is_good:
            # Sparkplug has no quality field; the quality goes along as a property.
            metric.properties.keys.append("Quality")
            metric.properties.values.add(type=spb.Int32, int_value=int(change.quality))

    def data_messages(self, changes: Sequence[DataChange]) -> list[Message]:
        """One DDATA per change (by alias), in order; ``seq`` is stamped at publish time."""
        out = []
        for change in changes:
            where = self._where.get(change.tag or "")
            if where is None:
                continue
            device, alias = where
            payload = spb.Payload(timestamp=int(time.time() * 1000))
            metric = payload.metrics.add(alias=alias)
            self._fill(metric, change, self._info.get(change.tag or ""))
            out.append(Message(self._topic("DDATA", device), payload.SerializeToString(), self._qos, False))
        return out

    def finalize(self, message: Message, stored: bool) -> bytes:
        """The payload to send now: the next ``seq`` (0-255, wrapping), historical when it waited."""
        payload = spb.Payload.FromString(message.payload)
        payload.seq = self._seq
        self._seq = (self._seq + 1) % 256
        if stored:
            for metric in payload.metrics:
                metric.is_historical = True
        return payload.SerializeToString()
