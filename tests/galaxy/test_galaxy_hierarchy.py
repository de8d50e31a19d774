"""DiscoverHierarchy through the client: every filter, lazy paging, stale tokens, unknown roots."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc
import grpc.aio
import pytest

from mxgateway.errors import (
    MxGatewayInvalidRequestError,
    MxGatewayNotFoundError,
    MxGatewaySessionNotFoundError,
)
from mxgateway.errors import map_galaxy_rpc_error as _map_error
from mxgateway.galaxy import (
    HierarchyIterator,
    MxGatewayObjectNotFoundError,
    MxGatewayPageTokenError,
    MxGatewayStalePageTokenError,
)
from mxgateway.galaxy._types import GalaxyObject
from mxgateway.generated import galaxy_repository_pb2 as gr

from .support import WALK_ORDER, Repo

pytestmark = pytest.mark.anyio


def ids(objects: Sequence[gr.GalaxyObject]) -> list[int]:
    return [o.gobject_id for o in objects]


async def collect(iterator: HierarchyIterator) -> list[int]:
    return [obj.gobject_id async for obj in iterator]


FILTER_CASES: list[tuple[dict[str, Any], list[int]]] = [
    ({}, WALK_ORDER),
    ({"root_gobject_id": 3}, [3, 6, 7, 8]),
    ({"root_tag_name": "north"}, [3, 6, 7, 8]),
    ({"root_contained_path": "Plant/alpha"}, [4, 9]),
    ({"max_depth": 0}, [1, 10]),
    ({"root_tag_name": "Plant", "max_depth": 0}, [1]),
    ({"root_tag_name": "Plant", "max_depth": 1}, [1, 2, 3, 4, 5]),
    ({"category_ids": [13]}, [1, 3, 4, 10]),
    ({"category_ids": [3, 10]}, [2, 6, 7, 8, 9, 5]),
    ({"template_chain_contains": ["tank"]}, [6, 9]),
    ({"template_chain_contains": "PUMP"}, [7, 5]),
    ({"template_chain_contains": ["valve", "engine"]}, [2, 8]),
    ({"tag_name_glob": "tank_*"}, [6, 9]),
    ({"tag_name_glob": "*_N?"}, [6, 7, 8]),
    ({"tag_name_glob": "?ump*"}, [7]),
    ({"alarm_bearing_only": True}, [6, 8]),
    ({"historized_only": True}, [6, 7, 9]),
    ({"historized_only": True, "alarm_bearing_only": True}, [6]),
    ({"root_tag_name": "North", "historized_only": True, "tag_name_glob": "P*"}, [7]),
]


@pytest.mark.parametrize(("filters", "expected"), FILTER_CASES, ids=[str(f) for f, _ in FILTER_CASES])
async def test_every_filter_selects_the_documented_objects(
    repo: Repo, filters: dict[str, Any], expected: list[int]
) -> None:
    assert ids(await repo.client.discover_hierarchy(**filters)) == expected
    # The same walk, lazily and one object per page.
    assert await collect(repo.client.iter_hierarchy(page_size=1, **filters)) == expected


async def test_attributes_by_default_and_a_skeleton_on_request(repo: Repo) -> None:
    full = await repo.client.discover_hierarchy(root_tag_name="Tank_N1")
    assert [a.tag for a in full[0].attributes] == ["Tank_N1.Level", "Tank_N1.Level.Desc"]
    assert full[0].attributes[0].is_historized
    assert full[0].attributes[0].is_alarm

    skeleton = await repo.client.discover_hierarchy(include_attributes=False)
    assert ids(skeleton) == WALK_ORDER
    assert all(len(o.attributes) == 0 for o in skeleton)
    assert skeleton[3].tag_name == "Tank_N1"
    assert skeleton[3].contained_path == "Plant/North/Tank_N1"


async def test_results_are_typed_views_of_the_generated_messages(repo: Repo) -> None:
    objects = await repo.client.discover_hierarchy(root_tag_name="Plant", max_depth=0)
    assert isinstance(objects[0], GalaxyObject)
    assert isinstance(objects[0].raw, gr.GalaxyObject)
    plant = objects[0]
    assert (plant.tag_name, plant.is_area, plant.category_id, list(plant.template_chain)) == (
        "Plant",
        True,
        13,
        ["$Area"],
    )


async def test_the_next_page_is_requested_only_after_the_current_one_is_consumed(repo: Repo) -> None:
    iterator = repo.client.iter_hierarchy(page_size=3)
    assert iterator.pages_requested == 0
    assert iterator.total_object_count is None
    assert repo.service.count("DiscoverHierarchy") == 0  # creating the iterator asks nothing

    seen: list[int] = []
    observed: list[tuple[int, int, int]] = []
    async for obj in iterator:
        seen.append(obj.gobject_id)
        observed.append((len(seen), iterator.pages_requested, repo.service.count("DiscoverHierarchy")))
    assert seen == WALK_ORDER
    # Page n (3 objects each) is asked for when object 3(n-1)+1 is taken, not before.
    assert observed == [(n, (n - 1) // 3 + 1, (n - 1) // 3 + 1) for n in range(1, 11)]
    assert iterator.total_object_count == 10
    assert iterator.done
    # The later requests carried the tokens of the pages before them.
    tokens = [token for _, token in repo.service.requests]
    assert tokens[0] == ""
    assert all(tokens[1:])
    assert len(set(tokens)) == 4


async def test_closing_an_iterator_stops_paging(repo: Repo) -> None:
    async with repo.client.iter_hierarchy(page_size=2) as iterator:
        assert (await iterator.__anext__()).gobject_id == 1
    assert iterator.done
    assert [o async for o in iterator] == []
    assert repo.service.count("DiscoverHierarchy") == 1


async def test_discover_collects_every_page(repo: Repo) -> None:
    assert ids(await repo.client.discover_hierarchy(page_size=4)) == WALK_ORDER
    assert repo.service.count("DiscoverHierarchy") == 3
    # 0 leaves the page size to the gateway (500 here: one page).
    assert ids(await repo.client.discover_hierarchy(page_size=0)) == WALK_ORDER
    assert repo.service.count("DiscoverHierarchy") == 4


async def test_a_redeploy_while_paging_raises_the_stale_token_error(repo: Repo) -> None:
    iterator = repo.client.iter_hierarchy(page_size=4)
    first_page = [(await iterator.__anext__()).gobject_id for _ in range(4)]
    assert first_page == WALK_ORDER[:4]
    await repo.service.deploy()

    with pytest.raises(MxGatewayStalePageTokenError) as caught:
        await iterator.__anext__()
    error = caught.value
    assert isinstance(error, MxGatewayPageTokenError)
    assert isinstance(error, MxGatewayInvalidRequestError)
    assert error.reason == "stale"
    assert error.grpc_code is grpc.StatusCode.INVALID_ARGUMENT
    assert error.method == "DiscoverHierarchy"
    assert "stale page token" in str(error)
    assert "redeployed" in str(error)
    # Starting again works on the new deploy.
    assert await collect(repo.client.iter_hierarchy(page_size=4)) == WALK_ORDER


@pytest.mark.parametrize(
    ("details", "cls", "reason"),
    [
        ("stale page token: the Galaxy was redeployed", MxGatewayStalePageTokenError, "stale"),
        ("foreign page token: issued for other filters", MxGatewayPageTokenError, "foreign"),
        ("invalid page token: it was not issued by this server", MxGatewayPageTokenError, "invalid"),
    ],
)
def test_page_token_refusals_map_to_their_own_errors(
    details: str, cls: type[MxGatewayPageTokenError], reason: str
) -> None:
    # A foreign or forged token cannot be sent through the public API: map the status itself.
    status = grpc.aio.AioRpcError(
        grpc.StatusCode.INVALID_ARGUMENT, grpc.aio.Metadata(), grpc.aio.Metadata(), details=details
    )
    error = _map_error(status, "BrowseChildren", ())
    assert type(error) is cls
    assert error.reason == reason  # type: ignore[attr-defined]
    assert str(error) == f"BrowseChildren failed: INVALID_ARGUMENT: {details}"

    other = grpc.aio.AioRpcError(
        grpc.StatusCode.INVALID_ARGUMENT, grpc.aio.Metadata(), grpc.aio.Metadata(), details="max_depth < 0"
    )
    assert type(_map_error(other, "DiscoverHierarchy", ())) is MxGatewayInvalidRequestError


@pytest.mark.parametrize(
    ("root", "named"),
    [
        ({"root_gobject_id": 999}, "gobject_id 999"),
        ({"root_tag_name": "NoSuchTag"}, "'NoSuchTag'"),
        ({"root_contained_path": "Plant/Nowhere"}, "'Plant/Nowhere'"),
    ],
)
async def test_an_unknown_root_raises_object_not_found(repo: Repo, root: dict[str, Any], named: str) -> None:
    with pytest.raises(MxGatewayObjectNotFoundError) as caught:
        await repo.client.discover_hierarchy(**root)
    error = caught.value
    assert isinstance(error, MxGatewayNotFoundError)
    assert not isinstance(error, MxGatewaySessionNotFoundError)
    assert error.grpc_code is grpc.StatusCode.NOT_FOUND
    assert named in str(error)
    assert str(error).startswith("DiscoverHierarchy failed: NOT_FOUND: root object not found")


async def test_bad_arguments_are_refused_before_any_call(repo: Repo) -> None:
    with pytest.raises(ValueError, match="at most one root"):
        repo.client.iter_hierarchy(root_gobject_id=1, root_tag_name="Plant")
    with pytest.raises(ValueError, match="max_depth"):
        await repo.client.discover_hierarchy(max_depth=-1)
    with pytest.raises(ValueError, match="page_size"):
        await repo.client.discover_hierarchy(page_size=-5)
    with pytest.raises(ValueError, match="at most one parent"):
        await repo.client.browse_children(parent_gobject_id=1, parent_contained_path="Plant")
    assert repo.service.requests == []


async def test_filters_take_any_collection_and_numpy_integers(repo: Repo) -> None:
    np = pytest.importorskip("numpy")
    expected = await collect(repo.client.iter_hierarchy(category_ids=[3, 10], max_depth=2))
    assert expected  # the filter matches something, so the comparisons below mean something
    for category_ids in (
        {3, 10},
        (3, 10),
        np.array([3, 10]),
        [np.int64(3), np.int32(10)],
        (i for i in (3, 10)),
    ):
        found = await collect(repo.client.iter_hierarchy(category_ids=category_ids, max_depth=np.int64(2)))
        assert sorted(found) == sorted(expected), category_ids
    by_template = await collect(repo.client.iter_hierarchy(template_chain_contains=["tank"]))
    assert by_template
    assert await collect(repo.client.iter_hierarchy(template_chain_contains={"tank"})) == by_template


def _message() -> gr.GalaxyObject:
    return gr.GalaxyObject(
        gobject_id=7,
        tag_name="Tank_001",
        template_chain=["$Tank"],
        attributes=[gr.GalaxyAttribute(attribute_name="Level", full_tag_reference="Tank_001.Level")],
    )


def test_a_galaxy_object_is_immutable_equal_by_message_and_builds_its_attributes_once() -> None:
    obj = GalaxyObject(_message())
    with pytest.raises(AttributeError):
        obj.raw = gr.GalaxyObject()  # type: ignore[misc]
    with pytest.raises(AttributeError):
        obj.tag = "Other"  # type: ignore[attr-defined]
    attributes = obj.attributes
    assert attributes is obj.attributes
    assert [a.tag for a in attributes] == ["Tank_001.Level"]
    with pytest.raises(AttributeError):
        attributes[0].raw = gr.GalaxyAttribute()  # type: ignore[misc]
    assert obj == GalaxyObject(_message())
    assert obj != GalaxyObject(gr.GalaxyObject(gobject_id=8))
    with pytest.raises(TypeError):
        hash(obj)


def test_galaxy_objects_and_attributes_pickle_as_their_messages() -> None:
    import pickle

    obj = GalaxyObject(_message())
    restored = pickle.loads(pickle.dumps(obj))
    assert type(restored) is GalaxyObject
    assert restored == obj
    assert repr(restored) == repr(obj)
    assert restored.attributes == obj.attributes
    attribute = pickle.loads(pickle.dumps(obj.attributes[0]))
    assert attribute == obj.attributes[0]
    assert attribute.tag == "Tank_001.Level"
