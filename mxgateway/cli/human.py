"""Human output on a terminal: value records as aligned lines with quoted strings.

``read`` and ``subscribe`` print one record per tag or change. Piped (or with
``--json``) they stay machine-readable; on a terminal each becomes a line such as
``Tank_001.Level   = 60.0  (good, 08:05:56Z)``, with the tags padded to one width
and strings in double quotes so that ``"12"`` and ``12`` look different.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from typing import Any

from mxgateway.cli.output import jsonable

__all__ = ["TAG_WIDTH", "human_line", "is_value_record", "tag_width", "time_text", "value_text"]

#: The width tags are padded to in the current command (from its TAG... arguments).
TAG_WIDTH: ContextVar[int] = ContextVar("mxgw_py_tag_width", default=0)


def tag_width(tags: Sequence[str]) -> int:
    """The column width that aligns ``tags``."""
    return max((len(t) for t in tags), default=0)


def is_value_record(record: Mapping[str, Any]) -> bool:
    """True for the records of reads and data changes (a tag with a value and a quality)."""
    return "tag" in record and "quality_name" in record and "value" in record


def value_text(value: Any) -> str:
    """A value as people read it: strings in double quotes, times in UTC with ``Z``."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")
    return json.dumps(jsonable(value), ensure_ascii=False)


def time_text(value: Any) -> str:
    """``08:05:56Z`` for a time of today (UTC), else the date too; '' for no time."""
    if not isinstance(value, dt.datetime):
        return ""
    utc = value.astimezone(dt.timezone.utc)
    if utc.date() == dt.datetime.now(dt.timezone.utc).date():
        return utc.strftime("%H:%M:%SZ")
    return utc.strftime("%Y-%m-%dT%H:%M:%SZ")


def human_line(record: Mapping[str, Any], width: int = 0) -> str:
    """``Tank_001.Level   = 60.0  (good, 08:05:56Z)``; a failed read says why."""
    tag = str(record.get("tag") or f"item {record.get('server_handle')}/{record.get('item_handle')}")
    padded = tag.ljust(width)
    if record.get("ok") is False:
        return f"{padded}  failed: {record.get('error_message') or 'no reason given'}"
    details = ", ".join(
        p for p in (str(record.get("quality_name") or ""), time_text(record.get("source_timestamp"))) if p
    )
    return f"{padded} = {value_text(record.get('value'))}" + (f"  ({details})" if details else "")
