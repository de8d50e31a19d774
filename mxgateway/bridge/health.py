"""Health of the bridge: counters, the status topic's payloads and the state line on a terminal."""

from __future__ import annotations

import datetime as dt
import json
import sys
from dataclasses import asdict, dataclass
from typing import TextIO

__all__ = ["Counters", "StateLine", "status_payload"]


@dataclass
class Counters:
    """What the bridge did since it started."""

    #: Changes received from the gateway.
    changes: int = 0
    #: Messages the broker acknowledged.
    published: int = 0
    #: Messages that had to wait on disk because the broker was away or slow.
    queued: int = 0
    #: Messages dropped by the store's size or age limit.
    dropped: int = 0
    #: Writes from MQTT applied (confirmed by the gateway).
    written: int = 0
    #: Writes from MQTT refused or failed.
    write_errors: int = 0
    #: Connections to the broker made.
    broker_connects: int = 0
    #: Sparkplug birth messages published (NBIRTH and DBIRTH).
    births: int = 0

    def snapshot(self) -> dict[str, int]:
        """The counters as a dict."""
        return asdict(self)


def status_payload(online: bool, counters: Counters | None = None, **extra: object) -> bytes:
    """The JSON of the status topic: ``online``/``offline``, a time and (when given) the counters."""
    document: dict[str, object] = {
        "state": "online" if online else "offline",
        "time": dt.datetime.now(dt.timezone.utc).isoformat(),
    }
    if counters is not None:
        document["counters"] = counters.snapshot()
    document.update(extra)
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


class StateLine:
    """One line on stderr, redrawn in place, only when stderr is a terminal."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self._enabled = bool(getattr(self._stream, "isatty", lambda: False)())
        self._width = 0

    @property
    def enabled(self) -> bool:
        """True when the line is drawn (stderr is a terminal)."""
        return self._enabled

    def show(self, broker: str, gateway: str, counters: Counters, queued_now: int) -> None:
        """Redraw the line."""
        if not self._enabled:
            return
        c = counters
        text = (
            f"broker {broker} | gateway {gateway} | changes {c.changes} published {c.published} "
            f"waiting {queued_now} dropped {c.dropped} written {c.written}"
        )
        pad = max(self._width - len(text), 0)
        self._width = len(text)
        self._stream.write("\r" + text + " " * pad)
        self._stream.flush()

    def close(self) -> None:
        """End the line so that later output starts on a fresh one."""
        if self._enabled and self._width:
            self._stream.write("\n")
            self._stream.flush()
