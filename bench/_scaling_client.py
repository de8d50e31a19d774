"""One side of one scaling task, in a fresh process: ``bench/scaling.py`` runs it.

    python bench/_scaling_client.py ENDPOINT SIDE TASK TAGS_FILE [--trace] [--chunk N]

``SIDE`` is ``raw`` (the generated stub alone) or ``sdk``; ``TASK`` one of

- ``subscribe``: subscribe the tags and receive every tag's first value (both sides
  stream; the SDK through ``Session.subscribe``);
- ``read``: one read of the tags, every result's tag, outcome and quality looked at
  (the SDK through ``Session.read_bulk``);
- ``changes``: with the tags subscribed and their first values received (not timed),
  the values move once (this process asks on stdout with a line ``advance`` and reads
  the number of changes published from stdin) and every change is received.

Prints one JSON line: ``cpu_s`` (this process, every thread), ``wall_s``, ``values``,
``rss_growth_kb`` (peak resident set above the task's start) and, with ``--trace``,
``peak_bytes`` (the ``tracemalloc`` peak, which slows the task: timed runs go without).
``--chunk N`` makes the SDK's subscription send N tags per SubscribeBulk.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import grpc.aio

from mxgateway import GatewayClient, Session, Subscription, call_metadata
from mxgateway.generated import mxaccess_gateway_pb2 as pb
from mxgateway.generated import mxaccess_gateway_pb2_grpc as pb_grpc

TIMEOUT_S = 300.0
_EOF = grpc.aio.EOF  # type: ignore[attr-defined]


class Meter:
    """CPU, wall, resident-set growth and (traced) peak of the timed part."""

    def __init__(self, trace: bool) -> None:
        self.trace = trace
        self.figures: dict[str, Any] = {}

    def start(self) -> None:
        self._rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        if self.trace:
            tracemalloc.start()
        self._wall = time.perf_counter()
        self._cpu = time.process_time()

    def stop(self, values: int) -> None:
        cpu = time.process_time() - self._cpu
        wall = time.perf_counter() - self._wall
        self.figures = {"cpu_s": cpu, "wall_s": wall, "values": values}
        if self.trace:
            self.figures["peak_bytes"] = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        self.figures["rss_growth_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - self._rss


async def ask_to_advance() -> int:
    """Have the parent move the values once; the number of changes that published."""
    sys.stdout.write("advance\n")
    sys.stdout.flush()
    answer = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    return int(answer)


class Raw:
    """The generated stub on the SDK client's channel, nothing above it."""

    def __init__(self, client: GatewayClient, session_id: str) -> None:
        self.stub = pb_grpc.MxAccessGatewayStub(client.channel)
        self.metadata = call_metadata(client.options)
        self.session_id = session_id
        self.call: Any = None
        self.latest: dict[str, pb.MxEvent] = {}
        self.names: dict[int, str] = {}

    async def invoke(self, kind: int, **payload: Any) -> pb.MxCommandReply:
        request = pb.MxCommandRequest(session_id=self.session_id, command=pb.MxCommand(kind=kind, **payload))
        reply: pb.MxCommandReply = await self.stub.Invoke(request, timeout=TIMEOUT_S, metadata=self.metadata)
        return reply

    async def register(self) -> int:
        reply = await self.invoke(
            pb.MX_COMMAND_KIND_REGISTER, register=pb.RegisterCommand(client_name="scale")
        )
        return reply.register.server_handle

    async def subscribe(self, tags: list[str]) -> int:
        handle = await self.register()
        self.call = self.stub.StreamEvents(
            pb.StreamEventsRequest(session_id=self.session_id), metadata=self.metadata
        )
        await self.call.initial_metadata()
        reply = await self.invoke(
            pb.MX_COMMAND_KIND_SUBSCRIBE_BULK,
            subscribe_bulk=pb.SubscribeBulkCommand(server_handle=handle, tag_addresses=tags),
        )
        self.names = {r.item_handle: r.tag_address for r in reply.bulk_subscribe.results}
        await self.receive(len(tags), distinct=True)
        return len(tags)

    async def receive(self, count: int, *, distinct: bool = False) -> int:
        """Read until ``count`` changes (``distinct``: tags) had a value, the newest per tag kept."""
        latest, names, read = self.latest, self.names, self.call.read
        received = 0
        while (len(latest) if distinct else received) < count:
            event = await read()
            if event is _EOF:
                raise RuntimeError(f"the stream ended after {received} changes")
            tag = names.get(event.item_handle)
            if tag is not None:
                latest[tag] = event
                received += 1
        return received

    async def read(self, handle: int, tags: list[str]) -> int:
        reply = await self.invoke(
            pb.MX_COMMAND_KIND_READ_BULK,
            read_bulk=pb.ReadBulkCommand(server_handle=handle, tag_addresses=tags),
        )
        return sum(1 for r in reply.bulk_read.results if r.tag_address and r.was_successful and r.quality)


async def sdk_subscribe(session: Session, tags: list[str]) -> tuple[Subscription, int]:
    subscription = session.subscribe(tags)
    await subscription.start()
    for _ in range(len(tags)):
        await subscription.__anext__()
    return subscription, len(subscription.latest)


async def main(args: argparse.Namespace, tags: list[str]) -> None:
    meter = Meter(args.trace)
    if args.chunk:
        from mxgateway._session import subscription

        subscription.SUBSCRIBE_CHUNK = args.chunk
    client = await GatewayClient.connect(args.endpoint, plaintext=True, default_timeout=TIMEOUT_S)
    if args.side == "raw":
        raw = Raw(client, (await client.open_session_raw("scale-raw")).session_id)
        if args.task == "subscribe":
            meter.start()
            meter.stop(await raw.subscribe(tags))
        elif args.task == "read":
            handle = await raw.register()
            meter.start()
            meter.stop(await raw.read(handle, tags))
        else:
            await raw.subscribe(tags)
            meter.start()
            changes = await ask_to_advance()
            meter.stop(await raw.receive(changes))
        if raw.call is not None:
            raw.call.cancel()
        # Closed, so that its items no longer add changes to the next process's count.
        await raw.stub.CloseSession(pb.CloseSessionRequest(session_id=raw.session_id), metadata=raw.metadata)
    else:
        session = await client.open_session("scale-sdk")
        if args.task == "subscribe":
            meter.start()
            _, values = await sdk_subscribe(session, tags)
            meter.stop(values)
        elif args.task == "read":
            handle = await session.register("scale")
            meter.start()
            results = await session.read_bulk(handle, tags)
            meter.stop(sum(1 for r in results if r.tag and r.ok and r.quality))
        else:
            subscription, _ = await sdk_subscribe(session, tags)
            meter.start()
            changes = await ask_to_advance()
            for _ in range(changes):
                await subscription.__anext__()
            meter.stop(changes)
        await session.close()
    await client.close()
    print(json.dumps(meter.figures), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("endpoint")
    parser.add_argument("side", choices=["raw", "sdk"])
    parser.add_argument("task", choices=["subscribe", "read", "changes"])
    parser.add_argument("tags")
    parser.add_argument("--trace", action="store_true")
    parser.add_argument("--chunk", type=int, default=0)
    arguments = parser.parse_args()
    asyncio.run(main(arguments, json.loads(Path(arguments.tags).read_text())))
