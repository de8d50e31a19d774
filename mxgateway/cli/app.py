"""The ``mxgw-py`` Typer application."""

from __future__ import annotations

import json
from importlib import metadata
from typing import Annotated

import typer

from mxgateway._version import GATEWAY_PROTOCOL_VERSION, __version__
from mxgateway.cli.simulate import simulate

app = typer.Typer(
    name="mxgw-py",
    help="Command line for the MXAccess Gateway.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Command line for the MXAccess Gateway."""


def _distribution_version(name: str) -> str:
    # Read from package metadata so that `version` does not import grpc.
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
    app()
