"""``mxgw-py simulate``: run the simulator gateway in the foreground until Ctrl-C."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import re
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mxgateway._model.scopes import ADMIN, ALL_SCOPES

if TYPE_CHECKING:
    from mxgateway.simulator.server import Simulator

#: The port the SDK's default endpoint (``localhost:5000``) points at.
DEFAULT_PORT = 5000

#: The scopes an API key can hold, for --help.
SCOPE_NAMES = ALL_SCOPES


def parse_api_keys(values: list[str]) -> dict[str, list[str]]:
    """``KEY:SCOPE,SCOPE`` entries as a key -> scopes map; a key without scopes gets ``admin``."""
    keys: dict[str, list[str]] = {}
    for value in values:
        # Scopes contain ':' themselves (session:open), so only the first ':' separates.
        key, _, scopes = value.partition(":")
        if not key:
            raise typer.BadParameter("expected KEY:SCOPE,SCOPE", param_hint="--api-key")
        keys[key] = [s.strip() for s in scopes.split(",") if s.strip()] or [ADMIN]
    from mxgateway.simulator.auth import SCOPES

    unknown = sorted({scope for granted in keys.values() for scope in granted} - SCOPES)
    if unknown:
        raise typer.BadParameter(
            f"unknown scope(s): {', '.join(unknown)}; valid scopes: {', '.join(sorted(SCOPES))}"
            " (admin grants all)",
            param_hint="--api-key",
        )
    return keys


_HOST_NAME = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*\.?")


def check_host(host: str) -> str:
    """``host`` when it is an IP address or a host name; else a usage error.

    Checked before binding: grpcio reports a bad address only in its own log
    line, and would read ``127.0.0.1:70000`` as a host with a port.
    """
    with contextlib.suppress(ValueError):
        ipaddress.ip_address(host[1:-1] if host.startswith("[") and host.endswith("]") else host)
        return host
    if len(host) <= 253 and _HOST_NAME.fullmatch(host):
        return host
    raise typer.BadParameter("not an IP address or host name", param_hint="--host")


async def _serve(simulator: Simulator) -> None:
    import asyncio  # here, not at module level: every mxgw-py start would pay for it

    async with simulator:
        sys.stdout.write(json.dumps({"endpoint": simulator.endpoint}) + "\n")
        sys.stdout.flush()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            # Not available on Windows: Ctrl-C then arrives as KeyboardInterrupt.
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, stop.set)
        await stop.wait()


def simulate(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (0 picks a free one).")] = DEFAULT_PORT,
    galaxy: Annotated[
        Path | None, typer.Option(help="Galaxy file to serve (default: the demo water plant).")
    ] = None,
    api_key: Annotated[
        list[str] | None,
        typer.Option(
            "--api-key",
            help=(
                "Require API keys: KEY:SCOPE,SCOPE (repeatable; no scopes = admin). Scopes: "
                + ", ".join(SCOPE_NAMES)
                + " (all). Without it, no authentication."
            ),
        ),
    ] = None,
    tls_cert: Annotated[Path | None, typer.Option(help="PEM certificate chain: serve TLS.")] = None,
    tls_key: Annotated[Path | None, typer.Option(help="PEM private key of --tls-cert.")] = None,
    rate: Annotated[
        float, typer.Option(help="Value updates per second, up to 1000 (0: values stay put).")
    ] = 10.0,
    max_event_subscribers: Annotated[
        int, typer.Option(help="Event streams a session may have at once (production's default: 1; up to 8).")
    ] = 1,
    detach_grace: Annotated[
        float,
        typer.Option(help="Seconds a session lives on after its last event stream went away (up to a day)."),
    ] = 30.0,
) -> None:
    """Run the simulator gateway until Ctrl-C; prints {"endpoint": ...} as one JSON line.

    It serves the demo Galaxy (or --galaxy) and knows the users operator,
    supervisor and engineer (each with its name as password) for secured writes.
    """
    from mxgateway.simulator.galaxy import Galaxy, GalaxyFormatError
    from mxgateway.simulator.server import MAX_DETACH_GRACE_S, MAX_UPDATE_RATE_HZ, Simulator

    check_host(host)
    # Spelled out: a float option takes "nan", which no range check of Typer's refuses.
    if not 0 <= rate <= MAX_UPDATE_RATE_HZ:
        raise typer.BadParameter(
            f"must be from 0 to {MAX_UPDATE_RATE_HZ:g} updates per second", param_hint="--rate"
        )
    if not 0 <= detach_grace <= MAX_DETACH_GRACE_S:
        raise typer.BadParameter(
            f"must be from 0 to {MAX_DETACH_GRACE_S:g} seconds", param_hint="--detach-grace"
        )
    if (tls_cert is None) != (tls_key is None):
        raise typer.BadParameter("--tls-cert and --tls-key go together", param_hint="--tls-cert")
    try:
        served = Galaxy.load(galaxy) if galaxy is not None else None
    except (OSError, GalaxyFormatError) as exc:
        raise typer.BadParameter(str(exc), param_hint="--galaxy") from exc
    try:
        simulator = Simulator(
            galaxy=served,
            api_keys=parse_api_keys(api_key) if api_key else None,
            tls_cert_file=tls_cert,
            tls_key_file=tls_key,
            host=host,
            port=port,
            update_rate_hz=rate,
            max_event_subscribers=max_event_subscribers,
            detach_grace_s=detach_grace,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    import asyncio

    try:
        asyncio.run(_serve(simulator))
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        # Nothing else the server does touches the system: it is the --host/--port that cannot be served.
        raise typer.BadParameter(
            f"{exc} (choose another --host or --port)", param_hint="--host/--port"
        ) from None
