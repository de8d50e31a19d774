"""Events pairs: data changes through the session's event pump against raw StreamEvents iteration.

The simulator runs with values frozen (rate 0) and a replay ring larger than the test:
subscribing N tags publishes N initial data changes, which the ring retains. Every
sample opens a stream with ``after_worker_sequence=1``, so the server replays the same
N-1 pre-generated events to either consumer. The SDK side attaches the session anew
for each sample (``attach_session``), so its pump's first attach replays from the
gateway: the whole path (stream, pump, consumer queue, typed event) is timed.
``fanout`` delivers each event to four ``events()`` readers of one pump.

The pump reads its stream eagerly (that is what keeps the gateway from dropping
events for a slow reader), so the clock starts before either side opens its stream
and stops at the last event consumed: both sides pay for the same reading, and
the server's replay runs in both windows alike. The client's CPU per event is
recorded beside the rate, since the server shares the machine.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from bench._common import Clock, Result, Sample, ServerProcess, interleave
from mxgateway import GatewayClient, call_metadata
from mxgateway.generated import mxaccess_gateway_pb2 as pb
from mxgateway.generated import mxaccess_gateway_pb2_grpc as pb_grpc

SETTLE_POLL_S = 0.2
SETTLE_MAX_S = 5.0
FANOUT_READERS = 4
#: Four readers share one stream: the client does four readers' work per event
#: (conversion is shared, the queues are not), so well over a quarter of one reader's rate.
FANOUT_TARGET = 0.5
#: Events per second through ``session.events()`` over the raw stream's, and client CPU per event.
EVENTS_TARGET = 0.95
EVENTS_CPU_TARGET = 1.05


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


def run(
    server: ServerProcess, tags: list[str], config: EventsConfig, *, canned: bool = False
) -> list[Result]:
    """The event pairs; ``canned``: against the canned-reply server, named ``*_canned``."""
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
        # Its own pump holds every event already: leave it, the rounds attach afresh.
        await session.detach()
        return client, session, pb_grpc.MxAccessGatewayStub(client.channel)

    client, session, stub = loop.run_until_complete(setup())
    metadata = call_metadata(client.options)

    async def raw() -> Sample:
        await _settle(server)
        started = clock.start()
        call = stub.StreamEvents(
            pb.StreamEventsRequest(session_id=session.session_id, after_worker_sequence=1), metadata=metadata
        )
        count = 0
        async for _event in call:
            count += 1
            if count >= expected:
                break
        sample = clock.stop(started, count)
        call.cancel()
        return sample

    async def typed() -> Sample:
        attached = client.attach_session(session.session_id)
        try:
            await _settle(server)
            started = clock.start()
            async with attached.events(after_worker_sequence=1) as stream:
                count = 0
                async for _event in stream:
                    count += 1
                    if count >= expected:
                        break
                return clock.stop(started, count)
        finally:
            await attached.detach()

    async def fanout() -> Sample:
        attached = client.attach_session(session.session_id)
        try:
            await _settle(server)
            started = clock.start()
            streams = [attached.events(after_worker_sequence=1) for _ in range(FANOUT_READERS)]

            async def drain(stream: Any) -> int:
                count = 0
                async for _event in stream:
                    count += 1
                    if count >= expected:
                        break
                return count

            counts = await asyncio.gather(*(drain(s) for s in streams))
            if any(c != expected for c in counts):
                raise RuntimeError(f"fan-out readers saw {counts} events instead of {expected}")
            return clock.stop(started, expected)
        finally:
            await attached.detach()

    try:
        loop.run_until_complete(raw())
        loop.run_until_complete(typed())
        base, cand = interleave(
            config.rounds, lambda: loop.run_until_complete(raw()), lambda: loop.run_until_complete(typed())
        )
        fan_base, fan = interleave(
            config.rounds, lambda: loop.run_until_complete(raw()), lambda: loop.run_until_complete(fanout())
        )
    finally:
        loop.run_until_complete(client.close())
        loop.close()
    for sample in base + cand + fan_base:
        if sample.ops != expected:
            raise RuntimeError(f"a consumer saw {sample.ops} events instead of {expected}")
    results = [_result(base, cand, expected), _fanout_result(fan_base, fan, expected)]
    if canned:
        for result in results:
            result.name += "_canned"
            result.baseline += " (canned-reply server)"
    return results


def _med(values: list[float]) -> float:
    values = sorted(values)
    middle = len(values) // 2
    return round(values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2, 4)


def _fanout_result(base: list[Sample], cand: list[Sample], expected: int) -> Result:
    ratios = [c.per_s / b.per_s for b, c in zip(base, cand, strict=True)]
    return Result(
        name="events_fanout",
        baseline="raw StreamEvents iteration (1 reader)",
        candidate=f"{FANOUT_READERS} session.events() readers of one pump",
        metric="throughput",
        unit="events/s",
        baseline_median=_med([b.per_s for b in base]),
        candidate_median=_med([c.per_s for c in cand]),
        ratio_median=_med(ratios),
        ratios=[round(r, 4) for r in ratios],
        target=FANOUT_TARGET,
        extra={
            "rounds": len(ratios),
            "events_per_round": expected,
            "client_cpu_per_event_us": {
                "baseline": _med([b.cpu_s / b.ops * 1e6 for b in base]),
                "candidate": _med([c.cpu_s / c.ops * 1e6 for c in cand]),
            },
        },
    )


def _result(base: list[Sample], cand: list[Sample], expected: int) -> Result:
    ratios = [c.per_s / b.per_s for b, c in zip(base, cand, strict=True)]

    med = _med
    return Result(
        name="events",
        baseline="raw StreamEvents iteration",
        candidate="session.events() through the event pump",
        metric="throughput",
        unit="events/s",
        baseline_median=med([b.per_s for b in base]),
        candidate_median=med([c.per_s for c in cand]),
        ratio_median=med(ratios),
        ratios=[round(r, 4) for r in ratios],
        target=EVENTS_TARGET,
        cpu_target=EVENTS_CPU_TARGET,
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
