"""The ``mxgw-py`` Typer application."""

from __future__ import annotations

import json
import os
import sys
from typing import Annotated

import typer

from mxgateway._version import GATEWAY_PROTOCOL_VERSION, __version__
from mxgateway.cli.lazy_commands import LazyCommandGroup
from mxgateway.cli.simulate import simulate

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


def _distribution_version(name: str) -> str:
    # Read from package metadata so that `version` does not import grpc. The
    # installed dist-info directory names the version; importlib.metadata, which
    # costs more than importing grpc, is only the fallback for other layouts.
    prefix = name.lower().replace("-", "_") + "-"
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for candidate in names:
            if candidate.endswith(".dist-info") and candidate.lower().startswith(prefix):
                return candidate[len(prefix) : -len(".dist-info")]
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


@app.command()
def version(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Print the package, gateway protocol, grpcio and protobuf versions."""
    info = {
        "gateway_protocol_version": GATEWAY_PROTOCOL_VERSION,
        "grpcio": _distribution_version("grpcio"),
        "mxgateway": __version__,
        "protobuf": _distribution_version("protobuf"),
    }
    if as_json:
        typer.echo(json.dumps(info, sort_keys=True))
    else:
        for key in sorted(info):
            typer.echo(f"{key}: {info[key]}")


app.command()(simulate)


def main() -> None:
    """Console-script entry point."""
    # `version` needs no parser: answering it directly saves the ~70 ms that
    # Typer's argument coercion spends importing pydantic.
    args = sys.argv[1:]
    if args[:1] == ["version"] and set(args[1:]) <= {"--json"}:
        version(as_json="--json" in args)
        return
    if args == ["--version"]:
        typer.echo(f"mxgw-py {__version__}")
        return
    try:
        app()
    finally:
        # Stop the facade's loop thread before interpreter exit: grpc's own exit
        # hook, registered after the facade's, would otherwise close its poller
        # under a running loop, which then prints an error on the way out.
        if "mxgateway_sync" in sys.modules:
            from mxgateway_sync.loop import shutdown

            shutdown()
