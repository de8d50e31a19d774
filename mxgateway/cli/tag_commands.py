"""Tag commands: the bulk MXAccess commands, the event stream, and ``read``, ``subscribe``, ``smoke``.

``read``, ``subscribe`` and ``smoke`` open their own session and close it before
they exit (also on Ctrl-C), unless given ``--session-id``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

from mxgateway.cli.connections import shared_connections
from mxgateway.cli.context import ENV_SESSION_ID, emit, session_id_for
from mxgateway.cli.errors import CliUsageError
from mxgateway.cli.fast import fail_if_any, read_tags
from mxgateway.cli.options import CommonOptions, gateway_command
from mxgateway.cli.output import Progress, message_to_dict
from mxgateway.cli.session_support import (
    DEFAULT_CLIENT_NAME,
    DEFAULT_SMOKE_TAG,
    MaxEventsOpt,
    OptionalSessionOpt,
    ServerOpt,
    SessionOpt,
    TagsArg,
    TypeOpt,
    UserIdOpt,
    change_record,
    item_record,
    mx_data_type,
    no_interrupts,
    own_or_attached_session,
    read_record,
    write_record,
)
from mxgateway.cli.value_parsing import ParsedValue, ValueParseError, parse_value

if TYPE_CHECKING:
    from mxgateway._model.events import DataChange

__all__ = [
    "event_document",
    "read",
    "read_bulk",
    "smoke",
    "stream_events",
    "subscribe",
    "subscribe_bulk",
    "write_bulk",
]

# ---------------------------------------------------------------------------- bulk commands

#: Tags per SubscribeBulk command when ``subscribe-bulk`` is given many (each block advances the progress).
BULK_BLOCK = 500


@gateway_command
def subscribe_bulk(
    common: CommonOptions,
    tags: TagsArg,
    server_handle: ServerOpt,
    session_id: SessionOpt = "",
    supervisory: Annotated[
        bool, typer.Option("--supervisory", help="Advise as a supervisory client.")
    ] = False,
) -> None:
    """Add and advise many tags at once; one result line per tag.

    More than 500 tags go in blocks of 500, with a progress line on a terminal.
    """
    results: list[Any] = []
    with shared_connections() as connections, Progress("subscribing", total=len(tags)) as progress:
        session = connections.session(common, session_id_for(session_id))
        for start in range(0, len(tags), BULK_BLOCK):
            block = session.subscribe_bulk(
                server_handle, tags[start : start + BULK_BLOCK], supervisory=supervisory
            )
            results.extend(block)
            if len(tags) > BULK_BLOCK:
                progress.advance(len(block))
    for result in results:
        emit(item_record(result))
    fail_if_any(results, "subscribed")


@gateway_command
def read_bulk(
    common: CommonOptions,
    tags: TagsArg,
    server_handle: ServerOpt,
    session_id: SessionOpt = "",
    read_timeout: Annotated[
        float,
        typer.Option(
            "--read-timeout",
            min=0,
            # The wire carries milliseconds in an int32.
            max=(2**31 - 1) / 1000,
            help="How long MXAccess may wait for values, seconds (0: gateway default).",
        ),
    ] = 0,
) -> None:
    """Read many tags on a server handle; one result line per tag."""
    with shared_connections() as connections:
        results = connections.session(common, session_id_for(session_id)).read_bulk(
            server_handle, tags, timeout_ms=int(read_timeout * 1000)
        )
        for result in results:
            emit(read_record(result))
        fail_if_any(results, "read")


def _write_entry(text: str, type_name: str) -> tuple[int, ParsedValue]:
    handle, sep, value = text.partition("=")
    if not sep:
        raise CliUsageError(f"{text!r} is not ITEM_HANDLE=VALUE")
    try:
        item_handle = int(handle.strip())
    except ValueError:
        raise CliUsageError(f"{handle!r} is not an item handle") from None
    try:
        return item_handle, parse_value(value, type_name)
    except ValueParseError as exc:
        raise ValueParseError(f"item {item_handle}: {exc}") from None


@gateway_command
def write_bulk(
    common: CommonOptions,
    entries: Annotated[list[str], typer.Argument(help="ITEM_HANDLE=VALUE pairs.", show_default=False)],
    server_handle: ServerOpt,
    type_name: TypeOpt,
    session_id: SessionOpt = "",
    user_id: UserIdOpt = 0,
) -> None:
    """Write many items at once (every value of --type); one result line per item."""
    parsed = [_write_entry(e, type_name) for e in entries]
    from mxgateway._model.results import WriteEntry

    with shared_connections() as connections:
        results = connections.session(common, session_id_for(session_id)).write_bulk(
            server_handle,
            [WriteEntry(h, p.value, user_id=user_id, data_type=mx_data_type(p)) for h, p in parsed],
        )
        for result in results:
            emit(write_record(result))
        fail_if_any(results, "written")


# ---------------------------------------------------------------------------- events


@gateway_command
def stream_events(
    common: CommonOptions,
    session_id: SessionOpt = "",
    max_events: MaxEventsOpt = 0,
    after_sequence: Annotated[
        int,
        typer.Option(
            "--after-sequence", min=0, help="Replay retained events after this worker sequence first."
        ),
    ] = 0,
) -> None:
    """Print the session's events as they come, one JSON document per line (raw MxEvent).

    A stream shows the events raised after it opened; --after-sequence N first
    replays the retained events with a sequence above N. It survives a dropped
    connection (resuming after the last event); what could not be kept shows as
    a {"marker": ...} line.
    """
    session_id = session_id_for(session_id)
    if not session_id:
        raise CliUsageError(f"--session-id is required (or set {ENV_SESSION_ID})")
    with shared_connections() as connections:
        session = connections.session(common, session_id)
        count = 0
        with session.events(after_worker_sequence=after_sequence) as stream:
            if max_events == 0 or count < max_events:
                for event in stream:
                    emit(event_document(event), as_json=True)
                    count += 1
                    if max_events and count >= max_events:
                        break


def event_document(event: Any) -> dict[str, Any]:
    """An event as its raw MxEvent's JSON; a marker as ``{"marker": name, ...its fields}``."""
    from mxgateway._model.events import ReplayGap, is_marker

    if not is_marker(event) or isinstance(event, ReplayGap):
        return message_to_dict(event.raw)
    fields = {name: getattr(event, name) for name in event.__dataclass_fields__ if name != "raw"}
    return {"marker": type(event).__name__, **fields}


# ---------------------------------------------------------------------------- tag-level commands


@gateway_command
def read(common: CommonOptions, tags: TagsArg, session_id: OptionalSessionOpt = "") -> None:
    """Read tags: one line per tag, in order (exit 7 when any could not be read)."""
    read_tags(common, tags, session_id)


@gateway_command
def subscribe(
    common: CommonOptions,
    tags: TagsArg,
    session_id: OptionalSessionOpt = "",
    max_events: MaxEventsOpt = 0,
    supervisory: Annotated[
        bool, typer.Option("--supervisory", help="Advise as a supervisory client.")
    ] = False,
) -> None:
    """Print data changes of tags (first their current values) until Ctrl-C or --max-events."""
    with (
        shared_connections() as connections,
        own_or_attached_session(connections, common, session_id, "mxgw-py subscribe") as session,
    ):
        count = 0
        with session.subscribe(tags, supervisory=supervisory) as subscription:
            if max_events == 0 or count < max_events:
                for change in subscription:
                    emit(change_record(change))
                    count += 1
                    if max_events and count >= max_events:
                        break


@gateway_command
def smoke(
    common: CommonOptions,
    tag: Annotated[
        str,
        typer.Argument(
            envvar="MXGATEWAY_TEST_ITEM", show_envvar=False, help="Tag to use [env MXGATEWAY_TEST_ITEM]."
        ),
    ] = DEFAULT_SMOKE_TAG,
    max_events: Annotated[int, typer.Option("--max-events", min=1, help="Data changes to wait for.")] = 1,
) -> None:
    """Check a gateway end to end: open a session, register, add and advise a tag, stream events, close."""
    with shared_connections() as connections:
        client = connections.gateway(common)
        session = client.open_session("mxgw-py smoke")
        try:
            emit({"session_id": session.session_id, "step": "open_session"})
            server_handle = session.register(DEFAULT_CLIENT_NAME)
            emit({"server_handle": server_handle, "step": "register"})
            item_handle = session.add_item(server_handle, tag)
            emit({"item_handle": item_handle, "step": "add_item", "tag": tag})
            # Connected before advising: the first event, the current value, must not be missed.
            with session.events() as events:
                events.wait_connected()
                session.advise(server_handle, item_handle)
                emit({"item_handle": item_handle, "step": "advise"})
                count = 0
                for event in events:
                    if (
                        type(event).__name__ != "DataChange"
                        or cast("DataChange", event).item_handle != item_handle
                    ):
                        continue
                    emit({**change_record(event), "step": "event"})
                    count += 1
                    if count >= max_events:
                        break
        finally:
            with no_interrupts():
                session.close()
        emit({"session_id": session.session_id, "step": "close_session"})
