"""The ``mxgw-py`` console script: the fast paths first (without Typer), Typer for the rest."""

from __future__ import annotations

import sys

from mxgateway.cli import fast

__all__ = ["main"]


def main() -> None:
    """Console-script entry point."""
    try:
        if not fast.run(sys.argv[1:]):
            from mxgateway.cli.app import app

            app()
    finally:
        # Stop the facade's loop thread before interpreter exit: grpc's own exit
        # hook, registered after the facade's, would otherwise close its poller
        # under a running loop, which then prints an error on the way out.
        if "mxgateway_sync" in sys.modules:
            from mxgateway_sync.loop import shutdown

            shutdown()
