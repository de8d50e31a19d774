"""The alarm surface through the blocking facade, against a simulator on its own thread."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import mxgateway_sync
from mxgateway.simulator.background import BackgroundSimulator
from mxgateway.simulator.server import Simulator
from tests.alarms.conftest import TANK1_HI


@pytest.fixture
def background() -> Iterator[BackgroundSimulator]:
    with Simulator.start_in_background(update_rate_hz=0) as bg:
        for _ in range(7):
            bg.call(bg.simulator.advance, 1.0)
        yield bg


def test_the_facade_reads_acknowledges_and_follows_alarms(background: BackgroundSimulator) -> None:
    client = mxgateway_sync.Client(endpoint=background.endpoint)
    try:
        alarms = client.active_alarms(prefix="demo-water-plant!Intake.")
        assert [a.reference for a in alarms] == [TANK1_HI]
        assert alarms[0].state is mxgateway_sync.AlarmState.ACTIVE
        with client.alarm_feed() as feed:
            assert set(feed.active) == set(background.simulator.alarms.active_references())
            status = next(feed)
            assert isinstance(status, mxgateway_sync.AlarmProviderStatus)
            assert not feed.degraded
            client.acknowledge_alarm(TANK1_HI, comment="from a script", operator="op1")
            acked = next(feed)
            assert isinstance(acked, mxgateway_sync.AlarmTransition)
            assert acked.kind is mxgateway_sync.AlarmTransitionKind.ACKNOWLEDGE
            assert feed.active[TANK1_HI].operator_comment == "from a script"
        with pytest.raises(mxgateway_sync.MxGatewayAlarmNotFoundError):
            client.acknowledge_alarm("demo-water-plant!Nowhere.X.Hi")
    finally:
        client.close()
    session_ids = background.simulator.session_ids()
    assert session_ids == []  # alarms need no session: none was opened
