"""Shared protobuf-JSON fixtures (tests/fixtures): the typed layer reads each of them,
and the simulator produces the same message shapes.

Run ``python -m tests.model.test_fixtures`` from the repository root to rewrite
the fixtures the simulator produces (value_int64, event_operation_complete and
event_buffered_data_change are written by hand: the simulator has no such values
or events).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format
from google.protobuf.message import Message

from mxgateway import (
    BufferedDataChange,
    DataChange,
    GatewayClient,
    ItemResult,
    MxAccessError,
    OperationComplete,
    ReadResult,
    ReplayGap,
    WriteComplete,
    from_mx_value,
    to_mx_value,
)
from mxgateway._model.events import event_from_proto
from mxgateway._model.results import item_results as _item_results
from mxgateway._model.results import write_results as _write_results
from mxgateway.errors import is_mxaccess_failure, raise_for_mxaccess_failure
from mxgateway.generated import mxaccess_gateway_pb2 as pb
from mxgateway.simulator.server import Simulator

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
UTC = dt.timezone.utc
TYPES: dict[str, type[Message]] = {"value": pb.MxValue, "reply": pb.MxCommandReply, "event": pb.MxEvent}
HAND_WRITTEN = {"value_int64", "event_operation_complete", "event_buffered_data_change"}

VALUE_TAGS = {
    "value_bool": "Valve_001.Interlock",
    "value_int32": "Tank_001.Volume",
    "value_float": "Tank_001.Temperature",
    "value_double": "Tank_001.Level",
    "value_string": "Tank_001.Name",
    "value_time": "Tank_001.LastFilled",
    "value_elapsed_time": "Tank_001.FillDuration",
    "value_record": "Tank_001.Calibration",
    "value_array": "Tank_001.LevelHistory",
    "value_null": "Tank_001.Spare",
}

EXPECTED_VALUES: dict[str, Any] = {
    "value_bool": False,
    "value_int32": 1000,
    "value_int64": 2**40,
    "value_float": 12.0,
    "value_double": 60.0,
    "value_string": "bulk",
    "value_time": dt.datetime(2026, 1, 5, 8, 30, tzinfo=UTC),
    "value_elapsed_time": dt.timedelta(minutes=42),
    "value_record": b"\x01\x02cal",
    "value_array": [40.0, 42.5, 45.0, 47.5, 50.0],
    "value_null": None,
}


def load(name: str) -> Any:
    message = TYPES[name.split("_", 1)[0]]()
    json_format.Parse((FIXTURES / f"{name}.json").read_text(), message)
    return message


def names() -> list[str]:
    return sorted(p.stem for p in FIXTURES.glob("*.json"))


def shape(message: Message, prefix: str = "") -> set[str]:
    """The paths of the fields a message sets (repeated elements merged)."""
    paths: set[str] = set()
    for field, value in message.ListFields():
        path = f"{prefix}{field.name}"
        paths.add(path)
        if field.message_type is None:
            continue
        if field.is_repeated:
            for element in value:
                paths |= shape(element, f"{path}[].")
        else:
            paths |= shape(value, f"{path}.")
    return paths


def test_every_family_has_a_fixture() -> None:
    present = set(names())
    assert {f"value_{k}" for k in ("bool", "int32", "int64", "float", "double", "string")} <= present
    assert {"value_time", "value_elapsed_time", "value_record", "value_array", "value_null"} <= present
    assert {
        "reply_mxaccess_failure",
        "reply_bulk_read",
        "reply_bulk_write",
        "reply_bulk_subscribe",
    } <= present
    assert {"event_data_change", "event_write_complete", "event_operation_complete"} <= present
    assert {"event_buffered_data_change", "event_replay_gap"} <= present


@pytest.mark.parametrize("name", sorted(EXPECTED_VALUES))
def test_values_read_from_fixtures(name: str) -> None:
    mx = load(name)
    value = from_mx_value(mx)
    assert value == EXPECTED_VALUES[name]
    assert type(value) is type(EXPECTED_VALUES[name])
    if value is not None:
        # An int64 is wider than MXAccess Integer: it goes back by range, not by type.
        requested = None if mx.WhichOneof("value") == "int64_value" else (mx.data_type or None)
        again = to_mx_value(value, requested)
        assert from_mx_value(again) == value
        assert again.WhichOneof("value") == mx.WhichOneof("value")


@pytest.mark.parametrize(
    "name",
    ["reply_register", "reply_add_item", "reply_write", "reply_authenticate_user", "reply_drain_events"],
)
def test_successful_replies_are_not_failures(name: str) -> None:
    reply = load(name)
    assert not is_mxaccess_failure(reply)
    raise_for_mxaccess_failure(reply)


def test_mxaccess_failure_reply() -> None:
    reply = load("reply_mxaccess_failure")
    with pytest.raises(MxAccessError) as info:
        raise_for_mxaccess_failure(reply)
    err = info.value
    assert err.reply is reply
    assert err.hresult == -2147467259
    (status,) = err.statuses
    assert (status.success, status.category, status.detected_by, status.detail) == (
        False,
        "CONFIGURATION_ERROR",
        "REQUESTING_LMX",
        1003,
    )
    assert "Nope_001.Level" in str(err)


def test_bulk_replies() -> None:
    subscribed = _item_results(load("reply_bulk_subscribe"))
    assert [(r.tag, r.ok) for r in subscribed] == [
        ("Tank_001.Level", True),
        ("Nope_001.Level", False),
    ]
    assert subscribed[0].item_handle > 0
    assert subscribed[1].error_message
    read = [ReadResult(r) for r in load("reply_bulk_read").bulk_read.results]
    assert [(r.tag, r.ok) for r in read] == [("Tank_001.Level", True), ("Nope_001.Level", False)]
    assert read[0].value == 60.0
    assert read[0].quality.is_good
    assert read[0].source_timestamp is not None
    assert read[1].value is None
    assert read[1].statuses[0].detail == 1003
    written = _write_results(load("reply_bulk_write"))
    assert [r.ok for r in written] == [True, False]
    assert written[1].hresult != 0
    assert written[1].statuses[0].detail == 1010


def test_events_read_from_fixtures() -> None:
    change = event_from_proto(load("event_data_change"))
    assert isinstance(change, DataChange)
    assert change.value == "fixture"
    assert change.quality.name == "good"
    assert change.source_timestamp is not None
    assert change.source_timestamp.tzinfo is UTC
    done = event_from_proto(load("event_write_complete"))
    assert isinstance(done, WriteComplete)
    assert done.ok
    assert done.statuses[0].category == "OK"
    operation = event_from_proto(load("event_operation_complete"))
    assert isinstance(operation, OperationComplete)
    assert operation.operation_id == "op-7"
    buffered = event_from_proto(load("event_buffered_data_change"))
    assert isinstance(buffered, BufferedDataChange)
    assert buffered.data_type == pb.MX_DATA_TYPE_DOUBLE
    assert [(s.value, int(s.quality)) for s in buffered.samples] == [(10.5, 192), (11.0, 192)]
    assert buffered.samples[1].source_timestamp == dt.datetime.fromtimestamp(1_767_225_601, UTC)
    gap = event_from_proto(load("event_replay_gap"))
    assert isinstance(gap, ReplayGap)
    assert gap.requested_after_sequence == 1
    assert gap.resume_after == gap.oldest_available_sequence - 1
    assert gap.missed == gap.oldest_available_sequence - gap.requested_after_sequence - 1


async def capture(sim: Simulator) -> dict[str, Message]:
    """The simulator's message for every fixture it can produce, by fixture name."""
    out: dict[str, Message] = {}
    async with GatewayClient.connect(sim.endpoint, plaintext=True) as client:
        session = await client.open_session("fixtures")

        def command(kind: int, payload: str, message: Message) -> pb.MxCommand:
            cmd = pb.MxCommand(kind=kind)  # type: ignore[arg-type]
            getattr(cmd, payload).CopyFrom(message)
            return cmd

        reply = await session.invoke_raw(
            command(pb.MX_COMMAND_KIND_REGISTER, "register", pb.RegisterCommand(client_name="f"))
        )
        out["reply_register"] = reply
        server = reply.register.server_handle

        def add(tag: str) -> pb.MxCommand:
            return command(
                pb.MX_COMMAND_KIND_ADD_ITEM,
                "add_item",
                pb.AddItemCommand(server_handle=server, item_definition=tag),
            )

        out["reply_add_item"] = reply = await session.invoke_raw(add("Tank_001.Name"))
        item = reply.add_item.item_handle
        out["reply_mxaccess_failure"] = await session.invoke_raw(add("Nope_001.Level"))
        out["reply_authenticate_user"] = await session.invoke_raw(
            command(
                pb.MX_COMMAND_KIND_AUTHENTICATE_USER,
                "authenticate_user",
                pb.AuthenticateUserCommand(server_handle=server, user_name="operator", password="operator"),
            )
        )
        async with session.events() as stream:
            await stream.wait_connected()
            write = pb.WriteCommand(server_handle=server, item_handle=item, value=to_mx_value("fixture"))
            out["reply_write"] = await session.invoke_raw(command(pb.MX_COMMAND_KIND_WRITE, "write", write))
            out["event_write_complete"] = (await stream.__anext__()).raw
            await session.advise(server, item)
            out["event_data_change"] = (await stream.__anext__()).raw
        out["reply_drain_events"] = await session.invoke_raw(
            command(pb.MX_COMMAND_KIND_DRAIN_EVENTS, "drain_events", pb.DrainEventsCommand(max_events=1))
        )
        tags = ["Tank_001.Level", "Nope_001.Level"]
        out["reply_bulk_subscribe"] = await session.invoke_raw(
            command(
                pb.MX_COMMAND_KIND_SUBSCRIBE_BULK,
                "subscribe_bulk",
                pb.SubscribeBulkCommand(server_handle=server, tag_addresses=tags),
            )
        )
        out["reply_bulk_read"] = await session.invoke_raw(
            command(
                pb.MX_COMMAND_KIND_READ_BULK,
                "read_bulk",
                pb.ReadBulkCommand(server_handle=server, tag_addresses=tags),
            )
        )
        volume = await session.add_item(server, "Tank_001.Volume")
        bulk = pb.WriteBulkCommand(server_handle=server)
        bulk.entries.add(item_handle=item, value=to_mx_value("bulk"))
        bulk.entries.add(item_handle=volume, value=to_mx_value("not a number"))
        out["reply_bulk_write"] = await session.invoke_raw(
            command(pb.MX_COMMAND_KIND_WRITE_BULK, "write_bulk", bulk)
        )
        for name, tag in VALUE_TAGS.items():
            (result,) = await session.read([tag])
            out[name] = result.raw.value
        for i in range(8):
            await session.write(server, item, f"n{i}")
        # The session's own event stream is its one subscriber: leave it before a raw one.
        await session.detach()
        async with client.stream_events_raw(session.session_id, after_worker_sequence=1) as raw:
            out["event_replay_gap"] = await raw.__anext__()
    return out


@pytest.mark.anyio
async def test_the_simulator_produces_the_fixture_shapes(anyio_backend: object) -> None:
    async with Simulator(update_rate_hz=0, replay_capacity=4) as sim:
        produced = await capture(sim)
    assert set(produced) | HAND_WRITTEN == set(names())
    for name, message in produced.items():
        assert shape(message) == shape(load(name)), name
        if name in EXPECTED_VALUES:
            assert from_mx_value(message) == EXPECTED_VALUES[name]  # type: ignore[arg-type]


async def _rewrite() -> None:
    async with Simulator(update_rate_hz=0, replay_capacity=4) as sim:
        produced = await capture(sim)
    for name, message in produced.items():
        text = json_format.MessageToJson(message, preserving_proto_field_name=True, indent=2, sort_keys=True)
        json.loads(text)
        (FIXTURES / f"{name}.json").write_text(text + "\n")


if __name__ == "__main__":
    asyncio.run(_rewrite())


def test_read_result_is_an_immutable_view_converted_once() -> None:
    raw = load("reply_bulk_read").bulk_read.results[0]
    result = ReadResult(raw)
    assert result.value is result.value  # converted on first access, then kept
    assert result.statuses is result.statuses
    assert result == ReadResult(raw)
    with pytest.raises(AttributeError):
        result.value = 1  # type: ignore[misc]
    assert repr(result).startswith(f"{raw.tag_address} = ")


@pytest.mark.parametrize(
    ("make", "fields"),
    [
        (
            lambda: ReadResult(load("reply_bulk_read").bulk_read.results[0]),
            ["raw", "tag", "ok", "value", "quality", "source_timestamp", "statuses", "error_message"],
        ),
        (
            lambda: ItemResult(load("reply_bulk_subscribe").bulk_subscribe.results[0]),
            ["raw", "tag", "item_handle", "server_handle", "ok", "error_message"],
        ),
        (
            lambda: DataChange(load("event_data_change"), "Tank_001.Level"),
            ["raw", "tag", "value", "quality", "source_timestamp", "statuses", "worker_sequence"],
        ),
    ],
)
def test_views_refuse_every_assignment_and_new_attributes(make: Any, fields: list[str]) -> None:
    view = make()
    before = [getattr(view, name) for name in fields]
    for name in [*fields, "anything_new"]:
        with pytest.raises(AttributeError):
            setattr(view, name, 1)
    assert [getattr(view, name) for name in fields] == before
