"""The ``mxgw-py`` Typer application (``main``, the console script, tries the fast paths first)."""

from __future__ import annotations

from typing import Annotated

import typer

from mxgateway._version import __version__
from mxgateway.cli.lazy_commands import LazyCommandGroup
from mxgateway.cli.simulate import simulate

__all__ = ["app"]

app = typer.Typer(
    name="mxgw-py",
    help="Command line for the MXAccess Gateway.",
    no_args_is_help=True,
    # --install-completion / --show-completion for bash, zsh, fish and PowerShell.
    add_completion=True,
    pretty_exceptions_enable=False,
    # Plain help: rendering it with rich costs more start-up time than the rest of the CLI.
    rich_markup_mode=None,
    # The other commands (lazy_commands.LAZY_COMMANDS) are imported only when they run.
    cls=LazyCommandGroup,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"mxgw-py {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    show_version: Annotated[
        bool,
        typer.Option("--version", is_eager=True, callback=_print_version, help="Print the version and exit."),
    ] = False,
) -> None:
    """Command line for the MXAccess Gateway."""


@app.command()
def version(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Print the package, gateway protocol, grpcio and protobuf versions."""
    from mxgateway.cli.fast import print_version  # here: the root --help need not load it

    print_version(as_json=as_json)


app.command()(simulate)
