"""Invoke semantics of the simulator, through the raw generated stub over loopback gRPC."""

from __future__ import annotations

import datetime as dt

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from mx_raw import MXACCESS_FAILURE, OK, serve

from mxgateway.generated import mxaccess_gateway_pb2 as pb
from mxgateway.simulator import statuses as st

pytestmark = pytest.mark.anyio

ON_DATA = pb.MX_EVENT_FAMILY_ON_DATA_CHANGE
ON_WRITE = pb.MX_EVENT_FAMILY_ON_WRITE_COMPLETE


def assert_mx_failure(reply: pb.MxCommandReply, category: int, detail: int) -> None:
    assert reply.protocol_status.code == MXACCESS_FAILURE
    assert reply.hresult != 0
    assert len(reply.statuses) == 1
    status = reply.statuses[0]
    assert (status.success, status.category, status.detail) == (0, category, detail)
    assert status.raw_category == category - 2
    assert reply.diagnostic_message
    assert reply.WhichOneof("payload") is None


async def test_register_reply_shape() -> None:
    async with serve() as (_, raw):
        reply = await raw.invoke("register", pb.RegisterCommand(client_name="app"))
        second = await raw.invoke("register", pb.RegisterCommand(client_name="app2"))
    assert reply.protocol_status.code == OK
    assert reply.session_id == raw.session_id
    assert reply.kind == pb.MX_COMMAND_KIND_REGISTER
    assert reply.correlation_id
    assert reply.correlation_id != second.correlation_id
    assert reply.hresult == 0
    assert not reply.statuses
    assert reply.WhichOneof("payload") == "register"
    assert reply.register.server_handle >= 1
    assert second.register.server_handle != reply.register.server_handle


async def test_unregister_invalidates_the_server_handle() -> None:
    async with serve() as (_, raw):
        handle = await raw.register()
        reply = await raw.invoke("unregister", pb.UnregisterCommand(server_handle=handle))
        again = await raw.invoke("unregister", pb.UnregisterCommand(server_handle=handle))
        add = await raw.invoke(
            "add_item", pb.AddItemCommand(server_handle=handle, item_definition="Tank_001.Level")
        )
    assert reply.protocol_status.code == OK
    assert_mx_failure(again, pb.MX_STATUS_CATEGORY_CONFIGURATION_ERROR, st.DETAIL_INVALID_HANDLE)
    assert_mx_failure(add, pb.MX_STATUS_CATEGORY_CONFIGURATION_ERROR, st.DETAIL_INVALID_HANDLE)


async def test_add_item_and_add_item2_return_distinct_item_handles() -> None:
    async with serve() as (_, raw):
        handle = await raw.register()
        one = await raw.invoke(
            "add_item", pb.AddItemCommand(server_handle=handle, item_definition="Tank_001.Level")
        )
        two = await raw.invoke(
            "add_item2",
            pb.AddItem2Command(server_handle=handle, item_definition="tank_001.level", item_context="ctx"),
        )
    assert one.protocol_status.code == OK
    assert two.protocol_status.code == OK
    assert one.WhichOneof("payload") == two.WhichOneof("payload") == "add_item"
    assert two.kind == pb.MX_COMMAND_KIND_ADD_ITEM2
    assert one.add_item.item_handle != two.add_item.item_handle


@pytest.mark.parametrize(
    "tag", ["NoSuchObject.Level", "Tank_001.NoSuchAttribute", "", "Tank_001.LevelHistory[6]"]
)
async def test_unknown_tag_is_an_mxaccess_failure_reply(tag: str) -> None:
    async with serve() as (_, raw):
        handle = await raw.register()
        reply = await raw.invoke("add_item", pb.AddItemCommand(server_handle=handle, item_definition=tag))
    assert_mx_failure(reply, pb.MX_STATUS_CATEGORY_CONFIGURATION_ERROR, st.DETAIL_ITEM_NOT_FOUND)
    assert reply.hresult == st.E_FAIL


async def test_advise_delivers_current_value_first_then_changes() -> None:
    async with serve() as (sim, raw):
        handle = await raw.register()
        item = await raw.add(handle, "Tank_001.Level")
        await raw.advise(handle, item)
        first = await raw.drain()
        await sim.advance(5.0)
        changes = await raw.drain()
        await sim.advance(0.0)
        nothing = await raw.drain()
    assert [e.family for e in first] == [ON_DATA]
    initial = first[0]
    assert (initial.server_handle, initial.item_handle, initial.quality) == (handle, item, 192)
    assert initial.value.double_value == pytest.approx(60.0)
    assert initial.statuses[0].success == 1
    assert initial.HasField("on_data_change")
    assert initial.HasField("source_timestamp")
    assert len(changes) == 1
    assert changes[0].value.double_value != initial.value.double_value
    assert changes[0].worker_sequence == initial.worker_sequence + 1
    assert nothing == []


async def test_advise_supervisory_and_unadvise() -> None:
    async with serve() as (sim, raw):
        handle = await raw.register()
        item = await raw.add(handle, "FlowMeter_001.Flow")
        reply = await raw.invoke(
            "advise_supervisory", pb.AdviseSupervisoryCommand(server_handle=handle, item_handle=item)
        )
        advised = await raw.drain()
        unadvise = await raw.invoke("unadvise", pb.UnAdviseCommand(server_handle=handle, item_handle=item))
        await sim.advance(3.0)
        after = await raw.drain()
    assert reply.protocol_status.code == OK
    assert unadvise.protocol_status.code == OK
    assert len(advised) == 1
    assert advised[0].family == ON_DATA
    assert after == []


async def test_remove_item_invalidates_the_item_handle() -> None:
    async with serve() as (_, raw):
        handle = await raw.register()
        item = await raw.add(handle, "Tank_001.Level")
        removed = await raw.invoke(
            "remove_item", pb.RemoveItemCommand(server_handle=handle, item_handle=item)
        )
        advise = await raw.invoke("advise", pb.AdviseCommand(server_handle=handle, item_handle=item))
    assert removed.protocol_status.code == OK
    assert_mx_failure(advise, pb.MX_STATUS_CATEGORY_CONFIGURATION_ERROR, st.DETAIL_INVALID_HANDLE)
    assert advise.hresult == st.E_INVALIDARG


async def test_write_is_plain_ok_then_write_complete_then_data_change() -> None:
    async with serve() as (_, raw):
        handle = await raw.register()
        item = await raw.add(handle, "Tank_001.Name")
        await raw.advise(handle, item)
        await raw.drain()
        reply = await raw.write(handle, item, pb.MxValue(string_value="renamed"))
        events = await raw.drain()
        read = await raw.read(handle, "Tank_001.Name")
    assert reply.protocol_status.code == OK
    assert reply.hresult == 0
    assert not reply.statuses
    assert reply.WhichOneof("payload") is None
    assert [e.family for e in events] == [ON_WRITE, ON_DATA]
    complete, change = events
    assert complete.HasField("on_write_complete")
    assert complete.hresult == 0
    assert complete.statuses[0].success == 1
    assert complete.statuses[0].category == pb.MX_STATUS_CATEGORY_OK
    assert change.value.string_value == "renamed"
    assert read[0].was_cached
    assert read[0].value.string_value == "renamed"


async def test_write_of_the_wrong_type_is_an_mxaccess_failure_reply() -> None:
    async with serve() as (_, raw):
        handle = await raw.register()
        item = await raw.add(handle, "Tank_001.Level")
        reply = await raw.write(handle, item, pb.MxValue(string_value="high"))
        null = await raw.write(handle, item, pb.MxValue(is_null=True))
        events = await raw.drain()
    assert_mx_failure(reply, pb.MX_STATUS_CATEGORY_CONFIGURATION_ERROR, st.DETAIL_TYPE_MISMATCH)
    assert reply.hresult == st.DISP_E_TYPEMISMATCH
    assert_mx_failure(null, pb.MX_STATUS_CATEGORY_CONFIGURATION_ERROR, st.DETAIL_TYPE_MISMATCH)
    assert events == []


async def test_write_to_an_unknown_item_handle_is_an_mxaccess_failure_reply() -> None:
    async with serve() as (_, raw):
        handle = await raw.register()
        reply = await raw.write(handle, 999, pb.MxValue(double_value=1.0))
    assert_mx_failure(reply, pb.MX_STATUS_CATEGORY_CONFIGURATION_ERROR, st.DETAIL_INVALID_HANDLE)


async def test_write2_uses_the_given_source_timestamp() -> None:
    when = dt.datetime(2026, 2, 3, 4, 5, 6, tzinfo=dt.timezone.utc)
    stamp = Timestamp()
    stamp.FromDatetime(when)
    async with serve() as (_, raw):
        handle = await raw.register()
        item = await raw.add(handle, "Tank_001.LevelHiLimit")
        await raw.advise(handle, item)
        await raw.drain()
        reply = await raw.invoke(
            "write2",
            pb.Write2Command(
                server_handle=handle,
                item_handle=item,
                value=pb.MxValue(int32_value=80),
                timestamp_value=pb.MxValue(timestamp_value=stamp),
            ),
        )
        events = await raw.drain()
    assert reply.protocol_status.code == OK
    change = events[-1]
    assert change.value.double_value == 80.0
    assert change.source_timestamp.ToDatetime(tzinfo=dt.timezone.utc) == when


async def test_array_elements_are_one_based_and_whole_arrays_are_mx_arrays() -> None:
    async with serve() as (_, raw):
        handle = await raw.register()
        element = await raw.add(handle, "Tank_001.LevelHistory[3]")
        whole = await raw.add(handle, "Tank_001.LevelHistory[]")
        await raw.advise(handle, whole)
        await raw.drain()
        await raw.write(handle, element, pb.MxValue(double_value=99.0))
        events = await raw.drain()
        results = await raw.read(handle, "Tank_001.LevelHistory[3]", "Tank_001.LevelHistory")
        bad = await raw.write(handle, whole, pb.MxValue(double_value=1.0))
    array = events[-1].value
    assert array.variant_type == pb.VT_ARRAY
    assert array.data_type == pb.MX_DATA_TYPE_DOUBLE
    assert array.array_value.element_data_type == pb.MX_DATA_TYPE_DOUBLE
    assert array.array_value.element_variant_type == pb.VT_R8
    assert [e.double_value for e in array.array_value.elements] == [40.0, 42.5, 99.0, 47.5, 50.0]
    assert results[0].value.double_value == 99.0
    assert not results[0].was_cached
    assert len(results[1].value.array_value.elements) == 5
    assert_mx_failure(bad, pb.MX_STATUS_CATEGORY_CONFIGURATION_ERROR, st.DETAIL_TYPE_MISMATCH)


async def test_authenticate_user() -> None:
    async with serve() as (_, raw):
        handle = await raw.register()
        good = await raw.invoke(
            "authenticate_user",
            pb.AuthenticateUserCommand(server_handle=handle, user_name="operator", password="operator"),
        )
        bad = await raw.invoke(
            "authenticate_user",
            pb.AuthenticateUserCommand(server_handle=handle, user_name="operator", password="s3cret-guess"),
        )
    assert good.protocol_status.code == OK
    assert good.WhichOneof("payload") == "authenticate_user"
    assert good.authenticate_user.user_id == 101
    assert_mx_failure(bad, pb.MX_STATUS_CATEGORY_SECURITY_ERROR, st.DETAIL_AUTHENTICATION_FAILED)
    assert "s3cret-guess" not in str(bad)


async def _authenticate(raw: object, handle: int, user: str) -> int:
    reply = await raw.invoke(  # type: ignore[attr-defined]
        "authenticate_user", pb.AuthenticateUserCommand(server_handle=handle, user_name=user, password=user)
    )
    assert reply.protocol_status.code == OK
    user_id: int = reply.authenticate_user.user_id
    return user_id


async def test_secured_attribute_refuses_a_plain_write_in_write_complete() -> None:
    async with serve() as (_, raw):
        handle = await raw.register()
        item = await raw.add(handle, "Pump_001.SpeedSetpoint")
        reply = await raw.write(handle, item, pb.MxValue(float_value=10.0))
        events = await raw.drain()
        read = await raw.read(handle, "Pump_001.SpeedSetpoint")
    assert reply.protocol_status.code == OK
    assert [e.family for e in events] == [ON_WRITE]
    assert events[0].hresult == st.E_ACCESSDENIED
    status = events[0].statuses[0]
    assert (status.success, status.category, status.detail) == (
        0,
        pb.MX_STATUS_CATEGORY_SECURITY_ERROR,
        st.DETAIL_SECURED_WRITE_REQUIRED,
    )
    assert read[0].value.float_value == 75.0


async def test_write_secured_needs_an_authenticated_current_user() -> None:
    async with serve() as (_, raw):
        handle = await raw.register()
        item = await raw.add(handle, "Pump_001.SpeedSetpoint")
        refused = await raw.invoke(
            "write_secured",
            pb.WriteSecuredCommand(
                server_handle=handle,
                item_handle=item,
                value=pb.MxValue(float_value=10.0),
                current_user_id=101,
            ),
        )
        refused_events = await raw.drain()
        operator = await _authenticate(raw, handle, "operator")
        accepted = await raw.invoke(
            "write_secured2",
            pb.WriteSecured2Command(
                server_handle=handle,
                item_handle=item,
                value=pb.MxValue(float_value=12.5),
                current_user_id=operator,
            ),
        )
        accepted_events = await raw.drain()
        read = await raw.read(handle, "Pump_001.SpeedSetpoint")
    assert refused.protocol_status.code == OK
    assert accepted.protocol_status.code == OK
    assert refused_events[0].statuses[0].detail == st.DETAIL_NOT_AUTHENTICATED
    assert accepted_events[0].family == ON_WRITE
    assert accepted_events[0].statuses[0].success == 1
    assert read[0].value.float_value == 12.5


async def test_verified_attribute_needs_a_different_authenticated_verifier() -> None:
    async with serve() as (_, raw):
        handle = await raw.register()
        item = await raw.add(handle, "Valve_001.Interlock")
        operator = await _authenticate(raw, handle, "operator")
        supervisor = await _authenticate(raw, handle, "supervisor")

        async def write(verifier: int) -> pb.MxEvent:
            reply = await raw.invoke(
                "write_secured",
                pb.WriteSecuredCommand(
                    server_handle=handle,
                    item_handle=item,
                    value=pb.MxValue(bool_value=True),
                    current_user_id=operator,
                    verifier_user_id=verifier,
                ),
            )
            assert reply.protocol_status.code == OK
            (complete,) = await raw.drain()
            return complete

        same = await write(operator)
        unknown = await write(103)
        verified = await write(supervisor)
        read = await raw.read(handle, "Valve_001.Interlock")
    assert same.statuses[0].detail == st.DETAIL_VERIFIER_REQUIRED
    assert unknown.statuses[0].detail == st.DETAIL_VERIFIER_REQUIRED
    assert verified.statuses[0].success == 1
    assert verified.hresult == 0
    assert read[0].value.bool_value is True


async def test_view_only_attribute_refuses_every_write() -> None:
    async with serve() as (_, raw):
        handle = await raw.register()
        item = await raw.add(handle, "Pump_001.Serial")
        reply = await raw.write(handle, item, pb.MxValue(string_value="x"))
        (complete,) = await raw.drain()
    assert reply.protocol_status.code == OK
    assert complete.statuses[0].category == pb.MX_STATUS_CATEGORY_SECURITY_ERROR
    assert complete.statuses[0].detail == st.DETAIL_WRITE_REFUSED


async def test_kind_must_agree_with_payload() -> None:
    async with serve() as (_, raw):
        mismatch = await raw.invoke("register", pb.RegisterCommand(), kind=pb.MX_COMMAND_KIND_WRITE)
        unspecified = await raw.invoke("register", pb.RegisterCommand(), kind=pb.MX_COMMAND_KIND_UNSPECIFIED)
    for reply in (mismatch, unspecified):
        assert reply.protocol_status.code == pb.PROTOCOL_STATUS_CODE_INVALID_REQUEST
        assert reply.protocol_status.message
        assert reply.WhichOneof("payload") is None


async def test_drain_events_honours_max_events_and_returns_each_event_once() -> None:
    async with serve() as (sim, raw):
        handle = await raw.register()
        item = await raw.add(handle, "AppEngine_001.Heartbeat")
        await raw.advise(handle, item)
        for _ in range(4):
            await sim.advance(1.0)
        reply = await raw.invoke("drain_events", pb.DrainEventsCommand(max_events=2))
        rest = await raw.drain()
        empty = await raw.invoke("drain_events", pb.DrainEventsCommand())
    assert reply.WhichOneof("payload") == "drain_events"
    assert [e.worker_sequence for e in reply.drain_events.events] == [1, 2]
    assert [e.worker_sequence for e in rest] == [3, 4, 5]
    assert [e.value.int32_value for e in [*reply.drain_events.events, *rest]] == [0, 1, 2, 3, 4]
    assert empty.WhichOneof("payload") == "drain_events"
    assert not empty.drain_events.events


async def test_bulk_add_advise_unadvise_remove_keep_input_order_and_fail_per_item() -> None:
    tags = ["Tank_001.Level", "Nope.Nothing", "Pump_001.Speed"]
    async with serve() as (_, raw):
        handle = await raw.register()
        added = await raw.invoke(
            "add_item_bulk", pb.AddItemBulkCommand(server_handle=handle, tag_addresses=tags)
        )
        good = [r.item_handle for r in added.bulk_subscribe.results if r.was_successful]
        handles = [good[0], 777, good[1]]
        advised = await raw.invoke(
            "advise_item_bulk", pb.AdviseItemBulkCommand(server_handle=handle, item_handles=handles)
        )
        events = await raw.drain()
        unadvised = await raw.invoke(
            "unadvise_item_bulk", pb.UnAdviseItemBulkCommand(server_handle=handle, item_handles=handles)
        )
        removed = await raw.invoke(
            "remove_item_bulk", pb.RemoveItemBulkCommand(server_handle=handle, item_handles=handles)
        )
        wrong_server = await raw.invoke(
            "add_item_bulk", pb.AddItemBulkCommand(server_handle=99, tag_addresses=tags)
        )
    assert added.protocol_status.code == OK
    assert added.WhichOneof("payload") == "bulk_subscribe"
    results = added.bulk_subscribe.results
    assert [r.tag_address for r in results] == tags
    assert [r.was_successful for r in results] == [True, False, True]
    assert results[1].error_message
    assert results[1].item_handle == 0
    assert all(r.server_handle == handle for r in results)
    for reply in (advised, unadvised, removed):
        assert reply.protocol_status.code == OK
        assert [r.item_handle for r in reply.bulk_subscribe.results] == handles
        assert [r.was_successful for r in reply.bulk_subscribe.results] == [True, False, True]
    assert {e.item_handle for e in events} == {good[0], good[1]}
    assert wrong_server.protocol_status.code == OK
    assert [r.was_successful for r in wrong_server.bulk_subscribe.results] == [False, False, False]


async def test_subscribe_and_unsubscribe_bulk() -> None:
    async with serve() as (sim, raw):
        handle = await raw.register()
        reply = await raw.invoke(
            "subscribe_bulk",
            pb.SubscribeBulkCommand(
                server_handle=handle, tag_addresses=["Tank_001.Level", "Bad.Tag"], supervisory=True
            ),
        )
        first = await raw.drain()
        item = reply.bulk_subscribe.results[0].item_handle
        gone = await raw.invoke(
            "unsubscribe_bulk", pb.UnsubscribeBulkCommand(server_handle=handle, item_handles=[item, 5])
        )
        await sim.advance(2.0)
        after = await raw.drain()
    assert [r.was_successful for r in reply.bulk_subscribe.results] == [True, False]
    assert [(e.family, e.item_handle) for e in first] == [(ON_DATA, item)]
    assert [r.was_successful for r in gone.bulk_subscribe.results] == [True, False]
    assert after == []


async def test_read_bulk_cached_when_advised_else_snapshot() -> None:
    async with serve() as (sim, raw):
        handle = await raw.register()
        item = await raw.add(handle, "Tank_001.Level")
        await raw.advise(handle, item)
        await sim.advance(2.0)
        results = await raw.read(handle, "Tank_001.Level", "Tank_002.Level", "Missing.Tag")
        failed = await raw.invoke(
            "read_bulk", pb.ReadBulkCommand(server_handle=42, tag_addresses=["Tank_001.Level"])
        )
    cached, snapshot, missing = results
    assert (cached.was_successful, cached.was_cached, cached.item_handle) == (True, True, item)
    assert (snapshot.was_successful, snapshot.was_cached, snapshot.item_handle) == (True, False, 0)
    assert cached.quality == snapshot.quality == 192
    assert cached.HasField("source_timestamp")
    assert cached.statuses[0].success == 1
    assert snapshot.value.double_value == pytest.approx(70 + 20 * 0.2079, abs=0.01)
    assert missing.was_successful is False
    assert missing.error_message
    assert missing.statuses[0].category == pb.MX_STATUS_CATEGORY_CONFIGURATION_ERROR
    assert failed.protocol_status.code == OK
    assert failed.bulk_read.results[0].was_successful is False


async def test_write_bulk_variants_report_per_item_results_in_order() -> None:
    stamp = Timestamp(seconds=1_800_000_000)
    async with serve() as (_, raw):
        handle = await raw.register()
        name = await raw.add(handle, "Tank_001.Name")
        level = await raw.add(handle, "Tank_001.LevelHiLimit")
        setpoint = await raw.add(handle, "Pump_001.SpeedSetpoint")
        operator = await _authenticate(raw, handle, "operator")
        plain = await raw.invoke(
            "write_bulk",
            pb.WriteBulkCommand(
                server_handle=handle,
                entries=[
                    pb.WriteBulkEntry(item_handle=name, value=pb.MxValue(string_value="a")),
                    pb.WriteBulkEntry(item_handle=level, value=pb.MxValue(string_value="wrong")),
                    pb.WriteBulkEntry(item_handle=404, value=pb.MxValue(double_value=1)),
                ],
            ),
        )
        timed = await raw.invoke(
            "write2_bulk",
            pb.Write2BulkCommand(
                server_handle=handle,
                entries=[
                    pb.Write2BulkEntry(
                        item_handle=level,
                        value=pb.MxValue(double_value=85.0),
                        timestamp_value=pb.MxValue(timestamp_value=stamp),
                    )
                ],
            ),
        )
        secured = await raw.invoke(
            "write_secured_bulk",
            pb.WriteSecuredBulkCommand(
                server_handle=handle,
                entries=[
                    pb.WriteSecuredBulkEntry(
                        item_handle=setpoint, value=pb.MxValue(float_value=50.0), current_user_id=operator
                    )
                ],
            ),
        )
        secured2 = await raw.invoke(
            "write_secured2_bulk",
            pb.WriteSecured2BulkCommand(
                server_handle=handle,
                entries=[
                    pb.WriteSecured2BulkEntry(
                        item_handle=setpoint,
                        value=pb.MxValue(float_value=55.0),
                        timestamp_value=pb.MxValue(timestamp_value=stamp),
                        current_user_id=operator,
                    ),
                    pb.WriteSecured2BulkEntry(item_handle=setpoint, value=pb.MxValue(bool_value=True)),
                ],
            ),
        )
        read = await raw.read(handle, "Tank_001.Name", "Tank_001.LevelHiLimit", "Pump_001.SpeedSetpoint")
    results = plain.bulk_write.results
    assert plain.protocol_status.code == OK
    assert plain.WhichOneof("payload") == "bulk_write"
    assert [r.item_handle for r in results] == [name, level, 404]
    assert [r.was_successful for r in results] == [True, False, False]
    assert results[1].hresult == st.DISP_E_TYPEMISMATCH
    assert results[1].statuses[0].detail == st.DETAIL_TYPE_MISMATCH
    assert results[2].statuses[0].detail == st.DETAIL_INVALID_HANDLE
    assert results[2].error_message
    assert [r.was_successful for r in timed.bulk_write.results] == [True]
    assert [r.was_successful for r in secured.bulk_write.results] == [True]
    assert [r.was_successful for r in secured2.bulk_write.results] == [True, False]
    assert [r.value.WhichOneof("value") for r in read] == ["string_value", "double_value", "float_value"]
    assert (read[0].value.string_value, read[1].value.double_value, read[2].value.float_value) == (
        "a",
        85.0,
        55.0,
    )
    assert read[1].source_timestamp == stamp


EXPECTED_WIRE_FORMS = [
    ("AppEngine_001.ScanState", pb.MX_DATA_TYPE_BOOLEAN, pb.VT_BOOL, "bool_value"),
    ("Tank_001.Volume", pb.MX_DATA_TYPE_INTEGER, pb.VT_I4, "int32_value"),
    ("Tank_001.Temperature", pb.MX_DATA_TYPE_FLOAT, pb.VT_R4, "float_value"),
    ("Tank_001.Level", pb.MX_DATA_TYPE_DOUBLE, pb.VT_R8, "double_value"),
    ("Tank_001.Name", pb.MX_DATA_TYPE_STRING, pb.VT_BSTR, "string_value"),
    ("Tank_001.LastFilled", pb.MX_DATA_TYPE_TIME, pb.VT_DATE, "timestamp_value"),
    ("Tank_001.FillDuration", pb.MX_DATA_TYPE_ELAPSED_TIME, pb.VT_I8, "duration_value"),
    ("Tank_001.Source", pb.MX_DATA_TYPE_REFERENCE, pb.VT_BSTR, "string_value"),
    ("Tank_001.Status", pb.MX_DATA_TYPE_STATUS, pb.VT_RECORD, "bytes_value"),
    ("Tank_001.Mode", pb.MX_DATA_TYPE_DATA_TYPE_ENUM, pb.VT_I4, "int32_value"),
    ("Tank_001.Classification", pb.MX_DATA_TYPE_SECURITY_CLASSIFICATION_ENUM, pb.VT_I4, "int32_value"),
    ("Tank_001.Quality", pb.MX_DATA_TYPE_DATA_QUALITY, pb.VT_I4, "int32_value"),
    ("Tank_001.State", pb.MX_DATA_TYPE_QUALIFIED_ENUM, pb.VT_RECORD, "bytes_value"),
    ("Tank_001.Calibration", pb.MX_DATA_TYPE_QUALIFIED_STRUCT, pb.VT_RECORD, "bytes_value"),
    ("Tank_001.DisplayName", pb.MX_DATA_TYPE_INTERNATIONALIZED_STRING, pb.VT_BSTR, "string_value"),
    ("Tank_001.Notes", pb.MX_DATA_TYPE_BIG_STRING, pb.VT_BSTR, "string_value"),
    ("Tank_001.Spare", pb.MX_DATA_TYPE_NO_DATA, pb.VT_EMPTY, None),
    ("Pump_001.Commands", pb.MX_DATA_TYPE_STRING, pb.VT_ARRAY, "array_value"),
]


async def test_every_data_type_has_its_wire_form() -> None:
    async with serve() as (_, raw):
        handle = await raw.register()
        results = await raw.read(handle, *(tag for tag, *_ in EXPECTED_WIRE_FORMS))
    for result, (tag, data_type, variant, case) in zip(results, EXPECTED_WIRE_FORMS, strict=True):
        value = result.value
        assert result.was_successful, tag
        assert (value.data_type, value.variant_type, value.WhichOneof("value")) == (
            data_type,
            variant,
            case,
        ), tag
        assert value.raw_data_type == data_type - 1, tag
    by_tag = {tag: r.value for r, (tag, *_) in zip(results, EXPECTED_WIRE_FORMS, strict=True)}
    assert by_tag["Tank_001.Spare"].is_null
    assert by_tag["Tank_001.FillDuration"].duration_value.ToTimedelta() == dt.timedelta(minutes=42)
    assert by_tag["Tank_001.Calibration"].bytes_value == b"\x01\x02cal"
    assert [e.string_value for e in by_tag["Pump_001.Commands"].array_value.elements] == [
        "Start",
        "Stop",
        "Reset",
    ]
