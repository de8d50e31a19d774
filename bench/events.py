"""Events pair: data changes consumed through ``session.events()`` against raw StreamEvents iteration.

The simulator runs with values frozen (rate 0) and a replay ring larger than the test:
subscribing N tags publishes N initial data changes, which the ring retains. Every
sample opens a stream with ``after_worker_sequence=1``, so the server replays the same
N-1 pre-generated events to either consumer. The stream is opened and then left
alone until the server process stops using CPU (it has pushed what HTTP/2 flow
control lets it push into the client's buffers); only then does the timed
consumption start. The server's CPU during the timed window is recorded: it stays
far below one core, so the client is what limits the rate.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from bench._common import Clock, Result, Sample, ServerProcess, interleave
from mxgateway import GatewayClient
from mxgateway.generated import mxaccess_gateway_pb2 as pb
from mxgateway.generated import mxaccess_gateway_pb2_grpc as pb_grpc

SETTLE_POLL_S = 0.2
SETTLE_MAX_S = 5.0


@dataclass
class EventsConfig:
    events: int
    rounds: int


async def _settle(server: ServerProcess) -> float:
    """Wait until the server stops burning CPU (done pushing); returns the seconds waited."""
    started = time.perf_counter()
    last = server.cpu_s()
    while time.perf_counter() - started < SETTLE_MAX_S:
        await asyncio.sleep(SETTLE_POLL_S)
        now = server.cpu_s()
        if now - last < 0.005:
            break
        last = now
    return time.perf_counter() - started


def run(server: ServerProcess, tags: list[str], config: EventsConfig) -> Result:
    loop = asyncio.new_event_loop()
    clock = Clock(server)
    expected = config.events - 1

    async def setup() -> tuple[GatewayClient, Any, pb_grpc.MxAccessGatewayStub]:
        client = await GatewayClient.connect(server.endpoint, plaintext=True)
        session = await client.open_session("bench-events")
        handle = await session.register("bench-events")
        results = await session.subscribe_bulk(handle, tags[: config.events])
        if sum(r.ok for r in results) != config.events:
            raise RuntimeError("not every tag could be subscribed")
        return client, session, pb_grpc.MxAccessGatewayStub(client.channel)

    client, session, stub = loop.run_until_complete(setup())
    metadata = client._metadata

    async def raw() -> Sample:
        call = stub.StreamEvents(
            pb.StreamEventsRequest(session_id=session.session_id, after_worker_sequence=1), metadata=metadata
        )
        await call.initial_metadata()
        await _settle(server)
        started = clock.start()
        count = 0
        async for _event in call:
            count += 1
            if count >= expected:
                break
        sample = clock.stop(started, count)
        call.cancel()
        return sample

    async def typed() -> Sample:
        async with session.events(after_worker_sequence=1) as stream:
            await stream.wait_connected()
            await _settle(server)
            started = clock.start()
            count = 0
            async for _event in stream:
                count += 1
                if count >= expected:
                    break
            return clock.stop(started, count)

    try:
        loop.run_until_complete(raw())
        loop.run_until_complete(typed())
        base, cand = interleave(
            config.rounds, lambda: loop.run_until_complete(raw()), lambda: loop.run_until_complete(typed())
        )
    finally:
        loop.run_until_complete(client.close())
        loop.close()
    for sample in base + cand:
        if sample.ops != expected:
            raise RuntimeError(f"a consumer saw {sample.ops} events instead of {expected}")
    ratios = [c.per_s / b.per_s for b, c in zip(base, cand, strict=True)]

    def med(values: list[float]) -> float:
        values = sorted(values)
        middle = len(values) // 2
        return round(values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2, 4)

    return Result(
        name="events",
        baseline="raw StreamEvents iteration",
        candidate="session.events()",
        metric="throughput",
        unit="events/s",
        baseline_median=med([b.per_s for b in base]),
        candidate_median=med([c.per_s for c in cand]),
        ratio_median=med(ratios),
        ratios=[round(r, 4) for r in ratios],
        target=0.85,
        extra={
            "rounds": len(ratios),
            "events_per_round": expected,
            "server_utilisation_during_window": {
                "baseline": med([b.server_utilisation for b in base]),
                "candidate": med([c.server_utilisation for c in cand]),
            },
            "client_cpu_per_event_us": {
                "baseline": med([b.cpu_s / b.ops * 1e6 for b in base]),
                "candidate": med([c.cpu_s / c.ops * 1e6 for c in cand]),
            },
        },
    )
