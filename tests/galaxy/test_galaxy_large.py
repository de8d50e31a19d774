"""iter_hierarchy over 100,000 objects: every object once, with memory bounded by about a page."""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import AsyncIterator, Iterator

import pytest

from mxgateway.generated import galaxy_repository_pb2 as gr
from mxgateway.generated import galaxy_repository_pb2_grpc
from mxgateway.simulator.galaxy import Galaxy
from mxgateway.simulator.repository import MAX_PAGE_SIZE
from tests import large_galaxies

from .support import Repo, serve_repository

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

OBJECT_COUNT = 100_000
PAGE_SIZE = MAX_PAGE_SIZE


@pytest.fixture(scope="module")
def large_galaxy() -> Galaxy:
    return large_galaxies.generated(OBJECT_COUNT)


@pytest.fixture
async def large(large_galaxy: Galaxy) -> AsyncIterator[Repo]:
    async with serve_repository(large_galaxy) as repo:
        yield repo


@pytest.fixture
def traced() -> Iterator[None]:
    gc.collect()
    tracemalloc.start()
    try:
        yield
    finally:
        tracemalloc.stop()


def reset_peak() -> int:
    """Start a measurement: returns what is allocated now."""
    gc.collect()
    current, _ = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    return current


def peak_above(base: int) -> int:
    _, peak = tracemalloc.get_traced_memory()
    return peak - base


async def one_raw_page(repo: Repo, request: gr.DiscoverHierarchyRequest) -> int:
    """Traced peak of receiving one page with the raw stub and reading every object's attributes."""
    stub = galaxy_repository_pb2_grpc.GalaxyRepositoryStub(repo.client.channel)
    # Warm-up, untimed: the server caches its selection and protobuf sizes its caches.
    reply = await stub.DiscoverHierarchy(request)
    sum(len(o.attributes) for o in reply.objects)
    del reply
    base = reset_peak()
    reply = await stub.DiscoverHierarchy(request)
    assert len(reply.objects) == PAGE_SIZE
    sum(len(o.attributes) for o in reply.objects)
    del reply
    return peak_above(base)


async def test_iterating_100k_objects_holds_about_one_page(large: Repo, traced: None) -> None:
    one_page = await one_raw_page(large, gr.DiscoverHierarchyRequest(page_size=PAGE_SIZE))

    base = reset_peak()
    iterator = large.client.iter_hierarchy(page_size=PAGE_SIZE)
    count = attributes = 0
    async for obj in iterator:
        count += 1
        attributes += len(obj.attributes)
    walk = peak_above(base)

    assert count == OBJECT_COUNT
    assert attributes > OBJECT_COUNT
    assert iterator.pages_requested == OBJECT_COUNT // PAGE_SIZE
    print(f"\ntraced peak: one page {one_page / 1e6:.2f} MB, iterating 100k objects {walk / 1e6:.2f} MB")
    assert walk <= 2 * one_page, (walk, one_page)


async def test_holding_every_object_does_show_up_in_the_trace(large: Repo, traced: None) -> None:
    # The control of the test above: a trace that could not see growth would prove nothing.
    # Skeleton pages keep it quick; holding 100,000 objects must dwarf one page.
    request = gr.DiscoverHierarchyRequest(page_size=PAGE_SIZE, include_attributes=False)
    one_page = await one_raw_page(large, request)

    base = reset_peak()
    kept = [o async for o in large.client.iter_hierarchy(page_size=PAGE_SIZE, include_attributes=False)]
    held = peak_above(base)
    assert len(kept) == OBJECT_COUNT
    print(
        f"\ntraced peak holding 100k skeleton objects {held / 1e6:.2f} MB, one page {one_page / 1e6:.2f} MB"
    )
    assert held > 4 * one_page, (held, one_page)
