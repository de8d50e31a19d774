"""The seam for bridging alarms: a feed of alarm records in, one message per record out.

The bridge publishes each record of an ``AlarmFeed`` under the alarm prefix
(``[alarms] prefix``, default ``{prefix}/_alarms``) at ``{alarm prefix}/{source}/{name}``,
retained while active and cleared (empty retained payload) once it is inactive and
acknowledged. ``find_alarm_feed`` returns the SDK's feed when the client offers one
(``client.alarms()``) and None otherwise; a feed can also be handed to ``Bridge``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any, Protocol

from mxgateway.bridge.topics import Message, json_value, topic_level

__all__ = ["AlarmFeed", "alarm_message", "find_alarm_feed"]

_log = logging.getLogger("mxgateway.bridge")


class AlarmFeed(Protocol):
    """Anything that yields alarm records: mappings or dataclasses with ``source`` and ``name``.

    Other keys (``active``, ``acknowledged``, ``priority``, ``message``, ``time``, ...)
    are carried in the payload as they are.
    """

    def __aiter__(self) -> AsyncIterator[Any]:
        """The records, each state change of an alarm one record."""


def _as_mapping(record: object) -> Mapping[str, Any]:
    if isinstance(record, Mapping):
        return record
    if dataclasses.is_dataclass(record) and not isinstance(record, type):
        return dataclasses.asdict(record)
    raise TypeError(f"an alarm record must be a mapping or a dataclass, not {type(record).__name__}")


def alarm_message(prefix: str, record: object, *, qos: int = 1) -> Message:
    """The message of one alarm record (a mapping or a dataclass); inactive and acknowledged clears it."""
    record = _as_mapping(record)
    source = str(record.get("source", "") or "_")
    name = str(record.get("name", "") or "_")
    topic = f"{prefix}/{topic_level(source)}/{topic_level(name)}"
    if record.get("active") is False and record.get("acknowledged") is True:
        return Message(topic, b"", qos, True)
    document = {key: json_value(value) for key, value in record.items()}
    document.setdefault("published", dt.datetime.now(dt.timezone.utc).isoformat())
    return Message(topic, json.dumps(document, sort_keys=True, default=str).encode(), qos, True)


def find_alarm_feed(client: object) -> AlarmFeed | None:
    """The client's alarm feed when this SDK has one (``client.alarms()``), else None."""
    factory = getattr(client, "alarms", None)
    if not callable(factory):
        _log.warning("alarms are enabled but this SDK offers no alarm feed yet: none are bridged")
        return None
    feed = factory()
    if not hasattr(feed, "__aiter__"):
        _log.warning("client.alarms() gave no async iterator: alarms are not bridged")
        return None
    return feed  # type: ignore[no-any-return]
