"""The ``simulator`` endpoint name: an embedded gateway owned by the client that started it."""

from __future__ import annotations

import pytest

from mxgateway import Client, GalaxyRepositoryClient, GatewayClient, MxGatewayUnavailableError
from mxgateway._transport import endpoints
from mxgateway._transport.endpoints import embedded_gateway_name


def test_only_registered_names_are_embedded() -> None:
    assert embedded_gateway_name("simulator") == ("simulator", "")
    assert embedded_gateway_name("simulator:plant.json") == ("simulator", "plant.json")
    assert embedded_gateway_name("simulator:5000") is None  # a host called "simulator"
    assert embedded_gateway_name("localhost:5000") is None
    assert embedded_gateway_name("dns:///simulator:5000") is None


def test_an_address_never_scans_the_installed_entry_points(monkeypatch: pytest.MonkeyPatch) -> None:
    def scan() -> dict[str, object]:
        raise AssertionError("entry points scanned for an address")

    monkeypatch.setattr(endpoints, "_providers", scan)
    assert embedded_gateway_name("localhost:5000") is None
    assert embedded_gateway_name("gateway.plant.example:5001") is None
    assert embedded_gateway_name("[::1]:5000") is None
    assert embedded_gateway_name("simulator:5000") is None


@pytest.mark.anyio
async def test_gateway_client_connects_to_an_embedded_simulator_and_stops_it() -> None:
    async with GatewayClient.connect("simulator", ca_file="ignored.pem") as client:
        endpoint = client.options.endpoint
        assert endpoint.startswith("127.0.0.1:")
        assert client.options.plaintext
        session = await client.open_session("embedded")
        assert session.backend_name == "simulator"
    # The simulator went away with its client: a new client cannot reach it.
    async with GatewayClient.connect(endpoint, plaintext=True, default_timeout=1.0) as other:
        with pytest.raises(MxGatewayUnavailableError):
            await other.open_session("gone")


@pytest.mark.anyio
async def test_galaxy_client_and_lazy_client_accept_the_name() -> None:
    async with GalaxyRepositoryClient.connect("simulator") as galaxy:
        assert await galaxy.test_connection() is True
        assert len(await galaxy.discover_hierarchy(tag_name_glob="Pump_*")) == 2
    async with Client(endpoint="simulator") as client:
        assert "not connected yet" in repr(client)
        results = await client.read(["Tank_001.Name"])
        assert results[0].value == "Raw water tank 1"
        assert (await client.gateway()).options.endpoint.startswith("127.0.0.1:")
