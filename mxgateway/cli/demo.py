"""``mxgw-py demo``: the SDK's main job in one command, best run with ``--simulator``.

It reads three tags of the demo Galaxy, subscribes to two of them, writes one and
waits for MXAccess to confirm the write, then sees the new value arrive through
the subscription, and closes everything.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from mxgateway.cli.connections import shared_connections
from mxgateway.cli.context import emit
from mxgateway.cli.options import CommonOptions, gateway_command
from mxgateway.cli.session_support import change_record, read_record

__all__ = ["demo"]

READ_TAGS = ("Tank_001.Level", "Tank_001.Volume", "Tank_001.Name")
WRITE_TAG = "Tank_001.Volume"
WATCHED_TAGS = ("Tank_001.Level", WRITE_TAG)
#: Changes the demo reads at most while waiting for its write to come back.
_MAX_CHANGES = 200
#: The default write lands this far above the newest value: the simulated Volume ramps
#: by 5 a second, so a write of "current + 1" could meet the ramp's own value and raise
#: no change at all.
_WRITE_STEP = 100


def _show(common: CommonOptions, record: dict[str, Any], text: str) -> None:
    # --json: one document per step; otherwise sentences for people.
    emit(record if common.json else text)


@gateway_command
def demo(
    common: CommonOptions,
    volume: Annotated[
        int | None,
        typer.Option(
            "--volume", help=f"Value to write to {WRITE_TAG} (default: its newest value + {_WRITE_STEP})."
        ),
    ] = None,
) -> None:
    """Read tags, subscribe, write with confirmation and see the change: e.g. `mxgw-py demo --simulator`."""
    with shared_connections() as connections:
        client = connections.gateway(common)
        session = client.open_session("mxgw-py demo")
        try:
            _show(common, {"session_id": session.session_id, "step": "open_session"}, "opened a session")
            current: dict[str, Any] = {}
            for result in session.read(list(READ_TAGS)):
                result.raise_for_error()
                current[result.tag] = result.value
                _show(
                    common,
                    {**read_record(result), "step": "read"},
                    f"read       {result.tag} = {result.value!r} (quality {result.quality.name})",
                )
            with session.subscribe(list(WATCHED_TAGS)) as subscription:
                initial: set[str | None] = set()
                for change in subscription:
                    if change.tag is not None:
                        current[change.tag] = change.value
                    if change.tag in initial:
                        continue
                    initial.add(change.tag)
                    _show(
                        common,
                        {**change_record(change), "step": "subscribe"},
                        f"subscribed {change.tag} = {change.value!r}",
                    )
                    if initial == set(WATCHED_TAGS):
                        break
                target = volume if volume is not None else int(current[WRITE_TAG]) + _WRITE_STEP
                outcome = session.write_and_confirm(WRITE_TAG, target)
                _show(
                    common,
                    {"ok": outcome.ok, "step": "write", "tag": WRITE_TAG, "value": target},
                    f"wrote      {WRITE_TAG} = {target!r}, confirmed by MXAccess",
                )
                if current.get(WRITE_TAG) == target:
                    # Writing the value it already holds raises no data change: none to wait for.
                    _show(
                        common,
                        {"step": "change", "tag": WRITE_TAG, "unchanged": True, "value": target},
                        f"unchanged  {WRITE_TAG} = {target!r} (it already held that value)",
                    )
                else:
                    for seen, change in enumerate(subscription, start=1):
                        if change.tag == WRITE_TAG and change.value == target:
                            _show(
                                common,
                                {**change_record(change), "step": "change"},
                                f"changed    {change.tag} = {change.value!r} (through the subscription)",
                            )
                            break
                        if seen >= _MAX_CHANGES:
                            raise TimeoutError(f"the written value of {WRITE_TAG} did not come back")
        finally:
            session.close()
        _show(common, {"step": "close_session"}, "closed the session")
