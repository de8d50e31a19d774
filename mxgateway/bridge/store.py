"""The on-disk part of store-and-forward: a bounded FIFO of MQTT messages in SQLite.

The same file keeps a few numbers that must survive a restart (the Sparkplug
``bdSeq`` of the last MQTT session), in a ``meta`` table.

Rows keep their order by id (the outbox's sequence number of each message). Limits are enforced here: beyond ``max_messages`` the
oldest rows go (the newest plant data is worth more than the oldest), and rows older
than ``max_age_s`` go when they come up to be sent. Both are counted and returned to
the caller, which logs and counts them.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from mxgateway.bridge.topics import Message

__all__ = ["DiskQueue"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS queue (
    id INTEGER PRIMARY KEY,
    enqueued REAL NOT NULL,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
)
"""

#: (row id, message, time enqueued)
Row = tuple[int, Message, float]


class DiskQueue:
    """A bounded, ordered, persistent queue of messages (survives a restart of the bridge)."""

    def __init__(
        self,
        path: str | Path,
        *,
        max_messages: int,
        max_age_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._path = str(path)
        if self._path != ":memory:":
            Path(self._path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        # WAL with NORMAL sync: a power cut may lose the last transactions, never the file.
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._max_messages = max_messages
        self._max_age_s = max_age_s
        self._clock = clock
        self._count = int(self._db.execute("SELECT COUNT(*) FROM queue").fetchone()[0])

    def __repr__(self) -> str:
        return f"DiskQueue({self._path!r}, {self._count} messages)"

    def __len__(self) -> int:
        return self._count

    @property
    def last_id(self) -> int:
        """The highest id queued (0 when empty): ids of new rows continue above it."""
        high = self._db.execute("SELECT MAX(id) FROM queue").fetchone()[0]
        return int(high) if high is not None else 0

    def push(self, rows: Sequence[tuple[int, Message, float]]) -> int:
        """Add ``(id, message, time enqueued)`` rows; returns how many of the oldest were dropped.

        Ids decide the order, wherever the rows were inserted.
        """
        if not rows:
            return 0
        values = [(i, at, m.topic, m.payload, m.qos, int(m.retain)) for i, m, at in rows]
        self._db.execute("BEGIN")
        try:
            self._db.executemany("INSERT INTO queue VALUES (?, ?, ?, ?, ?, ?)", values)
            self._count += len(values)
            dropped = self._trim()
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            self._count = int(self._db.execute("SELECT COUNT(*) FROM queue").fetchone()[0])
            raise
        return dropped

    def _trim(self) -> int:
        excess = self._count - self._max_messages
        if excess <= 0:
            return 0
        self._db.execute(
            "DELETE FROM queue WHERE id IN (SELECT id FROM queue ORDER BY id LIMIT ?)", (excess,)
        )
        self._count -= excess
        return excess

    def expire(self) -> int:
        """Drop rows older than the age limit; returns how many."""
        if not self._count:
            return 0
        cursor = self._db.execute("DELETE FROM queue WHERE enqueued < ?", (self._clock() - self._max_age_s,))
        dropped = max(cursor.rowcount, 0)
        self._count -= dropped
        return dropped

    def peek(self, limit: int, after_id: int | None = None) -> list[Row]:
        """The oldest ``limit`` rows (after ``after_id`` when given), in order, without removing them."""
        if not self._count:
            return []
        query = "SELECT id, enqueued, topic, payload, qos, retain FROM queue"
        params: tuple[int, ...] = (limit,)
        if after_id is not None:
            query += " WHERE id > ?"
            params = (after_id, limit)
        rows = self._db.execute(query + " ORDER BY id LIMIT ?", params).fetchall()
        return [(r[0], Message(r[2], bytes(r[3]), int(r[4]), bool(r[5])), float(r[1])) for r in rows]

    def remove_through(self, row_id: int) -> None:
        """Remove every row up to ``row_id`` (messages the broker acknowledged, in order)."""
        cursor = self._db.execute("DELETE FROM queue WHERE id <= ?", (row_id,))
        self._count -= max(cursor.rowcount, 0)

    def oldest_enqueued(self) -> float | None:
        """When the oldest row was queued (None when empty)."""
        if not self._count:
            return None
        row = self._db.execute("SELECT enqueued FROM queue ORDER BY id LIMIT 1").fetchone()
        return float(row[0]) if row is not None else None

    def get_meta(self, key: str) -> int | None:
        """A number kept beside the queue (the Sparkplug ``bdSeq``), None when never set."""
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return int(row[0]) if row is not None else None

    def set_meta(self, key: str, value: int) -> None:
        """Keep a number beside the queue; it survives a restart (and a crash once written)."""
        self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def close(self) -> None:
        """Close the database (the queued messages stay on disk for the next start)."""
        self._db.close()
