"""``mxgw-py alarms ...``: the gateway's alarms (the active set, a live feed, acknowledgement).

Alarms need no session. Records use the SDK's field names with enum names as
strings (``"state": "ACTIVE"``); ``alarms watch`` prints one JSON document per
line and keeps going through a gateway restart (the feed reconnects and prints
the synthetic transitions that reconcile what changed meanwhile).
"""

from __future__ import annotations

import sys
from enum import Enum
from typing import Annotated, Any

import typer

from mxgateway.cli.connections import shared_connections
from mxgateway.cli.context import JSON_MODE, emit
from mxgateway.cli.options import CommonOptions, gateway_command
from mxgateway.cli.output import format_table, is_terminal

__all__ = ["alarm_record", "app", "feed_event_record"]

app = typer.Typer(
    name="alarms",
    help="Show, watch and acknowledge the gateway's alarms.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

PrefixOpt = Annotated[
    str,
    typer.Option(
        "--prefix", help="Only alarms whose full reference starts with this (Galaxy!Area.Object...)."
    ),
]

_TABLE_COLUMNS = ("reference", "state", "severity", "alarm_type", "current_value", "operator_user")


def _plain(value: Any) -> Any:
    return value.name if isinstance(value, Enum) else value


def alarm_record(alarm: Any) -> dict[str, Any]:
    """An ``Alarm`` as a JSON-ready dict of all its fields (enum names as strings)."""
    from mxgateway._alarms.model import Alarm

    return {name: _plain(getattr(alarm, name)) for name in Alarm.__match_args__}


def feed_event_record(event: Any) -> dict[str, Any]:
    """An ``AlarmFeed`` event (a transition or a provider status) as a JSON-ready dict."""
    if hasattr(event, "alarm"):
        return {
            "alarm": alarm_record(event.alarm),
            "event": "transition",
            "kind": _plain(event.kind),
            "synthetic": event.synthetic,
            "transition_time": event.transition_time,
        }
    return {
        "degraded": event.degraded,
        "event": "provider_status",
        "mode": _plain(event.mode),
        "reason": event.reason,
        "since": event.since,
    }


@app.command("active")
@gateway_command
def active(
    common: CommonOptions,
    prefix: PrefixOpt = "",
    table: Annotated[
        bool, typer.Option("--table", help="Show a table on the terminal (stderr) instead of lines on it.")
    ] = False,
) -> None:
    """Print the active set: alarms that are active, or cleared but not yet acknowledged."""
    show_table = table and is_terminal(sys.stderr)
    # Lines still go to a redirected stdout; on the terminal the table replaces them.
    print_lines = not (show_table and is_terminal(sys.stdout))
    with shared_connections() as connections:
        alarms = connections.gateway(common).active_alarms(prefix)
    records = [alarm_record(alarm) for alarm in sorted(alarms, key=lambda a: a.reference)]
    if print_lines:
        for record in records:
            emit(record)
    if not records and is_terminal(sys.stdout) and not JSON_MODE.get():
        sys.stderr.write(
            "no active alarms" + (f" whose reference starts with {prefix!r}" if prefix else "") + "\n"
        )
    if show_table:
        sys.stderr.write(format_table(records, _TABLE_COLUMNS) + "\n")


@app.command("watch")
@gateway_command
def watch(
    common: CommonOptions,
    prefix: PrefixOpt = "",
    max_events: Annotated[
        int, typer.Option("--max-events", min=0, help="Stop after this many events (0: until Ctrl-C).")
    ] = 0,
) -> None:
    """Watch the alarms: a live summary on a terminal, else the active set and every change as JSON lines.

    On a terminal the summary (most severe first, unacknowledged ones marked)
    is redrawn in place. Piped, the active set comes first as "active" records;
    then transitions (synthetic ones after a reconnect say so) and provider
    status changes, which --max-events counts.
    """
    if is_terminal(sys.stdout) and is_terminal(sys.stderr) and not JSON_MODE.get():
        _watch_live(common, prefix, max_events)
        return
    with shared_connections() as connections, connections.gateway(common).alarm_feed(prefix) as feed:
        for reference, alarm in sorted(feed.active.items()):
            emit({"alarm": alarm_record(alarm), "event": "active", "reference": reference}, as_json=True)
        for count, event in enumerate(feed, start=1):
            emit(feed_event_record(event), as_json=True)
            if max_events and count >= max_events:
                break


def _watch_live(common: CommonOptions, prefix: str, max_events: int) -> None:
    from mxgateway.cli.live_views import AlarmSummary, live_console, run_live

    summary = AlarmSummary()
    with (
        shared_connections() as connections,
        connections.gateway(common).alarm_feed(prefix) as feed,
        run_live(live_console(), summary.render(feed.active)) as view,
    ):
        for count, event in enumerate(feed, start=1):
            if hasattr(event, "alarm"):
                summary.transitions += 1
            else:
                summary.provider = f"{_plain(event.mode)}{' (degraded)' if event.degraded else ''}"
            view.update(summary.render(feed.active))
            if max_events and count >= max_events:
                break


@app.command("ack")
@gateway_command
def ack(
    common: CommonOptions,
    reference: Annotated[str, typer.Argument(help="The alarm's full reference.", show_default=False)],
    comment: Annotated[str, typer.Option("--comment", help="The operator's comment.")] = "",
    operator: Annotated[str, typer.Option("--operator", help="Who acknowledges (user name).")] = "",
) -> None:
    """Acknowledge an alarm (again is not an error; an unknown alarm exits 8)."""
    with shared_connections() as connections:
        connections.gateway(common).acknowledge_alarm(reference, comment=comment, operator=operator)
    emit({"acknowledged": reference})
