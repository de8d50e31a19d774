"""Paging a 100,000-object Galaxy through the simulator's GalaxyRepository service."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import grpc
import pytest

from mxgateway.generated import galaxy_repository_pb2 as gr
from mxgateway.generated import galaxy_repository_pb2_grpc
from mxgateway.simulator.galaxy import Galaxy
from mxgateway.simulator.repository import MAX_PAGE_SIZE, GalaxyRepositoryService
from tests import large_galaxies

if TYPE_CHECKING:
    from mxgateway.generated.galaxy_repository_pb2_grpc import GalaxyRepositoryAsyncStub

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

OBJECT_COUNT = 100_000


@pytest.fixture(scope="module")
def large_galaxy() -> Galaxy:
    return large_galaxies.generated(OBJECT_COUNT)


@pytest.fixture
async def stub(large_galaxy: Galaxy) -> AsyncIterator[GalaxyRepositoryAsyncStub]:
    service = GalaxyRepositoryService(large_galaxy)
    server = grpc.aio.server()
    galaxy_repository_pb2_grpc.add_GalaxyRepositoryServicer_to_server(service, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    # Default message limits, as a real client has: a full page must fit.
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield galaxy_repository_pb2_grpc.GalaxyRepositoryStub(channel)
    finally:
        await channel.close(None)
        await service.close(timeout=1.0)
        await server.stop(None)


async def test_paging_100k_objects(stub: GalaxyRepositoryAsyncStub, large_galaxy: Galaxy) -> None:
    request = gr.DiscoverHierarchyRequest(page_size=MAX_PAGE_SIZE)
    seen: set[int] = set()
    order: list[int] = []
    pages = 0
    started = time.perf_counter()
    while True:
        reply = await stub.DiscoverHierarchy(request)
        pages += 1
        assert reply.total_object_count == OBJECT_COUNT
        for obj in reply.objects:
            assert obj.parent_gobject_id == 0 or obj.parent_gobject_id in seen, obj.tag_name
            seen.add(obj.gobject_id)
            order.append(obj.gobject_id)
        if not reply.next_page_token:
            break
        request.page_token = reply.next_page_token
    elapsed = time.perf_counter() - started
    print(f"paged {OBJECT_COUNT} objects in {pages} pages in {elapsed:.2f} s")

    assert pages == OBJECT_COUNT // MAX_PAGE_SIZE
    assert len(order) == len(seen) == OBJECT_COUNT
    assert order == [o.gobject_id for o, _ in large_galaxy.walk()]


async def test_paging_a_filtered_100k_galaxy(stub: GalaxyRepositoryAsyncStub, large_galaxy: Galaxy) -> None:
    areas = [o.tag_name for o in large_galaxy.objects if o.is_area]
    request = gr.DiscoverHierarchyRequest(page_size=300, tag_name_glob="area_*", include_attributes=False)
    found: list[str] = []
    while True:
        reply = await stub.DiscoverHierarchy(request)
        assert reply.total_object_count == len(areas)
        assert all(not o.attributes for o in reply.objects)
        found += [o.tag_name for o in reply.objects]
        if not reply.next_page_token:
            break
        request.page_token = reply.next_page_token
    assert len(areas) > 900
    assert found == areas
