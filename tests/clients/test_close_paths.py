"""Closing under awkward timing: nothing is left open, every failure is a typed error."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable

import pytest

from mxgateway import Client, GatewayClient, MxGatewayClosedError
from mxgateway.simulator.background import BackgroundSimulator


async def _eventually(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


@pytest.mark.anyio
async def test_close_session_raw_after_close_is_a_typed_error(mx_simulator: BackgroundSimulator) -> None:
    client = await GatewayClient.connect(mx_simulator.endpoint, plaintext=True)
    session = await client.open_session("s")
    await client.close()
    with pytest.raises(MxGatewayClosedError):
        await client.close_session_raw(session.session_id)
    assert mx_simulator.simulator.session_ids() == []  # close() closed it on the gateway


@pytest.mark.anyio
async def test_a_dropped_raw_stream_is_cancelled_on_the_server(mx_simulator: BackgroundSimulator) -> None:
    stats = mx_simulator.simulator.stats
    async with GatewayClient.connect(mx_simulator.endpoint, plaintext=True) as client:
        session = await client.open_session("s")
        stream = client.stream_events_raw(session.session_id)
        await stream.wait_connected()
        assert await _eventually(lambda: stats.streams_opened - stats.streams_closed == 1)
        del stream
        gc.collect()
        assert await _eventually(lambda: stats.streams_opened == stats.streams_closed)


@pytest.mark.anyio
async def test_cancelled_close_still_releases_the_channel(mx_simulator: BackgroundSimulator) -> None:
    client = await GatewayClient.connect(mx_simulator.endpoint, plaintext=True)
    await client.open_session("s")
    mx_simulator.simulator.faults.latency_s = 1.0  # CloseSession now takes a while
    try:
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(client.close(), 0.1)
    finally:
        mx_simulator.simulator.faults.latency_s = 0.0
    assert client.closed
    with pytest.raises(MxGatewayClosedError):
        await client.open_session("after close")
    assert await _eventually(lambda: str(client.channel.get_state()).endswith("SHUTDOWN"))


@pytest.mark.anyio
async def test_lazy_client_detach_leaves_the_session_and_disconnects(
    mx_simulator: BackgroundSimulator,
) -> None:
    client = Client(endpoint=mx_simulator.endpoint, plaintext=True)
    await client.register("keep me")
    session_id = client.session_id
    gateway = await client.gateway()
    await client.detach()
    assert client.closed
    assert gateway.closed
    assert mx_simulator.simulator.session_ids() == [session_id]

    never_opened = Client(endpoint=mx_simulator.endpoint, plaintext=True)
    await never_opened.detach()  # nothing to leave behind
    assert never_opened.closed


def _async_closeables() -> list[type]:
    import inspect

    import mxgateway
    from mxgateway.simulator import Simulator
    from mxgateway.simulator.faultproxy import FaultProxy

    exported = [getattr(mxgateway, name) for name in mxgateway.__all__]
    classes = [obj for obj in exported if inspect.isclass(obj)] + [Simulator, FaultProxy]
    return [
        cls
        for cls in classes
        if inspect.iscoroutinefunction(getattr(cls, "close", None))
        or inspect.iscoroutinefunction(getattr(cls, "aclose", None))
    ]


def test_every_async_closeable_has_aclose() -> None:
    import inspect

    closeables = _async_closeables()
    names = {cls.__name__ for cls in closeables}
    assert {
        "GatewayClient",
        "GalaxyRepositoryClient",
        "Client",
        "Session",
        "Simulator",
        "FaultProxy",
    } <= names
    missing = [
        cls.__name__ for cls in closeables if not inspect.iscoroutinefunction(getattr(cls, "aclose", None))
    ]
    assert missing == []


@pytest.mark.anyio
async def test_aclose_closes_a_gateway_client_and_its_sessions(mx_simulator: BackgroundSimulator) -> None:
    client = await GatewayClient.connect(mx_simulator.endpoint, plaintext=True)
    session = await client.open_session("s")
    assert session.session_id in mx_simulator.simulator.session_ids()
    await client.aclose()
    assert client.closed
    assert session.closed
    assert await _eventually(lambda: session.session_id not in mx_simulator.simulator.session_ids())
