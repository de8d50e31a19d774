"""Every Session method against the simulator over loopback gRPC."""

from __future__ import annotations

import asyncio
import datetime as dt

import grpc
import pytest

from mxgateway import (
    DataChange,
    GatewayClient,
    MxAccessError,
    MxGatewayClosedError,
    MxGatewayTimeoutError,
    MxGatewayUnavailableError,
    Session,
    WriteComplete,
    WriteEntry,
)
from mxgateway.generated import mxaccess_gateway_pb2 as pb
from mxgateway.simulator.server import Simulator

pytestmark = pytest.mark.anyio

STAMP = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.timezone.utc)


async def next_of(stream: object, kind: type, *, item: int | None = None, timeout: float = 3.0) -> object:
    async def find() -> object:
        async for event in stream:  # type: ignore[attr-defined]
            if type(event) is kind and (item is None or event.item_handle == item):
                return event
        raise AssertionError("stream ended")

    return await asyncio.wait_for(find(), timeout)


async def test_open_session_reports_the_gateway(client: GatewayClient, simulator: Simulator) -> None:
    session = await client.open_session("named", client_correlation_id="c-1")
    assert session.session_id in simulator.session_ids()
    assert session.backend_name == "simulator"
    assert session.gateway_protocol_version == 1
    assert session.lease_expires_at is not None
    assert session.lease_expires_at > dt.datetime.now(dt.timezone.utc)
    assert "named" not in repr(session)
    assert session.session_id in repr(session)
    await session.close()
    assert session.session_id not in simulator.session_ids()
    await session.close()  # idempotent
    with pytest.raises(MxGatewayClosedError, match="closed"):
        await session.register("x")


async def test_open_session_as_a_context_manager_closes_the_session(
    client: GatewayClient, simulator: Simulator
) -> None:
    async with client.open_session("scoped") as session:
        assert isinstance(session, Session)
        assert session.session_id in simulator.session_ids()
        assert await session.register("scoped") > 0
    assert session.closed
    assert session.session_id not in simulator.session_ids()


async def test_open_session_context_closes_the_session_when_the_block_raises(
    client: GatewayClient, simulator: Simulator
) -> None:
    opened: list[str] = []

    async def fail_inside() -> None:
        async with client.open_session("raises") as session:
            opened.append(session.session_id)
            assert opened == simulator.session_ids()
            raise LookupError("inside the block")

    with pytest.raises(LookupError, match="inside the block"):
        await fail_inside()
    assert len(opened) == 1
    assert simulator.session_ids() == []


async def test_open_session_context_closes_the_session_when_its_task_is_cancelled(
    client: GatewayClient, simulator: Simulator
) -> None:
    inside = asyncio.Event()

    async def hold() -> None:
        async with client.open_session("cancelled"):
            inside.set()
            await asyncio.sleep(30)

    task = asyncio.create_task(hold())
    await asyncio.wait_for(inside.wait(), 5)
    assert len(simulator.session_ids()) == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)
    assert simulator.session_ids() == []


async def test_open_session_runs_as_a_task(client: GatewayClient, simulator: Simulator) -> None:
    session = await asyncio.wait_for(asyncio.create_task(client.open_session("task")), 5)
    assert session.session_id in simulator.session_ids()
    await session.close()


async def test_register_add_advise_remove_unregister(session: Session) -> None:
    server = await session.register("client-a")
    assert server > 0
    item = await session.add_item(server, "Tank_001.Level")
    item2 = await session.add_item2(server, "Tank_001.Volume", "ctx")
    assert item != item2
    async with session.events() as stream:
        await stream.wait_connected()
        await session.advise(server, item)
        change = await next_of(stream, DataChange, item=item)
        assert isinstance(change, DataChange)
        assert change.tag == "Tank_001.Level"
        assert isinstance(change.value, float)
        assert change.quality.is_good
        assert change.source_timestamp is not None
        await session.advise_supervisory(server, item2)
        change2 = await next_of(stream, DataChange, item=item2)
        assert isinstance(change2, DataChange)
        assert change2.value == 1000
    await session.unadvise(server, item)
    await session.remove_item(server, item)
    with pytest.raises(MxAccessError) as info:
        await session.advise(server, item)  # removed: the handle is unknown
    assert info.value.statuses[0].detail == 1004
    await session.unregister(server)
    with pytest.raises(MxAccessError):
        await session.add_item(server, "Tank_001.Level")


async def test_unknown_tag_is_an_mxaccess_error_with_the_reply(session: Session) -> None:
    server = await session.register("c")
    with pytest.raises(MxAccessError) as info:
        await session.add_item(server, "Nope_001.Level")
    err = info.value
    assert isinstance(err.reply, pb.MxCommandReply)
    assert err.hresult != 0
    (status,) = err.statuses
    assert (status.category, status.detail) == ("CONFIGURATION_ERROR", 1003)
    assert "Nope_001.Level" in str(err)


async def test_write_and_write2_complete(session: Session) -> None:
    server = await session.register("w")
    item = await session.add_item(server, "Tank_001.Name")
    async with session.events() as stream:
        await stream.wait_connected()
        await session.write(server, item, "first")
        done = await next_of(stream, WriteComplete, item=item)
        assert isinstance(done, WriteComplete)
        assert done.ok
        await session.write2(server, item, "second", STAMP)
        done2 = await next_of(stream, WriteComplete, item=item)
        assert isinstance(done2, WriteComplete)
        assert done2.ok
    (result,) = await session.read(["Tank_001.Name"])
    assert result.value == "second"


async def test_write_of_the_wrong_type_fails_in_mxaccess(session: Session) -> None:
    server = await session.register("w")
    item = await session.add_item(server, "Tank_001.Volume")
    with pytest.raises(MxAccessError) as info:
        await session.write(server, item, "not a number")
    assert info.value.statuses[0].detail == 1010


async def test_authenticate_and_secured_writes(session: Session) -> None:
    server = await session.register("s")
    operator = await session.authenticate_user(server, "operator", "operator")
    supervisor = await session.authenticate_user(server, "supervisor", "supervisor")
    assert (operator, supervisor) == (101, 102)
    with pytest.raises(MxAccessError) as info:
        await session.authenticate_user(server, "operator", "wrong-password")
    assert "wrong-password" not in str(info.value)
    assert "wrong-password" not in repr(info.value)
    setpoint = await session.add_item(server, "Pump_001.SpeedSetpoint")
    interlock = await session.add_item(server, "Valve_001.Interlock")
    async with session.events() as stream:
        await stream.wait_connected()
        await session.write_secured(server, setpoint, 80.0, current_user_id=operator)
        done = await next_of(stream, WriteComplete, item=setpoint)
        assert isinstance(done, WriteComplete)
        assert done.ok
        await session.write_secured2(
            server, interlock, True, STAMP, current_user_id=operator, verifier_user_id=supervisor
        )
        done = await next_of(stream, WriteComplete, item=interlock)
        assert isinstance(done, WriteComplete)
        assert done.ok
        # A plain write to a secured attribute is refused in the outcome, not the reply.
        await session.write(server, setpoint, 10.0)
        refused = await next_of(stream, WriteComplete, item=setpoint)
        assert isinstance(refused, WriteComplete)
        assert not refused.ok
        assert refused.statuses[0].category == "SECURITY_ERROR"
    values = {r.tag: r.value for r in await session.read(["Pump_001.SpeedSetpoint", "Valve_001.Interlock"])}
    assert values == {"Pump_001.SpeedSetpoint": 80.0, "Valve_001.Interlock": True}


async def test_write_outcomes_pair_with_writes_in_the_order_they_were_sent(
    session: Session, simulator: Simulator
) -> None:
    # OnWriteComplete names only the item. A secured write that succeeds and a plain
    # write_and_confirm of the same item that is refused are in flight together: the
    # confirmation must report its own refusal, not the earlier write's success.
    tag = "Pump_001.SpeedSetpoint"
    with pytest.raises(MxAccessError) as first:
        await session.write_and_confirm(tag, 10.0)
    outcome = first.value.reply
    assert isinstance(outcome, pb.MxEvent)
    server, item = outcome.server_handle, outcome.item_handle
    operator = await session.authenticate_user(server, "operator", "operator")
    simulator.faults.latency_s = 0.2  # both writes wait at the gateway, in the order sent
    secured = asyncio.ensure_future(session.write_secured(server, item, 80.0, current_user_id=operator))
    await asyncio.sleep(0)
    with pytest.raises(MxAccessError, match="SECURITY"):
        await session.write_and_confirm(tag, 10.0)
    await secured
    simulator.faults.latency_s = 0.0
    ((result,),) = [await session.read([tag])]
    assert result.value == 80.0
    # No place is left behind: the next confirmation gets its own outcome, not a timeout.
    with pytest.raises(MxAccessError, match="SECURITY"):
        await session.write_and_confirm(tag, 10.0, outcome_timeout=2.0)


async def test_writes_refused_in_the_reply_hold_no_place_for_an_outcome(session: Session) -> None:
    # A write MXAccess refused at once raises no OnWriteComplete; were its place kept,
    # the next confirmation of the item would take its own outcome for that one and time out.
    tag = "Tank_001.Volume"
    confirmed = await session.write_and_confirm(tag, 1000)
    server, item = confirmed.server_handle, confirmed.item_handle
    with pytest.raises(MxAccessError):
        await session.write(server, item, "not a number")
    (refused,) = await session.write_bulk(server, [WriteEntry(item, "not a number")])
    assert not refused.ok
    again = await session.write_and_confirm(tag, 1001, outcome_timeout=2.0)
    assert (again.ok, again.item_handle) == (True, item)
    assert again.worker_sequence > confirmed.worker_sequence


async def test_concurrent_advises_on_a_fresh_session_wait_for_its_stream(
    session: Session, simulator: Simulator
) -> None:
    # The first advise attaches the stream; one sent meanwhile from another task must
    # wait too, or the value its ADVISE publishes comes before the stream (live-only) exists.
    server = await session.register("concurrent")
    tags = ["Tank_001.Level", "Tank_001.Volume", "Pump_001.Running"]
    items = [await session.add_item(server, tag) for tag in tags]
    simulator.faults.stream_latency_s = 0.3  # a gateway slow to attach streams
    await asyncio.gather(*(session.advise(server, item) for item in items))
    simulator.faults.stream_latency_s = 0.0
    seen: list[object] = []
    async with session.events() as stream:
        for _ in range(len(items)):
            seen.append(await asyncio.wait_for(stream.__anext__(), 3.0))
    assert [type(event) for event in seen] == [DataChange] * len(items)
    assert sorted(event.item_handle for event in seen) == sorted(items)  # type: ignore[attr-defined]
    assert [event.worker_sequence for event in seen] == [1, 2, 3]  # type: ignore[attr-defined]


async def test_bulk_item_commands(session: Session) -> None:
    server = await session.register("b")
    added = await session.add_item_bulk(server, ["Tank_001.Level", "Nope.X", "Tank_001.Volume"])
    assert [r.ok for r in added] == [True, False, True]
    assert added[1].error_message
    assert added[1].tag == "Nope.X"
    handles = [added[0].item_handle, added[2].item_handle]
    advised = await session.advise_item_bulk(server, [*handles, 999])
    assert [r.ok for r in advised] == [True, True, False]
    assert [r.ok for r in await session.unadvise_item_bulk(server, handles)] == [True, True]
    assert [r.ok for r in await session.remove_item_bulk(server, handles)] == [True, True]
    subscribed = await session.subscribe_bulk(server, ["Tank_002.Level", "Nope.Y"], supervisory=True)
    assert [r.ok for r in subscribed] == [True, False]
    unsubscribed = await session.unsubscribe_bulk(server, [subscribed[0].item_handle])
    assert [r.ok for r in unsubscribed] == [True]


async def test_read_bulk_has_per_tag_results(session: Session) -> None:
    server = await session.register("r")
    results = await session.read_bulk(server, ["Tank_001.LevelHistory", "Nope.Z"], timeout_ms=500)
    assert [r.tag for r in results] == ["Tank_001.LevelHistory", "Nope.Z"]
    assert results[0].ok
    assert results[0].value == [40.0, 42.5, 45.0, 47.5, 50.0]
    assert not results[1].ok
    assert results[1].statuses[0].detail == 1003
    with pytest.raises(MxAccessError, match=r"Nope.Z"):
        results[1].raise_for_error()


async def test_bulk_writes(session: Session) -> None:
    server = await session.register("bw")
    operator = await session.authenticate_user(server, "operator", "operator")
    supervisor = await session.authenticate_user(server, "supervisor", "supervisor")
    name, volume, setpoint, interlock = (
        r.item_handle
        for r in await session.add_item_bulk(
            server, ["Tank_001.Name", "Tank_001.Volume", "Pump_001.SpeedSetpoint", "Valve_001.Interlock"]
        )
    )
    plain = await session.write_bulk(server, [WriteEntry(name, "bulk"), WriteEntry(volume, "wrong type")])
    assert [r.ok for r in plain] == [True, False]
    assert plain[1].hresult != 0
    assert plain[1].statuses[0].detail == 1010
    timed = await session.write2_bulk(server, [WriteEntry(volume, 1234, timestamp=STAMP)])
    assert [r.ok for r in timed] == [True]
    secured = await session.write_secured_bulk(server, [WriteEntry(setpoint, 55.5, current_user_id=operator)])
    assert [r.ok for r in secured] == [True]
    secured2 = await session.write_secured2_bulk(
        server,
        [WriteEntry(interlock, True, timestamp=STAMP, current_user_id=operator, verifier_user_id=supervisor)],
    )
    assert [r.ok for r in secured2] == [True]
    with pytest.raises(ValueError, match="timestamp"):
        await session.write2_bulk(server, [WriteEntry(volume, 1)])
    await asyncio.sleep(0.05)  # writes apply as their outcome is published
    values = {r.tag: r.value for r in await session.read(["Tank_001.Name", "Tank_001.Volume"])}
    assert values == {"Tank_001.Name": "bulk", "Tank_001.Volume": 1234}


async def test_drain_events(session: Session) -> None:
    server = await session.register("d")
    item = await session.add_item(server, "Tank_001.Name")
    await session.write(server, item, "drained")
    await session.advise(server, item)
    events = await session.drain_events()
    kinds = [type(e) for e in events]
    assert WriteComplete in kinds
    assert DataChange in kinds
    assert [e.worker_sequence for e in events] == sorted(e.worker_sequence for e in events)  # type: ignore[union-attr]
    assert await session.drain_events(max_events=10) == []


async def test_invoke_and_invoke_raw(session: Session, client: GatewayClient) -> None:
    command = pb.MxCommand(kind=pb.MX_COMMAND_KIND_REGISTER, register=pb.RegisterCommand(client_name="i"))
    reply = await session.invoke(command)
    server = reply.register.server_handle
    bad = pb.MxCommand(
        kind=pb.MX_COMMAND_KIND_ADD_ITEM,
        add_item=pb.AddItemCommand(server_handle=server, item_definition="No.X"),
    )
    raw = await session.invoke_raw(bad)
    assert raw.protocol_status.code == pb.PROTOCOL_STATUS_CODE_MXACCESS_FAILURE  # returned, not raised
    with pytest.raises(MxAccessError) as info:
        await session.invoke(bad)
    assert info.value.reply.protocol_status.code == pb.PROTOCOL_STATUS_CODE_MXACCESS_FAILURE  # type: ignore[union-attr]
    request = pb.MxCommandRequest(session_id=session.session_id, command=bad)
    assert (await client.invoke_raw(request)).hresult == raw.hresult


async def test_read_per_tag_and_write_tag(session: Session) -> None:
    results = await session.read(["Tank_001.Level", "Nope.Level", "Tank_001.LastFilled"])
    assert [r.ok for r in results] == [True, False, True]
    assert isinstance(results[2].value, dt.datetime)
    await session.write_tag("Tank_001.Level", 12)  # an int for a Double attribute is converted
    await session.write_tag("Tank_001.LevelHistory", [1, 2, 3, 4, 5])
    await asyncio.sleep(0.05)
    values = [r.value for r in await session.read(["Tank_001.Level", "Tank_001.LevelHistory"])]
    assert values == [12.0, [1.0, 2.0, 3.0, 4.0, 5.0]]


async def test_write_and_confirm(session: Session) -> None:
    outcome = await session.write_and_confirm("Tank_001.Notes", "confirmed")
    assert outcome.ok
    assert outcome.tag == "Tank_001.Notes"
    with pytest.raises(MxAccessError, match="view-only") as info:
        await session.write_and_confirm("Pump_001.Serial", "P-1")
    assert info.value.hresult != 0
    with pytest.raises(MxAccessError, match="Nope"):
        await session.write_and_confirm("Nope.Tag", 1)


async def test_write_and_confirm_times_out(session: Session, simulator: Simulator) -> None:
    simulator.faults.withhold_write_outcomes = True
    with pytest.raises(MxGatewayTimeoutError, match=r"no write outcome for Tank_001.Name"):
        await session.write_and_confirm("Tank_001.Name", "x", outcome_timeout=0.2)


async def test_write_and_confirm_reports_a_failed_stream(session: Session, simulator: Simulator) -> None:
    await session.read(["Tank_001.Name"])
    simulator.faults.fail_next(1, methods=["StreamEvents"], grpc_code=grpc.StatusCode.UNAVAILABLE)
    with pytest.raises(MxGatewayUnavailableError):
        await session.write_and_confirm("Tank_001.Name", "x", outcome_timeout=2)


async def test_subscribe_yields_only_its_tags_and_tears_down(session: Session, simulator: Simulator) -> None:
    other_server = await session.register("other")
    other = await session.add_item(other_server, "FlowMeter_001.Flow")
    await session.advise(other_server, other)
    async with session.subscribe(["Tank_001.Level", "Tank_001.Volume"]) as subscription:
        seen: list[DataChange] = []
        await simulator.advance(1.0)
        async for change in subscription:
            seen.append(change)
            if len(seen) == 4:
                break
        assert {c.tag for c in seen} == {"Tank_001.Level", "Tank_001.Volume"}
        assert set(subscription.latest) == {"Tank_001.Level", "Tank_001.Volume"}
        handles = subscription.item_handles
    server = await session.default_server_handle()
    # Left: the items are gone from the worker.
    with pytest.raises(MxAccessError):
        await session.advise(server, handles["Tank_001.Level"])


async def test_subscribe_to_an_unknown_tag_fails(session: Session) -> None:
    with pytest.raises(MxAccessError, match=r"Nope.Level"):
        async with session.subscribe(["Tank_001.Level", "Nope.Level"]):
            pass


async def test_session_context_manager_and_client_close(client: GatewayClient, simulator: Simulator) -> None:
    async with await client.open_session("ctx") as session:
        session_id = session.session_id
        assert session_id in simulator.session_ids()
    assert session_id not in simulator.session_ids()
    kept = await client.open_session("kept")
    await client.close()
    await client.close()
    assert kept.closed
    assert kept.session_id not in simulator.session_ids()
    with pytest.raises(MxGatewayClosedError):
        await client.open_session("late")


async def test_attach_session_after_reconnect(simulator: Simulator) -> None:
    async with GatewayClient.connect(simulator.endpoint, plaintext=True) as first:
        session = await first.open_session("survivor")
        server = await session.register("x")
        await session.detach()  # leave the session open on the gateway
    async with GatewayClient.connect(simulator.endpoint, plaintext=True) as second:
        again = second.attach_session(session.session_id)
        assert await again.add_item(server, "Tank_001.Level") > 0
        await again.close()
