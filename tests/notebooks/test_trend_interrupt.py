"""An endless trend stops when its cell is interrupted, keeps its chart and leaves nothing running."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from .kernel import LISTENING, kernel_env

RUNNING = """
import asyncio, json, threading
from mxgateway_sync import _runtime
print(json.dumps({
    "threads": sorted(t.name for t in threading.enumerate()),
    # The embedded simulator's server keeps a pool of call acceptors that grows and shrinks
    # with load (AioServer.*): every other task counts.
    "loop_tasks": _runtime.on_loop(lambda: sorted(
        n for t in asyncio.all_tasks() if not (n := t.get_coro().__qualname__).startswith("AioServer.")
    )),
    "listening": listening(),
}))
"""


def _run(client: Any, code: str, *, timeout: float = 60) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Execute ``code``; its reply and its iopub messages (again when the kernel aborted it)."""
    for _ in range(5):  # after an error the kernel aborts what arrives in a short window
        reply, messages = _run_once(client, code, timeout)
        if reply["status"] != "aborted":
            break
        time.sleep(0.2)
    return reply, messages


def _run_once(client: Any, code: str, timeout: float) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    msg_id = client.execute(code)
    messages = []
    deadline = time.monotonic() + timeout
    for _ in range(10_000):  # bounded in count and by the deadline
        if time.monotonic() > deadline:
            raise AssertionError(f"no idle status within {timeout} s for {code[:40]!r}")
        message = client.get_iopub_msg(timeout=timeout)
        if message["parent_header"].get("msg_id") != msg_id:
            continue
        messages.append(message)
        if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
            break
    return _reply(client, msg_id, timeout)["content"], messages


def _reply(client: Any, msg_id: str, timeout: float) -> dict[str, Any]:
    """The shell reply to ``msg_id`` (replies to earlier requests are skipped)."""
    for _ in range(100):  # bounded: a handful of earlier replies at most
        reply: dict[str, Any] = client.get_shell_msg(timeout=timeout)
        if reply["parent_header"].get("msg_id") == msg_id:
            return reply
    raise AssertionError(f"no reply to {msg_id}")


def _printed(messages: list[dict[str, Any]]) -> str:
    return "".join(m["content"]["text"] for m in messages if m["msg_type"] == "stream")


def test_interrupting_an_endless_trend_stops_it_cleanly() -> None:
    manager_module = pytest.importorskip("jupyter_client.manager")
    manager, client = manager_module.start_new_kernel(kernel_name="python3", env=kernel_env())
    try:
        setup = LISTENING + (
            "\nfrom mxgateway_sync import Client\n"
            "client = Client(endpoint='simulator')\n"
            # The session's event pump lives as long as the session once attached: attach it first.
            "client.record(['Tank_001.Level'], max_changes=1)\n"
        )
        reply, _ = _run(client, setup + RUNNING)
        assert reply["status"] == "ok", reply
        before = json.loads(_printed(_))
        msg_id = client.execute("client.trend(['Tank_001.Level', 'Pump_001.Speed'])")
        shown: list[dict[str, Any]] = []
        deadline = time.monotonic() + 30
        for _attempt in range(10_000):  # until the chart was drawn and redrawn once
            if time.monotonic() > deadline or len(shown) >= 2:
                break
            message = client.get_iopub_msg(timeout=30)
            if message["parent_header"].get("msg_id") == msg_id and message["msg_type"] in (
                "display_data",
                "update_display_data",
            ):
                shown.append(message)
        assert [m["msg_type"] for m in shown] == ["display_data", "update_display_data"]
        assert "image/png" in shown[0]["content"]["data"]
        manager.interrupt_kernel()
        reply = _reply(client, msg_id, 30)
        assert reply["content"]["status"] == "error"
        assert reply["content"]["ename"] == "KeyboardInterrupt"
        reply, messages = _run(client, RUNNING)
        assert reply["status"] == "ok", reply
        assert json.loads(_printed(messages)) == before
        reply, messages = _run(client, "print(client.read(['Tank_001.Level'])[0].ok)")
        assert _printed(messages).strip() == "True"  # the client still works
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
