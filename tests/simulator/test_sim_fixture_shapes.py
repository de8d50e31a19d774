"""The simulator's replies and events set the same fields as the protobuf-JSON fixtures.

Values (ids, timestamps, handles) differ from run to run; the set of field paths
that are present must not. Fixtures the simulator cannot produce (buffered data
changes, operation completes) are not compared.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from mx_raw import Raw, read_events, serve

from mxgateway.generated import mxaccess_gateway_pb2 as pb

pytestmark = pytest.mark.anyio

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def shape(data: Any, prefix: str = "") -> set[str]:
    """Every present field path, with list indices (``a.results[1].value.double_value``)."""
    paths = {prefix} if prefix else set()
    if isinstance(data, dict):
        for key, value in data.items():
            paths |= shape(value, f"{prefix}.{key}" if prefix else key)
    elif isinstance(data, list):
        for index, value in enumerate(data):
            paths |= shape(value, f"{prefix}[{index}]")
    return paths


async def _setup(raw: Raw) -> tuple[int, int, int]:
    handle = await raw.register()
    return handle, await raw.add(handle, "Tank_001.Name"), await raw.add(handle, "Tank_001.Volume")


async def register(raw: Raw) -> Message:
    return await raw.invoke("register", pb.RegisterCommand(client_name="fixture"))


async def add_item(raw: Raw) -> Message:
    handle = await raw.register()
    return await raw.invoke(
        "add_item", pb.AddItemCommand(server_handle=handle, item_definition="Tank_001.Level")
    )


async def authenticate_user(raw: Raw) -> Message:
    handle = await raw.register()
    return await raw.invoke(
        "authenticate_user",
        pb.AuthenticateUserCommand(server_handle=handle, user_name="operator", password="operator"),
    )


async def write(raw: Raw) -> Message:
    handle, name, _ = await _setup(raw)
    return await raw.write(handle, name, pb.MxValue(string_value="fixture"))


async def mxaccess_failure(raw: Raw) -> Message:
    handle = await raw.register()
    return await raw.invoke(
        "add_item", pb.AddItemCommand(server_handle=handle, item_definition="Nope_001.Level")
    )


async def bulk_subscribe(raw: Raw) -> Message:
    handle = await raw.register()
    return await raw.invoke(
        "subscribe_bulk",
        pb.SubscribeBulkCommand(server_handle=handle, tag_addresses=["Tank_001.Level", "Nope_001.Level"]),
    )


async def bulk_read(raw: Raw) -> Message:
    handle = await raw.register()
    await raw.advise(handle, await raw.add(handle, "Tank_001.Level"))
    return await raw.invoke(
        "read_bulk",
        pb.ReadBulkCommand(server_handle=handle, tag_addresses=["Tank_001.Level", "Nope_001.Level"]),
    )


async def bulk_write(raw: Raw) -> Message:
    handle, name, volume = await _setup(raw)
    return await raw.invoke(
        "write_bulk",
        pb.WriteBulkCommand(
            server_handle=handle,
            entries=[
                pb.WriteBulkEntry(item_handle=name, value=pb.MxValue(string_value="fixture")),
                pb.WriteBulkEntry(item_handle=volume, value=pb.MxValue(string_value="fixture")),
            ],
        ),
    )


async def drain_events(raw: Raw) -> Message:
    await write(raw)
    return await raw.invoke("drain_events", pb.DrainEventsCommand())


async def write_complete_event(raw: Raw) -> Message:
    await write(raw)
    return (await raw.drain())[0]


async def data_change_event(raw: Raw) -> Message:
    handle, name, _ = await _setup(raw)
    await raw.write(handle, name, pb.MxValue(string_value="fixture"))
    await raw.advise(handle, name)
    return (await raw.drain())[-1]


async def replay_gap_event(raw: Raw) -> Message:
    handle, name, _ = await _setup(raw)
    for _ in range(20):
        await raw.write(handle, name, pb.MxValue(string_value="fixture"))
    call = raw.stream(after=1)
    (sentinel,) = await read_events(call, 1)
    call.cancel()
    return sentinel


SCENARIOS: dict[str, Callable[[Raw], Awaitable[Message]]] = {
    "reply_register.json": register,
    "reply_add_item.json": add_item,
    "reply_authenticate_user.json": authenticate_user,
    "reply_write.json": write,
    "reply_mxaccess_failure.json": mxaccess_failure,
    "reply_bulk_subscribe.json": bulk_subscribe,
    "reply_bulk_read.json": bulk_read,
    "reply_bulk_write.json": bulk_write,
    "reply_drain_events.json": drain_events,
    "event_write_complete.json": write_complete_event,
    "event_data_change.json": data_change_event,
    "event_replay_gap.json": replay_gap_event,
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
async def test_simulator_sets_the_fields_the_fixture_sets(name: str) -> None:
    fixture = FIXTURES / name
    if not fixture.exists():
        pytest.skip(f"no fixture {name}")
    expected = shape(json.loads(fixture.read_text(encoding="utf-8")))
    async with serve(replay_capacity=8) as (_, raw):
        produced = await SCENARIOS[name](raw)
    actual = shape(MessageToDict(produced, preserving_proto_field_name=True))
    assert actual == expected, f"missing {sorted(expected - actual)}, extra {sorted(actual - expected)}"
