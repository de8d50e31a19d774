"""docs/events.md's table of state changes is the transition table the code enforces."""

from __future__ import annotations

import pathlib
import re

from mxgateway import ConnectionState
from mxgateway._events.state import TRANSITIONS

EVENTS_PAGE = pathlib.Path(__file__).resolve().parents[2] / "docs" / "events.md"


def _documented() -> set[tuple[ConnectionState, ConnectionState]]:
    section = (
        EVENTS_PAGE.read_text(encoding="utf-8").split("## The session's states", 1)[1].split("\n## ", 1)[0]
    )
    pairs: set[tuple[ConnectionState, ConnectionState]] = set()
    every = [s for s in ConnectionState if s is not ConnectionState.CLOSED]
    for sources, target in re.findall(r"^\| ([a-z ,]+) \| ([a-z]+) \|", section, flags=re.M):
        if sources.strip() in ("from",):
            continue
        froms = (
            every
            if sources.strip() == "any but closed"
            else [ConnectionState(s.strip()) for s in sources.split(",")]
        )
        pairs.update((f, ConnectionState(target)) for f in froms)
    # "Every state may also go to closed."
    pairs.update((s, ConnectionState.CLOSED) for s in every)
    return pairs


def test_the_documented_changes_are_exactly_the_allowed_ones() -> None:
    allowed = {(source, target) for source, targets in TRANSITIONS.items() for target in targets}
    documented = {(s, t) for s, t in _documented() if s is not t}
    assert documented == allowed
