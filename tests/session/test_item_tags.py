"""``ItemTags`` and ``TagTable``: every item's tag, whether the gateway numbers items densely or not."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from mxgateway._session.item_tags import DENSE_SLACK, ItemTags
from mxgateway._session.tag_table import TagTable
from mxgateway.generated import mxaccess_gateway_pb2 as pb


def test_dense_handles_stay_in_a_list_and_answer_like_a_dict() -> None:
    items = ItemTags()
    tags = [f"Tank_{i:03}.Level" for i in range(1, 1001)]
    items.add_all(list(range(1, 1001)), tags)
    assert "dense" in repr(items)
    assert len(items) == 1000
    assert items.get(1) == "Tank_001.Level"
    assert items.get(1000) == "Tank_1000.Level"
    for missing in (0, -1, 1001, 10**9):
        assert items.get(missing) is None
    assert items.get(500) is tags[499]  # the caller's own string, no copy
    assert items.pop(500) == "Tank_500.Level"
    assert items.get(500) is None
    assert items.pop(500) is None
    assert len(items) == 999
    assert 500 not in items
    assert 501 in items
    assert list(items)[:3] == [1, 2, 3]


def test_handles_far_apart_turn_it_into_a_dict_without_losing_an_item() -> None:
    items = ItemTags()
    items.add_all([3, 1, 2], ["c", "a", "b"])
    far = 3 * (DENSE_SLACK + 10)
    items.add(far, "far")
    assert "sparse" in repr(items)
    assert dict(items.items()) == {1: "a", 2: "b", 3: "c", far: "far"}
    assert items.pop(2) == "b"
    assert items.get(2) is None
    assert len(items) == 3


@settings(max_examples=100, deadline=None)
@given(
    batches=st.lists(
        st.lists(st.integers(1, 20_000), min_size=1, max_size=40, unique=True), min_size=1, max_size=6
    ),
    removed=st.lists(st.integers(0, 20_000), max_size=10),
    shuffled=st.booleans(),
)
def test_item_tags_answer_as_a_dict_would(
    batches: list[list[int]], removed: list[int], shuffled: bool
) -> None:
    items = ItemTags()
    expected: dict[int, str] = {}
    for batch in batches:
        handles = list(batch)
        if shuffled:
            random.Random(len(handles)).shuffle(handles)
        tags = [f"T{h}.A" for h in handles]
        items.add_all(handles, tags)
        expected.update(zip(handles, tags, strict=True))
    for handle in removed:
        assert items.pop(handle) == expected.pop(handle, None)
    assert len(items) == len(expected)
    assert dict(items.items()) == expected
    assert sorted(items) == sorted(expected)
    for handle in range(0, 20_001, 97):
        assert items.get(handle) == expected.get(handle)


def test_consecutive_handles_in_another_order_keep_their_own_tags() -> None:
    items = ItemTags()
    items.add_all([1, 3, 2, 4], ["one", "three", "two", "four"])
    assert [items.get(h) for h in (1, 2, 3, 4)] == ["one", "two", "three", "four"]


def test_the_tag_table_names_the_items_of_a_bulk_reply_and_forgets_them() -> None:
    table = TagTable()
    tags = ["Tank_001.Level", "Tank_001.Volume", "Nope.Z"]
    raws = [
        pb.SubscribeResult(tag_address=tags[0], item_handle=1, was_successful=True),
        pb.SubscribeResult(tag_address=tags[1], item_handle=2, was_successful=True),
        pb.SubscribeResult(tag_address=tags[2], item_handle=0, was_successful=False),
    ]
    table.add_results(7, tags, raws)
    assert table.get((7, 1)) is tags[0]
    assert table.get((7, 2)) == "Tank_001.Volume"
    assert table.get((7, 0)) is None
    assert table.get((8, 1), "none") == "none"
    assert len(table) == 2
    assert table.forget_item(7, 1) == "Tank_001.Level"
    assert table.get((7, 1)) is None
    table.forget_server(7)
    assert not table
