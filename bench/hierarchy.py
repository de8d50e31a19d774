"""Hierarchy pair: ``GalaxyRepositoryClient.iter_hierarchy`` against a raw DiscoverHierarchy paging loop.

Time: whole walks, interleaved. Memory: each walk again under ``tracemalloc`` (its
peak above the walk's start), plus the process's resident set sampled every 1,000
objects (protobuf's parsed messages live in upb arenas, which tracemalloc does not
see). A page's size is the serialized size of the largest reply (``ByteSize()``, taken in an
untimed walk). The list-building
``discover_hierarchy()`` is measured the same way, to show what holding every page
looks like.
"""

from __future__ import annotations

import asyncio
import gc
import os
import tracemalloc
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from bench._common import Clock, Result, Sample, ServerProcess, interleave, time_result
from mxgateway import call_metadata
from mxgateway.galaxy import DEFAULT_PAGE_SIZE, GalaxyRepositoryClient
from mxgateway.generated import galaxy_repository_pb2 as gr
from mxgateway.generated import galaxy_repository_pb2_grpc as gr_grpc

TIMEOUT_S = 30.0
#: Client CPU of a walk through ``iter_hierarchy()`` over the raw paging loop's.
CPU_TARGET = 1.15
_PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass
class HierarchyConfig:
    rounds: int


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * _PAGE


class _Walk:
    """Counts objects and samples the resident set every 1,000 objects."""

    def __init__(self) -> None:
        self.count = 0
        self.start_rss = _rss()
        self.peak_rss = self.start_rss

    def see(self) -> None:
        self.count += 1
        if self.count % 1000 == 0:
            rss = _rss()
            if rss > self.peak_rss:
                self.peak_rss = rss


def run(server: ServerProcess, config: HierarchyConfig) -> Result:
    loop = asyncio.new_event_loop()
    clock = Clock(server)
    client: GalaxyRepositoryClient = loop.run_until_complete(
        GalaxyRepositoryClient.connect(server.endpoint, plaintext=True)  # type: ignore[arg-type]
    )
    stub = gr_grpc.GalaxyRepositoryStub(client.channel)
    metadata = call_metadata(client.options)
    page_bytes = 0

    async def raw(walk: _Walk, *, measure_pages: bool = False) -> None:
        nonlocal page_bytes
        request = gr.DiscoverHierarchyRequest(page_size=DEFAULT_PAGE_SIZE, include_attributes=True)
        while True:
            reply = await stub.DiscoverHierarchy(request, metadata=metadata, timeout=TIMEOUT_S)
            if measure_pages:  # outside the timed and traced walks
                page_bytes = max(page_bytes, reply.ByteSize())
            for _obj in reply.objects:
                walk.see()
            if not reply.next_page_token:
                return
            request.page_token = reply.next_page_token

    async def lazy(walk: _Walk) -> None:
        async for _obj in client.iter_hierarchy():
            walk.see()

    async def whole(walk: _Walk) -> None:
        for _obj in await client.discover_hierarchy():
            walk.see()

    def timed(body: Callable[[_Walk], Coroutine[Any, Any, None]]) -> Sample:
        async def go() -> Sample:
            walk = _Walk()
            started = clock.start()
            await body(walk)
            return clock.stop(started, walk.count)

        sample: Sample = loop.run_until_complete(go())
        return sample

    def traced(body: Callable[[_Walk], Coroutine[Any, Any, None]]) -> dict[str, int]:
        gc.collect()
        tracemalloc.start()
        try:
            before, _ = tracemalloc.get_traced_memory()
            walk = _Walk()
            loop.run_until_complete(body(walk))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        return {
            "objects": walk.count,
            "traced_peak_bytes": peak - before,
            "rss_growth_bytes": walk.peak_rss - walk.start_rss,
        }

    async def measure(walk: _Walk) -> None:
        await raw(walk, measure_pages=True)

    try:
        loop.run_until_complete(measure(_Walk()))
        timed(lazy)
        base, cand = interleave(config.rounds, lambda: timed(raw), lambda: timed(lazy))
        memory = {"raw": traced(raw), "iter_hierarchy": traced(lazy), "discover_hierarchy": traced(whole)}
    finally:
        loop.run_until_complete(client.close())
        loop.close()
    objects = base[0].ops
    if any(s.ops != objects for s in base + cand):
        raise RuntimeError("the walks disagree on the number of objects")
    for name, figures in memory.items():
        figures["traced_peak_pages"] = round(figures["traced_peak_bytes"] / page_bytes, 2)  # type: ignore[assignment]
        figures["rss_growth_pages"] = round(figures["rss_growth_bytes"] / page_bytes, 2)  # type: ignore[assignment]
        del name
    result = time_result(
        "iter_hierarchy",
        f"raw DiscoverHierarchy paging loop ({objects:,} objects)",
        f"iter_hierarchy() ({objects:,} objects)",
        base,
        cand,
        1.10,
        unit="ms/walk",
        scale=1e3 * objects,
        extra={
            "objects": objects,
            "page_size_objects": DEFAULT_PAGE_SIZE,
            "page_bytes": page_bytes,
            "memory": memory,
            "memory_target_pages": 2,
            "memory_met": memory["iter_hierarchy"]["traced_peak_pages"] <= 2,
        },
        cpu_target=CPU_TARGET,
    )
    return result
