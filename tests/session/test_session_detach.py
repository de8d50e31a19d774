"""Session.detach: the session outlives this client, for another one to attach to."""

from __future__ import annotations

import pytest

from mxgateway import GatewayClient, MxGatewayClosedError
from mxgateway.simulator.background import BackgroundSimulator


@pytest.mark.anyio
async def test_detached_session_outlives_its_client(mx_simulator: BackgroundSimulator) -> None:
    endpoint = mx_simulator.endpoint
    async with GatewayClient.connect(endpoint, plaintext=True) as first:
        session = await first.open_session("first")
        server = await session.register("one")
        await session.detach()
        assert session.closed
        with pytest.raises(MxGatewayClosedError):
            await session.register("detached sessions take no more calls here")
    assert mx_simulator.simulator.session_ids() == [session.session_id]

    async with GatewayClient.connect(endpoint, plaintext=True) as second:
        attached = second.attach_session(session.session_id)
        item = await attached.add_item(server, "Tank_001.Level")
        assert item > 0
        await attached.close()
    assert mx_simulator.simulator.session_ids() == []
