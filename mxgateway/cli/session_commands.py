"""Session commands: one per MXAccess command, plus ``read``, ``subscribe`` and ``smoke``.

The MXAccess-level commands work on a session that outlives the invocation:
``open-session`` prints its id, later invocations name it with ``--session-id``
(or ``MXGATEWAY_SESSION_ID``) and leave it open, ``close-session`` ends it.
``read``, ``subscribe`` and ``smoke`` open their own session and close it before
they exit (also on Ctrl-C), unless given ``--session-id``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

from mxgateway.cli.connections import shared_connections
from mxgateway.cli.context import ENV_SESSION_ID, emit, forget_session, remember_session, session_id_for
from mxgateway.cli.credentials import read_password
from mxgateway.cli.errors import CliUsageError
from mxgateway.cli.exit_codes import ExitCode
from mxgateway.cli.options import CommonOptions, gateway_command
from mxgateway.cli.output import message_to_dict
from mxgateway.cli.value_parsing import TYPE_NAMES, ParsedValue, ValueParseError, parse_value

if TYPE_CHECKING:
    from mxgateway.cli.connections import Connections
    from mxgateway.events import DataChange

__all__ = ["change_record", "read_record"]

DEFAULT_CLIENT_NAME = "mxgw-py"
DEFAULT_SMOKE_TAG = "Tank_001.Level"

# No envvar= here: session_id_for reads MXGATEWAY_SESSION_ID itself, so that an
# error can say where a stale id came from, and a batch's open-session can win.
SessionOpt = Annotated[
    str,
    typer.Option("--session-id", help="Session from open-session [env MXGATEWAY_SESSION_ID]."),
]
OptionalSessionOpt = Annotated[
    str,
    typer.Option(
        "--session-id",
        help="Use this open session (left open) instead of opening one [env MXGATEWAY_SESSION_ID].",
    ),
]
ServerOpt = Annotated[int, typer.Option("--server-handle", help="Server handle from register.")]
ItemOpt = Annotated[int, typer.Option("--item-handle", help="Item handle from add-item.")]
TypeOpt = Annotated[str, typer.Option("--type", help=f"Value type: {', '.join(TYPE_NAMES)}.")]
ValueOpt = Annotated[str, typer.Option("--value", help="The value, as text (arrays: a JSON array).")]
UserIdOpt = Annotated[int, typer.Option("--user-id", help="MXAccess user id of the writer (0: none).")]
TimestampOpt = Annotated[str, typer.Option("--timestamp", help="The value's time, ISO-8601 with a zone.")]
TagsArg = Annotated[
    list[str], typer.Argument(help="Tag references such as Tank_001.Level.", show_default=False)
]
MaxEventsOpt = Annotated[
    int, typer.Option("--max-events", min=0, help="Stop after this many (0: until Ctrl-C).")
]


# ---------------------------------------------------------------------------- helpers


def _data_type_name(data_type: int) -> str:
    from mxgateway.values import data_type_name

    return data_type_name(data_type)


def _mx_data_type(parsed: ParsedValue) -> int | None:
    name = parsed.data_type_name
    if name is None:
        return None
    from mxgateway.generated import mxaccess_gateway_pb2 as pb

    return int(pb.MxDataType.Value(f"MX_DATA_TYPE_{name}"))


def _parse(value: str, type_name: str) -> ParsedValue:
    return parse_value(value, type_name)


def _parse_time(text: str) -> dt.datetime:
    parsed = parse_value(text, "time")
    assert isinstance(parsed.value, dt.datetime)
    return parsed.value


def read_record(result: Any) -> dict[str, Any]:
    """The JSON form of a ``ReadResult``."""
    return {
        "data_type": _data_type_name(result.data_type) if result.ok else None,
        "error_message": result.error_message,
        "item_handle": result.item_handle,
        "ok": result.ok,
        "quality": int(result.quality),
        "quality_name": result.quality.name,
        "source_timestamp": result.source_timestamp,
        "tag": result.tag,
        "value": result.value,
        "was_cached": result.was_cached,
    }


def change_record(change: Any) -> dict[str, Any]:
    """The JSON form of a ``DataChange``."""
    return {
        "data_type": _data_type_name(change.data_type),
        "item_handle": change.item_handle,
        "quality": int(change.quality),
        "quality_name": change.quality.name,
        "server_handle": change.server_handle,
        "source_timestamp": change.source_timestamp,
        "tag": change.tag,
        "value": change.value,
        "worker_sequence": change.worker_sequence,
    }


def _item_record(result: Any) -> dict[str, Any]:
    return {
        "error_message": result.error_message,
        "item_handle": result.item_handle,
        "ok": result.ok,
        "server_handle": result.server_handle,
        "tag": result.tag_address,
    }


def _write_record(result: Any) -> dict[str, Any]:
    return {
        "error_message": result.error_message,
        "hresult": result.hresult,
        "item_handle": result.item_handle,
        "ok": result.ok,
    }


@contextlib.contextmanager
def _no_interrupts() -> Iterator[None]:
    """Hold off Ctrl-C while a session is being closed, so clean-up is not cut short."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def own_or_attached_session(
    connections: Connections, common: CommonOptions, session_id: str, name: str
) -> Iterator[Any]:
    """The session ``session_id`` (left open), or a new one closed on the way out (also on Ctrl-C)."""
    session_id = session_id_for(session_id)
    if session_id:
        yield connections.session(common, session_id)
        return
    session = connections.gateway(common).open_session(name)
    try:
        yield session
    finally:
        with _no_interrupts():
            session.close()


def _secret_password(env: str | None, file: Path | None, label: str) -> str:
    return read_password(env, file, label=label)


# ---------------------------------------------------------------------------- session life

_EMBEDDED_SESSION_WARNING = (
    "mxgw-py: warning: this session lives in the simulator embedded in this process, which stops"
    " when it exits: later commands cannot use it. Run `mxgw-py simulate` in another terminal and"
    " point --endpoint (or MXGATEWAY_ENDPOINT) at the endpoint it prints, or use `mxgw-py batch`.\n"
)


@gateway_command
def open_session(
    common: CommonOptions,
    name: Annotated[
        str, typer.Option("--name", help="Client session name shown by the gateway.")
    ] = DEFAULT_CLIENT_NAME,
) -> None:
    """Open a session and print its id (left open for later commands; close it with close-session).

    Inside a batch, the session becomes the default of the following lines.
    """
    with shared_connections() as connections:
        reply = connections.gateway(common).open_session_raw(name)
        if common.json:
            emit(message_to_dict(reply))
        else:
            emit(reply.session_id)
        if not remember_session(reply.session_id) and common.embedded is not None:
            sys.stderr.write(_EMBEDDED_SESSION_WARNING)
            sys.stderr.flush()


@gateway_command
def close_session(common: CommonOptions, session_id: SessionOpt = "") -> None:
    """Close a session (closing twice is not an error)."""
    session_id = session_id_for(session_id)
    if not session_id:
        raise CliUsageError(f"--session-id is required (or set {ENV_SESSION_ID})")
    with shared_connections() as connections:
        reply = connections.gateway(common).close_session_raw(session_id)
        forget_session(session_id)
        emit(message_to_dict(reply))


# ---------------------------------------------------------------------------- MXAccess commands


@gateway_command
def register_(
    common: CommonOptions,
    session_id: SessionOpt = "",
    client_name: Annotated[
        str, typer.Option("--client-name", help="MXAccess client name.")
    ] = DEFAULT_CLIENT_NAME,
) -> None:
    """Register with MXAccess; prints the server handle."""
    with shared_connections() as connections:
        handle = connections.session(common, session_id_for(session_id)).register(client_name)
        emit({"server_handle": handle})


@gateway_command
def unregister(common: CommonOptions, server_handle: ServerOpt, session_id: SessionOpt = "") -> None:
    """Unregister a server handle (its items go with it)."""
    with shared_connections() as connections:
        connections.session(common, session_id_for(session_id)).unregister(server_handle)
        emit({"ok": True, "server_handle": server_handle})


@gateway_command
def add_item(
    common: CommonOptions,
    tag: Annotated[str, typer.Argument(help="Tag reference such as Tank_001.Level.", show_default=False)],
    server_handle: ServerOpt,
    session_id: SessionOpt = "",
    item_context: Annotated[
        str | None, typer.Option("--item-context", help="Item context (uses AddItem2).")
    ] = None,
) -> None:
    """Add an item; prints its item handle."""
    with shared_connections() as connections:
        session = connections.session(common, session_id_for(session_id))
        if item_context is None:
            handle = session.add_item(server_handle, tag)
        else:
            handle = session.add_item2(server_handle, tag, item_context)
        emit({"item_handle": handle, "server_handle": server_handle, "tag": tag})


def _item_command(method: str, doc: str) -> Any:
    def command(
        common: CommonOptions, server_handle: ServerOpt, item_handle: ItemOpt, session_id: SessionOpt = ""
    ) -> None:
        with shared_connections() as connections:
            getattr(connections.session(common, session_id_for(session_id)), method)(
                server_handle, item_handle
            )
            emit({"item_handle": item_handle, "ok": True, "server_handle": server_handle})

    command.__doc__ = doc
    command.__name__ = method
    return gateway_command(command)


remove_item = _item_command("remove_item", "Remove an item.")
advise = _item_command(
    "advise", "Advise an item: its value and changes arrive as events (see stream-events)."
)
advise_supervisory = _item_command("advise_supervisory", "Advise an item as a supervisory client.")
unadvise = _item_command("unadvise", "Stop the data changes of an item.")


def _write_done(server_handle: int, item_handle: int, parsed: ParsedValue) -> dict[str, Any]:
    return {
        "item_handle": item_handle,
        "ok": True,
        "server_handle": server_handle,
        "type": parsed.type_name + ("[]" if parsed.is_array else ""),
        "value": parsed.value,
    }


@gateway_command
def write(
    common: CommonOptions,
    server_handle: ServerOpt,
    item_handle: ItemOpt,
    type_name: TypeOpt,
    value: ValueOpt,
    session_id: SessionOpt = "",
    user_id: UserIdOpt = 0,
) -> None:
    """Write a value; the outcome arrives later as an OnWriteComplete event."""
    parsed = _parse(value, type_name)
    with shared_connections() as connections:
        connections.session(common, session_id_for(session_id)).write(
            server_handle, item_handle, parsed.value, user_id=user_id, data_type=_mx_data_type(parsed)
        )
        emit(_write_done(server_handle, item_handle, parsed))


@gateway_command
def write2(
    common: CommonOptions,
    server_handle: ServerOpt,
    item_handle: ItemOpt,
    type_name: TypeOpt,
    value: ValueOpt,
    timestamp: TimestampOpt,
    session_id: SessionOpt = "",
    user_id: UserIdOpt = 0,
) -> None:
    """Write a value with its timestamp (Write2)."""
    parsed = _parse(value, type_name)
    when = _parse_time(timestamp)
    with shared_connections() as connections:
        connections.session(common, session_id_for(session_id)).write2(
            server_handle, item_handle, parsed.value, when, user_id=user_id, data_type=_mx_data_type(parsed)
        )
        emit({**_write_done(server_handle, item_handle, parsed), "timestamp": when})


PasswordEnvOpt = Annotated[
    str | None, typer.Option("--password-env", metavar="NAME", help="Read the password from this variable.")
]
PasswordFileOpt = Annotated[
    Path | None, typer.Option("--password-file", help="Read the password from this file.")
]


@gateway_command
def authenticate_user(
    common: CommonOptions,
    server_handle: ServerOpt,
    user: Annotated[str, typer.Option("--user", help="ArchestrA user name.")],
    session_id: SessionOpt = "",
    password_env: PasswordEnvOpt = None,
    password_file: PasswordFileOpt = None,
) -> None:
    """Authenticate a user for secured writes; prints the user id.

    The password comes from --password-env, --password-file or a prompt; never from the command line.
    """
    password = _secret_password(password_env, password_file, f"Password of {user}")
    with shared_connections() as connections:
        user_id = connections.session(common, session_id_for(session_id)).authenticate_user(
            server_handle, user, password
        )
        emit({"user": user, "user_id": user_id})


@gateway_command
def write_secured(
    common: CommonOptions,
    server_handle: ServerOpt,
    item_handle: ItemOpt,
    type_name: TypeOpt,
    value: ValueOpt,
    session_id: SessionOpt = "",
    user: Annotated[str | None, typer.Option("--user", help="Authenticate this user as the writer.")] = None,
    password_env: PasswordEnvOpt = None,
    password_file: PasswordFileOpt = None,
    current_user_id: Annotated[
        int | None,
        typer.Option("--current-user-id", help="Writer's id from authenticate-user (instead of --user)."),
    ] = None,
    verifier: Annotated[
        str | None,
        typer.Option("--verifier", help="Authenticate this user as the verifier (verified writes)."),
    ] = None,
    verifier_password_env: Annotated[
        str | None,
        typer.Option("--verifier-password-env", metavar="NAME", help="The verifier's password variable."),
    ] = None,
    verifier_password_file: Annotated[
        Path | None, typer.Option("--verifier-password-file", help="The verifier's password file.")
    ] = None,
    verifier_user_id: Annotated[
        int,
        typer.Option(
            "--verifier-user-id", help="Verifier's id from authenticate-user (instead of --verifier)."
        ),
    ] = 0,
    timestamp: Annotated[
        str | None, typer.Option("--timestamp", help="Also send the value's time (WriteSecured2).")
    ] = None,
) -> None:
    """Write a secured or verified attribute as an authenticated user.

    Passwords come from variables, files or prompts; never from the command line.
    """
    if (user is None) == (current_user_id is None):
        raise CliUsageError("give either --user (with a password source) or --current-user-id")
    if verifier is not None and verifier_user_id:
        raise CliUsageError("give either --verifier or --verifier-user-id, not both")
    parsed = _parse(value, type_name)
    when = _parse_time(timestamp) if timestamp is not None else None
    password = (
        _secret_password(password_env, password_file, f"Password of {user}") if user is not None else None
    )
    verifier_password = (
        _secret_password(verifier_password_env, verifier_password_file, f"Password of {verifier}")
        if verifier is not None
        else None
    )
    with shared_connections() as connections:
        session = connections.session(common, session_id_for(session_id))
        writer_id = current_user_id
        if user is not None and password is not None:
            writer_id = session.authenticate_user(server_handle, user, password)
        verifier_id = verifier_user_id
        if verifier is not None and verifier_password is not None:
            verifier_id = session.authenticate_user(server_handle, verifier, verifier_password)
        assert writer_id is not None
        data_type = _mx_data_type(parsed)
        if when is None:
            session.write_secured(
                server_handle,
                item_handle,
                parsed.value,
                current_user_id=writer_id,
                verifier_user_id=verifier_id,
                data_type=data_type,
            )
        else:
            session.write_secured2(
                server_handle,
                item_handle,
                parsed.value,
                when,
                current_user_id=writer_id,
                verifier_user_id=verifier_id,
                data_type=data_type,
            )
        record = {
            **_write_done(server_handle, item_handle, parsed),
            "current_user_id": writer_id,
            "verifier_user_id": verifier_id,
        }
        if when is not None:
            record["timestamp"] = when
        emit(record)


# ---------------------------------------------------------------------------- bulk commands


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
    """Add and advise many tags at once; one result line per tag."""
    with shared_connections() as connections:
        results = connections.session(common, session_id_for(session_id)).subscribe_bulk(
            server_handle, tags, supervisory=supervisory
        )
        for result in results:
            emit(_item_record(result))
        _fail_if_any(results, "subscribed")


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
        _fail_if_any(results, "read")


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
    from mxgateway.results import WriteEntry

    with shared_connections() as connections:
        results = connections.session(common, session_id_for(session_id)).write_bulk(
            server_handle,
            [WriteEntry(h, p.value, user_id=user_id, data_type=_mx_data_type(p)) for h, p in parsed],
        )
        for result in results:
            emit(_write_record(result))
        _fail_if_any(results, "written")


def _fail_if_any(results: list[Any], verb: str) -> None:
    failed = sum(1 for r in results if not r.ok)
    if failed:
        sys.stderr.write(f"mxgw-py: {failed} of {len(results)} items could not be {verb}\n")
        raise typer.Exit(ExitCode.MXACCESS)


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
    from mxgateway.events import ReplayGap, is_marker

    if not is_marker(event) or isinstance(event, ReplayGap):
        return message_to_dict(event.raw)
    fields = {name: getattr(event, name) for name in event.__dataclass_fields__ if name != "raw"}
    return {"marker": type(event).__name__, **fields}


# ---------------------------------------------------------------------------- tag-level commands


@gateway_command
def read(common: CommonOptions, tags: TagsArg, session_id: OptionalSessionOpt = "") -> None:
    """Read tags: one line per tag, in order (exit 7 when any could not be read)."""
    with (
        shared_connections() as connections,
        own_or_attached_session(connections, common, session_id, "mxgw-py read") as session,
    ):
        results = session.read(tags)
        for result in results:
            emit(read_record(result))
    _fail_if_any(results, "read")


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
            with _no_interrupts():
                session.close()
        emit({"session_id": session.session_id, "step": "close_session"})
