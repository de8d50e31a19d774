"""BrowseChildren, the lazy tree, the find conveniences and plain dicts."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from mxgateway.galaxy import BrowseNode, MxGatewayObjectNotFoundError, glob_matcher, to_dict
from mxgateway.galaxy._types import GalaxyAttribute, GalaxyObject
from mxgateway.generated import galaxy_repository_pb2 as gr

from .support import Repo

pytestmark = pytest.mark.anyio


def tags(nodes: list[BrowseNode]) -> list[str]:
    return [n.tag_name for n in nodes]


async def test_browse_children_of_the_roots_and_of_a_parent(repo: Repo) -> None:
    roots = await repo.client.browse_children()
    assert tags(roots) == ["Plant", "Spare"]
    assert [n.has_children for n in roots] == [True, False]

    # Areas first, then by contained name ("alpha" < "North"), case-insensitive.
    children = await repo.client.browse_children(parent_tag_name="plant")
    assert tags(children) == ["Alpha", "North", "Beta_Pump", "Zeta_Engine"]
    assert [n.has_children for n in children] == [True, True, False, False]
    assert isinstance(children[0].object, GalaxyObject)
    assert isinstance(children[0].object.raw, gr.GalaxyObject)
    assert children[0].object.contained_name == "alpha"


@pytest.mark.parametrize(
    "parent",
    [{"parent_gobject_id": 3}, {"parent_tag_name": "NORTH"}, {"parent_contained_path": "Plant/North"}],
)
async def test_browse_children_pages_internally(repo: Repo, parent: dict[str, Any]) -> None:
    children = await repo.client.browse_children(page_size=1, **parent)
    assert tags(children) == ["Pump_N2", "Tank_N1", "Valve_N3"]
    assert repo.service.count("BrowseChildren") == 3


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"category_ids": [13]}, ["Alpha", "North"]),
        ({"template_chain_contains": "engine"}, ["Zeta_Engine"]),
        ({"tag_name_glob": "*a*"}, ["Alpha", "Beta_Pump", "Zeta_Engine"]),
    ],
)
async def test_browse_children_filters(repo: Repo, filters: dict[str, Any], expected: list[str]) -> None:
    assert tags(await repo.client.browse_children(parent_gobject_id=1, **filters)) == expected


async def test_browse_children_of_an_unknown_parent(repo: Repo) -> None:
    with pytest.raises(MxGatewayObjectNotFoundError, match=r"parent object not found.*'Nowhere'"):
        await repo.client.browse_children(parent_tag_name="Nowhere")


async def test_the_alarm_and_history_filters_and_skeletons_when_browsing(repo: Repo) -> None:
    north = await repo.client.browse_children(parent_tag_name="North", alarm_bearing_only=True)
    assert tags(north) == ["Tank_N1", "Valve_N3"]
    assert len(north[0].object.attributes) == 2
    north = await repo.client.browse_children(
        parent_tag_name="North", historized_only=True, include_attributes=False
    )
    assert tags(north) == ["Pump_N2", "Tank_N1"]
    assert [len(n.object.attributes) for n in north] == [0, 0]


async def test_the_lazy_tree_expands_on_demand_and_only_once(repo: Repo) -> None:
    roots = await repo.client.browse(page_size=1)
    plant, spare = roots
    assert plant.children is None
    assert not plant.expanded
    assert repo.service.count("BrowseChildren") == 2  # the two root pages, nothing below

    children = await plant.expand()
    assert tags(children) == ["Alpha", "North", "Beta_Pump", "Zeta_Engine"]
    assert repo.service.count("BrowseChildren") == 2 + 4  # one page per child at page_size 1
    assert plant.expanded
    assert plant.children == children

    again = await plant.expand()
    assert all(a is b for a, b in zip(again, children, strict=True))
    assert repo.service.count("BrowseChildren") == 6

    north = children[1]
    assert tags(await north.expand()) == ["Pump_N2", "Tank_N1", "Valve_N3"]
    assert repo.service.browse_parents[-1] == 3

    # A node without children answers at once, without a call.
    assert await spare.expand() == []
    assert await children[2].expand() == []
    assert repo.service.count("BrowseChildren") == 6 + 3


async def test_concurrent_expands_share_one_fetch(repo: Repo) -> None:
    (plant, _) = await repo.client.browse(page_size=2)
    before = repo.service.count("BrowseChildren")
    results = await asyncio.gather(*(plant.expand() for _ in range(5)))
    assert repo.service.count("BrowseChildren") == before + 2  # 4 children in pages of 2, once
    first = results[0]
    assert tags(first) == ["Alpha", "North", "Beta_Pump", "Zeta_Engine"]
    for other in results[1:]:
        assert all(a is b for a, b in zip(other, first, strict=True))


async def test_a_cancelled_expand_leaves_the_node_expandable(repo: Repo) -> None:
    (plant, _) = await repo.client.browse()
    waiter = asyncio.get_running_loop().create_task(plant.expand())
    await asyncio.sleep(0)  # the fetch is in flight
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert not plant.expanded
    assert tags(await plant.expand()) == ["Alpha", "North", "Beta_Pump", "Zeta_Engine"]


async def test_tree_filters_apply_at_every_level(repo: Repo) -> None:
    roots = await repo.client.browse(category_ids=[13])
    assert tags(roots) == ["Plant", "Spare"]
    assert tags(await roots[0].expand()) == ["Alpha", "North"]
    # An area holding no area: nothing passes the filter below it.
    north = (await roots[0].expand())[1]
    assert north.has_children
    assert await north.expand() == []


async def test_find_objects_by_glob(repo: Repo) -> None:
    found = await repo.client.find_objects("TANK_*")
    assert [o.tag_name for o in found] == ["Tank_N1", "Tank_A1"]
    assert len(found[0].attributes) == 2
    skeleton = await repo.client.find_objects("*pump*", include_attributes=False)
    assert [(o.tag_name, len(o.attributes)) for o in skeleton] == [("Pump_N2", 0), ("Beta_Pump", 0)]
    assert await repo.client.find_objects("nothing*") == []


@pytest.mark.parametrize(
    ("glob", "options", "expected"),
    [
        ("*.Level", {}, ["Tank_N1.Level", "Tank_A1.Level"]),
        ("tank_n1.level*", {}, ["Tank_N1.Level", "Tank_N1.Level.Desc"]),
        ("Pump*.Sp??d", {}, ["Pump_N2.Speed"]),
        # A star before the first dot may span dots: "T*Desc" is Tank_N1.Level.Desc.
        ("T*Desc", {}, ["Tank_N1.Level.Desc"]),
        ("*", {"alarm_bearing_only": True}, ["Tank_N1.Level", "Valve_N3.Interlock"]),
        ("*", {"historized_only": True}, ["Tank_N1.Level", "Pump_N2.Speed", "Tank_A1.Level"]),
        ("Tank_*", {"historized_only": True, "alarm_bearing_only": True}, ["Tank_N1.Level"]),
        ("Plant", {}, []),
    ],
)
async def test_find_attributes_by_glob_on_tag_dot_attribute(
    repo: Repo, glob: str, options: dict[str, Any], expected: list[str]
) -> None:
    found = await repo.client.find_attributes(glob, **options)
    assert [a.tag for a in found] == expected
    assert all(isinstance(a, GalaxyAttribute) and isinstance(a.raw, gr.GalaxyAttribute) for a in found)


def test_glob_semantics() -> None:
    assert glob_matcher("Tank_?1.*").fullmatch("TANK_N1.Level")
    assert not glob_matcher("Tank").fullmatch("Tank_N1")  # anchored
    assert glob_matcher("a[1]+").fullmatch("a[1]+")  # only * and ? are special
    assert not glob_matcher("a[1]").fullmatch("a1")


async def test_to_dict_is_plain_and_complete(repo: Repo) -> None:
    (tank,) = await repo.client.discover_hierarchy(root_tag_name="Tank_N1")
    data = to_dict(tank)
    assert set(data) == {f.name for f in gr.GalaxyObject.DESCRIPTOR.fields}
    assert set(data["attributes"][0]) == {f.name for f in gr.GalaxyAttribute.DESCRIPTOR.fields}
    assert data["tag_name"] == "Tank_N1"
    assert data["template_chain"] == ["$WaterTank", "$Tank"]
    assert type(data["template_chain"]) is list
    assert data["attributes"][0]["full_tag_reference"] == "Tank_N1.Level"
    assert data["attributes"][1]["is_alarm"] is False  # defaults are present too
    assert to_dict(tank.attributes[0]) == data["attributes"][0]

    event = gr.DeployEvent(sequence=7, object_count=10, attribute_count=6)
    event.observed_at.FromSeconds(1_767_225_600)
    assert to_dict(event) == {
        "sequence": 7,
        "time_of_last_deploy": None,
        "object_count": 10,
        "attribute_count": 6,
        "observed_at": "2026-01-01T00:00:00Z",
    }
    with pytest.raises(TypeError):
        to_dict(gr.TestConnectionReply())  # type: ignore[arg-type]
