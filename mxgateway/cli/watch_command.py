"""``mxgw-py watch TAG...``: a live table of tags on a terminal, JSON lines when piped.

On a terminal (stdout and stderr both) the table (value, quality, source time,
age, changes per second) is redrawn in place on stderr; piped, or with
``--json``, every change is one JSON document per line on stdout, and a gap or a
replaced session a ``{"marker": ...}`` line. It reads through
``Subscription.collect`` in short steps, so the ages move on between changes.
"""

from __future__ import annotations

import sys
import time
from typing import Annotated, Any

import typer

from mxgateway.cli.connections import shared_connections
from mxgateway.cli.context import JSON_MODE, emit
from mxgateway.cli.options import CommonOptions, gateway_command
from mxgateway.cli.output import is_terminal
from mxgateway.cli.session_support import (
    MaxEventsOpt,
    OptionalSessionOpt,
    TagsArg,
    change_record,
    own_or_attached_session,
)

__all__ = ["marker_record", "watch"]

#: How long one step waits for changes before the view is redrawn.
STEP_S = 0.25


def marker_record(marker: Any) -> dict[str, Any]:
    """A recording marker as a JSON-ready line: ``{"marker": "RecordingGap", ...}``."""
    fields = {name: getattr(marker, name) for name in marker.__dataclass_fields__}
    return {"marker": type(marker).__name__, **fields}


@gateway_command
def watch(
    common: CommonOptions,
    tags: TagsArg,
    session_id: OptionalSessionOpt = "",
    seconds: Annotated[
        float, typer.Option("--seconds", min=0, help="Stop after this many seconds (0: until Ctrl-C).")
    ] = 0,
    max_events: MaxEventsOpt = 0,
) -> None:
    """Watch tags live: a table redrawn in place on a terminal, JSON lines when piped.

    The table shows each tag's value, quality, source time, age and changes per
    second; piped (or with --json) every change is one JSON document per line.
    """
    live = is_terminal(sys.stdout) and is_terminal(sys.stderr) and not JSON_MODE.get()
    deadline = time.monotonic() + seconds if seconds else None
    with (
        shared_connections() as connections,
        own_or_attached_session(connections, common, session_id, "mxgw-py watch") as session,
        session.subscribe(tags) as subscription,
    ):
        if live:
            from mxgateway.cli.live_views import TagBoard, live_console, run_live

            board = TagBoard(tags)
            with run_live(live_console(), board.render()) as view:
                for batch in _batches(subscription, deadline, max_events):
                    board.add(batch)
                    view.update(board.render())
        else:
            for batch in _batches(subscription, deadline, max_events):
                for item in batch:
                    is_change = type(item).__name__ == "DataChange"
                    emit(change_record(item) if is_change else marker_record(item), as_json=True)


def _batches(subscription: Any, deadline: float | None, max_events: int) -> Any:
    """What ``subscription`` brings in steps of ``STEP_S``, until the deadline or ``max_events`` changes."""
    count = 0
    while True:  # until the deadline, the count, or Ctrl-C
        step = STEP_S if deadline is None else min(STEP_S, deadline - time.monotonic())
        if step <= 0:
            return
        left = max_events - count if max_events else None
        batch = subscription.collect(step, left)
        count += sum(1 for item in batch if type(item).__name__ == "DataChange")
        yield batch
        if max_events and count >= max_events:
            return
