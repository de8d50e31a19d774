"""Live terminal views drawn with Rich: the tag board of ``watch`` and the alarm summary of ``alarms watch``.

Imported only when a view runs on a terminal: Rich costs start-up time that
piped commands and ``--help`` never pay. Views are drawn on stderr (tables for
people go there), redrawn in place, and stay on screen as they were last drawn.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from mxgateway.cli.human import time_text, value_text

__all__ = ["AlarmSummary", "TagBoard", "live_console", "run_live"]

#: The window changes per second are counted over.
RATE_WINDOW_S = 10.0


def live_console(stream: IO[str] | None = None, *, width: int | None = None) -> Console:
    """The console views draw on (stderr by default)."""
    return Console(file=stream or sys.stderr, width=width, highlight=False)


def _age(seconds: float) -> str:
    if seconds < 0:
        return "0.0 s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


@dataclass
class _TagRow:
    change: Any = None
    total: int = 0
    arrivals: deque[float] = field(default_factory=deque)


class TagBoard:
    """The latest value of each watched tag, its age and how often it changes."""

    def __init__(self, tags: Sequence[str], *, clock: Callable[[], float] = time.monotonic) -> None:
        self._rows = {tag: _TagRow() for tag in tags}
        self._clock = clock
        self._started = clock()
        self.gaps = 0
        self.recoveries = 0

    def add(self, items: Iterable[Any]) -> None:
        """Take changes (and recording markers) in the order they came."""
        now = self._clock()
        for item in items:
            kind = type(item).__name__
            if kind == "RecordingGap":
                self.gaps += 1
                continue
            if kind == "RecordingRecovery":
                self.recoveries += 1
                continue
            row = self._rows.setdefault(str(item.tag), _TagRow())
            if row.change is not None:  # the first is the current value, not a change
                row.arrivals.append(now)
            row.change = item
            row.total += 1

    def _rate(self, row: _TagRow, now: float) -> float:
        while row.arrivals and row.arrivals[0] < now - RATE_WINDOW_S:
            row.arrivals.popleft()
        span = min(RATE_WINDOW_S, max(now - self._started, 1e-9))
        return len(row.arrivals) / span

    def render(self, *, now_utc: dt.datetime | None = None) -> Table:
        """The table as it stands now."""
        now = self._clock()
        utc = now_utc or dt.datetime.now(dt.timezone.utc)
        table = Table(title=self._title(), title_justify="left", expand=False)
        for name, justify in (
            ("tag", "left"),
            ("value", "right"),
            ("quality", "left"),
            ("source time", "left"),
            ("age", "right"),
            ("changes/s", "right"),
        ):
            table.add_column(name, justify=justify, no_wrap=name != "value")  # type: ignore[arg-type]
        for tag, row in self._rows.items():
            change = row.change
            if change is None:
                table.add_row(tag, Text("waiting", style="dim"), "", "", "", "")
                continue
            quality = change.quality.name
            stamp = change.source_timestamp
            age = _age((utc - stamp).total_seconds()) if stamp is not None else ""
            value = change.value
            table.add_row(
                tag,
                f"{value:.7g}" if isinstance(value, float) else value_text(value),
                Text(quality, style="" if quality == "good" else "bold red"),
                time_text(stamp),
                age,
                f"{self._rate(row, now):.1f}",
            )
        return table

    def _title(self) -> str:
        parts = [f"{len(self._rows)} tags, {sum(r.total for r in self._rows.values())} changes"]
        if self.gaps:
            parts.append(f"{self.gaps} gap{'s' * (self.gaps > 1)} (values re-read)")
        if self.recoveries:
            parts.append(f"session replaced {self.recoveries}x")
        return ", ".join(parts) + " - Ctrl-C to stop"


_SEVERITY_STYLE = ((800, "bold red"), (500, "red"), (250, "yellow"))
_UNACKNOWLEDGED = {"ACTIVE", "CLEARED_UNACKNOWLEDGED"}


class AlarmSummary:
    """The active set, most severe first, unacknowledged alarms marked."""

    def __init__(self) -> None:
        self.provider = ""
        self.transitions = 0

    def render(self, active: Mapping[str, Any]) -> Group:
        """The summary line and the table of ``active`` (reference -> Alarm)."""
        alarms = sorted(
            active.values(),
            key=lambda a: (
                -a.severity,
                a.last_transition_time or dt.datetime.min.replace(tzinfo=dt.timezone.utc),
            ),
        )
        unacknowledged = sum(1 for a in alarms if a.state.name in _UNACKNOWLEDGED)
        head = Text(
            f"{len(alarms)} active alarm{'s' * (len(alarms) != 1)}, {unacknowledged} unacknowledged"
            + (f" - provider {self.provider}" if self.provider else "")
            + f" - {self.transitions} transitions seen - Ctrl-C to stop"
        )
        if not alarms:
            return Group(head, Text("no active alarms", style="green"))
        table = Table(expand=False)
        for name, justify in (
            ("", "left"),
            ("severity", "right"),
            ("state", "left"),
            ("reference", "left"),
            ("value", "right"),
            ("since", "left"),
        ):
            table.add_column(name, justify=justify)  # type: ignore[arg-type]
        for alarm in alarms:
            style = next((s for floor, s in _SEVERITY_STYLE if alarm.severity >= floor), "")
            mark = "!" if alarm.state.name in _UNACKNOWLEDGED else " "
            value = "" if alarm.current_value is None else value_text(alarm.current_value)
            table.add_row(
                Text(mark, style="bold"),
                Text(str(alarm.severity), style=style),
                alarm.state.name,
                alarm.reference,
                value,
                time_text(alarm.last_transition_time),
            )
        return Group(head, table, Text("! unacknowledged", style="dim"))


@contextlib.contextmanager
def _interrupts_after() -> Iterator[None]:
    """Hold a Ctrl-C that comes inside until the block is done, then deliver it.

    Starting and stopping a view must not be cut in half: a view started but never
    stopped keeps drawing, and leaves the terminal's cursor hidden.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught:
            signal.raise_signal(signal.SIGINT)


@contextlib.contextmanager
def run_live(console: Console, first: Any, refresh_per_second: float = 4) -> Iterator[Live]:
    """A ``Live`` display of ``first`` on ``console`` (``update()`` redraws); stopped on the way out."""
    live = Live(first, console=console, refresh_per_second=refresh_per_second, transient=False)
    try:
        with _interrupts_after():
            live.start(refresh=True)
        yield live
    finally:
        with _interrupts_after():
            live.stop()
