"""Live checks against the gateway the environment names (skipped unless it names one).

Set ``MXGATEWAY_INTEGRATION=1``, ``MXGATEWAY_ENDPOINT``, ``MXGATEWAY_API_KEY`` and
``MXGATEWAY_TEST_ITEM`` (a writable tag). ``MXGATEWAY_TEST_WRITE_VALUE`` is the
value to write (default: the value read, written back); ``MXGATEWAY_PLAINTEXT=1``
turns TLS off. The smoke flow runs through the installed ``mxgw-py``, as a user
would run it; the confirmed write goes through ``mxgateway_sync``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration

_REQUIRED = ("MXGATEWAY_INTEGRATION", "MXGATEWAY_ENDPOINT", "MXGATEWAY_API_KEY", "MXGATEWAY_TEST_ITEM")
_missing = [name for name in _REQUIRED if not os.environ.get(name)]
if os.environ.get("MXGATEWAY_INTEGRATION") not in (None, "", "1"):
    _missing.append("MXGATEWAY_INTEGRATION=1")
if _missing:
    pytest.skip(f"live gateway checks need {', '.join(_missing)} (see docs/cli.md)", allow_module_level=True)

ENDPOINT = os.environ["MXGATEWAY_ENDPOINT"]
API_KEY = os.environ["MXGATEWAY_API_KEY"]
ITEM = os.environ["MXGATEWAY_TEST_ITEM"]
PLAINTEXT = os.environ.get("MXGATEWAY_PLAINTEXT") == "1"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    transport = ["--plaintext"] if PLAINTEXT else []
    return subprocess.run(
        [sys.executable, "-m", "mxgateway.cli", *args, "--endpoint", ENDPOINT, *transport],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_smoke_flow_through_the_command_line() -> None:
    result = _cli("smoke", ITEM, "--json", "--max-events", "1")
    assert result.returncode == 0, result.stderr
    steps = [json.loads(line) for line in result.stdout.splitlines()]
    assert [s["step"] for s in steps] == [
        "open_session",
        "register",
        "add_item",
        "advise",
        "event",
        "close_session",
    ]
    assert steps[4]["tag"] == ITEM
    assert API_KEY not in result.stdout + result.stderr


def test_confirmed_write_and_read_back() -> None:
    from mxgateway.options import ClientOptions
    from mxgateway_sync import GatewayClient

    options = ClientOptions(endpoint=ENDPOINT, api_key=API_KEY, plaintext=PLAINTEXT)
    with GatewayClient.connect(options=options) as client:
        session = client.open_session("mxgateway integration test")
        try:
            (before,) = session.read([ITEM])
            before.raise_for_error()
            raw = os.environ.get("MXGATEWAY_TEST_WRITE_VALUE")
            if raw is None:
                value = before.value
            elif isinstance(before.value, bool):
                value = raw.strip().lower() in ("1", "true", "yes", "on")
            else:
                value = type(before.value)(raw)
            outcome = session.write_and_confirm(ITEM, value)
            assert outcome.ok
            (after,) = session.read([ITEM])
            assert after.ok
            assert after.value == value
        finally:
            session.close()
