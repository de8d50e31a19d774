"""The command group of ``mxgw-py`` that imports a command's module only when it runs.

Start-up time matters (``mxgw-py --help`` should cost little more than importing
grpc), so the root ``--help`` lists commands from the table below without
importing them, and running a command imports only its own module. The short
help texts are the first paragraphs of the commands' docstrings; a test keeps
them in step.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import typer
import typer.main
from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError
from typer.core import TyperGroup

from mxgateway.cli.help_format import panel_rows, suggest, tidy_metavars

__all__ = ["LAZY_COMMANDS", "LazyCommandGroup", "load_command"]

_SESSION = "mxgateway.cli.session_commands"
_TAGS = "mxgateway.cli.tag_commands"

#: name -> (module, attribute, short help); the attribute is a command function or a Typer app.
LAZY_COMMANDS: dict[str, tuple[str, str, str]] = {
    "open-session": (
        _SESSION,
        "open_session",
        "Open a session and print its id (left open for later commands; close it with close-session).",
    ),
    "close-session": (_SESSION, "close_session", "Close a session (closing twice is not an error)."),
    "register": (_SESSION, "register_", "Register with MXAccess; prints the server handle."),
    "unregister": (_SESSION, "unregister", "Unregister a server handle (its items go with it)."),
    "add-item": (_SESSION, "add_item", "Add an item; prints its item handle."),
    "remove-item": (_SESSION, "remove_item", "Remove an item."),
    "advise": (
        _SESSION,
        "advise",
        "Advise an item: its value and changes arrive as events (see stream-events).",
    ),
    "advise-supervisory": (_SESSION, "advise_supervisory", "Advise an item as a supervisory client."),
    "unadvise": (_SESSION, "unadvise", "Stop the data changes of an item."),
    "write": (_SESSION, "write", "Write a value; the outcome arrives later as an OnWriteComplete event."),
    "write2": (_SESSION, "write2", "Write a value with its timestamp (Write2)."),
    "authenticate-user": (
        _SESSION,
        "authenticate_user",
        "Authenticate a user for secured writes; prints the user id.",
    ),
    "write-secured": (
        _SESSION,
        "write_secured",
        "Write a secured or verified attribute as an authenticated user.",
    ),
    "subscribe-bulk": (
        _TAGS,
        "subscribe_bulk",
        "Add and advise many tags at once; one result line per tag.",
    ),
    "read-bulk": (_TAGS, "read_bulk", "Read many tags on a server handle; one result line per tag."),
    "write-bulk": (
        _TAGS,
        "write_bulk",
        "Write many items at once (every value of --type); one result line per item.",
    ),
    "stream-events": (
        _TAGS,
        "stream_events",
        "Print the session's events as they come, one JSON document per line (raw MxEvent).",
    ),
    "read": (_TAGS, "read", "Read tags: one line per tag, in order (exit 7 when any could not be read)."),
    "subscribe": (
        _TAGS,
        "subscribe",
        "Print data changes of tags (first their current values) until Ctrl-C or --max-events.",
    ),
    "watch": (
        "mxgateway.cli.watch_command",
        "watch",
        "Watch tags live: a table redrawn in place on a terminal, JSON lines when piped.",
    ),
    "smoke": (
        _TAGS,
        "smoke",
        "Check a gateway end to end: open a session, register, add and advise a tag, stream events, close.",
    ),
    "demo": (
        "mxgateway.cli.demo",
        "demo",
        "Read tags, subscribe, write with confirmation and see the change: e.g. `mxgw-py demo --simulator`.",
    ),
    "batch": (
        "mxgateway.cli.batch",
        "batch",
        'Run one command per stdin line; each result ends with a line "---".',
    ),
    "galaxy": ("mxgateway.cli.galaxy_commands", "app", "Browse the Galaxy Repository and watch deploys."),
    "alarms": ("mxgateway.cli.alarm_commands", "app", "Show, watch and acknowledge the gateway's alarms."),
    "bridge": (
        "mxgateway.cli.bridge_commands",
        "app",
        "Bridge plant data to another system: `mxgw-py bridge mqtt --config bridge.toml`.",
    ),
}


#: ``ctx.meta`` key: the command line asked for JSON, so usage errors are JSON too.
_JSON_ERRORS = "mxgw_py.json_errors"


def _wants_json(args: list[str]) -> bool:
    own = args[: args.index("--")] if "--" in args else args
    if "--json" in own:
        return True
    # Inside a batch (context is loaded then), every line reports errors as JSON records.
    context = sys.modules.get("mxgateway.cli.context")
    return context is not None and bool(context.in_batch())


def _report_json(exc: ClickException) -> int:
    from mxgateway.cli.errors import report_error

    return int(report_error(exc, as_json=True))


def _report_text(exc: UsageError) -> int:
    """Report a bad command line as one ``mxgw-py: error:`` line, like every other error."""
    from mxgateway.cli.errors import report_error

    # Click's own report spans three lines (usage, hint, error); a choice's list even more.
    text = " ".join(exc.format_message().split())
    if exc.ctx is not None:
        text += f" (see '{exc.ctx.command_path} --help')"
    return int(report_error(UsageError(text, exc.ctx), as_json=False))


def _report(exc: ClickException, as_json: bool) -> None:
    """Report ``exc`` in one line or one JSON document, or leave it to click (help on no arguments)."""
    if as_json:
        raise typer.Exit(_report_json(exc)) from None
    if isinstance(exc, UsageError) and not isinstance(exc, NoArgsIsHelpError):
        raise typer.Exit(_report_text(exc)) from None


def load_command(name: str) -> Any:
    """Import and build the click command registered as ``name`` in :data:`LAZY_COMMANDS`."""
    module_name, attribute, _ = LAZY_COMMANDS[name]
    target = getattr(importlib.import_module(module_name), attribute)
    if isinstance(target, typer.Typer):
        command = typer.main.get_command(target)
    else:
        single = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)
        single.command(name)(target)
        command = typer.main.get_command(single)
    command.name = name
    return command


class LazyCommandGroup(TyperGroup):
    """A ``TyperGroup`` that adds the commands of :data:`LAZY_COMMANDS` on first use."""

    def list_commands(self, ctx: Any) -> list[str]:
        """Commands registered directly, then the lazy ones, in table order."""
        eager = list(super().list_commands(ctx))
        return eager + [name for name in LAZY_COMMANDS if name not in eager]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        """The command, importing its module when it is a lazy one not loaded yet."""
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in LAZY_COMMANDS:
            command = load_command(cmd_name)
            self.add_command(command, cmd_name)
        return tidy_metavars(command) if command is not None else None

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        """Resolve the command name; a typo gets suggestions from every command, lazy ones too."""
        try:
            return self._click_resolve_command(ctx, args)
        except UsageError as exc:
            matches = suggest(args[0], self.list_commands(ctx)) if args else []
            if matches and "Did you mean" not in exc.message:
                exc.message = f"{exc.message.rstrip('.')}. Did you mean {', '.join(map(repr, matches))}?"
            raise

    def make_context(self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any) -> Any:
        """Parse the root's options; a usage error is one line (one JSON document with ``--json``)."""
        as_json = parent is None and _wants_json(list(args))
        try:
            ctx = super().make_context(info_name, args, parent=parent, **extra)
        except ClickException as exc:
            if parent is not None:
                raise  # the root's invoke reports it
            _report(exc, as_json)
            raise
        ctx.meta[_JSON_ERRORS] = as_json
        return ctx

    def invoke(self, ctx: Any) -> Any:
        """Run the command; a usage error is one line (one JSON document with ``--json``)."""
        try:
            return super().invoke(ctx)
        except ClickException as exc:
            _report(exc, bool(ctx.meta.get(_JSON_ERRORS)))
            raise

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """List the commands; lazy ones by their table help, without importing them."""
        from typer._click.utils import make_default_short_help

        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(n) for n in names)
        rows = []
        for name in names:
            loaded = self.commands.get(name)
            if loaded is None and name in LAZY_COMMANDS:
                rows.append((name, make_default_short_help(LAZY_COMMANDS[name][2], limit)))
            elif loaded is not None and not loaded.hidden:
                rows.append((name, loaded.get_short_help_str(limit)))
        by_name = dict(rows)
        for title, members in panel_rows(name for name, _ in rows):
            with formatter.section(title):
                formatter.write_dl([(name, by_name[name]) for name in members])
