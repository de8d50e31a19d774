"""The simulator in its own process for the scaling benchmark, its values moved over stdin.

    python bench/_scaling_server.py --objects N [--queue Q]

Serves a generated Galaxy (``generate_galaxy(N)``, four attributes per object) with
values frozen, and a per-subscriber event queue of ``Q`` events (the gateway's
default is 10,000: beyond it, a subscriber's events are dropped). Prints one JSON
line ``{"endpoint": ..., "pid": ...}`` once it serves; then each stdin line
``advance S`` moves every value schedule on by ``S`` seconds and answers
``ok K``, K being the data changes that published. Ends on end of input.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys

from mxgateway.simulator.demo_plant import generate_galaxy
from mxgateway.simulator.server import Simulator


async def serve(objects: int, queue: int) -> None:
    simulator = Simulator(
        galaxy=generate_galaxy(objects),
        port=0,
        update_rate_hz=0,
        subscriber_queue_size=queue,
        lease_s=3600,
        detach_grace_s=3600,
        max_event_subscribers=8,
    )
    async with simulator:
        sys.stdout.write(json.dumps({"endpoint": simulator.endpoint, "pid": os.getpid()}) + "\n")
        sys.stdout.flush()
        loop = asyncio.get_running_loop()
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                return
            command, _, argument = line.strip().partition(" ")
            if command == "advance":
                before = simulator.stats.events_published
                await simulator.advance(float(argument or "1"))
                sys.stdout.write(f"ok {simulator.stats.events_published - before}\n")
            else:
                sys.stdout.write(f"unknown command {command!r}\n")
            sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--objects", type=int, default=2_600)
    parser.add_argument("--queue", type=int, default=10_000)
    args = parser.parse_args()
    asyncio.run(serve(args.objects, args.queue))


if __name__ == "__main__":
    main()
