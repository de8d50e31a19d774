"""An asyncio service: forward data changes of some tags until stopped (SIGINT/SIGTERM) or done.

Runs against the embedded simulator by default::

    python examples/asyncio_service.py --max-events 5
    python examples/asyncio_service.py --endpoint gw.plant:5001 Area1.Flow Area1.Level

It logs through the ``mxgateway`` logger at INFO (connect, session open and close)
and leaves cleanly: the subscription is torn down and the session closed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal

from mxgateway import Client, DataChange

log = logging.getLogger("example.service")


async def forward(client: Client, tags: list[str], max_events: int | None, stop: asyncio.Event) -> int:
    """Print each data change of ``tags`` until ``stop`` is set or ``max_events`` arrived."""
    forwarded = 0
    async with client.subscribe(tags) as changes:
        iterator = aiter(changes)
        while not stop.is_set() and (max_events is None or forwarded < max_events):
            next_change = asyncio.ensure_future(anext(iterator))
            stopped = asyncio.ensure_future(stop.wait())
            done, _ = await asyncio.wait({next_change, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if next_change not in done:
                next_change.cancel()
                with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                    await next_change
                break
            stopped.cancel()
            change: DataChange = next_change.result()
            log.info("%s", change)
            forwarded += 1
    return forwarded


async def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, run until stopped, return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tags", nargs="*", default=["Tank_001.Level", "Tank_001.Volume"])
    parser.add_argument("--endpoint", default="simulator")
    parser.add_argument("--max-events", type=int, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # not on Windows
            loop.add_signal_handler(signum, stop.set)
    async with Client(args.endpoint, client_session_name="example-service") as client:
        forwarded = await forward(client, args.tags, args.max_events, stop)
    log.info("forwarded %d data changes", forwarded)
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
