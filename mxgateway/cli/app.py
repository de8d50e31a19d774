"""The ``mxgw-py`` Typer application."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from mxgateway._version import GATEWAY_PROTOCOL_VERSION, __version__
from mxgateway.cli import batch, demo, galaxy_commands, session_commands
from mxgateway.cli.simulate import simulate

app = typer.Typer(
    name="mxgw-py",
    help="Command line for the MXAccess Gateway.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help: rendering it with rich costs more start-up time than the rest of the CLI.
    rich_markup_mode=None,
)


@app.callback()
def _root() -> None:
    """Command line for the MXAccess Gateway."""


def _distribution_version(name: str) -> str:
    # Read from package metadata so that `version` does not import grpc; imported
    # here because importlib.metadata alone costs as much as Typer.
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
session_commands.register(app)
app.add_typer(galaxy_commands.app, name="galaxy")
demo.register(app)
batch.register(app)


def main() -> None:
    """Console-script entry point."""
    app()
