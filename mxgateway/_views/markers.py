"""What a recording keeps besides changes: where it lost events and where its session was replaced.

A subscription repairs both by itself (it re-reads its tags after a gap, subscribes
them again on a recovered session), so the changes after a marker are right again;
the marker says that what happened in between is not all there.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

__all__ = ["RecordingGap", "RecordingMarker", "RecordingRecovery", "is_recording_marker"]


@dataclass(frozen=True, slots=True)
class RecordingGap:
    """Events were lost here: ``missed`` events of the session (not all of them the recorded tags').

    The changes after it start with the tags' values re-read after the gap.
    ``noticed_at`` is when the recording learnt of it (local clock, UTC).
    """

    missed: int
    noticed_at: dt.datetime

    def __repr__(self) -> str:
        return f"RecordingGap({self.missed} events missed, noticed {_clock(self.noticed_at)})"


@dataclass(frozen=True, slots=True)
class RecordingRecovery:
    """The gateway lost the session here and a new one replaced it.

    The tags were subscribed again on the new session; the changes after it start
    with their current values. ``noticed_at`` is when the recording learnt of it.
    """

    noticed_at: dt.datetime

    def __repr__(self) -> str:
        return f"RecordingRecovery(session replaced, noticed {_clock(self.noticed_at)})"


#: Either marker of a recording.
RecordingMarker = RecordingGap | RecordingRecovery


def is_recording_marker(item: object) -> bool:
    """True for ``RecordingGap`` and ``RecordingRecovery``."""
    return isinstance(item, (RecordingGap, RecordingRecovery))


def _clock(stamp: dt.datetime) -> str:
    return stamp.astimezone(dt.timezone.utc).strftime("%H:%M:%S.%f")[:-3] + "Z"
