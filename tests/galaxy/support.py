"""Helpers of the Galaxy Repository client tests: a small plant Galaxy served over loopback.

``serve_repository`` serves the simulator's ``GalaxyRepositoryService`` on a bare
grpc.aio server, so tests can see what the server saw (the requests, open
watchers); tests that need authentication or the whole gateway use ``Simulator``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import grpc
import grpc.aio
import pytest

from mxgateway.galaxy import GalaxyRepositoryClient
from mxgateway.generated import galaxy_repository_pb2 as gr
from mxgateway.generated import galaxy_repository_pb2_grpc
from mxgateway.simulator.demo_plant import DEMO_DEPLOY_TIME
from mxgateway.simulator.galaxy import (
    CATEGORY_AREA,
    CATEGORY_ENGINE,
    Galaxy,
    GalaxyAttribute,
    GalaxyObject,
)
from mxgateway.simulator.repository import GalaxyRepositoryService


def _attr(name: str, *, historized: bool = False, alarm: bool = False) -> GalaxyAttribute:
    return GalaxyAttribute(attribute_name=name, mx_data_type=4, is_historized=historized, is_alarm=alarm)


def _area(gobject_id: int, tag: str, parent: int = 0, contained_name: str = "") -> GalaxyObject:
    return GalaxyObject(
        gobject_id=gobject_id,
        tag_name=tag,
        contained_name=contained_name,
        parent_gobject_id=parent,
        area_gobject_id=parent,
        category_id=CATEGORY_AREA,
        is_area=True,
        template_chain=["$Area"],
    )


def _thing(
    gobject_id: int, tag: str, parent: int, chain: list[str], attributes: list[GalaxyAttribute]
) -> GalaxyObject:
    return GalaxyObject(
        gobject_id=gobject_id,
        tag_name=tag,
        parent_gobject_id=parent,
        area_gobject_id=parent,
        template_chain=chain,
        attributes=attributes,
    )


def plant_galaxy(deployed: dt.datetime | None = DEMO_DEPLOY_TIME) -> Galaxy:
    """A Galaxy on which every filter gives a distinct answer.

    Plant(1) [area]
      Zeta_Engine(2) [engine]
      North(3) [area]: Tank_N1(6) hist+alarm (+ Level.Desc), Pump_N2(7) hist, Valve_N3(8) alarm
      Alpha(4) [area, contained name "alpha"]: Tank_A1(9) hist
      Beta_Pump(5) [no attributes]
    Spare(10) [area, no children]
    """
    engine = GalaxyObject(
        gobject_id=2,
        tag_name="Zeta_Engine",
        parent_gobject_id=1,
        area_gobject_id=1,
        category_id=CATEGORY_ENGINE,
        template_chain=["$AppEngine"],
    )
    tank_n1 = [_attr("Level", historized=True, alarm=True), _attr("Level.Desc")]
    objects = [
        _area(1, "Plant"),
        engine,
        _area(3, "North", 1),
        _area(4, "Alpha", 1, contained_name="alpha"),
        _thing(5, "Beta_Pump", 1, ["$Pump"], []),
        _thing(6, "Tank_N1", 3, ["$WaterTank", "$Tank"], tank_n1),
        _thing(7, "Pump_N2", 3, ["$CentrifugalPump", "$Pump"], [_attr("Speed", historized=True)]),
        _thing(8, "Valve_N3", 3, ["$Valve"], [_attr("Interlock", alarm=True)]),
        _thing(9, "Tank_A1", 4, ["$WaterTank", "$Tank"], [_attr("Level", historized=True)]),
        _area(10, "Spare"),
    ]
    return Galaxy(objects, name="plant", time_of_last_deploy=deployed)


#: gobject_ids of plant_galaxy() in walk order (parents before children).
WALK_ORDER = [1, 2, 3, 6, 7, 8, 4, 9, 5, 10]


class RecordingService(GalaxyRepositoryService):
    """The simulator's service, noting each paged request as it arrives."""

    def __init__(self, galaxy: Galaxy, **options: Any) -> None:
        super().__init__(galaxy, **options)
        #: (RPC, page_token) in arrival order.
        self.requests: list[tuple[str, str]] = []
        self.browse_parents: list[int] = []

    async def DiscoverHierarchy(self, request: Any, context: Any) -> gr.DiscoverHierarchyReply:
        self.requests.append(("DiscoverHierarchy", request.page_token))
        return await super().DiscoverHierarchy(request, context)

    async def BrowseChildren(self, request: Any, context: Any) -> gr.BrowseChildrenReply:
        self.requests.append(("BrowseChildren", request.page_token))
        self.browse_parents.append(request.parent_gobject_id)
        return await super().BrowseChildren(request, context)

    def count(self, rpc: str) -> int:
        return sum(1 for name, _ in self.requests if name == rpc)


@dataclass
class Repo:
    service: RecordingService
    client: GalaxyRepositoryClient
    endpoint: str


@asynccontextmanager
async def serve_repository(galaxy: Galaxy, **service_options: Any) -> AsyncIterator[Repo]:
    """A bare grpc.aio server with the repository service, and a client connected to it."""
    service = RecordingService(galaxy, **service_options)
    server = grpc.aio.server()
    galaxy_repository_pb2_grpc.add_GalaxyRepositoryServicer_to_server(service, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    endpoint = f"127.0.0.1:{port}"
    try:
        async with GalaxyRepositoryClient.connect(endpoint, plaintext=True, default_timeout=10.0) as client:
            yield Repo(service, client, endpoint)
    finally:
        await service.close(timeout=1.0)
        await server.stop(None)


async def wait_until(predicate: Callable[[], bool], timeout: float = 3.0) -> None:
    """Poll until ``predicate()`` holds; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not reached within {timeout}s")
        await asyncio.sleep(0.01)


def deploy_now(service: GalaxyRepositoryService, galaxy: Galaxy | None = None) -> None:
    """Run ``service.deploy()`` to completion from synchronous code (a progress callback).

    ``deploy()`` never suspends, so one ``send`` finishes it.
    """
    with contextlib.suppress(StopIteration):
        service.deploy(galaxy).send(None)
