"""A live chart in a notebook: a subscription's changes drawn and redrawn in place.

``LiveChart`` draws with :mod:`mxgateway._views.plotting` and shows the PNG through
one IPython display handle, updated after every ``refresh`` seconds of changes.
It runs as the caller's coroutine and starts nothing of its own (no task, no
thread): when the duration ends, or the cell is interrupted (the coroutine is
cancelled), it draws once more and returns or re-raises; the subscription's
owner then closes it.
"""

from __future__ import annotations

import asyncio
import sys
from collections import deque
from collections.abc import Sequence
from typing import Any, Protocol

from mxgateway._model.display import ResultList
from mxgateway._views import plotting
from mxgateway._views.recording import check_limits

__all__ = ["MAX_POINTS", "ChangeCollector", "LiveChart"]

#: Changes a live chart keeps (the newest): a trend left running for hours stays small.
MAX_POINTS = 20_000


class ChangeCollector(Protocol):
    """What a live chart reads: a subscription's ``collect()``."""

    async def collect(self, seconds: float | None = None, max_changes: int | None = None) -> list[Any]:
        """The changes (and markers) of the next ``seconds``."""
        ...


def _notebook_display() -> Any:
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is None or not hasattr(shell, "kernel"):
        raise RuntimeError(
            "trend() draws in a Jupyter notebook; elsewhere use record() and plot(), "
            "or mxgw-py watch TAG... in a terminal"
        )
    from IPython import display

    return display


class LiveChart:
    """One chart in a notebook cell, redrawn as changes come."""

    def __init__(self, tags: Sequence[str], seconds: float | None, refresh: float) -> None:
        check_limits(seconds, None, endless_ok=True)
        self._display = _notebook_display()
        plotting.import_matplotlib()
        self._tags = [tags] if isinstance(tags, str) else list(tags)
        self._seconds = seconds
        self._refresh = refresh
        self._points: deque[Any] = deque(maxlen=MAX_POINTS)
        self._handle: Any = None

    def _draw(self, state: str) -> None:
        names = ", ".join(self._tags[:4]) + (
            f" and {len(self._tags) - 4} more" if len(self._tags) > 4 else ""
        )
        count = sum(1 for p in self._points if hasattr(p, "tag"))
        figure = plotting.plot_recording(ResultList(self._points), title=f"{names}: {count} changes, {state}")
        image = self._display.Image(data=plotting.figure_png(figure), format="png")
        if self._handle is None:
            self._handle = self._display.display(image, display_id=True)
        else:
            self._handle.update(image)

    async def run(self, source: ChangeCollector) -> None:
        """Draw ``source``'s changes until the duration ends (forever without one) or cancellation."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        end = None if self._seconds is None else started + self._seconds
        self._draw("waiting for changes")
        state = "interrupted"
        try:
            while end is None or loop.time() < end:
                step = self._refresh if end is None else min(self._refresh, end - loop.time())
                self._points.extend(await source.collect(max(step, 0.0)))
                self._draw(f"live, {loop.time() - started:.0f} s")
            state = f"ended after {loop.time() - started:.0f} s"
        finally:
            self._draw(state)
