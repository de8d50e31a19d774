"""Typed Galaxy results, the DataType enum, compact reprs and notebook displays, over real gRPC."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from collections.abc import AsyncIterator

import pytest

from mxgateway import Client, DataType, GalaxyAttribute, GalaxyObject, ResultList
from mxgateway._model.display import format_time, format_value, result_line
from mxgateway.generated import galaxy_repository_pb2 as gr
from mxgateway.generated import mxaccess_gateway_pb2 as pb
from mxgateway.simulator.server import Simulator

pytestmark = pytest.mark.anyio


@pytest.fixture
async def client(anyio_backend: object) -> AsyncIterator[Client]:
    async with Simulator(update_rate_hz=0) as sim, Client(sim.endpoint, default_timeout=5.0) as opened:
        yield opened


async def test_hierarchy_objects_are_immutable_views_with_names(client: Client) -> None:
    galaxy = await client.galaxy()
    objects = await galaxy.discover_hierarchy(tag_name_glob="Tank_001")
    assert isinstance(objects, ResultList)
    (tank,) = objects
    assert isinstance(tank, GalaxyObject)
    assert isinstance(tank.raw, gr.GalaxyObject)
    assert tank.tag_name == "Tank_001"
    assert tank.template == tank.template_chain[0]
    level = tank.attribute("Level")
    assert isinstance(level, GalaxyAttribute)
    assert level.data_type is DataType.DOUBLE
    assert level.mx_data_type == level.raw.mx_data_type == DataType.DOUBLE.native
    assert (
        repr(tank)
        == f"GalaxyObject(Tank_001, id={tank.gobject_id}, {tank.template}, {len(tank.attributes)} attributes)"
    )
    assert repr(level).startswith("GalaxyAttribute(Tank_001.Level: Double")
    assert "historized" in repr(level)
    assert len(repr(tank)) < 80
    with pytest.raises(AttributeError):
        tank.tag_name = "x"  # type: ignore[misc]
    with pytest.raises(KeyError, match="Nope"):
        tank.attribute("Nope")
    assert tank == GalaxyObject(tank.raw)
    assert tank != level
    walked = [o async for o in galaxy.iter_hierarchy(tag_name_glob="Tank_001")]
    assert walked == [tank]


async def test_browse_nodes_and_found_attributes_are_views(client: Client) -> None:
    galaxy = await client.galaxy()
    roots = await galaxy.browse()
    assert isinstance(roots, ResultList)
    assert all(isinstance(n.object, GalaxyObject) for n in roots)
    children = await roots[0].expand()
    assert isinstance(children, ResultList)
    found = await galaxy.find_attributes("Tank_00*.Level")
    assert [a.tag for a in found] == ["Tank_001.Level", "Tank_002.Level"]
    assert {a.data_type for a in found} == {DataType.DOUBLE}


def test_data_type_numberings() -> None:
    assert DataType.of(pb.MX_DATA_TYPE_STRING) is DataType.STRING
    assert DataType.from_native(4) is DataType.DOUBLE
    assert DataType.DOUBLE.native == 4
    assert DataType.of(999) is DataType.UNSPECIFIED
    assert DataType.from_native(-1) is DataType.UNSPECIFIED
    assert str(DataType.BOOLEAN) == "BOOLEAN"
    assert repr(DataType.BOOLEAN) == "DataType.BOOLEAN"
    for member in DataType:  # the names match the contract's enum
        assert pb.MxDataType.Name(int(member)) == f"MX_DATA_TYPE_{member.name}"  # type: ignore[arg-type]


async def test_read_results_are_one_short_line_and_typed(client: Client) -> None:
    results = await client.read(["Tank_001.Level", "Tank_001.Name", "Tank_001.Nope"])
    assert isinstance(results, ResultList)
    level, name, missing = results
    assert level.data_type is DataType.DOUBLE
    stamp = format_time(level.source_timestamp)
    assert repr(level) == f"Tank_001.Level = {level.value!r} (good, {stamp})"
    assert repr(name).startswith(f"Tank_001.Name = {name.value!r} (good")
    assert repr(name).split(" = ")[1].startswith("'")  # strings are quoted
    assert repr(missing).startswith("Tank_001.Nope: failed: ")
    assert all(len(repr(r)) < 100 for r in results)


async def test_data_change_repr_names_sequence_and_tag(client: Client) -> None:
    async with client.subscribe(["Tank_001.Level"]) as changes:
        change = await changes.__anext__()
    assert (
        repr(change)
        == f"#{change.worker_sequence} Tank_001.Level = {change.value!r} (good, {format_time(change.source_timestamp)})"
    )


async def test_html_tables_and_pretty_printing(client: Client) -> None:
    from IPython.lib.pretty import pretty

    results = await client.read(["Tank_001.Level", "Tank_001.Nope"])
    table = results._repr_html_()
    assert table.startswith("<table>")
    assert "<th>tag</th>" in table
    assert "Tank_001.Level" in table
    assert table.count("<tr>") == 3  # header and two rows
    assert pretty(results).splitlines()[0].startswith("[Tank_001.Level = ")
    galaxy = await client.galaxy()
    objects = await galaxy.discover_hierarchy(tag_name_glob="Pump_*")
    html = objects._repr_html_()
    assert "<th>tag_name</th>" in html
    assert "Pump_001" in html
    assert "&lt;" not in html.split("<tbody>")[0]
    assert pretty(objects[0]) == repr(objects[0])


async def test_write_outcome_repr_is_one_line(client: Client) -> None:
    outcome = await client.write_and_confirm("Tank_001.Volume", 1100)
    assert repr(outcome) == f"WriteComplete(#{outcome.worker_sequence} Tank_001.Volume succeeded)"


def test_html_escapes_and_bounds_rows() -> None:
    many = ResultList(range(250))
    html = many._repr_html_()
    assert html.count("<tr>") == 201
    assert "... 50 more" in html
    assert "&lt;b&gt;" in ResultList(["<b>"])._repr_html_()


async def test_to_pandas_has_one_row_per_result(client: Client) -> None:
    frame = (await client.read(["Tank_001.Level", "Tank_001.Volume"])).to_pandas()
    assert list(frame["tag"]) == ["Tank_001.Level", "Tank_001.Volume"]
    assert list(frame.columns) == ["tag", "ok", "value", "quality", "source_timestamp", "error"]


def test_pandas_is_never_imported_by_the_sdk_itself() -> None:
    code = (
        "import sys\n"
        "from mxgateway_sync import Client\n"
        "c = Client(endpoint='simulator')\n"
        "r = c.read(['Tank_001.Level']); repr(r); r._repr_html_()\n"
        "c.galaxy().discover_hierarchy(tag_name_glob='Tank_*')._repr_html_()\n"
        "c.close()\n"
        "print('pandas' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_formatting_helpers() -> None:
    now = dt.datetime(2026, 1, 2, 12, tzinfo=dt.timezone.utc)
    assert format_time(dt.datetime(2026, 1, 2, 8, 5, 56, 123, tzinfo=dt.timezone.utc), now=now) == "08:05:56Z"
    assert (
        format_time(dt.datetime(2025, 1, 2, 8, 5, 56, tzinfo=dt.timezone.utc), now=now)
        == "2025-01-02T08:05:56Z"
    )
    assert "..." in format_value("x" * 200)
    assert len(format_value("x" * 200)) < 70
    assert format_value(b"\x00" * 9) == "<9 bytes>"
    assert format_value(dt.timedelta(seconds=1.5)) == "1.5s"
    assert result_line("T.A", ok=True, value=1) == "T.A = 1"
    assert result_line("T.A", ok=False) == "T.A: failed: no reason given"
