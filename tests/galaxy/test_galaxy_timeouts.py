"""Every Galaxy Repository call takes the call's deadline, like the gateway client's calls."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from mxgateway import USE_CLIENT_DEFAULT, MxGatewayArgumentError, MxGatewayTimeoutError
from mxgateway.galaxy import GalaxyRepositoryClient
from mxgateway.simulator.server import Simulator

pytestmark = pytest.mark.anyio

#: Each unary call of the simulator takes this long: longer than the short deadline.
LATENCY_S = 0.3
SHORT_S = 0.05


@pytest.fixture
async def slow(anyio_backend: object) -> AsyncIterator[tuple[Simulator, GalaxyRepositoryClient]]:
    async with (
        Simulator(update_rate_hz=0) as sim,
        GalaxyRepositoryClient.connect(sim.endpoint, plaintext=True, default_timeout=10.0) as client,
    ):
        yield sim, client


Call = Callable[[GalaxyRepositoryClient, Any], Awaitable[object]]


async def _walk(client: GalaxyRepositoryClient, timeout: Any) -> object:
    return [obj async for obj in client.iter_hierarchy(timeout=timeout)]


async def _expand(client: GalaxyRepositoryClient, timeout: Any) -> object:
    (root, *_) = await client.browse(timeout=None)
    return await root.expand(timeout=timeout)


CALLS: dict[str, Call] = {
    "test_connection": lambda c, t: c.test_connection(timeout=t),
    "test_connection_raw": lambda c, t: c.test_connection_raw(timeout=t),
    "get_last_deploy_time": lambda c, t: c.get_last_deploy_time(timeout=t),
    "iter_hierarchy": _walk,
    "discover_hierarchy": lambda c, t: c.discover_hierarchy(timeout=t),
    "browse_children": lambda c, t: c.browse_children(timeout=t),
    "browse": lambda c, t: c.browse(timeout=t),
    "expand": _expand,
    "find_objects": lambda c, t: c.find_objects("Tank_*", timeout=t),
    "find_attributes": lambda c, t: c.find_attributes("Tank_*.*", timeout=t),
}


@pytest.mark.parametrize("name", sorted(CALLS))
async def test_a_call_past_its_deadline_raises_the_timeout_error(
    slow: tuple[Simulator, GalaxyRepositoryClient], name: str
) -> None:
    sim, client = slow
    call = CALLS[name]
    if name == "expand":  # the root comes before the injected latency
        (root, *_) = await client.browse()
        sim.faults.latency_s = LATENCY_S
        with pytest.raises(MxGatewayTimeoutError):
            await root.expand(timeout=SHORT_S)
        return
    sim.faults.latency_s = LATENCY_S
    with pytest.raises(MxGatewayTimeoutError):
        await call(client, SHORT_S)


@pytest.mark.parametrize("timeout", [None, USE_CLIENT_DEFAULT, 5.0])
async def test_a_call_within_its_deadline_answers(
    slow: tuple[Simulator, GalaxyRepositoryClient], timeout: Any
) -> None:
    sim, client = slow
    sim.faults.latency_s = LATENCY_S
    assert await client.test_connection(timeout=timeout) is True


async def test_the_call_deadline_overrides_the_client_default(anyio_backend: object) -> None:
    async with (
        Simulator(update_rate_hz=0) as sim,
        GalaxyRepositoryClient.connect(sim.endpoint, plaintext=True, default_timeout=SHORT_S) as client,
    ):
        sim.faults.latency_s = LATENCY_S
        with pytest.raises(MxGatewayTimeoutError):
            await client.test_connection()
        assert await client.test_connection(timeout=5.0) is True
        assert await client.test_connection(timeout=None) is True


async def test_a_walk_deadline_is_per_page_request(slow: tuple[Simulator, GalaxyRepositoryClient]) -> None:
    _, client = slow
    deadline = 2.0
    iterator = client.iter_hierarchy(page_size=1, timeout=deadline)
    first = await iterator.__anext__()
    assert iterator.pages_requested == 1
    # The walk is older than its deadline before it asks for the next page (a page is
    # asked for only when needed): each page still gets the whole deadline of its own.
    await asyncio.sleep(deadline * 1.25)
    rest = [obj async for obj in iterator]
    assert rest
    assert iterator.pages_requested == 1 + len(rest)
    assert first.gobject_id not in {obj.gobject_id for obj in rest}


async def test_an_export_deadline_is_per_request(
    slow: tuple[Simulator, GalaxyRepositoryClient], tmp_path: Path
) -> None:
    sim, client = slow
    sim.faults.latency_s = LATENCY_S
    with pytest.raises(MxGatewayTimeoutError):
        await client.export_galaxy_file(tmp_path / "short.json", timeout=SHORT_S)
    assert not (tmp_path / "short.json").exists()
    count = await client.export_galaxy_file(tmp_path / "whole.json", page_size=50, timeout=LATENCY_S * 3)
    assert count > 0


@pytest.mark.parametrize("bad", [-1.0, 0, math.nan, math.inf, -math.inf, "5", True])
@pytest.mark.parametrize("name", sorted(CALLS))
async def test_a_bad_deadline_is_refused_before_anything_is_sent(
    slow: tuple[Simulator, GalaxyRepositoryClient], name: str, bad: Any
) -> None:
    sim, client = slow
    before = sum(sim.stats.unary_calls.values())
    if name == "expand":
        (root, *_) = await client.browse()
        before = sum(sim.stats.unary_calls.values())
        with pytest.raises(MxGatewayArgumentError, match="timeout"):
            await root.expand(timeout=bad)
    else:
        with pytest.raises(MxGatewayArgumentError, match="timeout"):
            await CALLS[name](client, bad)
    assert sum(sim.stats.unary_calls.values()) == before


async def test_export_refuses_a_bad_deadline(
    slow: tuple[Simulator, GalaxyRepositoryClient], tmp_path: Path
) -> None:
    _, client = slow
    with pytest.raises(MxGatewayArgumentError, match="timeout"):
        await client.export_galaxy_file(tmp_path / "x.json", timeout=math.nan)
