"""A bulk call's ``ResultSequence``: built on first access, and otherwise the list it stands for."""

from __future__ import annotations

import copy
import pickle

import pytest

import mxgateway_sync
from mxgateway import DataChange, GatewayClient, ItemResult, ReadResult, ResultList, ResultSequence
from mxgateway.generated import mxaccess_gateway_pb2 as pb
from mxgateway.simulator.server import Simulator
from mxgateway_sync.embedded import start_embedded_gateway

TAGS = ["Tank_001.Level", "Tank_001.Temperature", "Nope.Z", "Tank_002.Level"]


class CountingBuild:
    """Builds ``ReadResult``s and counts how many it built."""

    def __init__(self) -> None:
        self.built = 0

    def __call__(self, raw: pb.BulkReadResult) -> ReadResult:
        self.built += 1
        return ReadResult(raw)


def raw_results(count: int) -> list[pb.BulkReadResult]:
    return [
        pb.BulkReadResult(
            tag_address=f"Tank_{i:03}.Level",
            was_successful=i % 3 != 2,
            quality=192,
            value=pb.MxValue(double_value=i + 0.5, data_type=pb.MX_DATA_TYPE_DOUBLE),
            error_message="" if i % 3 != 2 else "no such tag",
        )
        for i in range(count)
    ]


def test_results_are_built_on_first_access_only_and_kept() -> None:
    build = CountingBuild()
    results = ResultSequence(raw_results(10), build)
    assert len(results) == 10
    assert build.built == 0
    third = results[2]
    assert (third.tag, third.ok, third.error_message) == ("Tank_002.Level", False, "no such tag")
    assert results[2] is third
    assert results[-8] is third  # a negative index reaches the same result
    assert build.built == 1
    every = list(results)
    assert build.built == 10  # the rest built once, the third kept
    assert every[2] is third
    assert list(results) == every
    assert build.built == 10
    assert [r.tag for r in reversed(results)] == [r.tag for r in every][::-1]
    with pytest.raises(IndexError):
        results[10]
    with pytest.raises(IndexError):
        results[-11]


def test_it_equals_the_list_it_stands_for_and_nothing_else() -> None:
    raws = raw_results(5)
    results = ResultSequence(raws, ReadResult)
    eager = [ReadResult(r) for r in raws]
    assert results == eager
    assert eager == results
    assert results == ResultSequence(raws, ReadResult)
    assert results == ResultList(eager)
    assert results != eager[:4]
    assert results != tuple(eager)
    assert results != [*eager[:4], ReadResult(pb.BulkReadResult(tag_address="Other.Tag"))]
    assert eager[0] in results
    assert results.index(eager[3]) == 3
    assert results.count(eager[1]) == 1
    with pytest.raises(TypeError):
        hash(results)


def test_repr_slices_and_raw_are_those_of_the_list() -> None:
    raws = raw_results(4)
    results = ResultSequence(raws, ReadResult)
    eager = [ReadResult(r) for r in raws]
    assert repr(results) == repr(eager)
    head = results[1:3]
    assert isinstance(head, ResultList)
    assert head == eager[1:3]
    assert results.raw is raws


def test_it_pickles_and_copies_as_the_list_of_its_results() -> None:
    results = ResultSequence(raw_results(6), ReadResult)
    for restored in (pickle.loads(pickle.dumps(results)), copy.copy(results), copy.deepcopy(results)):
        assert isinstance(restored, ResultList)
        assert restored == results
        assert [r.value for r in restored] == [r.value for r in results]


def test_read_results_item_results_and_data_changes_pickle_as_their_messages() -> None:
    (read,) = (ReadResult(r) for r in raw_results(1))
    item = ItemResult(pb.SubscribeResult(tag_address="Tank_001.Level", item_handle=7, was_successful=True))
    change = DataChange(pb.MxEvent(worker_sequence=12, item_handle=7, quality=192), "Tank_001.Level")
    for original in (read, item, change):
        restored = pickle.loads(pickle.dumps(original))
        assert type(restored) is type(original)
        assert restored == original
        assert repr(restored) == repr(original)
    assert pickle.loads(pickle.dumps(change)).tag == "Tank_001.Level"


def test_to_pandas_and_the_notebook_table_are_the_result_lists() -> None:
    pytest.importorskip("pandas")
    raws = raw_results(6)
    results = ResultSequence(raws, ReadResult)
    eager = ResultList(ReadResult(r) for r in raws)
    frame = results.to_pandas()
    assert frame.equals(eager.to_pandas())
    assert list(frame["tag"]) == [r.tag_address for r in raws]
    assert results._repr_html_() == eager._repr_html_()


async def test_read_bulk_and_subscribe_bulk_return_result_sequences(anyio_backend: object) -> None:
    async with (
        Simulator(update_rate_hz=0) as sim,
        GatewayClient.connect(sim.endpoint, plaintext=True) as client,
        client.open_session("sequences") as session,
    ):
        server = await session.register("sequences")
        read = await session.read_bulk(server, TAGS)
        assert isinstance(read, ResultSequence)
        assert [r.tag for r in read] == TAGS
        assert [r.ok for r in read] == [True, True, False, True]
        assert read == [ReadResult(r) for r in read.raw]
        subscribed = await session.subscribe_bulk(server, TAGS[:2])
        assert isinstance(subscribed, ResultSequence)
        assert subscribed == [ItemResult(r) for r in subscribed.raw]
        assert all(r.ok and r.item_handle for r in subscribed)
        removed = await session.unsubscribe_bulk(server, [r.item_handle for r in subscribed])
        assert [r.ok for r in removed] == [True, True]


def test_the_blocking_facade_hands_over_the_same_sequence() -> None:
    gateway = start_embedded_gateway("simulator")
    try:
        with mxgateway_sync.GatewayClient.connect(gateway.endpoint, plaintext=True) as client:
            session = client.open_session("sequences-sync")
            server = session.register("sequences-sync")
            read = session.read_bulk(server, TAGS)
            assert isinstance(read, ResultSequence)
            assert [r.tag for r in read] == TAGS
            assert pickle.loads(pickle.dumps(read)) == read
            session.close()
    finally:
        gateway.close()
