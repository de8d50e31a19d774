"""One Sparkplug edge node's MQTT sessions: ``bdSeq``, ``seq``, the births and the primary host.

``SparkplugSession`` is what the publisher asks about Sparkplug:

- ``bdSeq`` moves on once per MQTT session (a connection the broker accepted), is
  kept in the store's file so that a restart (even after ``kill -9``) never repeats
  the number of the session whose NDEATH the broker may still send, and is the same
  in the will (NDEATH) and the NBIRTH of that session;
- ``seq`` is 0 on NBIRTH and counts every later message of the session, wrapping
  after 255; it is stamped when a message is sent;
- with a primary host (``[topics] primary_host_id``) births wait until its STATE
  says online; when it says offline (with a timestamp not older than the last
  one) the node publishes its NDEATH and starts a new MQTT session, storing data
  until the host is back;
- what was queued before the births of a session is older than the values they
  carry: its DDATA goes out flagged ``is_historical`` (for devices born in this
  session), its births and deaths are superseded and dropped;
- consecutive queued DDATA of one device go out as one DDATA (a backlog costs one
  MQTT message per run of changes, not one per change).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence

from mxgateway.bridge.outbox import Entry
from mxgateway.bridge.sparkplug import NAMESPACE, SparkplugLayout, historical, message_type, stamped
from mxgateway.bridge.store import DiskQueue
from mxgateway.bridge.topics import Message

__all__ = ["SparkplugSession"]

_log = logging.getLogger("mxgateway.bridge")
_BD_SEQ_KEY = "sparkplug_bd_seq"
#: At most this many queued DDATA of one device go out as one DDATA.
MERGE_LIMIT = 64


class SparkplugSession:
    """The publisher's view of the Sparkplug layout (see the module docstring)."""

    def __init__(self, layout: SparkplugLayout, store: DiskQueue, primary_host_id: str = "") -> None:
        self._layout = layout
        self._store = store
        self._host = primary_host_id
        self.state_topic = f"{NAMESPACE}/STATE/{primary_host_id}" if primary_host_id else ""
        #: Set while births may be published (always, without a primary host).
        self.ready = asyncio.Event()
        #: Set when the primary host went offline during a session: start a new one.
        self.restart = asyncio.Event()
        if not primary_host_id:
            self.ready.set()
        self._host_time: int | None = None
        self._bd_seq = 0
        self._seq = 0
        self._mark = 0
        self._born: set[str] = set()
        self._live = False
        self.births_published = 0

    def __repr__(self) -> str:
        return f"SparkplugSession(bdSeq={self._bd_seq}, seq={self._seq}, live={self._live})"

    @property
    def bd_seq(self) -> int:
        """The ``bdSeq`` of the current (or last) MQTT session."""
        return self._bd_seq

    @property
    def live(self) -> bool:
        """True between the births of a session and its end."""
        return self._live

    @property
    def subscriptions(self) -> list[str]:
        """NCMD, every device's DCMD and the primary host's STATE."""
        topics = [self._layout.ncmd_topic, self._layout.dcmd_filter]
        return [*topics, self.state_topic] if self.state_topic else topics

    def will(self) -> Message:
        """The NDEATH of the next MQTT session: one more than the last session's ``bdSeq``."""
        last = self._store.get_meta(_BD_SEQ_KEY)
        # A connection the broker never accepted opened no session: its number is used again.
        self._bd_seq = 0 if last is None else (last + 1) % 256
        return self._layout.will(self._bd_seq)

    def connected(self) -> None:
        """The broker accepted the connection: the session's ``bdSeq`` is spent, even after a crash."""
        self._store.set_meta(_BD_SEQ_KEY, self._bd_seq)
        self._live = False
        self.restart.clear()

    def disconnected(self) -> None:
        """The session ended."""
        self._live = False

    def births(self, mark: int) -> list[Message]:
        """NBIRTH and the DBIRTHs, numbered from 0; what was queued up to ``mark`` is now history."""
        messages, self._born = self._layout.births(self._bd_seq)
        self._mark = mark
        self._seq = 0
        self._live = True
        self.births_published += 1
        return [Message(m.topic, self._stamp(m.payload), m.qos, m.retain) for m in messages]

    def _stamp(self, payload: bytes) -> bytes:
        seq = self._seq
        self._seq = (seq + 1) % 256
        return stamped(payload, seq)

    def _unstamped(self, entry: Entry) -> tuple[bytes | None, bool]:
        """The payload of a queued message before numbering (None: superseded), and whether it is history."""
        message = entry.message
        kind = message_type(message.topic)
        if not kind:
            return message.payload, False
        if entry.seq <= self._mark:
            if kind != "DDATA" or message.topic.rsplit("/", 1)[1] not in self._born:
                return None, True
            return historical(message.payload), True
        if kind == "DBIRTH":
            self._born.add(message.topic.rsplit("/", 1)[1])
        elif kind == "DDEATH":
            self._born.discard(message.topic.rsplit("/", 1)[1])
        return message.payload, False

    def prepare(self, entries: Sequence[Entry]) -> list[tuple[int, Message | None]]:
        """What to send now for ``entries``, numbered in order: ``(entries covered so far, message)``.

        Consecutive DDATA of one device (all live, or all history) go out as one
        DDATA with their metrics in order, up to ``MERGE_LIMIT``: protobuf appends
        the repeated ``metrics`` of concatenated payloads. Each message covers a
        contiguous run of entries, so what was sent is always a prefix.
        """
        out: list[tuple[int, Message | None]] = []
        run: list[bytes] = []
        run_key: tuple[str, bool] | None = None

        def close(upto: int) -> None:
            nonlocal run_key
            if run_key is not None:
                out.append((upto, Message(run_key[0], self._stamp(b"".join(run)), 0, False)))
                run.clear()
                run_key = None

        for index, entry in enumerate(entries):
            payload, past = self._unstamped(entry)
            message = entry.message
            if payload is not None and message_type(message.topic) == "DDATA":
                key = (message.topic, past)
                if key != run_key or len(run) >= MERGE_LIMIT:
                    close(index)
                    run_key = key
                run.append(payload)
                continue
            close(index)
            if payload is None:
                out.append((index + 1, None))
            elif message_type(message.topic):
                out.append(
                    (index + 1, Message(message.topic, self._stamp(payload), message.qos, message.retain))
                )
            else:
                out.append((index + 1, message))
        close(len(entries))
        return out

    def farewell(self) -> list[Message]:
        """The NDEATH a clean stop (or a primary host gone offline) publishes itself."""
        return [self._layout.will(self._bd_seq)]

    def on_state(self, payload: bytes) -> None:
        """A STATE message of the primary host: online or offline, newer than the last one or ignored."""
        text = payload.strip()
        timestamp: int | None = None
        if text in (b"ONLINE", b"OFFLINE"):
            # The Sparkplug 2.2 form: no timestamp to order by.
            online = text == b"ONLINE"
        else:
            try:
                document = json.loads(text)
                online = document["online"]
                timestamp = document["timestamp"]
                if (
                    not isinstance(online, bool)
                    or isinstance(timestamp, bool)
                    or not isinstance(timestamp, int)
                ):
                    raise TypeError
            except (ValueError, KeyError, TypeError):
                _log.warning("ignoring a STATE message of %s that is not Sparkplug 3.0 JSON", self._host)
                return
        if timestamp is not None:
            if self._host_time is not None and timestamp < self._host_time:
                _log.info("ignoring an older STATE message of %s", self._host)
                return
            self._host_time = timestamp
        if online:
            if not self.ready.is_set():
                _log.info("primary host %s is online", self._host)
            self.ready.set()
            return
        if self.ready.is_set():
            _log.warning("primary host %s is offline: storing data until it is back", self._host)
        self.ready.clear()
        if self._live:
            self.restart.set()
