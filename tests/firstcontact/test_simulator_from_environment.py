"""MXGATEWAY_ENDPOINT=simulator runs against a fake plant: said once, at WARNING, never silently."""

from __future__ import annotations

import logging

import pytest

from mxgateway import Client, GatewayClient
from mxgateway._transport import endpoints

pytestmark = pytest.mark.anyio


@pytest.fixture
def fresh_process_notice(monkeypatch: pytest.MonkeyPatch) -> None:
    """As in a new process: the warning has not been given yet."""
    monkeypatch.setattr(endpoints, "ENVIRONMENT_NOTICE", endpoints.OncePerProcess())
    monkeypatch.setenv("MXGATEWAY_ENDPOINT", "simulator")
    monkeypatch.setenv("MXGATEWAY_API_KEY", "")


def warnings_about_the_simulator(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r for r in caplog.records if r.levelno == logging.WARNING and "MXGATEWAY_ENDPOINT" in r.getMessage()
    ]


async def test_a_simulator_named_by_the_environment_is_announced_once(
    fresh_process_notice: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="mxgateway")
    for _ in range(2):
        async with GatewayClient.connect() as gateway:
            await (await gateway.open_session("env")).close()
    async with Client() as client:
        await client.write_tag("Tank_001.Name", "written nowhere")
    (record,) = warnings_about_the_simulator(caplog)
    assert record.name == "mxgateway.connect"
    assert "MXGATEWAY_ENDPOINT='simulator'" in record.getMessage()
    assert "writes succeed against nothing real" in record.getMessage()


async def test_a_simulator_named_by_the_caller_says_nothing(
    fresh_process_notice: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="mxgateway")
    async with GatewayClient.connect("simulator") as gateway:
        await (await gateway.open_session("explicit")).close()
    async with Client(endpoint="simulator") as client:
        await client.read(["Tank_001.Level"])
    assert warnings_about_the_simulator(caplog) == []
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
