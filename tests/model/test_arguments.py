"""Every public method checks its arguments before anything is sent: a typed error naming the argument.

The session here is attached to a closed loopback port, so any call that reached
the network would fail as unavailable instead: an ``MxGatewayArgumentError`` proves
the argument was refused first.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
import math
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mxgateway import (
    Client,
    GalaxyRepositoryClient,
    GatewayClient,
    MxGatewayArgumentError,
    MxGatewayError,
    Session,
    WriteEntry,
)
from mxgateway._model.checks import RULES
from mxgateway.generated import mxaccess_gateway_pb2 as pb
from tests.loopback import closed_port

VALID: dict[str, Any] = {
    "server_handle": 1,
    "item_handle": 1,
    "item_handles": [1],
    "client_name": "client",
    "item_context": "",
    "user_name": "operator",
    "password": "operator",
    "tags": ["Tank_001.Level"],
    "tag": "Tank_001.Level",
    "value": 1.5,
    "timestamp": dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc),
    "entries": [WriteEntry(1, 1.5)],
    "command": pb.MxCommand(kind=pb.MX_COMMAND_KIND_REGISTER),
    "current_user_id": 1,
    "session_id": "session-under-test",
    "request": pb.MxCommandRequest(session_id="session-under-test"),
    "reference": "Galaxy!Area.Tank_001.Level.Hi",
    "glob": "Tank_*",
    "path": "galaxy-export.json",
}

not_int = st.one_of(st.none(), st.text(max_size=3), st.floats(allow_nan=True), st.booleans(), st.just([1]))
BAD: dict[str, st.SearchStrategy[Any]] = {
    "handle": st.one_of(not_int, st.integers(max_value=-1), st.integers(min_value=2**31)),
    "user_id": st.one_of(not_int, st.integers(max_value=-1), st.integers(min_value=2**31)),
    "count32": st.one_of(not_int, st.integers(max_value=-1), st.integers(min_value=2**31)),
    "sequence64": st.one_of(not_int, st.integers(max_value=-1), st.integers(min_value=2**64)),
    "text": st.one_of(st.none(), st.integers(), st.binary(max_size=3), st.just("\ud800")),
    "nonempty_text": st.one_of(st.none(), st.integers(), st.just("")),
    "tag": st.one_of(st.none(), st.integers(), st.just(""), st.just("   "), st.just(b"Tank_001.Level")),
    "tags": st.one_of(st.none(), st.integers(), st.just([]), st.just([""]), st.just([None]), st.just(b"x")),
    "handles": st.one_of(st.none(), st.just("1"), st.just([-1]), st.just([2**31]), st.just([None])),
    "check_timeout": st.one_of(
        st.just(math.nan),
        st.just(math.inf),
        st.floats(max_value=0),
        st.just("5"),
        st.just(True),
        # Past a year: gRPC would turn them into an immediate DEADLINE_EXCEEDED.
        st.sampled_from([2**63, 2**64, 10**400, 1e20]),
        st.integers(min_value=365 * 24 * 3600 + 1),
    ),
    "seconds_or_none": st.one_of(
        st.just(math.nan),
        st.just(math.inf),
        st.floats(max_value=-1e-9),
        st.just("5"),
        st.just(True),
        st.sampled_from([2**63, 2**64, 10**400]),
    ),
    "wait_seconds": st.one_of(
        st.just(math.nan),
        st.floats(max_value=-1e-9),
        st.just("5"),
        # More than the gateway's int32 of milliseconds holds.
        st.sampled_from([2**31, 2**63, 2**64, 1e20]),
    ),
    "write_value": st.one_of(
        st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
        st.builds(object),
        st.sampled_from(["\ud800", "a\udfffb", math.nan, math.inf, -math.inf, 10**400]),
        st.sampled_from([[None], [1, None], [[1]], [1, "a"], [math.nan], ["\ud800"], {1}, frozenset()]),
        st.sampled_from([dt.datetime(2024, 1, 1), dt.timedelta.max, dt.date(2024, 1, 1)]),
    ),
    "label": st.one_of(
        st.none(),
        st.integers(),
        st.binary(max_size=3),
        st.just({}),
        st.just(math.nan),
        st.sampled_from(["", "  ", "\ud800", "n" * 1025]),
    ),
    "filter_text": st.one_of(st.none(), st.integers(), st.just("\ud800"), st.just("x" * 10_000)),
    "optional_filter_text": st.one_of(st.integers(), st.just("\ud800"), st.just("x" * 10_000)),
    "filter_texts": st.one_of(
        st.none(), st.integers(), st.just([None]), st.just(["x" * 1025]), st.just(["x"] * 1001)
    ),
    "filter_ids": st.one_of(
        st.none(), st.just("1"), st.just([-1]), st.just([None]), st.just(list(range(1001)))
    ),
    "boolean": st.one_of(st.none(), st.integers(), st.just("yes")),
    "optional_boolean": st.one_of(st.integers(), st.just("yes")),
    "entries": st.one_of(st.none(), st.just("x"), st.just([None]), st.just([WriteEntry(-1, 1.0)])),
    "timestamp": st.one_of(st.none(), st.integers(), st.just("2024-01-01")),
    "optional_data_type": st.one_of(st.just("DOUBLE"), st.just(-1), st.just(1.5), st.just(256)),
    "command": st.one_of(st.none(), st.just("register"), st.just(pb.MxCommandRequest())),
    "command_request": st.one_of(st.none(), st.just("invoke"), st.just(pb.MxCommand())),
    "optional_count32": st.one_of(
        st.text(max_size=3),
        st.floats(allow_nan=True),
        st.booleans(),
        st.integers(max_value=-1),
        st.integers(min_value=2**31),
    ),
    "positive32": st.one_of(not_int, st.integers(max_value=0), st.integers(min_value=2**31)),
    "optional_positive": st.one_of(
        st.text(max_size=3), st.floats(allow_nan=True), st.booleans(), st.integers(max_value=0)
    ),
    "positive_seconds": st.one_of(
        st.none(), st.just(math.nan), st.just(math.inf), st.floats(max_value=0), st.just("5"), st.just(True)
    ),
    "file_path": st.one_of(
        st.none(),
        st.integers(),
        st.just(""),
        st.just("   "),
        st.just("a\0b.json"),
        st.just("x" * 10_000),
        st.binary(max_size=3),
    ),
    "optional_callable": st.one_of(st.integers(), st.just("print")),
    "optional_timestamp": st.one_of(st.integers(), st.just("2024-01-01"), st.just(dt.date(2024, 1, 1))),
}


def public_methods(cls: type = Session) -> Iterator[tuple[str, Callable[..., Any], list[inspect.Parameter]]]:
    for name, member in inspect.getmembers(cls):
        if name.startswith("_") or not callable(member):
            continue
        parameters = list(inspect.signature(member).parameters.values())[1:]
        checked = [p for p in parameters if p.name in RULES]
        if checked:
            yield name, member, parameters


CASES = [
    (owner.__name__, name, parameter.name)
    for owner in (Session, GatewayClient, Client, GalaxyRepositoryClient)
    for name, _, parameters in public_methods(owner)
    for parameter in parameters
    if parameter.name in RULES
]


def test_every_public_method_has_its_arguments_checked() -> None:
    methods = {name for _, name, _ in CASES}
    expected = ("register", "add_item", "advise", "write", "write_bulk", "read", "subscribe", "events")
    for name in (*expected, "attach_session", "open_session", "stream_events_raw", "acknowledge_alarm"):
        assert name in methods
    galaxy = {m for owner, m, _ in CASES if owner == "GalaxyRepositoryClient"}
    assert {"iter_hierarchy", "browse_children", "export_galaxy_file", "watch_deploy_events"} <= galaxy
    lazy = {m for owner, m, _ in CASES if owner == "Client"}
    assert {"read", "write_and_confirm", "alarm_feed", "stream_alarms", "acknowledge_alarm"} <= lazy


def test_no_public_parameter_is_left_unchecked() -> None:
    # Every parameter of these classes' public methods has a rule, except a few with a type of their own.
    free = {"options", "channel", "filter", "recover_sessions"}
    unchecked = sorted(
        f"{owner.__name__}.{name}({parameter.name})"
        for owner in (Session, GatewayClient, Client, GalaxyRepositoryClient)
        for name, member in inspect.getmembers(owner)
        if not name.startswith("_") and callable(member) and not inspect.isclass(member)
        for parameter in _parameters(member)
        if parameter.name not in RULES
        and parameter.name not in free
        and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
    )
    assert unchecked == []


def _parameters(member: Callable[..., Any]) -> list[inspect.Parameter]:
    try:
        return list(inspect.signature(member).parameters.values())[1:]
    except (TypeError, ValueError):
        return []


def arguments(
    parameters: list[inspect.Parameter], bad_name: str, bad_value: Any
) -> tuple[list[Any], dict[str, Any]]:
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    skipped = False  # after a parameter left to its default, the next ones go by name
    for parameter in parameters:
        if parameter.name == bad_name:
            value = bad_value
        elif parameter.default is not parameter.empty:
            skipped = True
            continue
        else:
            value = VALID[parameter.name]
        if parameter.kind is parameter.KEYWORD_ONLY or skipped:
            kwargs[parameter.name] = value
        else:
            args.append(value)
    return args, kwargs


@pytest.mark.parametrize(("owner", "method", "argument"), CASES, ids=[f"{o}.{m}-{a}" for o, m, a in CASES])
def test_a_bad_argument_is_refused_by_name(owner: str, method: str, argument: str) -> None:
    rule = RULES[argument].__name__
    strategy = BAD[rule]
    loop = asyncio.new_event_loop()

    async def open_session() -> tuple[Any, Any]:
        endpoint = f"127.0.0.1:{closed_port()}"
        if owner == "GalaxyRepositoryClient":
            galaxy = await GalaxyRepositoryClient.connect(endpoint, default_timeout=2.0)
            return galaxy, galaxy
        if owner == "Client":
            lazy = Client(endpoint=endpoint, default_timeout=2.0)
            return lazy, lazy
        client = await GatewayClient.connect(endpoint, default_timeout=2.0)
        return client, client.attach_session("session-under-test") if owner == "Session" else client

    client, target = loop.run_until_complete(open_session())
    parameters = list(inspect.signature(getattr(type(target), method)).parameters.values())[1:]

    @settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(bad=strategy)
    def check(bad: Any) -> None:
        args, kwargs = arguments(parameters, argument, bad)

        async def call() -> object:
            result = getattr(target, method)(*args, **kwargs)
            return await result if inspect.isawaitable(result) else result

        with pytest.raises(MxGatewayError) as info:
            loop.run_until_complete(asyncio.wait_for(call(), 5))
        assert type(info.value) is MxGatewayArgumentError, info.value
        assert info.value.argument.split("[")[0] == argument
        assert argument in str(info.value)
        assert isinstance(info.value, TypeError)
        assert isinstance(info.value, ValueError)

    try:
        check()
    finally:
        loop.run_until_complete(client.close())
        loop.close()
