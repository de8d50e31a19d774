"""The send-order pairing of write outcomes: places kept for late outcomes, given up when lost."""

from __future__ import annotations

import asyncio

import pytest

from mxgateway import GatewayClient, MxAccessError, MxGatewayError, MxGatewayTimeoutError, Session, WriteEntry
from mxgateway.generated import mxaccess_gateway_pb2 as pb
from mxgateway.simulator.server import Simulator

pytestmark = pytest.mark.anyio

SECURED = "Pump_001.SpeedSetpoint"  # a plain write is refused, a secured one by an operator succeeds


async def _handles(session: Session) -> tuple[int, int]:
    with pytest.raises(MxAccessError) as refused:
        await session.write_and_confirm(SECURED, 10.0)
    outcome = refused.value.reply
    assert isinstance(outcome, pb.MxEvent)
    return outcome.server_handle, outcome.item_handle


async def test_a_timed_out_confirmation_keeps_its_place_for_its_late_outcome(
    session: Session, simulator: Simulator
) -> None:
    # The event stream is slow to come back, so a write_and_confirm times out although
    # its write ran; its outcome (refused) comes later, replayed on resume. Its place
    # must stay in the item's line, or the late outcome pairs with the next write.
    server, item = await _handles(session)
    operator = await session.authenticate_user(server, "operator", "operator")
    simulator.faults.stream_latency_s = 1.0
    await simulator.drop_event_streams()
    with pytest.raises(MxGatewayTimeoutError):
        await session.write_and_confirm(SECURED, 10.0, outcome_timeout=0.2)  # refused, outcome late
    await session.write_secured(server, item, 80.0, current_user_id=operator)  # succeeds
    simulator.faults.stream_latency_s = 0.0
    # Refused by the gateway: must not be confirmed with the secured write's success.
    with pytest.raises(MxAccessError, match="SECURITY"):
        await session.write_and_confirm(SECURED, 10.0, outcome_timeout=5.0)


async def test_an_outcome_a_healthy_stream_never_brought_holds_no_place(
    session: Session, simulator: Simulator
) -> None:
    # Kept places pair later outcomes one write late: one a connected stream did not
    # bring within the timeout is given up, so the next confirmation gets its own.
    simulator.faults.withhold_write_outcomes = True
    with pytest.raises(MxGatewayTimeoutError):
        await session.write_and_confirm("Tank_001.Name", "x", outcome_timeout=0.2)
    simulator.faults.withhold_write_outcomes = False
    assert (await session.write_and_confirm("Tank_001.Name", "y", outcome_timeout=2.0)).ok


async def test_a_gap_does_not_hand_a_plain_writes_outcome_to_a_confirmation(anyio_backend: object) -> None:
    # Events of one bulk write are lost (the gateway's queue for the stream is full):
    # the next event, the outcome of a secured write that succeeded, reveals the gap.
    # Dropping that write's place before its outcome is paired hands the success to
    # the refused write_and_confirm sent after it.
    async with (
        Simulator(update_rate_hz=0, subscriber_queue_size=2) as simulator,
        GatewayClient.connect(simulator.endpoint, plaintext=True, default_timeout=5.0) as client,
        client.open_session("gap") as session,
    ):
        server, item = await _handles(session)
        notes = await session.write_and_confirm("Tank_001.Notes", "a")
        operator = await session.authenticate_user(server, "operator", "operator")
        simulator.faults.latency_s = 0.2  # the three writes wait at the gateway, in the order sent
        bulk = asyncio.ensure_future(
            session.write_bulk(server, [WriteEntry(notes.item_handle, str(n)) for n in range(6)])
        )
        await asyncio.sleep(0.02)
        secured = asyncio.ensure_future(session.write_secured(server, item, 80.0, current_user_id=operator))
        await asyncio.sleep(0.02)
        try:
            with pytest.raises(MxGatewayError):  # refused, or its outcome unknown: never a success
                await session.write_and_confirm(SECURED, 10.0, outcome_timeout=2.0)
        finally:
            await bulk
            await secured
        assert simulator.stats.events_dropped > 0
