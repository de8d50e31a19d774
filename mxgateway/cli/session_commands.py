"""Session commands: one per MXAccess command on a session that outlives the invocation.

``open-session`` prints its id, later invocations name it with ``--session-id``
(or ``MXGATEWAY_SESSION_ID``) and leave it open, ``close-session`` ends it.
The bulk commands, the event stream and the tag-level commands are in
``mxgateway.cli.tag_commands``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mxgateway.cli.connections import shared_connections
from mxgateway.cli.context import ENV_SESSION_ID, emit, forget_session, remember_session, session_id_for
from mxgateway.cli.credentials import read_password
from mxgateway.cli.errors import CliUsageError
from mxgateway.cli.options import CommonOptions, gateway_command
from mxgateway.cli.output import message_to_dict
from mxgateway.cli.session_support import (
    DEFAULT_CLIENT_NAME,
    ItemOpt,
    ServerOpt,
    SessionOpt,
    TimestampOpt,
    TypeOpt,
    UserIdOpt,
    ValueOpt,
    mx_data_type,
    parse_time,
    parse_typed,
    write_done,
)

if TYPE_CHECKING:
    pass

__all__ = [
    "add_item",
    "advise",
    "advise_supervisory",
    "authenticate_user",
    "close_session",
    "open_session",
    "register_",
    "remove_item",
    "unadvise",
    "unregister",
    "write",
    "write2",
    "write_secured",
]


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
    parsed = parse_typed(value, type_name)
    with shared_connections() as connections:
        connections.session(common, session_id_for(session_id)).write(
            server_handle, item_handle, parsed.value, user_id=user_id, data_type=mx_data_type(parsed)
        )
        emit(write_done(server_handle, item_handle, parsed))


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
    parsed = parse_typed(value, type_name)
    when = parse_time(timestamp)
    with shared_connections() as connections:
        connections.session(common, session_id_for(session_id)).write2(
            server_handle, item_handle, parsed.value, when, user_id=user_id, data_type=mx_data_type(parsed)
        )
        emit({**write_done(server_handle, item_handle, parsed), "timestamp": when})


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
    parsed = parse_typed(value, type_name)
    when = parse_time(timestamp) if timestamp is not None else None
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
        data_type = mx_data_type(parsed)
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
            **write_done(server_handle, item_handle, parsed),
            "current_user_id": writer_id,
            "verifier_user_id": verifier_id,
        }
        if when is not None:
            record["timestamp"] = when
        emit(record)
