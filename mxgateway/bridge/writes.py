"""Writes from MQTT: a command topic per tag, an allow-list, ``write_and_confirm``, a response.

Off unless ``[writes] enabled = true``. The command topic of a tag is its UNS value
topic with ``/set`` appended; the outcome goes to that topic with ``/response``
appended. A command is JSON: ``{"value": 42.5, "id": "any correlation id"}`` or a
bare JSON value. Only tags that match a pattern of ``[writes] allow`` are written;
the others are answered ``refused`` and never reach the gateway.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from mxgateway.bridge.health import Counters
from mxgateway.bridge.topics import Message
from mxgateway.errors import MxGatewayError
from mxgateway.galaxy import glob_matcher

__all__ = ["COMMAND_SUFFIX", "RESPONSE_SUFFIX", "WriteHandler"]

_log = logging.getLogger("mxgateway.bridge")

COMMAND_SUFFIX = "/set"
RESPONSE_SUFFIX = "/response"


class _Writer(Protocol):
    async def write_and_confirm(
        self, tag: str, value: Any, *, user_id: int = 0, outcome_timeout: float | None = 10.0
    ) -> Any:
        """Write a tag and wait for its outcome."""


class WriteHandler:
    """Applies commands from MQTT to the gateway and answers each on its response topic."""

    def __init__(
        self,
        writer: _Writer,
        value_topics: Mapping[str, str],
        allow: Sequence[str],
        publish: Callable[[Sequence[Message]], object],
        counters: Counters,
        *,
        timeout_s: float = 10.0,
    ) -> None:
        self._writer = writer
        self._by_topic = {topic + COMMAND_SUFFIX: tag for tag, topic in value_topics.items()}
        self._patterns = [glob_matcher(pattern) for pattern in allow]
        self._publish = publish
        self._counters = counters
        self._timeout_s = timeout_s

    @property
    def command_topics(self) -> list[str]:
        """The topics to subscribe to: one per published tag."""
        return sorted(self._by_topic)

    def allowed(self, tag: str) -> bool:
        """True when the tag matches a pattern of the allow-list (``*`` and ``?``, case-insensitive)."""
        return any(p.fullmatch(tag) for p in self._patterns)

    async def handle(self, topic: str, payload: bytes) -> None:
        """One command: parse, check, write, answer."""
        tag = self._by_topic.get(topic)
        if tag is None:
            return
        request_id: Any = None
        try:
            document = json.loads(payload.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            self._answer(topic, tag, None, False, "the command is not JSON", refused=True)
            return
        if isinstance(document, dict) and "value" in document:
            request_id = document.get("id")
            value = document["value"]
        else:
            value = document
        if not self.allowed(tag):
            _log.warning("write to %s refused: not on the allow-list", tag)
            self._answer(topic, tag, request_id, False, "not on the allow-list", refused=True)
            return
        if value is None or isinstance(value, (dict,)):
            self._answer(topic, tag, request_id, False, "no value to write", refused=True)
            return
        try:
            await self._writer.write_and_confirm(tag, value, outcome_timeout=self._timeout_s)
        except (MxGatewayError, ValueError, TypeError) as exc:
            _log.warning("write to %s failed: %s", tag, exc)
            self._answer(topic, tag, request_id, False, str(exc))
            return
        self._counters.written += 1
        _log.info("wrote %s from MQTT", tag)
        self._answer(topic, tag, request_id, True, None, value=value)

    def _answer(
        self,
        topic: str,
        tag: str,
        request_id: Any,
        ok: bool,
        error: str | None,
        *,
        refused: bool = False,
        value: Any = None,
    ) -> None:
        if not ok:
            self._counters.write_errors += 1
        document = {
            "error": error,
            "id": request_id,
            "ok": ok,
            "status": "written" if ok else "refused" if refused else "failed",
            "tag": tag,
            "value": value,
        }
        body = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str).encode()
        self._publish([Message(topic + RESPONSE_SUFFIX, body, 1, False)])
