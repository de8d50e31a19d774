"""Jupyter's HTML for a single Galaxy object, its attributes and the client itself."""

from __future__ import annotations

from mxgateway import Client
from mxgateway.simulator.server import Simulator

SECRET = "mxgw_html_Key_9hT2"


async def test_a_galaxy_object_and_its_attributes_are_tables(anyio_backend: object) -> None:
    async with Simulator(update_rate_hz=0) as sim, Client(endpoint=sim.endpoint) as client:
        galaxy = await client.galaxy()
        (tank,) = await galaxy.discover_hierarchy(tag_name_glob="Tank_001")
    html = tank._repr_html_()
    assert html.startswith("<p><b>Tank_001</b> (GalaxyObject)</p>")
    assert "<th>tag</th>" in html
    assert "Tank_001.Level" in html
    attributes = tank.attributes._repr_html_()  # type: ignore[attr-defined]
    assert attributes.count("<tr>") == len(tank.attributes) + 1
    assert isinstance(tank.attributes, tuple)
    assert tank.attributes == tuple(tank.attributes)


async def test_the_client_shows_endpoint_state_and_session_never_the_key(anyio_backend: object) -> None:
    async with Simulator(update_rate_hz=0, api_keys={SECRET: ["admin"]}) as sim:
        client = Client(endpoint=sim.endpoint, api_key=SECRET)
        before = client._repr_html_()
        assert "not connected yet" in before
        assert sim.endpoint in before
        await client.read(["Tank_001.Level"])
        opened = client._repr_html_()
        assert client.session_id in opened
        assert "open, event stream" in opened
        await client.close()
        closed = client._repr_html_()
        assert "<td>closed</td>" in closed
        for html in (before, opened, closed):
            assert SECRET.lower() not in html.lower()
