"""Review of the send-order pairing of write outcomes: places that must not be given up too early."""

from __future__ import annotations

import asyncio

import pytest

from mxgateway import MxAccessError, MxGatewayTimeoutError, Session
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

