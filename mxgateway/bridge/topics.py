"""Tags as the bridge knows them, MQTT messages, and the Unified Namespace (UNS) layout.

A UNS topic follows the Galaxy hierarchy: ``{prefix}/{area path}/{object}/{attribute}``
(``mxgateway/WaterPlant/Intake/Tank_001/Level``); its payload is JSON with the value,
the quality, the source timestamp and the data type.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from mxgateway import DataChange, DataType

__all__ = ["Message", "TagInfo", "UnsLayout", "json_value", "topic_level"]


@dataclass(frozen=True)
class TagInfo:
    """One published tag: its reference and where it sits in the Galaxy."""

    tag: str
    object: str
    attribute: str
    area_path: tuple[str, ...] = ()
    #: The Galaxy's name of the data type ("Double"); empty when the Galaxy did not describe the tag.
    data_type: str = ""
    #: The MXAccess data type the Galaxy declares (None: not described, taken from the first value).
    mx_data_type: DataType | None = None
    is_array: bool = False
    #: The MXAccess security classification (2 secured write, 3 verified write, 6 view only; -1 unknown).
    security: int = -1

    @classmethod
    def bare(cls, tag: str) -> TagInfo:
        """A tag the Galaxy did not describe: ``Object.Attribute`` split at the first dot."""
        obj, _, attribute = tag.partition(".")
        return cls(tag, obj, attribute or "value")


class Message(NamedTuple):
    """One MQTT message, as queued and published (a tuple: one is made per change)."""

    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = False


def topic_level(name: str) -> str:
    """A name made safe for one topic level (MQTT wildcards and separators replaced)."""
    return name.replace("/", "_").replace("+", "_").replace("#", "_") or "_"


def json_value(value: Any) -> Any:
    """A value as JSON can carry it: times as ISO 8601, durations in seconds, bytes as base64."""
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, list):
        return [json_value(v) for v in value]
    return value


class UnsLayout:
    """Topics and JSON payloads of the Unified Namespace."""

    kind = "uns"

    def __init__(self, prefix: str, tags: Sequence[TagInfo], *, qos: int = 1, retain: bool = True) -> None:
        self._prefix = prefix
        self._qos = qos
        self._retain = retain
        self._topics = {info.tag: self.topic_of(info) for info in tags}
        self._types = {info.tag: info.data_type for info in tags}
        #: The last payload published per topic (what the broker retains), to mark stale on a clean stop.
        self._last: dict[str, bytes] = {}

    def topic_of(self, info: TagInfo) -> str:
        """The value topic of a tag."""
        levels = [self._prefix, *info.area_path, info.object, *info.attribute.split(".")]
        return "/".join(topic_level(level) for level in levels)

    @property
    def topics(self) -> Mapping[str, str]:
        """Tag reference -> value topic."""
        return self._topics

    def data_messages(self, changes: Sequence[DataChange]) -> list[Message]:
        """One retained JSON message per change, in order."""
        out = []
        for change in changes:
            tag = change.tag or ""
            topic = self._topics.get(tag)
            if topic is None:
                continue
            payload = self.payload(change, self._types.get(tag, ""))
            self._last[topic] = payload
            out.append(Message(topic, payload, self._qos, self._retain))
        return out

    def stale_messages(self) -> list[Message]:
        """Every retained value again, with ``"stale": true``: the bridge stops, they are no longer live."""
        if not self._retain:
            return []
        out = []
        for topic, payload in self._last.items():
            document = json.loads(payload)
            document["stale"] = True
            body = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
            out.append(Message(topic, body, self._qos, True))
        return out

    @staticmethod
    def payload(change: DataChange, data_type: str = "") -> bytes:
        """The JSON payload of a change (keys sorted, so equal changes give equal bytes)."""
        stamp = change.source_timestamp
        quality = change.quality
        document = {
            "value": json_value(change.value),
            "quality": int(quality),
            "quality_name": quality.name,
            "timestamp": stamp.isoformat() if stamp is not None else None,
            "data_type": data_type or change.data_type.name.title(),
        }
        return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
