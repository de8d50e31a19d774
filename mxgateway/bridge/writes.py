"""Writes from MQTT: an allow-list, the right MXAccess write per tag, and one worker that runs them.

Off unless ``[writes] enabled = true``. Commands come from the ``/set`` topics (both
layouts: a tag's UNS value topic with ``/set`` appended, answered on ``/set/response``)
and from Sparkplug DCMD. A command is JSON on ``/set``: ``{"value": 42.5, "id": "any
correlation id"}`` or a bare JSON value. Only tags that match a pattern of ``[writes]
allow`` are written; the others are refused and never reach the gateway. Each tag is
written the way its security classification asks: ``write_and_confirm`` for most,
WriteSecured signed by ``[writes] user`` for secured writes, and by the user and
``verifier_user`` for verified writes; view-only tags are refused. Commands run one
at a time, in arrival order, on a worker, so a slow write never holds up the
connection's other messages.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol

from mxgateway import MxGatewayError, WriteComplete
from mxgateway.bridge.config import WritesConfig
from mxgateway.bridge.health import Counters
from mxgateway.bridge.secured import SecuredWriter
from mxgateway.bridge.topics import Message, TagInfo
from mxgateway.galaxy import glob_matcher

__all__ = ["COMMAND_SUFFIX", "RESPONSE_SUFFIX", "CommandWorker", "Refused", "SetCommands", "TagWriter"]

_log = logging.getLogger("mxgateway.bridge")

COMMAND_SUFFIX = "/set"
RESPONSE_SUFFIX = "/response"
_SECURED_WRITE, _VERIFIED_WRITE, _VIEW_ONLY = 2, 3, 6
_QUEUE = 1_000


class Refused(Exception):
    """A command the bridge does not pass on to the gateway; the message says why."""


class _Client(Protocol):
    async def write_and_confirm(
        self, tag: str, value: Any, *, user_id: int = 0, outcome_timeout: float | None = 10.0
    ) -> WriteComplete:
        """Write a tag and wait for its outcome."""


class TagWriter:
    """Writes a tag the way its security classification asks, if the allow-list lets it."""

    def __init__(
        self,
        client: _Client,
        tags: Sequence[TagInfo],
        config: WritesConfig,
        counters: Counters,
        secured: SecuredWriter | None = None,
    ) -> None:
        self._client = client
        self._info = {info.tag: info for info in tags}
        self._config = config
        self._patterns = [glob_matcher(pattern) for pattern in config.allow]
        self._counters = counters
        self._secured = secured

    def __repr__(self) -> str:
        return f"TagWriter(enabled={self._config.enabled}, {len(self._patterns)} patterns)"

    def allowed(self, tag: str) -> bool:
        """True when the tag matches a pattern of the allow-list (``*`` and ``?``, case-insensitive)."""
        return any(p.fullmatch(tag) for p in self._patterns)

    def check(self, tag: str) -> None:
        """Raise ``Refused`` for a tag the bridge will not write (before anything reaches the gateway)."""
        if not self._config.enabled:
            raise Refused("writes are disabled ([writes] enabled = false)")
        if not self.allowed(tag):
            raise Refused("not on the allow-list ([writes] allow)")
        security = self._info[tag].security if tag in self._info else -1
        if security == _VIEW_ONLY:
            raise Refused("the attribute is view-only")
        if security in (_SECURED_WRITE, _VERIFIED_WRITE) and self._secured is None:
            raise Refused("the attribute needs a secured write: configure [writes] user and password")

    async def write(self, tag: str, value: Any) -> None:
        """Write and wait for MXAccess's outcome; ``Refused``, ``MxGatewayError`` or ``ValueError`` when not done."""
        self.check(tag)
        info = self._info.get(tag)
        timeout = self._config.timeout_s
        try:
            if info is not None and info.security in (_SECURED_WRITE, _VERIFIED_WRITE):
                assert self._secured is not None
                await self._secured.write(
                    tag, value, info.mx_data_type, verified=info.security == _VERIFIED_WRITE
                )
            else:
                await self._client.write_and_confirm(tag, value, outcome_timeout=timeout)
        except (MxGatewayError, ValueError, TypeError):
            self._counters.write_errors += 1
            raise
        self._counters.written += 1
        _log.info("wrote %s from MQTT", tag)


class CommandWorker:
    """Runs commands one at a time in arrival order; a full queue refuses more."""

    def __init__(self, size: int = _QUEUE) -> None:
        self._queue: asyncio.Queue[Callable[[], Awaitable[None]]] = asyncio.Queue(size)

    def __repr__(self) -> str:
        return f"CommandWorker(waiting={self._queue.qsize()})"

    def submit(self, command: Callable[[], Awaitable[None]]) -> bool:
        """Queue a command; False when the queue is full."""
        try:
            self._queue.put_nowait(command)
        except asyncio.QueueFull:
            return False
        return True

    async def run(self) -> None:
        """Run commands until cancelled; a failing command is logged, never the end of the worker."""
        while True:
            command = await self._queue.get()
            try:
                await command()
            except Exception:
                _log.exception("a command from MQTT failed")


class SetCommands:
    """The ``/set`` command topics: parse, check, write, answer on ``/set/response``."""

    def __init__(
        self,
        writer: TagWriter,
        value_topics: Mapping[str, str],
        publish: Callable[[Sequence[Message]], object],
        counters: Counters,
    ) -> None:
        self._writer = writer
        self._by_topic = {topic + COMMAND_SUFFIX: tag for tag, topic in value_topics.items()}
        self._publish = publish
        self._counters = counters

    def __repr__(self) -> str:
        return f"SetCommands({len(self._by_topic)} topics)"

    @property
    def command_topics(self) -> list[str]:
        """The topics to subscribe to: one per published tag."""
        return sorted(self._by_topic)

    def tag_of(self, topic: str) -> str | None:
        """The tag a command topic writes (None for another topic)."""
        return self._by_topic.get(topic)

    async def handle(self, topic: str, payload: bytes) -> None:
        """One command: parse, check, write, answer."""
        tag = self._by_topic.get(topic)
        if tag is None:
            return
        request_id: Any = None
        try:
            document = json.loads(payload.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            self._refuse(topic, tag, None, "the command is not JSON")
            return
        if isinstance(document, dict) and "value" in document:
            request_id = document.get("id")
            value = document["value"]
        else:
            value = document
        try:
            self._writer.check(tag)
            if value is None or isinstance(value, dict):
                raise Refused("no value to write")
        except Refused as exc:
            self._refuse(topic, tag, request_id, str(exc))
            return
        try:
            await self._writer.write(tag, value)
        except (MxGatewayError, ValueError, TypeError) as exc:
            _log.warning("write to %s failed: %s", tag, exc)
            self._answer(topic, tag, request_id, False, str(exc))
            return
        self._answer(topic, tag, request_id, True, None, value=value)

    def _refuse(self, topic: str, tag: str, request_id: Any, reason: str) -> None:
        _log.warning("write to %s refused: %s", tag, reason)
        self._counters.write_errors += 1
        self._answer(topic, tag, request_id, False, reason, refused=True)

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
