"""Bad input, fuzzed against a live simulator: a typed argument error naming the argument, and nothing lost.

Each example makes one call of the public API (through the blocking facade, which
passes the core's errors through unchanged) with one bad argument: a write value
MXAccess cannot hold, a timeout or wait past what gRPC or the gateway can carry,
a Galaxy file name or path no export can use, a Galaxy filter far past any name.
Every outcome must be ``MxGatewayArgumentError`` (also a ``TypeError`` and a
``ValueError``) naming the argument and saying what is wrong; after it, the same
clients still read, confirm a write at once (no outcome place was left behind) and
browse the Galaxy.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mxgateway_sync
from mxgateway import MxGatewayArgumentError, WriteComplete
from mxgateway.generated import mxaccess_gateway_pb2 as pb
from mxgateway.simulator.server import Simulator

INTEGER_TAG = "Tank_001.Volume"  # an INTEGER attribute: 2**63 and text do not fit it
UTC = dt.timezone.utc

#: Values no attribute can take, or no INTEGER attribute.
BAD_VALUES = st.one_of(
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.builds(object),
    st.sampled_from(
        [
            "\ud800",
            "text\udfff",
            2**63,
            2**64,
            -(2**63) - 1,
            10**400,
            math.nan,
            math.inf,
            -math.inf,
            [None],
            [1, None],
            [[1]],
            [[1, 2], [3]],
            [1, "a"],
            [math.nan],
            ["\ud800"],
            {1, 2},
            "a string for a number",
            dt.datetime(2024, 1, 1),  # naive
            dt.datetime(1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=5))),  # before year 1 in UTC
            dt.timedelta.max,
            dt.date(2024, 1, 1),
            1.5j,
        ]
    ),
    st.floats(allow_nan=False, allow_infinity=False),  # a float for an INTEGER attribute
    st.integers(min_value=2**31),  # past INTEGER's int32
)
#: Deadlines past a year (gRPC would expire them at once), and ones that are no deadline at all.
BAD_TIMEOUTS = st.one_of(
    st.sampled_from([2**63, 2**64, 10**400, 1e20, math.nan, math.inf, -1, 0, "5", True]),
    st.integers(min_value=365 * 24 * 3600 + 1),
)
#: Waits past the gateway's int32 of milliseconds.
BAD_WAITS = st.one_of(
    st.sampled_from([2**31, 2**63, 2**64, 1e20, math.nan, -1.0]), st.integers(min_value=2**31)
)
BAD_FILE_NAMES = st.sampled_from([None, {}, math.nan, "\ud800", b"galaxy", "", "   ", "n" * 1025, 7])
BAD_FILTER_TEXTS = st.one_of(
    st.text(min_size=1025, max_size=1100), st.sampled_from(["x" * 10_000, "\ud800", 5, b"Tank_*"])
)


@dataclass(frozen=True)
class Call:
    """One way to call the API with a bad ``argument``."""

    label: str
    argument: str
    bad: st.SearchStrategy[Any]
    run: Callable[[Any, Any], object]


@dataclass
class Clients:
    """The clients under test, and what the handle-level calls need."""

    client: Any
    galaxy: Any
    server: int
    item: int
    user: int
    folder: Path
    writes: int = 0


def _now() -> dt.datetime:
    return dt.datetime.now(UTC)


INTEGER = pb.MX_DATA_TYPE_INTEGER

CALLS = [
    Call("write", "value", BAD_VALUES, lambda c, v: c.client.write(c.server, c.item, v, data_type=INTEGER)),
    Call(
        "write2",
        "value",
        BAD_VALUES,
        lambda c, v: c.client.write2(c.server, c.item, v, _now(), data_type=INTEGER),
    ),
    Call(
        "write_secured",
        "value",
        BAD_VALUES,
        lambda c, v: c.client.write_secured(c.server, c.item, v, current_user_id=c.user, data_type=INTEGER),
    ),
    Call(
        "write_secured2",
        "value",
        BAD_VALUES,
        lambda c, v: c.client.write_secured2(
            c.server, c.item, v, _now(), current_user_id=c.user, data_type=INTEGER
        ),
    ),
    Call("write_tag", "value", BAD_VALUES, lambda c, v: c.client.write_tag(INTEGER_TAG, v)),
    Call("write_and_confirm", "value", BAD_VALUES, lambda c, v: c.client.write_and_confirm(INTEGER_TAG, v)),
    Call(
        "write_and_confirm timeout",
        "timeout",
        BAD_TIMEOUTS,
        lambda c, v: c.client.write_and_confirm(INTEGER_TAG, 1, timeout=v),
    ),
    Call(
        "write_and_confirm outcome_timeout",
        "outcome_timeout",
        st.sampled_from([2**63, 2**64, 1e20, math.nan, math.inf, -1]),
        lambda c, v: c.client.write_and_confirm(INTEGER_TAG, 1, outcome_timeout=v),
    ),
    Call(
        "write timeout", "timeout", BAD_TIMEOUTS, lambda c, v: c.client.write(c.server, c.item, 1, timeout=v)
    ),
    Call("read timeout", "timeout", BAD_TIMEOUTS, lambda c, v: c.client.read(["Tank_001.Level"], timeout=v)),
    Call("read wait", "wait", BAD_WAITS, lambda c, v: c.client.read(["Tank_001.Level"], wait=v)),
    Call(
        "export name",
        "name",
        BAD_FILE_NAMES,
        lambda c, v: c.galaxy.export_galaxy_file(c.folder / "plant.json", name=v),
    ),
    Call(
        "export path",
        "path",
        st.sampled_from(
            ["", "  ", "a\0b.json", "x" * 10_000, "deep/" * 900 + "plant.json", "{folder}", "{missing}"]
        ),
        lambda c, v: c.galaxy.export_galaxy_file(
            str(v).format(folder=c.folder, missing=c.folder / "missing" / "plant.json")
        ),
    ),
    Call(
        "export timeout",
        "timeout",
        BAD_TIMEOUTS,
        lambda c, v: c.galaxy.export_galaxy_file(c.folder / "plant.json", timeout=v),
    ),
    Call(
        "hierarchy glob",
        "tag_name_glob",
        BAD_FILTER_TEXTS,
        lambda c, v: c.galaxy.discover_hierarchy(tag_name_glob=v),
    ),
    Call(
        "hierarchy root",
        "root_tag_name",
        BAD_FILTER_TEXTS,
        lambda c, v: c.galaxy.discover_hierarchy(root_tag_name=v),
    ),
    Call(
        "hierarchy path",
        "root_contained_path",
        BAD_FILTER_TEXTS,
        lambda c, v: c.galaxy.discover_hierarchy(root_contained_path=v),
    ),
    Call(
        "hierarchy templates",
        "template_chain_contains",
        BAD_FILTER_TEXTS.map(lambda v: [v]),
        lambda c, v: c.galaxy.discover_hierarchy(template_chain_contains=v),
    ),
    Call(
        "browse parent",
        "parent_tag_name",
        BAD_FILTER_TEXTS,
        lambda c, v: c.galaxy.browse_children(parent_tag_name=v),
    ),
]


@pytest.fixture(scope="module")
def clients(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clients]:
    folder = tmp_path_factory.mktemp("exports")
    # Relative paths ("  ") resolve in here: a refusal that failed must not write into the checkout.
    previous = Path.cwd()
    os.chdir(folder)
    with contextlib.ExitStack() as stack:
        stack.callback(os.chdir, previous)
        background = stack.enter_context(Simulator.start_in_background(update_rate_hz=0))
        client = mxgateway_sync.Client(endpoint=background.endpoint)
        galaxy = mxgateway_sync.GalaxyRepositoryClient.connect(background.endpoint)
        try:
            server = client.register("bad-input")
            item = client.add_item(server, INTEGER_TAG)
            user = client.authenticate_user(server, "operator", "operator")
            yield Clients(client, galaxy, server, item, user, folder)
        finally:
            galaxy.close()
            client.close()


def _still_works(clients: Clients) -> None:
    clients.writes += 1
    outcome = clients.client.write_and_confirm(INTEGER_TAG, clients.writes, outcome_timeout=5)
    assert isinstance(outcome, WriteComplete)
    assert outcome.ok
    (level,) = clients.client.read(["Tank_001.Level"])
    assert level.ok
    assert [o.tag_name for o in clients.galaxy.discover_hierarchy(tag_name_glob="Tank_001")] == ["Tank_001"]
    assert not any(clients.folder.iterdir()), "an export that was refused left a file"


@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_every_bad_argument_is_a_typed_error_naming_it_and_loses_nothing(
    clients: Clients, data: st.DataObject
) -> None:
    call = data.draw(st.sampled_from(CALLS), label="call")
    bad = data.draw(call.bad, label=call.argument)
    with pytest.raises(MxGatewayArgumentError) as info:
        call.run(clients, bad)
    error = info.value
    # The argument itself, or an item of it ("template_chain_contains[0]").
    assert error.argument.split("[")[0] == call.argument, (call.label, error)
    message = str(error)
    assert message.startswith(error.argument + " "), (call.label, message)
    assert len(message) > len(error.argument) + 10, message  # and says what is wrong
    assert isinstance(error, TypeError)
    assert isinstance(error, ValueError)
    assert error.__cause__ is None  # nothing of a failed call behind it: it was refused before sending
    _still_works(clients)


def test_the_fuzz_reaches_every_call() -> None:
    # Every write of the public API and every bounded argument has its case.
    labels = {call.label.split()[0] for call in CALLS}
    assert {"write", "write2", "write_secured", "write_secured2", "write_tag", "write_and_confirm"} <= labels
    assert {call.argument for call in CALLS} >= {
        "value",
        "timeout",
        "outcome_timeout",
        "wait",
        "name",
        "path",
    }
