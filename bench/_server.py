"""The simulator in its own process, for the benchmarks.

    python bench/_server.py [--galaxy FILE] [--rate HZ] [--replay-capacity N]

Prints one JSON line ``{"endpoint": ..., "pid": ...}`` once it serves, then runs
until terminated. The same ``Simulator`` as ``mxgw-py simulate``, with the replay
ring sized for the event benchmark (which replays a retained ring).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys

from mxgateway.simulator.galaxy import Galaxy
from mxgateway.simulator.server import Simulator


async def serve(args: argparse.Namespace) -> None:
    galaxy = Galaxy.load(args.galaxy) if args.galaxy else None
    simulator = Simulator(
        galaxy=galaxy,
        port=0,
        update_rate_hz=args.rate,
        replay_capacity=args.replay_capacity,
        replay_max_age_s=0,
        lease_s=3600,
        detach_grace_s=3600,
        # The raw baseline and the SDK's event pump read the same session in turn;
        # the fan-out pair keeps one pump stream while a raw stream runs.
        max_event_subscribers=8,
    )
    async with simulator:
        sys.stdout.write(json.dumps({"endpoint": simulator.endpoint, "pid": os.getpid()}) + "\n")
        sys.stdout.flush()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--galaxy", default="")
    parser.add_argument("--rate", type=float, default=0.0)
    parser.add_argument("--replay-capacity", type=int, default=1024)
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
