"""What the session and tag commands share: their options, value parsing and JSON records."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import typer

from mxgateway.cli.connections import no_interrupts, own_or_attached_session
from mxgateway.cli.option_table import ATTACH_SESSION
from mxgateway.cli.records import change_record, item_record, read_record, write_record
from mxgateway.cli.value_parsing import TYPE_NAMES, ParsedValue, parse_value

__all__ = [
    "DEFAULT_CLIENT_NAME",
    "DEFAULT_SMOKE_TAG",
    "change_record",
    "item_record",
    "mx_data_type",
    "no_interrupts",
    "own_or_attached_session",
    "parse_time",
    "parse_typed",
    "read_record",
    "write_done",
    "write_record",
]

DEFAULT_CLIENT_NAME = "mxgw-py"
DEFAULT_SMOKE_TAG = "Tank_001.Level"


def _given_session_id(ctx: typer.Context, param: typer.CallbackParam, value: str) -> str:
    """``--session-id ''`` is a mistake (an unset shell variable), not "no session": refuse it."""
    source = ctx.get_parameter_source(param.name) if param.name else None
    if source is not None and source.name == "COMMANDLINE" and not value.strip():
        raise typer.BadParameter("is empty: give a session id (from open-session), or leave the option out")
    return value


# No envvar= here: session_id_for reads MXGATEWAY_SESSION_ID itself, so that an
# error can say where a stale id came from, and a batch's open-session can win.
SessionOpt = Annotated[
    str,
    typer.Option(
        "--session-id",
        help="Session from open-session [env MXGATEWAY_SESSION_ID].",
        callback=_given_session_id,
    ),
]
OptionalSessionOpt = Annotated[
    str, typer.Option(ATTACH_SESSION.flag, help=ATTACH_SESSION.help, callback=_given_session_id)
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


def mx_data_type(parsed: ParsedValue) -> int | None:
    """The MxDataType a parsed value asks for (None: the value's own)."""
    name = parsed.data_type_name
    if name is None:
        return None
    from mxgateway.generated import mxaccess_gateway_pb2 as pb

    return int(pb.MxDataType.Value(f"MX_DATA_TYPE_{name}"))


def parse_typed(value: str, type_name: str) -> ParsedValue:
    """``value`` parsed as ``type_name`` (``ValueParseError``: exit code 2)."""
    return parse_value(value, type_name)


def parse_time(text: str) -> dt.datetime:
    """An ISO-8601 time with a zone."""
    parsed = parse_value(text, "time")
    assert isinstance(parsed.value, dt.datetime)
    return parsed.value


def write_done(server_handle: int, item_handle: int, parsed: ParsedValue) -> dict[str, Any]:
    """The record of a write the gateway accepted."""
    return {
        "item_handle": item_handle,
        "ok": True,
        "server_handle": server_handle,
        "type": parsed.type_name + ("[]" if parsed.is_array else ""),
        "value": parsed.value,
    }
