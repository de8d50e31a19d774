"""Errors that say what to do next, one closed-object error, and INFO log lines without secrets."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from mxgateway import (
    Client,
    MxGatewayArgumentError,
    MxGatewayAuthenticationError,
    MxGatewayClosedError,
    MxGatewaySessionNotFoundError,
    MxGatewayUnavailableError,
)
from mxgateway.simulator.server import Simulator
from tests.loopback import closed_port

pytestmark = pytest.mark.anyio

KEY = "first-contact-secret-key"


async def test_unreachable_default_endpoint_says_so_and_suggests_the_simulator(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MXGATEWAY_ENDPOINT", raising=False)
    monkeypatch.setenv("MXGATEWAY_API_KEY", "")
    # The default is localhost:5000; pin a closed port through the argument-free path.
    async with Client(default_timeout=2.0) as client:
        assert client._options.endpoint_source == "default"
    port = closed_port()
    monkeypatch.setenv("MXGATEWAY_ENDPOINT", f"127.0.0.1:{port}")
    async with Client(default_timeout=2.0) as client:
        with pytest.raises(MxGatewayUnavailableError) as caught:
            await client.read(["Tank_001.Level"])
    message = str(caught.value)
    assert f"127.0.0.1:{port} came from MXGATEWAY_ENDPOINT" in message
    assert 'endpoint="simulator"' in message
    assert "\n" not in message
    assert caught.value.__cause__ is None  # no chained gRPC dump


async def test_unreachable_argument_endpoint() -> None:
    port = closed_port()
    async with Client(f"127.0.0.1:{port}", default_timeout=2.0) as client:
        with pytest.raises(MxGatewayUnavailableError, match="was given as the endpoint"):
            await client.open()


async def test_default_endpoint_message(monkeypatch: pytest.MonkeyPatch) -> None:
    from mxgateway._transport.hints import endpoint_hint
    from mxgateway.options import ClientOptions

    monkeypatch.delenv("MXGATEWAY_ENDPOINT", raising=False)
    assert endpoint_hint(ClientOptions()).startswith("localhost:5000 is the default endpoint")


async def test_missing_and_refused_keys_say_whether_a_key_was_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MXGATEWAY_API_KEY", raising=False)
    async with Simulator(api_keys={KEY: ["admin"]}, update_rate_hz=0) as sim:
        async with Client(sim.endpoint, default_timeout=5.0) as client:
            with pytest.raises(MxGatewayAuthenticationError) as none_sent:
                await client.open()
        assert "no API key was sent" in str(none_sent.value)
        assert "MXGATEWAY_API_KEY" in str(none_sent.value)
        async with Client(sim.endpoint, api_key="wrong-key-123456", default_timeout=5.0) as client:
            with pytest.raises(MxGatewayAuthenticationError) as refused:
                await client.open()
        assert "an API key given as api_key was sent and refused" in str(refused.value)
        assert "wrong-key-123456" not in str(refused.value)
        monkeypatch.setenv("MXGATEWAY_API_KEY", "env-key-abcdefgh")
        async with Client(sim.endpoint, default_timeout=5.0) as client:
            with pytest.raises(MxGatewayAuthenticationError, match="from MXGATEWAY_API_KEY was sent"):
                await client.open()


async def test_write_type_error_names_tag_and_value() -> None:
    async with Simulator(update_rate_hz=0) as sim, Client(sim.endpoint, default_timeout=5.0) as client:
        with pytest.raises(
            TypeError,
            match=r"^value 'abc' cannot be written to Tank_001.Level: a str cannot be written as DOUBLE$",
        ) as mismatch:
            await client.write_tag("Tank_001.Level", "abc")
        assert isinstance(mismatch.value, MxGatewayArgumentError)
        assert mismatch.value.argument == "value"
        # No attribute takes nan: refused before the tag is even looked up.
        with pytest.raises(
            ValueError, match=r"^value nan cannot be sent to MXAccess: it is not a finite number$"
        ):
            await client.write_and_confirm("Tank_001.Level", float("nan"))
        assert sim.stats.invoke_calls["MX_COMMAND_KIND_WRITE"] == 0  # neither was sent


async def test_every_method_of_a_closed_client_raises_the_closed_error() -> None:
    async with Simulator(update_rate_hz=0) as sim:
        opened = Client(sim.endpoint, default_timeout=5.0)
        await opened.read(["Tank_001.Level"])
        never_used = Client(sim.endpoint, default_timeout=5.0)
        for client in (opened, never_used):
            await client.close()
            calls = [
                lambda c=client: c.read(["Tank_001.Level"]),
                lambda c=client: c.register("x"),
                lambda c=client: c.write_tag("Tank_001.Level", 1.0),
                lambda c=client: c.galaxy(),
                lambda c=client: c.open(),
            ]
            for call in calls:
                with pytest.raises(MxGatewayClosedError):
                    await call()
            with pytest.raises(MxGatewayClosedError):
                client.events()
        # Code written against the session id still catches it.
        with pytest.raises(MxGatewaySessionNotFoundError):
            await opened.register("x")


async def test_info_log_lines_for_connect_and_sessions_never_show_the_key(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="mxgateway")
    async with (
        Simulator(api_keys={KEY: ["admin"]}, update_rate_hz=0) as sim,
        Client(sim.endpoint, api_key=KEY, default_timeout=5.0) as client,
    ):
        await client.read(["Tank_001.Level"])
        session_id = client.session_id
    infos = [(r.name, r.getMessage()) for r in caplog.records if r.levelno == logging.INFO]
    names = [name for name, _ in infos]
    assert "mxgateway.connect" in names
    assert ("mxgateway.client", f"opened session {session_id} (mxgateway-python) on {sim.endpoint}") in infos
    assert ("mxgateway.session", f"closed session {session_id}") in infos
    assert all(KEY not in text for _, text in infos)
    assert any("API key" in text for _, text in infos)


def test_client_failure_from_a_script_is_short() -> None:
    port = closed_port()
    code = f"from mxgateway_sync import Client\nClient('127.0.0.1:{port}', default_timeout=2).read(['T.A'])\n"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "The above exception was the direct cause" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("mxgateway.errors.MxGatewayUnavailableError: OpenSession failed: UNAVAILABLE")
    assert 'endpoint="simulator"' in last
