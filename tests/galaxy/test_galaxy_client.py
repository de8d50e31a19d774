"""The client itself: connecting, the unary RPCs, closing, sharing a channel, API keys and scopes."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import grpc
import pytest

from mxgateway import Connector, GatewayClient
from mxgateway.errors import (
    MxGatewayAuthenticationError,
    MxGatewayClosedError,
    MxGatewayPermissionError,
    MxGatewayUnavailableError,
)
from mxgateway.galaxy import GalaxyRepositoryClient
from mxgateway.options import ClientOptions
from mxgateway.simulator.demo_plant import DEMO_DEPLOY_TIME
from mxgateway.simulator.server import Simulator

from .support import WALK_ORDER, Repo

pytestmark = pytest.mark.anyio

READER_KEY = "mxgw_reader_0123456789abcdef"
NO_METADATA_KEY = "mxgw_sessions_fedcba9876543210"
KEYS = {READER_KEY: ["metadata:read"], NO_METADATA_KEY: ["session:open", "invoke:read", "events:read"]}


@pytest.fixture
async def secured(anyio_backend: object) -> AsyncIterator[Simulator]:
    async with Simulator(api_keys=KEYS, update_rate_hz=0) as sim:
        yield sim


async def test_test_connection_reports_the_database(repo: Repo) -> None:
    assert await repo.client.test_connection() is True
    repo.service.set_available(False, "SQL Server refused the connection")
    assert await repo.client.test_connection() is False
    reply = await repo.client.test_connection_raw()
    assert (reply.ok, reply.message) == (False, "SQL Server refused the connection")
    # The other RPCs fail while the database is down (after the read retries).
    with pytest.raises(MxGatewayUnavailableError, match="SQL Server refused"):
        await repo.client.get_last_deploy_time()
    repo.service.set_available(True)
    assert await repo.client.test_connection() is True


async def test_the_last_deploy_time_is_aware_utc(repo: Repo) -> None:
    deployed = await repo.client.get_last_deploy_time()
    assert deployed == DEMO_DEPLOY_TIME
    assert deployed is not None
    assert deployed.tzinfo is dt.timezone.utc
    await repo.service.deploy()
    later = await repo.client.get_last_deploy_time()
    assert later is not None
    assert later > deployed


async def test_connect_is_awaitable_and_an_async_context_manager(repo: Repo) -> None:
    connector = GalaxyRepositoryClient.connect(repo.endpoint, plaintext=True)
    assert isinstance(connector, Connector)
    client = await connector
    try:
        assert client.options.endpoint == repo.endpoint
        assert client.options.plaintext is True
        assert await client.test_connection()
    finally:
        await client.close()
    async with GalaxyRepositoryClient.connect(
        options=ClientOptions(endpoint=repo.endpoint, plaintext=True), default_timeout=2.5
    ) as other:
        assert other.options.default_timeout == 2.5
        assert await other.get_last_deploy_time() == DEMO_DEPLOY_TIME
    assert other.closed


async def test_close_is_idempotent_and_final(repo: Repo) -> None:
    client = await GalaxyRepositoryClient.connect(repo.endpoint, plaintext=True)
    await client.close()
    await client.close()
    assert client.closed
    assert "closed" in repr(client)
    with pytest.raises(MxGatewayClosedError):
        await client.test_connection()
    with pytest.raises(MxGatewayClosedError):
        client.iter_hierarchy()
    with pytest.raises(MxGatewayClosedError):
        await client.browse()


async def test_sharing_the_channel_of_a_gateway_client() -> None:
    async with (
        Simulator(update_rate_hz=0) as sim,
        GatewayClient.connect(sim.endpoint, plaintext=True) as gateway,
    ):
        galaxy = GalaxyRepositoryClient(gateway.options, channel=gateway.channel)
        assert galaxy.channel is gateway.channel
        objects = await galaxy.discover_hierarchy(root_tag_name="WaterPlant", max_depth=0)
        assert [o.tag_name for o in objects] == ["WaterPlant"]
        await galaxy.close()
        # The shared channel stays open for its owner.
        session = await gateway.open_session("after-galaxy-close")
        await session.close()
        assert gateway.channel.get_state() is not grpc.ChannelConnectivity.SHUTDOWN


async def test_a_key_with_metadata_read_browses(secured: Simulator) -> None:
    async with GalaxyRepositoryClient.connect(secured.endpoint, plaintext=True, api_key=READER_KEY) as client:
        assert await client.test_connection()
        assert len(await client.discover_hierarchy()) == len(secured.galaxy.objects)
        async with client.watch_deploy_events() as stream:
            assert (await stream.__anext__()).sequence == 1
        assert READER_KEY not in repr(client)


async def test_a_key_without_metadata_read_gets_a_permission_error_naming_the_scope(
    secured: Simulator,
) -> None:
    async with GalaxyRepositoryClient.connect(
        secured.endpoint, plaintext=True, api_key=NO_METADATA_KEY
    ) as client:
        failures = []
        for attempt in (
            client.test_connection(),
            client.get_last_deploy_time(),
            client.discover_hierarchy(),
            client.browse(),
            client.watch_deploy_events().__anext__(),
        ):
            with pytest.raises(MxGatewayPermissionError) as caught:
                await attempt
            failures.append(caught.value)
    assert [f.method for f in failures] == [
        "TestConnection",
        "GetLastDeployTime",
        "DiscoverHierarchy",
        "BrowseChildren",
        "WatchDeployEvents",
    ]
    for failure in failures:
        assert failure.scope == "metadata:read"
        assert "metadata:read" in str(failure)
        assert NO_METADATA_KEY not in str(failure)
        assert NO_METADATA_KEY not in repr(failure)


async def test_no_key_is_an_authentication_error(secured: Simulator) -> None:
    async with GalaxyRepositoryClient.connect(secured.endpoint, plaintext=True, api_key="") as client:
        with pytest.raises(MxGatewayAuthenticationError, match="missing or invalid API key"):
            await client.discover_hierarchy()


async def test_iterating_the_demo_galaxy_of_a_full_simulator(secured: Simulator) -> None:
    async with GalaxyRepositoryClient.connect(secured.endpoint, plaintext=True, api_key=READER_KEY) as client:
        walked = [o.gobject_id async for o in client.iter_hierarchy(page_size=5)]
    expected = [o.gobject_id for o, _ in secured.galaxy.walk()]
    assert walked == expected
    assert len(walked) > 5  # more than one page


def test_walk_order_constant_matches_the_plant() -> None:
    from .support import plant_galaxy

    assert [o.gobject_id for o, _ in plant_galaxy().walk()] == WALK_ORDER
