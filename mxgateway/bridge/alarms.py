"""The seam for bridging alarms: a feed of alarm records in, one message per record out.

The bridge publishes each record of an ``AlarmFeed`` under its object in the
namespace, ``{prefix}/{area}/.../{object}/_alarms/{alarm}`` (or, with ``[alarms]
prefix`` set, flat at ``{alarms.prefix}/{object}/{alarm}``),
retained while active and cleared (empty retained payload) once it is inactive and
acknowledged. ``find_alarm_feed`` turns the client's ``AlarmFeed`` (the active set
kept right across reconnects) into such records: first every alarm of the active
set, then one record per transition, synthetic ones included. Any other feed of
records can be handed to ``Bridge`` instead.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any, Protocol

from mxgateway import Alarm, AlarmTransition
from mxgateway import AlarmFeed as SdkAlarmFeed
from mxgateway.bridge.topics import Message, json_value, topic_level

__all__ = ["AlarmFeed", "alarm_message", "alarm_record", "alarm_topic", "find_alarm_feed"]

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


def alarm_topic(
    prefix: str, source: str, name: str, areas: Mapping[str, tuple[str, ...]] | None = None
) -> str:
    """``{prefix}/{area}/.../{object}/_alarms/{alarm}`` with ``areas``; ``{prefix}/{object}/{alarm}`` without."""
    if areas is None:
        return f"{prefix}/{topic_level(source)}/{topic_level(name)}"
    levels = [*areas.get(source, ()), source, "_alarms", name]
    return "/".join([prefix, *(topic_level(level) for level in levels)])


def alarm_message(
    prefix: str, record: object, *, qos: int = 1, areas: Mapping[str, tuple[str, ...]] | None = None
) -> Message:
    """The message of one alarm record (a mapping or a dataclass); inactive and acknowledged clears it.

    With ``areas`` (object -> area path) the alarm goes under its object in the
    namespace, ``{prefix}/{area}/.../{object}/_alarms/{alarm}``; without, it goes
    to ``{prefix}/{object}/{alarm}``.
    """
    record = _as_mapping(record)
    source = str(record.get("source", "") or "_")
    name = str(record.get("name", "") or "_")
    topic = alarm_topic(prefix, source, name, areas)
    if record.get("active") is False and record.get("acknowledged") is True:
        return Message(topic, b"", qos, True)
    document = {key: json_value(value) for key, value in record.items()}
    document.setdefault("published", dt.datetime.now(dt.timezone.utc).isoformat())
    return Message(topic, json.dumps(document, sort_keys=True, default=str).encode(), qos, True)


def alarm_record(alarm: Alarm, *, kind: str = "SNAPSHOT", synthetic: bool = False) -> dict[str, Any]:
    """The record of one alarm: its object as ``source``, the rest of its reference as ``name``."""
    source, _, name = alarm.source_reference.partition(".")
    return {
        "source": source or alarm.source_reference,
        "name": name or alarm.alarm_type,
        "reference": alarm.reference,
        "alarm_type": alarm.alarm_type,
        "state": alarm.state.name,
        "active": alarm.condition_active,
        "acknowledged": alarm.acknowledged,
        "severity": alarm.severity,
        "category": alarm.category,
        "description": alarm.description,
        "current_value": alarm.current_value,
        "limit_value": alarm.limit_value,
        "operator_user": alarm.operator_user,
        "operator_comment": alarm.operator_comment,
        "time": alarm.last_transition_time,
        "raised": alarm.original_raise_time,
        "transition": kind,
        "synthetic": synthetic,
        "degraded": alarm.degraded,
    }


class _Records:
    """The records of an SDK ``AlarmFeed``: the active set first, then each transition."""

    def __init__(self, feed: SdkAlarmFeed) -> None:
        self._feed = feed

    async def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        async with self._feed as feed:
            for alarm in list(feed.active.values()):
                yield alarm_record(alarm)
            async for event in feed:
                if isinstance(event, AlarmTransition):
                    yield alarm_record(event.alarm, kind=event.kind.name, synthetic=event.synthetic)


def find_alarm_feed(client: object, prefix: str = "") -> AlarmFeed | None:
    """Records of the client's alarms (``client.alarm_feed(prefix)``), or None when it has none."""
    factory = getattr(client, "alarm_feed", None)
    if not callable(factory):
        _log.warning("alarms are enabled but this client offers no alarm feed: none are bridged")
        return None
    return _Records(factory(prefix))
