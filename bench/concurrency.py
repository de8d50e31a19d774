"""Concurrency pair: the blocking facade from 8 threads against the async core with 8 tasks.

Both sides write a Double item of their own session over one channel each, the same
number of writes per worker. The figure that matters is the client's CPU per call:
the facade adds a hop to its loop thread and back for every call.
"""

from __future__ import annotations

import asyncio
import itertools
import threading

import mxgateway_sync
from bench._common import Clock, Result, Sample, ServerProcess, interleave, time_result
from mxgateway import GatewayClient
from mxgateway.generated import mxaccess_gateway_pb2 as pb

WORKERS = 8
DOUBLE = pb.MX_DATA_TYPE_DOUBLE
_values = itertools.count()


def run(server: ServerProcess, tag: str, rounds: int, writes_per_worker: int) -> Result:
    clock = Clock(server)
    loop = asyncio.new_event_loop()

    async def open_async() -> tuple[GatewayClient, list[tuple[object, int, int]]]:
        client = await GatewayClient.connect(server.endpoint, plaintext=True)
        targets = []
        for index in range(WORKERS):
            opened = await client.open_session_raw(f"bench-async-{index}")
            session = client.attach_session(opened.session_id)
            handle = await session.register("bench")
            targets.append((session, handle, await session.add_item(handle, tag)))
        return client, targets

    client, async_targets = loop.run_until_complete(open_async())
    sync_client = mxgateway_sync.GatewayClient.connect(server.endpoint, plaintext=True)
    sync_targets = []
    for index in range(WORKERS):
        opened = sync_client.open_session_raw(f"bench-sync-{index}")
        session = sync_client.attach_session(opened.session_id)
        handle = session.register("bench")
        sync_targets.append((session, handle, session.add_item(handle, tag)))

    async def async_round(writes: int) -> None:
        async def worker(session: object, handle: int, item: int) -> None:
            for _ in range(writes):
                await session.write(handle, item, float(next(_values) % 1000), data_type=DOUBLE)  # type: ignore[attr-defined]

        await asyncio.gather(*(worker(*target) for target in async_targets))

    def timed_async(writes: int) -> Sample:
        started = clock.start()
        loop.run_until_complete(async_round(writes))
        return clock.stop(started, writes * WORKERS)

    def timed_sync(writes: int) -> Sample:
        def worker(session: mxgateway_sync.Session, handle: int, item: int) -> None:
            for _ in range(writes):
                session.write(handle, item, float(next(_values) % 1000), data_type=DOUBLE)

        threads = [threading.Thread(target=worker, args=target) for target in sync_targets]
        started = clock.start()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return clock.stop(started, writes * WORKERS)

    try:
        timed_async(20)
        timed_sync(20)
        base, cand = interleave(
            rounds, lambda: timed_async(writes_per_worker), lambda: timed_sync(writes_per_worker)
        )
    finally:
        sync_client.close()
        loop.run_until_complete(client.close())
        loop.close()
    result = time_result(
        "sync_threads",
        f"async Session.write, {WORKERS} tasks",
        f"mxgateway_sync Session.write, {WORKERS} threads",
        base,
        cand,
        1.25,
        extra={"writes_per_worker": writes_per_worker, "workers": WORKERS},
    )
    result.cpu_target = 1.10
    return result
