"""The fault proxy forwards real gRPC calls and cuts them like a failed network."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from mxgateway import GatewayClient, MxGatewayUnavailableError
from mxgateway.simulator.faultproxy import FaultProxy
from mxgateway.simulator.server import Simulator

pytestmark = pytest.mark.anyio


@pytest.fixture
async def proxy(anyio_backend: object) -> AsyncIterator[tuple[Simulator, FaultProxy]]:
    async with Simulator(update_rate_hz=0) as sim, FaultProxy(sim.host, sim.port) as fault_proxy:
        yield sim, fault_proxy


async def test_calls_pass_through_and_fail_while_cut(proxy: tuple[Simulator, FaultProxy]) -> None:
    sim, fault_proxy = proxy
    assert fault_proxy.endpoint.startswith("127.0.0.1:")
    async with GatewayClient.connect(fault_proxy.endpoint, default_timeout=2.0) as client:
        reply = await client.open_session_raw("through-proxy")
        assert reply.session_id in sim.session_ids()
        assert fault_proxy.connections_forwarded == 1

        await fault_proxy.cut(1.0)
        assert fault_proxy.is_cut
        with pytest.raises(MxGatewayUnavailableError):
            await client.open_session_raw("while-cut", timeout=0.5)
        assert fault_proxy.connections_cut >= 1

        # Back after the cut: the same client reconnects through the proxy.
        deadline = time.monotonic() + 10
        for _ in range(100):
            try:
                again = await client.open_session_raw("after-cut", timeout=1.0)
                break
            except MxGatewayUnavailableError:
                assert time.monotonic() < deadline, "the proxy never forwarded again"
                await asyncio.sleep(0.1)
        else:
            pytest.fail("the proxy never forwarded again")
        assert again.session_id in sim.session_ids()
        assert not fault_proxy.is_cut
