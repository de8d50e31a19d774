"""The blocking facade records as the async core does."""

from __future__ import annotations

import pytest

from mxgateway import MxGatewayArgumentError, ResultList
from mxgateway_sync import Client


def test_the_facade_records_and_tears_down(mx_simulator_endpoint: str) -> None:
    with Client(endpoint=mx_simulator_endpoint) as client:
        recording = client.record(["Tank_001.Level", "Tank_001.Volume"], seconds=5, max_changes=2)
        assert isinstance(recording, ResultList)
        assert [c.tag for c in recording] == ["Tank_001.Level", "Tank_001.Volume"]
        with pytest.raises(MxGatewayArgumentError, match="would never end"):
            client.record(["Tank_001.Level"])
        with client.subscribe(["Tank_001.Level"]) as subscription:
            assert [c.tag for c in subscription.collect(max_changes=1)] == ["Tank_001.Level"]
