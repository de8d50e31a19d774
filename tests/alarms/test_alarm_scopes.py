"""Alarm RPCs refuse keys without their scope, naming it; the feed does not retry a refusal."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest

from mxgateway import GatewayClient, MxGatewayPermissionError
from mxgateway.generated import mxaccess_gateway_pb2 as pb
from mxgateway.simulator.server import Simulator
from tests.alarms.conftest import TANK1_HI, PlantClock

pytestmark = pytest.mark.anyio

READER = "mxgw_alarm_reader_Qw3rTy7uIo"
OPENER = "mxgw_alarm_opener_As5dFg8hJk"


@pytest.fixture
async def secured(anyio_backend: object) -> AsyncIterator[Simulator]:
    keys = {READER: ["events:read", "invoke:read"], OPENER: ["session:open"]}
    async with Simulator(update_rate_hz=0, api_keys=keys) as sim:
        yield sim


async def test_reading_alarms_needs_events_read(secured: Simulator) -> None:
    async with GatewayClient.connect(secured.endpoint, api_key=OPENER, default_timeout=5.0) as client:
        with pytest.raises(MxGatewayPermissionError) as query:
            await client.active_alarms()
        assert query.value.scope == "events:read"
        assert "events:read" in str(query.value)
        feed = client.alarm_feed()
        with anyio.fail_after(10), pytest.raises(MxGatewayPermissionError) as streamed:
            await feed.start()
        assert streamed.value.scope == "events:read"
        assert feed.closed
        assert OPENER not in str(streamed.value)
        assert OPENER not in repr(feed)


async def test_acknowledging_needs_invoke_write(secured: Simulator) -> None:
    await PlantClock(secured).advance_to(7)
    async with GatewayClient.connect(secured.endpoint, api_key=READER, default_timeout=5.0) as client:
        assert TANK1_HI in {a.reference for a in await client.active_alarms()}
        with pytest.raises(MxGatewayPermissionError) as caught:
            await client.acknowledge_alarm(TANK1_HI, comment="no", operator="op1")
    assert caught.value.scope == "invoke:write"
    assert "invoke:write" in str(caught.value)
    assert READER not in str(caught.value)
    condition = secured.alarms.condition(TANK1_HI)
    assert condition is not None
    assert condition.state == pb.ALARM_CONDITION_STATE_ACTIVE
