"""One concept, one name: the public API, the blocking facade and the CLI's options spell each thing alike.

``CONCEPTS`` lists each concept's name and the synonyms it must not appear as.
The names checked are the parameters of every public function and method of
``mxgateway.__all__`` and ``mxgateway_sync.__all__``, the fields and properties
of their classes, and every ``mxgw-py`` option (``--alarm-bearing-only`` is
``alarm_bearing_only``).
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
import typer.main

import mxgateway
import mxgateway_sync
from mxgateway.cli.app import app

#: concept: (its one name, the synonyms it must not have)
CONCEPTS: dict[str, tuple[str, frozenset[str]]] = {
    "one tag reference (Tank_001.Level)": (
        "tag",
        frozenset(
            {"tag_address", "tag_reference", "full_tag_reference", "item_definition", "item_name", "tag_ref"}
        ),
    ),
    "a list of tag references": (
        "tags",
        frozenset({"tag_addresses", "tag_references", "item_definitions", "item_names"}),
    ),
    "the outcome of a call or write": (
        "ok",
        frozenset({"success", "succeeded", "successful", "is_ok", "is_success", "was_successful"}),
    ),
    "only objects or attributes that raise alarms": (
        "alarm_bearing_only",
        frozenset({"alarm_only", "alarms_only", "only_alarms", "with_alarms"}),
    ),
    "how many events were lost": ("missed", frozenset({"missed_events", "missed_count", "lost_events"})),
    "replay the events after this worker sequence": (
        "after_worker_sequence",
        frozenset({"after_sequence", "after_seq", "resume_after_sequence"}),
    ),
    "a call's deadline in seconds": ("timeout", frozenset({"deadline", "timeout_s", "timeout_seconds"})),
}

#: (owner, name): why this one keeps a name listed above.
EXCEPTIONS: dict[tuple[str, str], str] = {
    # MXAccess's own MXSTATUS_PROXY.success flag, not an outcome: is_failure is.
    ("MxStatus", "success"): "the raw MXAccess status flag",
    # The CLI's documented short option for the same keyword.
    ("mxgw-py stream-events", "after_sequence"): "mxgw-py stream-events --after-sequence",
}

FORBIDDEN = {synonym: concept for concept, (_, synonyms) in CONCEPTS.items() for synonym in synonyms}


def _parameters(function: object) -> Iterator[str]:
    try:
        signature = inspect.signature(function)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return
    yield from (name for name in signature.parameters if name not in {"self", "cls"})


def _class_names(cls: type) -> Iterator[str]:
    if dataclasses.is_dataclass(cls):
        yield from (f.name for f in dataclasses.fields(cls))
    for klass in reversed(cls.__mro__):
        if not klass.__module__.startswith(("mxgateway.", "mxgateway_sync.")):
            continue
        for name, member in vars(klass).items():
            if name.startswith("_") and name != "__init__":
                continue
            if name != "__init__":
                yield name
            function = member.__func__ if isinstance(member, (classmethod, staticmethod)) else member
            if callable(function):
                yield from _parameters(function)


def _api_names(module: ModuleType) -> Iterator[tuple[str, str]]:
    for export in module.__all__:
        obj = getattr(module, export)
        if inspect.isclass(obj):
            yield from ((export, name) for name in _class_names(obj))
        elif callable(obj):
            yield from ((export, name) for name in _parameters(obj))


def _cli_names() -> Iterator[tuple[str, str]]:
    def walk(command: Any, path: str, parent: Any) -> Iterator[tuple[str, str]]:
        for parameter in command.params:
            for option in getattr(parameter, "opts", []):
                if option.startswith("--"):
                    yield path, option[2:].replace("-", "_")
        if hasattr(command, "list_commands"):  # a group (typer's own click: no isinstance)
            ctx = command.make_context(path, [], parent=parent, resilient_parsing=True)
            for name in command.list_commands(ctx):
                yield from walk(command.get_command(ctx, name), f"{path} {name}", ctx)

    yield from walk(typer.main.get_command(app), "mxgw-py", None)


def _violations(names: Iterator[tuple[str, str]]) -> list[str]:
    found = set()
    for owner, name in names:
        concept = FORBIDDEN.get(name)
        if concept is not None and (owner, name) not in EXCEPTIONS:
            found.add(f"{owner}: {name!r} is {concept!r}, named {CONCEPTS[concept][0]!r} elsewhere")
    return sorted(found)


@pytest.mark.parametrize("module", [mxgateway, mxgateway_sync], ids=lambda m: m.__name__)
def test_the_public_api_names_each_concept_one_way(module: ModuleType) -> None:
    assert _violations(_api_names(module)) == []


def test_the_cli_options_name_each_concept_as_the_api_does() -> None:
    assert _violations(_cli_names()) == []


def test_the_check_sees_a_synonym() -> None:
    # The table is only as good as the walk that feeds it: it must see real names.
    names = set(_api_names(mxgateway))
    assert ("GatewayClient", "acknowledge_alarm") in names
    assert ("Session", "tags") in names
    assert ("WriteComplete", "ok") in names
    assert _violations(iter([("Example", "succeeded")])) == [
        "Example: 'succeeded' is 'the outcome of a call or write', named 'ok' elsewhere"
    ]
    cli = {name for _, name in _cli_names()}
    assert {"alarm_bearing_only", "after_sequence", "json"} <= cli
