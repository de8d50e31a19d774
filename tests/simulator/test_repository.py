"""The simulator's GalaxyRepository service, over real gRPC on loopback with the raw stub."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import time
from collections.abc import AsyncIterator, Awaitable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import grpc
import pytest
from google.protobuf.wrappers_pb2 import Int32Value

from mxgateway.generated import galaxy_repository_pb2 as gr
from mxgateway.generated import galaxy_repository_pb2_grpc
from mxgateway.simulator.demo_plant import DEMO_DEPLOY_TIME, demo_galaxy, generate_galaxy
from mxgateway.simulator.galaxy import (
    CATEGORY_AREA,
    CATEGORY_ENGINE,
    Galaxy,
    GalaxyObject,
)
from mxgateway.simulator.repository import MAX_PAGE_SIZE, GalaxyRepositoryService
from tests.galaxy.support import _area, _attr, _thing

if TYPE_CHECKING:
    from mxgateway.generated.galaxy_repository_pb2_grpc import GalaxyRepositoryAsyncStub

pytestmark = pytest.mark.anyio

UTC = dt.timezone.utc
STREAM_END = grpc.aio.EOF  # type: ignore[attr-defined]  # missing from grpc-stubs


# ---------------------------------------------------------------------- test Galaxy


def plant_galaxy(deployed: dt.datetime | None = DEMO_DEPLOY_TIME) -> Galaxy:
    """A Galaxy whose filters give distinct answers.

    Plant(1) [area]
      Zeta_Engine(2) [engine]
      North(3) [area]: Tank_N1(6) hist+alarm, Pump_N2(7) hist, Valve_N3(8) alarm
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
    objects = [
        _area(1, "Plant"),
        engine,
        _area(3, "North", 1),
        _area(4, "Alpha", 1, contained_name="alpha"),
        _thing(5, "Beta_Pump", 1, ["$Pump"], []),
        _thing(6, "Tank_N1", 3, ["$WaterTank", "$Tank"], [_attr("Level", historized=True, alarm=True)]),
        _thing(7, "Pump_N2", 3, ["$CentrifugalPump", "$Pump"], [_attr("Speed", historized=True)]),
        _thing(8, "Valve_N3", 3, ["$Valve"], [_attr("Interlock", alarm=True)]),
        _thing(9, "Tank_A1", 4, ["$WaterTank", "$Tank"], [_attr("Level", historized=True)]),
        _area(10, "Spare"),
    ]
    return Galaxy(objects, name="plant", time_of_last_deploy=deployed)


WALK_ORDER = [1, 2, 3, 6, 7, 8, 4, 9, 5, 10]


# ---------------------------------------------------------------------- harness


@dataclass
class Repo:
    service: GalaxyRepositoryService
    stub: GalaxyRepositoryAsyncStub


@asynccontextmanager
async def serve(galaxy: Galaxy, **options: Any) -> AsyncIterator[Repo]:
    service = GalaxyRepositoryService(galaxy, **options)
    server = grpc.aio.server()
    galaxy_repository_pb2_grpc.add_GalaxyRepositoryServicer_to_server(service, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield Repo(service, galaxy_repository_pb2_grpc.GalaxyRepositoryStub(channel))
    finally:
        await channel.close(None)
        await service.close(timeout=1.0)
        await server.stop(None)


@pytest.fixture
async def repo() -> AsyncIterator[Repo]:
    async with serve(plant_galaxy()) as r:
        yield r


async def rpc_error(call: Awaitable[Any], code: grpc.StatusCode) -> str:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    assert info.value.code() == code, info.value.details()
    return info.value.details() or ""


def ids(objects: Sequence[gr.GalaxyObject]) -> list[int]:
    return [o.gobject_id for o in objects]


async def discover_all(stub: GalaxyRepositoryAsyncStub, request: gr.DiscoverHierarchyRequest) -> list[int]:
    """Every page of a DiscoverHierarchy request, checking the total on each page."""
    found: list[int] = []
    totals: set[int] = set()
    while True:
        reply = await stub.DiscoverHierarchy(request)
        found += ids(reply.objects)
        totals.add(reply.total_object_count)
        if not reply.next_page_token:
            break
        request.page_token = reply.next_page_token
    assert totals == {len(found)}
    return found


async def discover_ids(stub: GalaxyRepositoryAsyncStub, **fields: Any) -> list[int]:
    return await discover_all(stub, gr.DiscoverHierarchyRequest(**fields))


# ---------------------------------------------------------------------- TestConnection, GetLastDeployTime


async def test_test_connection_ok_then_database_down_then_back(repo: Repo) -> None:
    assert (await repo.stub.TestConnection(gr.TestConnectionRequest())).ok is True

    repo.service.set_available(False, "SQL Server refused the connection")
    reply = await repo.stub.TestConnection(gr.TestConnectionRequest())
    assert reply.ok is False
    assert reply.message == "SQL Server refused the connection"
    assert repo.service.available is False
    details = await rpc_error(
        repo.stub.DiscoverHierarchy(gr.DiscoverHierarchyRequest()), grpc.StatusCode.UNAVAILABLE
    )
    assert "SQL Server refused" in details
    await rpc_error(repo.stub.BrowseChildren(gr.BrowseChildrenRequest()), grpc.StatusCode.UNAVAILABLE)
    await rpc_error(repo.stub.GetLastDeployTime(gr.GetLastDeployTimeRequest()), grpc.StatusCode.UNAVAILABLE)

    repo.service.set_available(True)
    reply = await repo.stub.TestConnection(gr.TestConnectionRequest())
    assert reply.ok is True
    assert reply.message == ""


async def test_last_deploy_time_of_a_deployed_galaxy(repo: Repo) -> None:
    reply = await repo.stub.GetLastDeployTime(gr.GetLastDeployTimeRequest())
    assert reply.time_of_last_deploy_present is True
    assert reply.time_of_last_deploy.ToDatetime(tzinfo=UTC) == DEMO_DEPLOY_TIME


async def test_last_deploy_time_absent_until_first_deploy() -> None:
    async with serve(plant_galaxy(deployed=None)) as r:
        reply = await r.stub.GetLastDeployTime(gr.GetLastDeployTimeRequest())
        assert reply.time_of_last_deploy_present is False
        assert not reply.HasField("time_of_last_deploy")

        before = dt.datetime.now(UTC)
        await r.service.deploy()
        reply = await r.stub.GetLastDeployTime(gr.GetLastDeployTimeRequest())
        assert reply.time_of_last_deploy_present is True
        assert reply.time_of_last_deploy.ToDatetime(tzinfo=UTC) >= before.replace(microsecond=0)


async def test_every_deploy_time_is_strictly_later(repo: Repo) -> None:
    seen = [
        (await repo.stub.GetLastDeployTime(gr.GetLastDeployTimeRequest())).time_of_last_deploy.ToDatetime()
    ]
    for _ in range(3):
        await repo.service.deploy()
        reply = await repo.stub.GetLastDeployTime(gr.GetLastDeployTimeRequest())
        seen.append(reply.time_of_last_deploy.ToDatetime())
    assert seen == sorted(seen)
    assert len(set(seen)) == 4


# ---------------------------------------------------------------------- DiscoverHierarchy filters


async def test_discover_everything_parents_before_children(repo: Repo) -> None:
    reply = await repo.stub.DiscoverHierarchy(gr.DiscoverHierarchyRequest())
    assert ids(reply.objects) == WALK_ORDER
    assert reply.total_object_count == 10
    assert reply.next_page_token == ""
    tank = next(o for o in reply.objects if o.tag_name == "Tank_N1")
    assert tank.contained_path == "Plant/North/Tank_N1"
    assert tank.parent_gobject_id == 3
    assert list(tank.template_chain) == ["$WaterTank", "$Tank"]
    assert [
        (a.attribute_name, a.full_tag_reference, a.is_historized, a.is_alarm) for a in tank.attributes
    ] == [("Level", "Tank_N1.Level", True, True)]
    alpha = next(o for o in reply.objects if o.gobject_id == 4)
    assert (alpha.contained_name, alpha.is_area, alpha.category_id) == ("alpha", True, CATEGORY_AREA)


async def test_demo_galaxy_walk_matches_galaxy_walk() -> None:
    galaxy = demo_galaxy()
    async with serve(galaxy) as r:
        reply = await r.stub.DiscoverHierarchy(gr.DiscoverHierarchyRequest())
    assert ids(reply.objects) == [o.gobject_id for o, _ in galaxy.walk()]
    assert sum(len(o.attributes) for o in reply.objects) == galaxy.attribute_count


@pytest.mark.parametrize(
    ("root", "expected"),
    [
        ({"root_gobject_id": 3}, [3, 6, 7, 8]),
        ({"root_gobject_id": 4}, [4, 9]),
        ({"root_gobject_id": 0}, WALK_ORDER),
        ({"root_tag_name": "north"}, [3, 6, 7, 8]),
        ({"root_tag_name": "Tank_A1"}, [9]),
        ({"root_contained_path": "Plant/North"}, [3, 6, 7, 8]),
        ({"root_contained_path": "plant/alpha/"}, [4, 9]),
    ],
)
async def test_discover_from_a_root(repo: Repo, root: dict[str, Any], expected: list[int]) -> None:
    assert await discover_ids(repo.stub, **root) == expected


@pytest.mark.parametrize(
    ("root", "named"),
    [
        ({"root_gobject_id": 999}, "gobject_id 999"),
        ({"root_tag_name": "Nowhere"}, "'Nowhere'"),
        ({"root_contained_path": "Plant/South"}, "'Plant/South'"),
    ],
)
async def test_unknown_root_is_not_found(repo: Repo, root: dict[str, Any], named: str) -> None:
    details = await rpc_error(
        repo.stub.DiscoverHierarchy(gr.DiscoverHierarchyRequest(**root)), grpc.StatusCode.NOT_FOUND
    )
    assert "root object not found" in details
    assert named in details


@pytest.mark.parametrize(
    ("depth", "root", "expected"),
    [
        (0, {}, [1, 10]),
        (1, {}, [1, 2, 3, 4, 5, 10]),
        (2, {}, WALK_ORDER),
        (0, {"root_gobject_id": 3}, [3]),
        (1, {"root_gobject_id": 1}, [1, 2, 3, 4, 5]),
        (1, {"root_tag_name": "North"}, [3, 6, 7, 8]),
    ],
)
async def test_max_depth(repo: Repo, depth: int, root: dict[str, Any], expected: list[int]) -> None:
    assert await discover_ids(repo.stub, max_depth=Int32Value(value=depth), **root) == expected


async def test_negative_max_depth_is_invalid(repo: Repo) -> None:
    details = await rpc_error(
        repo.stub.DiscoverHierarchy(gr.DiscoverHierarchyRequest(max_depth=Int32Value(value=-1))),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert "max_depth" in details


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"category_ids": [CATEGORY_AREA]}, [1, 3, 4, 10]),
        ({"category_ids": [CATEGORY_ENGINE, 10]}, [2, 6, 7, 8, 9, 5]),
        ({"template_chain_contains": ["tank"]}, [6, 9]),
        ({"template_chain_contains": ["PUMP"]}, [7, 5]),
        ({"template_chain_contains": ["$Water", "valve"]}, [6, 8, 9]),
        ({"template_chain_contains": ["Centrifugal"]}, [7]),
        ({"tag_name_glob": "tank_*"}, [6, 9]),
        ({"tag_name_glob": "?ump_N?"}, [7]),
        ({"tag_name_glob": "Pump"}, []),
        ({"tag_name_glob": "*_N*"}, [6, 7, 8]),
        ({"tag_name_glob": "[A-Z]*"}, []),
        ({"alarm_bearing_only": True}, [6, 8]),
        ({"historized_only": True}, [6, 7, 9]),
        ({"alarm_bearing_only": True, "historized_only": True}, [6]),
    ],
)
async def test_filters(repo: Repo, filters: dict[str, Any], expected: list[int]) -> None:
    assert await discover_ids(repo.stub, **filters) == expected


async def test_filtered_out_parent_does_not_hide_matching_descendants(repo: Repo) -> None:
    # Neither Plant nor Alpha is a tank, yet Tank_A1 below them is found.
    assert await discover_ids(repo.stub, root_tag_name="Plant", template_chain_contains=["$Tank"]) == [6, 9]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"root_tag_name": "North", "alarm_bearing_only": True}, [6, 8]),
        (
            {
                "root_gobject_id": 1,
                "max_depth": Int32Value(value=2),
                "template_chain_contains": ["tank"],
                "historized_only": True,
            },
            [6, 9],
        ),
        ({"category_ids": [CATEGORY_AREA], "tag_name_glob": "*h"}, [3]),
        ({"max_depth": Int32Value(value=1), "category_ids": [10]}, [5]),
        ({"tag_name_glob": "*_*", "alarm_bearing_only": True, "template_chain_contains": ["valve"]}, [8]),
    ],
)
async def test_combined_filters(repo: Repo, fields: dict[str, Any], expected: list[int]) -> None:
    assert await discover_ids(repo.stub, **fields) == expected


async def test_include_attributes(repo: Repo) -> None:
    default = await repo.stub.DiscoverHierarchy(gr.DiscoverHierarchyRequest())
    explicit = await repo.stub.DiscoverHierarchy(gr.DiscoverHierarchyRequest(include_attributes=True))
    skeleton = await repo.stub.DiscoverHierarchy(gr.DiscoverHierarchyRequest(include_attributes=False))
    assert sum(len(o.attributes) for o in default.objects) == 4
    assert default == explicit
    assert ids(skeleton.objects) == WALK_ORDER
    assert all(len(o.attributes) == 0 for o in skeleton.objects)
    assert [o.contained_path for o in skeleton.objects] == [o.contained_path for o in default.objects]


# ---------------------------------------------------------------------- paging


@pytest.mark.parametrize("page_size", [1, 3, 4, 9, 10, 11])
async def test_paging_returns_every_object_once_in_walk_order(repo: Repo, page_size: int) -> None:
    request = gr.DiscoverHierarchyRequest(page_size=page_size)
    pages: list[list[int]] = []
    while True:
        reply = await repo.stub.DiscoverHierarchy(request)
        pages.append(ids(reply.objects))
        assert reply.total_object_count == 10
        if not reply.next_page_token:
            break
        request.page_token = reply.next_page_token
    assert all(len(page) == page_size for page in pages[:-1])
    assert len(pages) == -(-10 // page_size)
    assert [i for page in pages for i in page] == WALK_ORDER


async def test_paging_a_filtered_walk(repo: Repo) -> None:
    request = gr.DiscoverHierarchyRequest(page_size=2, historized_only=True)
    first = await repo.stub.DiscoverHierarchy(request)
    assert (ids(first.objects), first.total_object_count) == ([6, 7], 3)
    request.page_token = first.next_page_token
    second = await repo.stub.DiscoverHierarchy(request)
    assert (ids(second.objects), second.total_object_count, second.next_page_token) == ([9], 3, "")


async def test_page_size_may_change_between_pages(repo: Repo) -> None:
    first = await repo.stub.DiscoverHierarchy(gr.DiscoverHierarchyRequest(page_size=2))
    rest = await repo.stub.DiscoverHierarchy(
        gr.DiscoverHierarchyRequest(page_size=100, page_token=first.next_page_token)
    )
    assert ids(first.objects) + ids(rest.objects) == WALK_ORDER


async def test_negative_page_size_is_invalid(repo: Repo) -> None:
    details = await rpc_error(
        repo.stub.DiscoverHierarchy(gr.DiscoverHierarchyRequest(page_size=-5)),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert "page_size" in details


async def test_empty_result_is_one_empty_page(repo: Repo) -> None:
    reply = await repo.stub.DiscoverHierarchy(gr.DiscoverHierarchyRequest(tag_name_glob="nothing*"))
    assert (list(reply.objects), reply.total_object_count, reply.next_page_token) == ([], 0, "")


async def test_stale_token_after_deploy(repo: Repo) -> None:
    request = gr.DiscoverHierarchyRequest(page_size=3)
    first = await repo.stub.DiscoverHierarchy(request)
    await repo.service.deploy()
    request.page_token = first.next_page_token
    details = await rpc_error(repo.stub.DiscoverHierarchy(request), grpc.StatusCode.INVALID_ARGUMENT)
    assert "stale page token" in details
    assert "redeployed" in details
    # Starting again works, and the new tokens are good.
    request.page_token = ""
    assert await discover_all(repo.stub, request) == WALK_ORDER


async def test_stale_token_after_deploying_another_galaxy(repo: Repo) -> None:
    first = await repo.stub.BrowseChildren(gr.BrowseChildrenRequest(parent_gobject_id=1, page_size=1))
    await repo.service.deploy(demo_galaxy())
    details = await rpc_error(
        repo.stub.BrowseChildren(
            gr.BrowseChildrenRequest(parent_gobject_id=1, page_size=1, page_token=first.next_page_token)
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert "stale page token" in details


@pytest.mark.parametrize(
    "changed",
    [
        {"historized_only": True},
        {"alarm_bearing_only": True},
        {"category_ids": [13]},
        {"template_chain_contains": ["tank"]},
        {"tag_name_glob": "*"},
        {"include_attributes": False},
        {"root_gobject_id": 1},
        {"max_depth": Int32Value(value=5)},
    ],
)
async def test_token_with_other_filters_is_foreign(repo: Repo, changed: dict[str, Any]) -> None:
    first = await repo.stub.DiscoverHierarchy(gr.DiscoverHierarchyRequest(page_size=2))
    details = await rpc_error(
        repo.stub.DiscoverHierarchy(
            gr.DiscoverHierarchyRequest(page_size=2, page_token=first.next_page_token, **changed)
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert "foreign page token" in details
    assert "different filters" in details


async def test_equivalent_filters_accept_the_token(repo: Repo) -> None:
    request = gr.DiscoverHierarchyRequest(
        page_size=1, category_ids=[10, 3], template_chain_contains=["Tank", "pump"], tag_name_glob="*_*"
    )
    first = await repo.stub.DiscoverHierarchy(request)
    reordered = gr.DiscoverHierarchyRequest(
        page_size=1,
        page_token=first.next_page_token,
        category_ids=[3, 10],
        template_chain_contains=["PUMP", "tank"],
        tag_name_glob="*_*",
        include_attributes=True,
    )
    second = await repo.stub.DiscoverHierarchy(reordered)
    assert ids(first.objects) + ids(second.objects) == [6, 7]


async def test_token_of_the_other_rpc_is_foreign(repo: Repo) -> None:
    discover = await repo.stub.DiscoverHierarchy(gr.DiscoverHierarchyRequest(page_size=1))
    details = await rpc_error(
        repo.stub.BrowseChildren(gr.BrowseChildrenRequest(page_size=1, page_token=discover.next_page_token)),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert "foreign page token" in details


async def test_token_of_another_server_is_invalid(repo: Repo) -> None:
    async with serve(plant_galaxy()) as other:
        theirs = await other.stub.DiscoverHierarchy(gr.DiscoverHierarchyRequest(page_size=2))
    details = await rpc_error(
        repo.stub.DiscoverHierarchy(
            gr.DiscoverHierarchyRequest(page_size=2, page_token=theirs.next_page_token)
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert "invalid page token" in details
    assert "not issued by this server" in details


def _tampered(token: str) -> str:
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw[10] ^= 0x01
    return base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")


@pytest.mark.parametrize("garbage", ["not a token!", "AAAA", "x", "eyJ2IjoxLCJvIjoyfQ", "tampered"])
async def test_garbage_or_forged_token_is_invalid(repo: Repo, garbage: str) -> None:
    first = await repo.stub.DiscoverHierarchy(gr.DiscoverHierarchyRequest(page_size=2))
    token = _tampered(first.next_page_token) if garbage == "tampered" else garbage
    details = await rpc_error(
        repo.stub.DiscoverHierarchy(gr.DiscoverHierarchyRequest(page_size=2, page_token=token)),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert "invalid page token" in details


# ---------------------------------------------------------------------- BrowseChildren


async def test_browse_roots(repo: Repo) -> None:
    for request in (gr.BrowseChildrenRequest(), gr.BrowseChildrenRequest(parent_gobject_id=0)):
        reply = await repo.stub.BrowseChildren(request)
        assert [o.tag_name for o in reply.children] == ["Plant", "Spare"]
        assert list(reply.child_has_children) == [True, False]
        assert reply.next_page_token == ""


async def test_browse_orders_areas_first_then_by_name_case_insensitively(repo: Repo) -> None:
    reply = await repo.stub.BrowseChildren(gr.BrowseChildrenRequest(parent_tag_name="plant"))
    # "alpha" sorts before "North" only when case is ignored; Zeta_Engine has the lowest id.
    assert [o.contained_name for o in reply.children] == ["alpha", "North", "Beta_Pump", "Zeta_Engine"]
    assert list(reply.child_has_children) == [True, True, False, False]
    assert all(o.parent_gobject_id == 1 for o in reply.children)


async def test_browse_demo_galaxy_areas_first() -> None:
    async with serve(demo_galaxy()) as r:
        reply = await r.stub.BrowseChildren(gr.BrowseChildrenRequest(parent_tag_name="WaterPlant"))
        treatment = await r.stub.BrowseChildren(
            gr.BrowseChildrenRequest(parent_contained_path="WaterPlant/Treatment")
        )
    assert [o.tag_name for o in reply.children] == ["Intake", "Treatment", "AppEngine_001"]
    assert list(reply.child_has_children) == [True, True, False]
    assert [o.contained_name for o in treatment.children] == ["FlowMeter1", "Pump2", "Tank2", "Valve2"]


@pytest.mark.parametrize(
    "parent",
    [{"parent_gobject_id": 3}, {"parent_tag_name": "NORTH"}, {"parent_contained_path": "Plant/North"}],
)
async def test_browse_a_parent_by_each_key(repo: Repo, parent: dict[str, Any]) -> None:
    reply = await repo.stub.BrowseChildren(gr.BrowseChildrenRequest(**parent))
    assert [o.tag_name for o in reply.children] == ["Pump_N2", "Tank_N1", "Valve_N3"]
    assert list(reply.child_has_children) == [False, False, False]


@pytest.mark.parametrize(
    ("parent", "named"),
    [
        ({"parent_gobject_id": 42}, "gobject_id 42"),
        ({"parent_tag_name": "Ghost"}, "'Ghost'"),
        ({"parent_contained_path": "Plant/Ghost"}, "'Plant/Ghost'"),
    ],
)
async def test_browse_unknown_parent_is_not_found(repo: Repo, parent: dict[str, Any], named: str) -> None:
    details = await rpc_error(
        repo.stub.BrowseChildren(gr.BrowseChildrenRequest(**parent)), grpc.StatusCode.NOT_FOUND
    )
    assert "parent object not found" in details
    assert named in details


async def test_browse_a_leaf_has_no_children(repo: Repo) -> None:
    reply = await repo.stub.BrowseChildren(gr.BrowseChildrenRequest(parent_tag_name="Spare"))
    assert (list(reply.children), list(reply.child_has_children), reply.next_page_token) == ([], [], "")


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"category_ids": [CATEGORY_AREA]}, ["alpha", "North"]),
        ({"template_chain_contains": ["pump", "engine"]}, ["Beta_Pump", "Zeta_Engine"]),
        ({"tag_name_glob": "?e*"}, ["Beta_Pump", "Zeta_Engine"]),
        ({"tag_name_glob": "?E??_P*"}, ["Beta_Pump"]),
        ({"tag_name_glob": "*A", "category_ids": [CATEGORY_AREA]}, ["alpha"]),
    ],
)
async def test_browse_filters(repo: Repo, filters: dict[str, Any], expected: list[str]) -> None:
    reply = await repo.stub.BrowseChildren(gr.BrowseChildrenRequest(parent_gobject_id=1, **filters))
    assert [o.contained_name for o in reply.children] == expected
    assert len(reply.child_has_children) == len(expected)


async def test_browse_alarm_historized_and_include_attributes(repo: Repo) -> None:
    alarms = await repo.stub.BrowseChildren(
        gr.BrowseChildrenRequest(parent_gobject_id=3, alarm_bearing_only=True)
    )
    historized = await repo.stub.BrowseChildren(
        gr.BrowseChildrenRequest(parent_gobject_id=3, historized_only=True, include_attributes=False)
    )
    assert [o.tag_name for o in alarms.children] == ["Tank_N1", "Valve_N3"]
    assert [len(o.attributes) for o in alarms.children] == [1, 1]
    assert [o.tag_name for o in historized.children] == ["Pump_N2", "Tank_N1"]
    assert [len(o.attributes) for o in historized.children] == [0, 0]


async def test_browse_paging(repo: Repo) -> None:
    request = gr.BrowseChildrenRequest(parent_gobject_id=1, page_size=3)
    first = await repo.stub.BrowseChildren(request)
    assert [o.gobject_id for o in first.children] == [4, 3, 5]
    assert list(first.child_has_children) == [True, True, False]
    assert first.next_page_token
    request.page_token = first.next_page_token
    second = await repo.stub.BrowseChildren(request)
    assert ([o.gobject_id for o in second.children], list(second.child_has_children)) == ([2], [False])
    assert second.next_page_token == ""

    other_parent = gr.BrowseChildrenRequest(
        parent_gobject_id=3, page_size=3, page_token=first.next_page_token
    )
    details = await rpc_error(repo.stub.BrowseChildren(other_parent), grpc.StatusCode.INVALID_ARGUMENT)
    assert "foreign page token" in details


# ---------------------------------------------------------------------- WatchDeployEvents


async def next_event(call: Any) -> gr.DeployEvent:
    """The next event of a WatchDeployEvents call; fails if the stream ended."""
    event = await asyncio.wait_for(call.read(), timeout=5)
    assert isinstance(event, gr.DeployEvent), event
    return event


async def _wait_for_watchers(service: GalaxyRepositoryService, count: int) -> None:
    deadline = time.monotonic() + 5
    while service.watcher_count != count:
        assert time.monotonic() < deadline, f"{service.watcher_count} watchers, expected {count}"
        await asyncio.sleep(0.01)


async def test_watch_starts_with_the_current_state(repo: Repo) -> None:
    before = dt.datetime.now(UTC).replace(microsecond=0)
    call = repo.stub.WatchDeployEvents(gr.WatchDeployEventsRequest())
    event = await next_event(call)
    assert event.sequence == 1
    assert event.time_of_last_deploy_present is True
    assert event.time_of_last_deploy.ToDatetime(tzinfo=UTC) == DEMO_DEPLOY_TIME
    assert (event.object_count, event.attribute_count) == (10, 4)
    assert event.observed_at.ToDatetime(tzinfo=UTC) >= before
    call.cancel()


async def test_watch_of_a_never_deployed_galaxy() -> None:
    async with serve(plant_galaxy(deployed=None)) as r:
        # A last_seen time cannot match "never deployed", so the bootstrap still comes.
        call = r.stub.WatchDeployEvents(
            gr.WatchDeployEventsRequest(last_seen_deploy_time=gr.DeployEvent().observed_at)
        )
        event = await next_event(call)
        assert event.time_of_last_deploy_present is False
        assert not event.HasField("time_of_last_deploy")
        await r.service.deploy()
        deployed = await next_event(call)
        assert deployed.time_of_last_deploy_present is True
        call.cancel()


async def test_bootstrap_suppressed_when_client_has_seen_the_deploy(repo: Repo) -> None:
    seen = gr.WatchDeployEventsRequest()
    seen.last_seen_deploy_time.FromDatetime(DEMO_DEPLOY_TIME)
    call = repo.stub.WatchDeployEvents(seen)
    await _wait_for_watchers(repo.service, 1)
    await repo.service.deploy()
    event = await next_event(call)
    # The first event is the deploy, not the bootstrap of the state the client knew.
    assert event.sequence == 2
    assert event.time_of_last_deploy.ToDatetime(tzinfo=UTC) > DEMO_DEPLOY_TIME
    call.cancel()


async def test_bootstrap_sent_when_client_has_an_older_deploy(repo: Repo) -> None:
    older = gr.WatchDeployEventsRequest()
    older.last_seen_deploy_time.FromDatetime(DEMO_DEPLOY_TIME - dt.timedelta(days=1))
    call = repo.stub.WatchDeployEvents(older)
    event = await next_event(call)
    assert (event.sequence, event.time_of_last_deploy.ToDatetime(tzinfo=UTC)) == (1, DEMO_DEPLOY_TIME)
    call.cancel()


async def test_deploys_reach_every_watcher_with_shared_sequence(repo: Repo) -> None:
    first = repo.stub.WatchDeployEvents(gr.WatchDeployEventsRequest())
    second = repo.stub.WatchDeployEvents(gr.WatchDeployEventsRequest())
    for call in (first, second):
        bootstrap = await next_event(call)
        assert bootstrap.sequence == 1

    bigger = demo_galaxy()
    await repo.service.deploy(bigger)
    assert repo.service.galaxy is bigger
    events = [await next_event(first), await next_event(second)]
    for event in events:
        assert event.sequence == 2
        assert (event.object_count, event.attribute_count) == (len(bigger.objects), bigger.attribute_count)
        assert event.time_of_last_deploy.ToDatetime(tzinfo=UTC) > DEMO_DEPLOY_TIME
    last_deploy = await repo.stub.GetLastDeployTime(gr.GetLastDeployTimeRequest())
    assert last_deploy.time_of_last_deploy == events[0].time_of_last_deploy

    # A late subscriber's bootstrap carries the same number as the state it describes.
    late = repo.stub.WatchDeployEvents(gr.WatchDeployEventsRequest())
    late_bootstrap = await next_event(late)
    assert late_bootstrap.sequence == 2
    for call in (first, second, late):
        call.cancel()


async def test_slow_watcher_sees_a_gap() -> None:
    async with serve(plant_galaxy(), event_buffer_size=2) as r:
        call = r.stub.WatchDeployEvents(gr.WatchDeployEventsRequest())
        assert (await next_event(call)).sequence == 1
        # deploy() never suspends, so the five events pile up before the stream runs.
        for _ in range(5):
            await r.service.deploy()
        sequences = [(await next_event(call)).sequence for _ in range(2)]
        assert sequences == [5, 6]
        await r.service.deploy()
        assert (await next_event(call)).sequence == 7
        call.cancel()


async def test_close_ends_every_stream_cleanly(repo: Repo) -> None:
    calls = [repo.stub.WatchDeployEvents(gr.WatchDeployEventsRequest()) for _ in range(3)]
    for call in calls:
        await next_event(call)
    assert repo.service.watcher_count == 3

    await repo.service.close()
    assert repo.service.watcher_count == 0
    for call in calls:
        assert await asyncio.wait_for(call.read(), timeout=5) is STREAM_END
        assert await call.code() == grpc.StatusCode.OK

    after = repo.stub.WatchDeployEvents(gr.WatchDeployEventsRequest())
    assert [event async for event in after] == []
    assert await after.code() == grpc.StatusCode.OK


async def test_client_cancel_unsubscribes(repo: Repo) -> None:
    call = repo.stub.WatchDeployEvents(gr.WatchDeployEventsRequest())
    await next_event(call)
    assert repo.service.watcher_count == 1
    call.cancel()
    await _wait_for_watchers(repo.service, 0)
    await repo.service.deploy()  # no watcher left to feed
    assert call.cancelled()


# ---------------------------------------------------------------------- construction


def test_event_buffer_must_hold_an_event() -> None:
    with pytest.raises(ValueError, match="event_buffer_size"):
        GalaxyRepositoryService(plant_galaxy(), event_buffer_size=0)


async def test_page_size_is_capped() -> None:
    galaxy = generate_galaxy(MAX_PAGE_SIZE + 1_000, attributes_per_object=0)
    async with serve(galaxy) as r:
        huge = await r.stub.DiscoverHierarchy(gr.DiscoverHierarchyRequest(page_size=1_000_000))
        default = await r.stub.DiscoverHierarchy(gr.DiscoverHierarchyRequest())
        children = await r.stub.BrowseChildren(gr.BrowseChildrenRequest(page_size=1_000_000))
    assert len(huge.objects) == MAX_PAGE_SIZE
    assert huge.total_object_count == MAX_PAGE_SIZE + 1_000
    assert huge.next_page_token
    assert len(default.objects) == 500
    assert len(children.children) == 60  # one area per 100 objects, all roots
