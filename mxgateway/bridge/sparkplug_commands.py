"""Sparkplug commands to the edge node: NCMD (Rebirth) and DCMD (writes to a device's metrics).

A DCMD names metrics by alias (as the DBIRTH declared them) or by name; each one is
written to its tag under the same rules as the ``/set`` topics (``TagWriter``: the
allow-list, secured and verified writes). Sparkplug has no answer topic: a written
value comes back as DDATA, and every command that is not carried out is logged
once, with the reason, and counted (``write_errors``); none is dropped silently.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from google.protobuf.message import DecodeError

from mxgateway import MxGatewayError
from mxgateway.bridge.health import Counters
from mxgateway.bridge.sparkplug import REBIRTH, SparkplugLayout
from mxgateway.bridge.sparkplug_types import command_value
from mxgateway.bridge.writes import Refused, TagWriter
from mxgateway.generated import sparkplug_b_pb2 as spb

__all__ = ["SparkplugCommands"]

_log = logging.getLogger("mxgateway.bridge")


def _parse(payload: bytes) -> spb.Payload | None:
    try:
        return spb.Payload.FromString(payload)
    except DecodeError:
        return None


class SparkplugCommands:
    """Carries out NCMD and DCMD messages, logging each one it refuses with the reason."""

    def __init__(
        self, layout: SparkplugLayout, writer: TagWriter, rebirth: Callable[[], None], counters: Counters
    ) -> None:
        self._layout = layout
        self._writer = writer
        self._rebirth = rebirth
        self._counters = counters

    def __repr__(self) -> str:
        return f"SparkplugCommands({self._layout!r})"

    def _refuse(self, what: str, reason: str) -> None:
        self._counters.write_errors += 1
        _log.warning("%s refused: %s", what, reason)

    def on_ncmd(self, payload: bytes) -> None:
        """A node command: ``Node Control/Rebirth`` true publishes the births again."""
        command = _parse(payload)
        if command is None:
            self._refuse("NCMD", "not a Sparkplug B payload")
            return
        for metric in command.metrics:
            if metric.name == REBIRTH:
                if metric.WhichOneof("value") == "boolean_value" and metric.boolean_value:
                    _log.info("a Sparkplug host asked for a rebirth")
                    self._rebirth()
                else:
                    self._refuse(f"NCMD {REBIRTH}", "a rebirth request carries the boolean true")
            else:
                shown = metric.name or f"alias {metric.alias}"
                self._refuse(f"NCMD {shown}", "the edge node has no writable node metric of that name")

    async def on_dcmd(self, device: str, payload: bytes) -> None:
        """A device command: write each metric it carries, in order."""
        command = _parse(payload)
        if command is None:
            self._refuse(f"DCMD to {device}", "not a Sparkplug B payload")
            return
        for metric in command.metrics:
            shown = metric.name or (
                f"alias {metric.alias}" if metric.HasField("alias") else "a nameless metric"
            )
            target = self._layout.tag_of(device, metric)
            if target is None:
                self._refuse(f"DCMD {device} {shown}", "the device has no metric of that name or alias")
                continue
            tag, kind = target
            try:
                self._writer.check(tag)
                value = command_value(metric, kind)
            except (Refused, ValueError) as exc:
                self._refuse(f"DCMD {tag}", str(exc))
                continue
            try:
                await self._writer.write(tag, value)
            except (MxGatewayError, ValueError, TypeError) as exc:
                _log.warning("DCMD %s failed: %s", tag, exc)
