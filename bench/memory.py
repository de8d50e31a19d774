"""Memory pair: subscribing 10,000 tags with the SDK against the raw stub.

Each side runs in a fresh process (so neither inherits the other's caches), opens a
session, subscribes the tags with one SUBSCRIBE_BULK, and takes every tag's first
value from the event stream, keeping the newest value per tag: the SDK through a
``Subscription`` (whose ``latest`` holds them), the raw side with a StreamEvents
call and a dict. Reported: the traced allocation peak (``tracemalloc``) and the
growth of the resident set.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench._common import Result, ServerProcess

BENCH_DIR = Path(__file__).resolve().parent
#: The SDK's traced peak over the raw side's.
MEMORY_TARGET = 1.2

_CHILD = r"""
import asyncio, json, resource, sys, tracemalloc
endpoint, side, tags = sys.argv[1], sys.argv[2], json.load(open(sys.argv[3]))
from mxgateway import GatewayClient
from mxgateway.generated import mxaccess_gateway_pb2 as pb
from mxgateway.generated import mxaccess_gateway_pb2_grpc as pb_grpc

def rss_kb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

async def main():
    client = await GatewayClient.connect(endpoint, plaintext=True)
    opened = await client.open_session_raw("bench-memory")
    session = client.attach_session(opened.session_id)
    stub = pb_grpc.MxAccessGatewayStub(client.channel)
    handle = await session.register("bench-memory")
    rss_before = rss_kb()
    tracemalloc.start()
    if side == "raw":
        call = stub.StreamEvents(pb.StreamEventsRequest(session_id=opened.session_id))
        await call.initial_metadata()
        request = pb.MxCommandRequest(session_id=opened.session_id, command=pb.MxCommand(
            kind=pb.MX_COMMAND_KIND_SUBSCRIBE_BULK,
            subscribe_bulk=pb.SubscribeBulkCommand(server_handle=handle, tag_addresses=tags)))
        reply = await stub.Invoke(request, timeout=60)
        names = {r.item_handle: r.tag_address for r in reply.bulk_subscribe.results}
        latest = {}
        while len(latest) < len(tags):
            event = await call.read()
            latest[names[event.item_handle]] = event
        call.cancel()
    else:
        subscription = session.subscribe(tags)
        await subscription.start()
        for _ in range(len(tags)):
            await subscription.__anext__()
        assert len(subscription.latest) == len(tags)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(json.dumps({"peak_bytes": peak, "rss_growth_kb": rss_kb() - rss_before}))
    await client.close()

asyncio.run(main())
"""


def _measure(server: ServerProcess, side: str, tags_file: Path) -> dict[str, int]:
    completed = subprocess.run(
        [sys.executable, "-c", _CHILD, server.endpoint, side, str(tags_file)],
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"memory child ({side}) failed: {completed.stderr}")
    figures: dict[str, int] = json.loads(completed.stdout.strip().splitlines()[-1])
    return figures


def run(server: ServerProcess, tags: list[str], rounds: int, directory: Path) -> Result:
    tags_file = directory / "memory-tags.json"
    tags_file.write_text(json.dumps(tags))
    base = [_measure(server, "raw", tags_file) for _ in range(rounds)]
    cand = [_measure(server, "sdk", tags_file) for _ in range(rounds)]

    def med(values: list[float]) -> float:
        values = sorted(values)
        return values[len(values) // 2]

    base_peak = med([b["peak_bytes"] for b in base])
    cand_peak = med([c["peak_bytes"] for c in cand])
    return Result(
        name="subscribe_memory",
        baseline=f"raw stub SUBSCRIBE_BULK ({len(tags):,} tags), results kept",
        candidate=f"Session.subscribe ({len(tags):,} tags)",
        metric="time",
        unit="MB peak",
        baseline_median=round(base_peak / 1e6, 2),
        candidate_median=round(cand_peak / 1e6, 2),
        ratio_median=round(cand_peak / base_peak, 3),
        ratios=[round(c["peak_bytes"] / b["peak_bytes"], 3) for b, c in zip(base, cand, strict=True)],
        target=MEMORY_TARGET,
        extra={
            "rss_growth_kb": {
                "baseline": med([b["rss_growth_kb"] for b in base]),
                "candidate": med([c["rss_growth_kb"] for c in cand]),
            }
        },
    )
