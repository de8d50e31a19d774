"""Resilience figures: events lost and duplicated per outage kind, time to resume, gap-marker latency.

    python bench/resilience.py [--runs N]

Not a ratio benchmark: these are the event pump's own figures, measured against an
in-process simulator behind a loopback fault proxy with the default reconnect
policy. Values move throughout (three tags every 50 ms, or 150 ms); after each
outage every delivered ``worker_sequence`` is compared with what the simulator
published. The gateway keeps 1,024 events for a resume (as production does), so the
20 s cut runs at a rate whose outage fits the ring and at one that overflows it;
there the events the gateway no longer had must all be announced by a ``ReplayGap``
(``unannounced`` counts lost events no marker covered: it must stay 0).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from mxgateway import ClientOptions, EventsDropped, GatewayClient, ReplayGap  # noqa: E402
from mxgateway.simulator.faultproxy import FaultProxy  # noqa: E402
from mxgateway.simulator.server import Simulator  # noqa: E402

TAGS = ["Tank_001.Level", "Tank_001.Volume", "Pump_001.Speed"]
#: (kind, seconds, seconds between value steps): three tags change at every step.
OUTAGES = [
    ("cut", 0.3, 0.05),
    ("cut", 2.0, 0.05),
    ("cut", 20.0, 0.15),
    ("cut", 20.0, 0.05),
    ("restart", 2.0, 0.05),
    ("killed", 0.0, 0.05),
]


async def _outage_run(kind: str, seconds: float, step_s: float) -> dict[str, Any]:
    async with Simulator(update_rate_hz=0) as sim, FaultProxy(sim.host, sim.port) as proxy:
        options = ClientOptions(endpoint=proxy.endpoint)
        async with GatewayClient.connect(options=options) as client:
            session = await client.open_session("resilience")
            server = await session.default_server_handle()
            for tag in TAGS:
                await session.advise(server, await session.add_item(server, tag))
            received: list[tuple[int, float]] = []
            announced: set[int] = set()

            async def read() -> None:
                async for event in session.events():
                    if isinstance(event, ReplayGap):
                        gap = range(event.requested_after_sequence + 1, event.oldest_available_sequence)
                        announced.update(gap)
                    received.append((getattr(event, "worker_sequence", -1), time.monotonic()))

            async def produce() -> None:
                for _ in range(2_000):
                    await sim.advance(0.1)
                    await asyncio.sleep(step_s)

            reader = asyncio.create_task(read())
            producer = asyncio.create_task(produce())
            await asyncio.sleep(1.0)
            if kind == "cut":
                await proxy.cut(seconds)
                await asyncio.sleep(seconds)
            elif kind == "restart":
                await sim.restart(downtime_s=seconds)
            else:
                await sim.drop_event_streams()
            back_at = time.monotonic()
            published_at_back = sim.stats.events_published
            await asyncio.sleep(4.0)
            producer.cancel()
            await asyncio.sleep(0.5)
            reader.cancel()
            published = sim.stats.events_published
    sequences = [s for s, _ in received]
    delivered = set(sequences)
    after_back = [t for s, t in received if s > published_at_back]
    lost = set(range(1, published + 1)) - delivered
    return {
        "lost": len(lost),
        "unannounced": len(lost - announced),
        "duplicated": len(sequences) - len(delivered),
        "markers": sequences.count(-1),
        "resume_s": round(after_back[0] - back_at, 3) if after_back else None,
    }


async def _gap_marker_latency() -> float:
    async with Simulator(update_rate_hz=0) as sim:
        options = ClientOptions(endpoint=sim.endpoint, event_queue_size=100)
        async with GatewayClient.connect(options=options) as client:
            session = await client.open_session("slow reader")
            server = await session.default_server_handle()
            item = await session.add_item(server, "Tank_001.Notes")
            slow = session.events()
            await slow.wait_connected()
            for i in range(300):
                await session.write(server, item, f"n{i}")
            overflowed = time.monotonic()
            marker = await slow.__anext__()
            assert isinstance(marker, EventsDropped), marker
            return time.monotonic() - overflowed


async def main(runs: int) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for kind, seconds, step_s in OUTAGES:
        results = [await _outage_run(kind, seconds, step_s) for _ in range(runs)]
        resumes = [r["resume_s"] for r in results if r["resume_s"] is not None]
        figures[f"{kind}-{seconds:g}s-every-{step_s * 1000:g}ms"] = {
            "lost": sum(r["lost"] for r in results),
            "unannounced": sum(r["unannounced"] for r in results),
            "duplicated": sum(r["duplicated"] for r in results),
            "markers": sum(r["markers"] for r in results),
            "resume_s_median": round(statistics.median(resumes), 3) if resumes else None,
            "resume_s_max": max(resumes) if resumes else None,
            "runs": runs,
        }
    latencies = [await _gap_marker_latency() for _ in range(runs)]
    figures["gap_marker_latency_ms_median"] = round(statistics.median(latencies) * 1000, 3)
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    print(json.dumps(asyncio.run(main(parser.parse_args().runs)), indent=2))
