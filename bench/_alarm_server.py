"""The simulator in its own process for the alarm benchmark, driven over stdin.

    python bench/_alarm_server.py --objects N

Serves a generated Galaxy whose alarm-flagged discrete attributes all toggle every
6 simulated seconds (values move only on command). Prints one JSON line
``{"endpoint": ..., "pid": ..., "alarms": ...}`` once it serves; then each stdin line
``storm K`` advances the schedules K times by 6 s (K x alarms transitions, queued for
every alarm feed at once) and answers ``ok``. Ends on end of input.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys

from mxgateway.simulator.demo_plant import generate_galaxy
from mxgateway.simulator.server import Simulator

#: The toggle period of the generated Galaxy's alarm attributes (``5 + n`` for n = 1).
TOGGLE_PERIOD_S = 6.0


async def serve(objects: int) -> None:
    simulator = Simulator(galaxy=generate_galaxy(objects), port=0, update_rate_hz=0)
    async with simulator:
        alarms = len(simulator.alarms.conditions())
        info = {"alarms": alarms, "endpoint": simulator.endpoint, "pid": os.getpid()}
        sys.stdout.write(json.dumps(info) + "\n")
        sys.stdout.flush()
        loop = asyncio.get_running_loop()
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                return
            command, _, argument = line.strip().partition(" ")
            if command == "storm":
                for _ in range(int(argument or "1")):
                    await simulator.advance(TOGGLE_PERIOD_S)
            sys.stdout.write("ok\n")
            sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--objects", type=int, default=2_600)
    asyncio.run(serve(parser.parse_args().objects))


if __name__ == "__main__":
    main()
