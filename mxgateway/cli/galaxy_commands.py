"""``mxgw-py galaxy ...``: the Galaxy Repository (browse the deployed hierarchy, watch deploys)."""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mxgateway.cli.connections import shared_connections
from mxgateway.cli.context import emit
from mxgateway.cli.errors import CliUsageError
from mxgateway.cli.exit_codes import ExitCode
from mxgateway.cli.options import CommonOptions, gateway_command
from mxgateway.cli.output import Progress, format_table, is_terminal
from mxgateway.cli.value_parsing import parse_value

if TYPE_CHECKING:
    from mxgateway.galaxy import HierarchyFilter

__all__ = ["app"]

app = typer.Typer(
    name="galaxy",
    help="Browse the Galaxy Repository and watch deploys.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

# Gobject ids, category ids and depths are int32s on the wire: a larger one is the
# command line's mistake, not the gateway's.
_ID_MIN, _ID_MAX = -(2**31), 2**31 - 1
CategoryOpt = Annotated[
    list[int] | None,
    typer.Option("--category", min=_ID_MIN, max=_ID_MAX, help="Category id (repeatable; 13 = area)."),
]
TemplateOpt = Annotated[
    list[str] | None, typer.Option("--template", help="Substring of a template in the chain (repeatable).")
]
GlobOpt = Annotated[str, typer.Option("--glob", help="Tag name pattern, * and ?, case-insensitive.")]
NoAttributesOpt = Annotated[bool, typer.Option("--no-attributes", help="Objects only, without attributes.")]
AlarmOpt = Annotated[bool, typer.Option("--alarm-bearing-only", help="Only objects with alarm attributes.")]
HistorizedOpt = Annotated[
    bool, typer.Option("--historized-only", help="Only objects with historized attributes.")
]
PageSizeOpt = Annotated[
    int, typer.Option("--page-size", min=0, help="Objects per page (0: gateway default).")
]

_TABLE_COLUMNS = ("gobject_id", "tag_name", "contained_path", "template", "attributes")


def _filters(
    category: list[int] | None,
    template: list[str] | None,
    glob: str,
    no_attributes: bool,
    alarm_bearing_only: bool,
    historized_only: bool,
    page_size: int,
) -> HierarchyFilter:
    from mxgateway.galaxy import HierarchyFilter  # lazily: keeps grpc off the CLI's start-up path

    return HierarchyFilter(
        category_ids=category or (),
        template_chain_contains=template or (),
        tag_name_glob=glob,
        include_attributes=not no_attributes,
        alarm_bearing_only=alarm_bearing_only,
        historized_only=historized_only,
        page_size=page_size,
    )


TableOpt = Annotated[
    bool,
    typer.Option(
        "--table",
        help="Show a table on stderr even when stdout is redirected (the default on a terminal without --json).",
    ),
]


def _output_modes(common: CommonOptions, table: bool) -> tuple[bool, bool]:
    """(show a table on stderr, print JSON lines on stdout) for a listing command.

    On a terminal, people get the table; piped or with --json, programs get JSON.
    """
    stdout_terminal = is_terminal(sys.stdout)
    show_table = (table or (stdout_terminal and not common.json)) and is_terminal(sys.stderr)
    print_json = common.json or not (show_table and stdout_terminal)
    return show_table, print_json


def _object_record(obj: Any) -> dict[str, Any]:
    from mxgateway.galaxy._export import object_to_dict

    return object_to_dict(obj.raw)


def _table_row(record: dict[str, Any]) -> dict[str, Any]:
    chain = record["template_chain"]
    return {
        "attributes": len(record["attributes"]),
        "contained_path": record["contained_path"],
        "gobject_id": record["gobject_id"],
        "tag_name": record["tag_name"],
        "template": chain[0] if chain else "",
    }


@app.command("test-connection")
@gateway_command
def test_connection(common: CommonOptions) -> None:
    """Check that the gateway reaches its Galaxy Repository database (exit 5 when it does not)."""
    with shared_connections() as connections:
        reply = connections.galaxy(common).test_connection_raw()
        emit({"message": reply.message, "ok": reply.ok})
        if not reply.ok:
            raise typer.Exit(ExitCode.UNAVAILABLE)


@app.command("last-deploy")
@gateway_command
def last_deploy(common: CommonOptions) -> None:
    """Print when the Galaxy was last deployed (null when never)."""
    with shared_connections() as connections:
        emit({"time_of_last_deploy": connections.galaxy(common).get_last_deploy_time()})


@app.command("hierarchy")
@gateway_command
def hierarchy(
    common: CommonOptions,
    root_id: Annotated[
        int | None, typer.Option("--root-id", min=_ID_MIN, max=_ID_MAX, help="Start at this gobject id.")
    ] = None,
    root_tag: Annotated[str | None, typer.Option("--root-tag", help="Start at this tag name.")] = None,
    root_path: Annotated[
        str | None, typer.Option("--root-path", help="Start at this contained path, e.g. Area1/Line3.")
    ] = None,
    max_depth: Annotated[
        int | None,
        typer.Option("--max-depth", min=0, max=_ID_MAX, help="Levels below the root (0: the root only)."),
    ] = None,
    category: CategoryOpt = None,
    template: TemplateOpt = None,
    glob: GlobOpt = "",
    no_attributes: NoAttributesOpt = False,
    alarm_bearing_only: AlarmOpt = False,
    historized_only: HistorizedOpt = False,
    page_size: PageSizeOpt = 0,
    table: TableOpt = False,
) -> None:
    """Print the deployed hierarchy, parents first: a table on a terminal, else one JSON object per line.

    A progress bar is shown on stderr when it is a terminal.
    """
    show_table, print_json = _output_modes(common, table)
    rows: list[dict[str, Any]] = []
    with shared_connections() as connections, Progress("objects") as progress:
        iterator = connections.galaxy(common).iter_hierarchy(
            root_gobject_id=root_id,
            root_tag_name=root_tag,
            root_contained_path=root_path,
            max_depth=max_depth,
            **_filters(
                category, template, glob, no_attributes, alarm_bearing_only, historized_only, page_size
            ).keywords(),
        )
        with iterator:
            for obj in iterator:
                if progress.total is None:
                    progress.set_total(iterator.total_object_count)
                record = _object_record(obj)
                if print_json:
                    emit(record, as_json=True)
                if show_table:
                    rows.append(_table_row(record))
                progress.advance()
    if show_table:
        sys.stderr.write(format_table(rows, _TABLE_COLUMNS) + "\n")


@app.command("browse")
@gateway_command
def browse(
    common: CommonOptions,
    parent_id: Annotated[
        int | None, typer.Option("--parent-id", min=_ID_MIN, max=_ID_MAX, help="Children of this gobject id.")
    ] = None,
    parent_tag: Annotated[str | None, typer.Option("--parent-tag", help="Children of this tag name.")] = None,
    parent_path: Annotated[
        str | None, typer.Option("--parent-path", help="Children of this contained path.")
    ] = None,
    category: CategoryOpt = None,
    template: TemplateOpt = None,
    glob: GlobOpt = "",
    no_attributes: NoAttributesOpt = False,
    alarm_bearing_only: AlarmOpt = False,
    historized_only: HistorizedOpt = False,
    page_size: PageSizeOpt = 0,
    table: TableOpt = False,
) -> None:
    """Print the children of a parent (none: the roots): a table on a terminal, else JSON lines."""
    show_table, print_json = _output_modes(common, table)
    rows: list[dict[str, Any]] = []
    with shared_connections() as connections:
        nodes = connections.galaxy(common).browse_children(
            parent_gobject_id=parent_id,
            parent_tag_name=parent_tag,
            parent_contained_path=parent_path,
            **_filters(
                category, template, glob, no_attributes, alarm_bearing_only, historized_only, page_size
            ).keywords(),
        )
        for node in nodes:
            record = {**_object_record(node.object), "has_children": node.has_children}
            if print_json:
                emit(record, as_json=True)
            if show_table:
                rows.append({**_table_row(record), "has_children": node.has_children})
    if show_table:
        sys.stderr.write(format_table(rows, [*_TABLE_COLUMNS, "has_children"]) + "\n")


def _unwritable(file: Path, exc: OSError) -> CliUsageError:
    # The file system refused the name (too long, no permission): the command line named it.
    return CliUsageError(f"cannot write {str(file)!r}: {exc.strerror or exc}")


@app.command("export")
@gateway_command
def export(
    common: CommonOptions,
    file: Annotated[
        Path, typer.Argument(help="Galaxy file to write (the simulator can serve it).", show_default=False)
    ],
    name: Annotated[str, typer.Option("--name", help="Name recorded in the file.")] = "galaxy",
    page_size: PageSizeOpt = 0,
) -> None:
    """Export the whole hierarchy, attributes included, to a Galaxy file."""
    try:
        folder = file.expanduser().resolve().parent
        if not folder.is_dir():
            raise CliUsageError(f"cannot write {str(file)!r}: the folder {str(folder)!r} does not exist")
        if file.is_dir():
            raise CliUsageError(f"cannot write {str(file)!r}: it is a folder; name a file inside it")
    except OSError as exc:
        raise _unwritable(file, exc) from None
    with shared_connections() as connections, Progress("exporting") as progress:

        def on_progress(done: int, total: int) -> None:
            progress.set_total(total or None)
            progress.advance(done - progress.count)

        try:
            count = connections.galaxy(common).export_galaxy_file(
                file, name=name, page_size=page_size, on_progress=on_progress
            )
        except OSError as exc:
            raise _unwritable(file, exc) from None
    # A name that is not UTF-8 (it came as bytes) is shown with U+FFFD: stdout may refuse its raw bytes.
    emit({"objects": count, "path": os.fsencode(file).decode("utf-8", "replace")})


@app.command("watch-deploy-events")
@gateway_command
def watch_deploy_events(
    common: CommonOptions,
    max_events: Annotated[
        int, typer.Option("--max-events", min=0, help="Stop after this many (0: until Ctrl-C).")
    ] = 0,
    last_seen: Annotated[
        str | None,
        typer.Option("--last-seen", help="Deploy time already known (ISO-8601): skips the bootstrap event."),
    ] = None,
) -> None:
    """Print deploy events as JSON lines: the current state first, then one per deploy."""
    from mxgateway.galaxy._export import to_dict

    seen: dt.datetime | None = parse_value(last_seen, "time").value if last_seen is not None else None
    with shared_connections() as connections:
        count = 0
        with connections.galaxy(common).watch_deploy_events(last_seen_deploy_time=seen) as stream:
            for event in stream:
                emit(to_dict(event), as_json=True)
                count += 1
                if max_events and count >= max_events:
                    break
