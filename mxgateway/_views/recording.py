"""Collecting a subscription's changes for a while: what ``collect()``, ``record()`` and trends run.

The loop uses only what any reader of a subscription has: its ``async for`` (one
step at a time, each bounded by the deadline) and its ``missed`` and
``recoveries`` counters. When a counter moved before a change, the subscription
lost events or moved to a new session there: a marker goes into the recording
right before that change, so a recording says where it is incomplete.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
from collections.abc import AsyncIterator
from typing import Any, Protocol, TypeVar, cast

from mxgateway._model.display import ResultList
from mxgateway._views.markers import RecordingGap, RecordingMarker, RecordingRecovery
from mxgateway.errors import MxGatewayArgumentError

__all__ = ["ChangeSource", "check_limits", "collect_changes"]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class ChangeSource(Protocol[T_co]):
    """What a recording reads: a subscription (changes by ``async for``, and its counters)."""

    def __aiter__(self) -> AsyncIterator[T_co]:
        """The changes."""
        ...

    @property
    def missed(self) -> int:
        """Events lost to gaps so far."""
        ...

    @property
    def recoveries(self) -> int:
        """Moves to a replacement session so far."""
        ...


def check_limits(seconds: object, max_changes: object, *, endless_ok: bool = False) -> None:
    """Raise ``MxGatewayArgumentError`` unless the limits are usable (and, unless ``endless_ok``, end)."""
    if seconds is not None:
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
            raise MxGatewayArgumentError(
                f"seconds must be a number of seconds or None, not {seconds!r}", argument="seconds"
            )
        if not math.isfinite(seconds) or seconds < 0:
            raise MxGatewayArgumentError(
                f"seconds must be finite and not negative, not {seconds!r}", argument="seconds"
            )
    if max_changes is not None and (
        isinstance(max_changes, bool) or not isinstance(max_changes, int) or max_changes < 1
    ):
        raise MxGatewayArgumentError(
            f"max_changes must be a positive int or None, not {max_changes!r}", argument="max_changes"
        )
    if seconds is None and max_changes is None and not endless_ok:
        raise MxGatewayArgumentError(
            "give seconds or max_changes (or both): without either the recording would never end",
            argument="seconds",
        )


class _Recorder:
    """The growing recording and the counters it last saw."""

    def __init__(self, source: ChangeSource[Any]) -> None:
        self.source = source
        self.items: ResultList[Any] = ResultList()
        self.missed = source.missed
        self.recoveries = source.recoveries

    def note_markers(self) -> None:
        source = self.source
        recoveries, missed = source.recoveries, source.missed
        now = dt.datetime.now(dt.timezone.utc)
        markers: list[RecordingMarker] = []
        if recoveries > self.recoveries:
            markers.extend(RecordingRecovery(now) for _ in range(recoveries - self.recoveries))
        if missed > self.missed:
            markers.append(RecordingGap(missed - self.missed, now))
        self.recoveries, self.missed = recoveries, missed
        self.items.extend(markers)


async def collect_changes(
    source: ChangeSource[T], seconds: float | None, max_changes: int | None
) -> ResultList[T | RecordingGap | RecordingRecovery]:
    """The changes ``source`` yields until ``seconds`` passed or ``max_changes`` came, with markers.

    It ends early when the source ends (a closed subscription). Cancelling it
    cancels the step in flight; what it had collected is then lost with it.
    """
    check_limits(seconds, max_changes)
    loop = asyncio.get_running_loop()
    deadline = None if seconds is None else loop.time() + seconds
    recorder = _Recorder(source)
    changes = source.__aiter__()
    count = 0
    while max_changes is None or count < max_changes:
        try:
            if deadline is None:
                change = await changes.__anext__()
            else:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                step = await _next_within(changes, remaining)
                if step is _TIMED_OUT:
                    break
                change = step
        except StopAsyncIteration:
            break
        recorder.note_markers()
        recorder.items.append(change)
        count += 1
    recorder.note_markers()
    return recorder.items


_TIMED_OUT: Any = object()


async def _next_within(changes: AsyncIterator[T], seconds: float) -> T:
    """The next of ``changes`` within ``seconds``, or ``_TIMED_OUT`` (the step is then cancelled).

    Not ``asyncio.wait_for``: before Python 3.12 it returns the step's value instead of
    raising when the caller is cancelled as the step completes, so a cancelled
    recording (an interrupted trend) would go on running.
    """
    step = asyncio.ensure_future(changes.__anext__())
    try:
        await asyncio.wait({step}, timeout=seconds)
    except asyncio.CancelledError:
        await _cancel_and_wait(step)
        raise
    if not step.done():
        await _cancel_and_wait(step)
        if step.cancelled():
            return cast(T, _TIMED_OUT)
    return step.result()


async def _cancel_and_wait(step: asyncio.Future[Any]) -> None:
    """Cancel ``step`` and wait until it ended: nothing of it runs on after the caller."""
    step.cancel()
    await asyncio.wait({step})
    if step.done() and not step.cancelled():
        step.exception()  # retrieved: the caller's outcome is what counts
