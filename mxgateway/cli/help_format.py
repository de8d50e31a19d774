"""How ``mxgw-py`` presents itself: command panels, readable metavars, typo suggestions.

The root help groups commands in panels with the everyday ones first. Parameters
whose metavar Typer would derive from the Python type (``{tags}...``,
``<float range>``) get a name a reader understands (``TAG...``, ``SECONDS``).
Typo suggestions look at every command, lazy ones included.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

__all__ = ["PANELS", "panel_rows", "suggest", "tidy_metavars"]

#: Root help sections, in order; commands not listed fall into the last one.
PANELS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Everyday commands", ("read", "subscribe", "watch", "demo", "galaxy", "simulate", "batch", "version")),
    ("Checks", ("smoke", "stream-events")),
    (
        "MXAccess commands (sessions and handles)",
        (
            "open-session",
            "close-session",
            "register",
            "unregister",
            "add-item",
            "remove-item",
            "advise",
            "advise-supervisory",
            "unadvise",
            "write",
            "write2",
            "authenticate-user",
            "write-secured",
            "subscribe-bulk",
            "read-bulk",
            "write-bulk",
        ),
    ),
)
_OTHER_PANEL = "Other commands"

#: Option metavars by option name.
_OPTION_METAVARS = {
    "--endpoint": "HOST:PORT",
    "--api-key": "KEY",
    "--api-key-env": "NAME",
    "--api-key-file": "FILE",
    "--ca-file": "FILE",
    "--client-cert": "FILE",
    "--client-key": "FILE",
    "--server-name-override": "NAME",
    "--timeout": "SECONDS",
    "--read-timeout": "SECONDS",
    "--session-id": "ID",
    "--max-events": "N",
    "--page-size": "N",
    "--max-depth": "N",
    "--glob": "PATTERN",
    "--type": "TYPE",
    "--value": "VALUE",
}
#: Argument metavars by parameter name (a repeated argument shows ``NAME...``).
_ARGUMENT_METAVARS = {"tags": "TAG", "tag": "TAG", "entries": "HANDLE=VALUE", "file": "FILE"}
#: Fallbacks by click type name.
_TYPE_METAVARS = {
    "integer": "N",
    "integer range": "N",
    "float": "NUMBER",
    "float range": "SECONDS",
    "path": "PATH",
}


def _metavar_for(param: Any) -> str | None:
    if param.param_type_name == "argument":
        # Click adds "..." to a repeated argument itself.
        name = str(param.name)
        default = name.upper().rstrip("S") if param.nargs != 1 else name.upper()
        return _ARGUMENT_METAVARS.get(name, default)
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        return None
    for opt in param.opts:
        if opt in _OPTION_METAVARS:
            return _OPTION_METAVARS[opt]
    type_name = getattr(getattr(param, "type", None), "name", "")
    if type_name in _TYPE_METAVARS:
        return _TYPE_METAVARS[type_name]
    last = param.opts[-1].lstrip("-").rsplit("-", 1)[-1]
    return str(last).upper() or None


def _tidy_argument(param: Any) -> None:
    # Typer writes a required argument as {name} in the usage line and appends its
    # Python type (<list[str]>) to its help row; a reader wants TAG... in both.
    shown = f"{param.metavar}..." if param.nargs != 1 else param.metavar
    usage = shown if param.required else f"[{shown}]"
    param._usage_display_name = lambda: usage
    param._rich_display_name = lambda: shown
    param.display_type_rich = lambda ctx: ""


def tidy_metavars(command: Any) -> Any:
    """Give ``command`` (and a group's subcommands) readable metavars; returns it."""
    for param in getattr(command, "params", ()):
        if param.metavar is None:
            param.metavar = _metavar_for(param)
            if param.param_type_name == "argument":
                _tidy_argument(param)
    for sub in getattr(command, "commands", {}).values():
        tidy_metavars(sub)
    return command


def panel_rows(names: Iterable[str]) -> list[tuple[str, list[str]]]:
    """``names`` grouped by panel, panels in order, empty ones left out."""
    remaining = list(names)
    panels: list[tuple[str, list[str]]] = []
    for title, members in PANELS:
        inside = [n for n in members if n in remaining]
        if inside:
            panels.append((title, inside))
    listed = {n for _, members in PANELS for n in members}
    rest = [n for n in remaining if n not in listed]
    if rest:
        panels.append((_OTHER_PANEL, rest))
    return panels


def suggest(typo: str, names: Iterable[str]) -> list[str]:
    """Command names close to ``typo``."""
    return difflib.get_close_matches(typo, list(names), n=3, cutoff=0.6)
