"""``mxgw-py bridge``: run a bridge from the gateway to another system (MQTT)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

from mxgateway.cli.errors import guarded
from mxgateway.cli.exit_codes import ExitCode

__all__ = ["app"]

app = typer.Typer(
    name="bridge",
    help="Bridge plant data to another system: `mxgw-py bridge mqtt --config bridge.toml`.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@app.callback()
def _bridge() -> None:
    """Bridge plant data to another system: `mxgw-py bridge mqtt --config bridge.toml`."""


_NO_EXTRA = "the MQTT bridge needs the mqtt extra: pip install 'mxgateway[mqtt]'"


def _fail(message: str, code: ExitCode = ExitCode.USAGE) -> typer.Exit:
    sys.stderr.write(f"mxgw-py: error: {message}\n")
    return typer.Exit(int(code))


@app.command()
def mqtt(
    config: Annotated[Path, typer.Option("--config", "-c", help="The bridge's TOML configuration file.")],
    simulator: Annotated[
        bool,
        typer.Option("--simulator", help="Bridge the embedded simulator's demo plant instead of [gateway]."),
    ] = False,
) -> None:
    """Publish plant data to an MQTT broker (UNS JSON or Sparkplug B) until Ctrl-C or SIGTERM.

    Progress goes to stderr (a state line only on a terminal); see docs/bridge.md.
    """
    try:
        import aiomqtt  # noqa: F401
    except ImportError:
        raise _fail(_NO_EXTRA) from None
    from mxgateway.bridge import Bridge, ConfigError, load_config
    from mxgateway.bridge.health import StateLine

    try:
        settings = load_config(config)
    except ConfigError as exc:
        raise _fail(str(exc)) from None
    if simulator:
        settings = dataclasses.replace(
            settings, gateway=dataclasses.replace(settings.gateway, endpoint="simulator", api_key=None)
        )
    state_line = StateLine()
    # On a terminal the state line says how it goes; warnings still get through.
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.WARNING if state_line.enabled else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    bridge = Bridge(settings, state_line=state_line)
    received: list[int] = []
    mistakes: list[str] = []

    def stop(signum: int) -> None:
        received.append(signum)
        bridge.stop()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop, signum)
        try:
            await bridge.run()
        except ConfigError as exc:
            mistakes.append(str(exc))

    with guarded():
        asyncio.run(main())
    if mistakes:
        # A mistake found once the Galaxy is known (a glob that matches nothing) is still the file's.
        raise _fail(mistakes[0])
    # A clean stop either way; Ctrl-C still reports 130 as every mxgw-py command does.
    if signal.SIGINT in received:
        raise typer.Exit(int(ExitCode.INTERRUPTED))
