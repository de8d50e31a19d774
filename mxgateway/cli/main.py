"""The ``mxgw-py`` console script: the fast paths first (without Typer), Typer for the rest."""

from __future__ import annotations

import os
import sys

__all__ = ["main"]

#: The first arguments the fast path may answer; only for these is it imported.
_FAST_FIRST = {"read", "version", "--version"}


def main() -> None:
    """Console-script entry point."""
    # grpc's own log lines (a failed TLS handshake logs one per attempt) would
    # follow the command's one error line; GRPC_VERBOSITY set by the user wins.
    # Set before grpc is imported: its core reads the variable once.
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    args = sys.argv[1:]
    try:
        if args[:1] and args[0] in _FAST_FIRST:
            from mxgateway.cli import fast

            if fast.run(args):
                return
        from mxgateway.cli.app import app

        app()
    finally:
        # Stop the facade's loop thread before interpreter exit: grpc's own exit
        # hook, registered after the facade's, would otherwise close its poller
        # under a running loop, which then prints an error on the way out.
        if "mxgateway_sync" in sys.modules:
            from mxgateway_sync.loop import shutdown

            shutdown()
