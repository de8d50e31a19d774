"""The simulator's ways of running: background thread, pytest plugin, TLS, ``mxgw-py simulate``."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

import grpc
import grpc.aio
import pytest
import trustme
from mx_raw import OK, Raw

from mxgateway.generated import mxaccess_gateway_pb2 as pb
from mxgateway.generated import mxaccess_gateway_pb2_grpc
from mxgateway.simulator.background import BackgroundSimulator
from mxgateway.simulator.demo_plant import demo_galaxy
from mxgateway.simulator.server import Simulator

SECRET_KEY = "mxgw_cli_9f8e7d6c5b4a"


def test_background_simulator_serves_blocking_clients_and_runs_control_calls() -> None:
    with Simulator.start_in_background(update_rate_hz=0) as bg:
        with grpc.insecure_channel(bg.endpoint) as channel:
            stub = mxaccess_gateway_pb2_grpc.MxAccessGatewayStub(channel)
            opened = stub.OpenSession(pb.OpenSessionRequest(client_session_name="sync"), timeout=5)
            assert bg.call(bg.simulator.session_ids) == [opened.session_id]
            assert bg.call(bg.simulator.advance, 1.0) is None
            assert bg.port == bg.simulator.port
            assert bg.endpoint.endswith(f":{bg.port}")
            with pytest.raises(RuntimeError, match="own thread"):
                bg.call(lambda: bg.call(bg.simulator.session_ids))
        endpoint = bg.endpoint
    with pytest.raises(RuntimeError, match="closed"):
        bg.call(bg.simulator.session_ids)
    with grpc.insecure_channel(endpoint) as channel, pytest.raises(grpc.RpcError) as refused:
        mxaccess_gateway_pb2_grpc.MxAccessGatewayStub(channel).OpenSession(pb.OpenSessionRequest(), timeout=1)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]


def test_pytest_plugin_fixtures(mx_simulator: BackgroundSimulator, mx_simulator_endpoint: str) -> None:
    assert mx_simulator_endpoint == mx_simulator.endpoint
    assert mx_simulator.simulator.galaxy.name == demo_galaxy().name
    with grpc.insecure_channel(mx_simulator_endpoint) as channel:
        opened = mxaccess_gateway_pb2_grpc.MxAccessGatewayStub(channel).OpenSession(
            pb.OpenSessionRequest(), timeout=5
        )
    assert opened.protocol_status.code == OK
    assert mx_simulator.call(mx_simulator.simulator.session_ids) == [opened.session_id]


@pytest.mark.anyio
async def test_tls(tmp_path: Path) -> None:
    authority = trustme.CA()
    certificate = authority.issue_cert("127.0.0.1", "localhost")
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    certificate.cert_chain_pems[0].write_to_path(cert_file)
    certificate.private_key_pem.write_to_path(key_file)
    credentials = grpc.ssl_channel_credentials(root_certificates=authority.cert_pem.bytes())
    sim = Simulator(update_rate_hz=0, tls_cert_file=cert_file, tls_key_file=key_file)
    async with sim, grpc.aio.secure_channel(sim.endpoint, credentials) as channel:
        opened = await Raw(channel).open()
    assert sim.tls
    assert opened.protocol_status.code == OK
    with pytest.raises(ValueError, match="both"):
        Simulator(tls_cert_file=cert_file)


@pytest.mark.anyio
@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
async def test_simulate_command_prints_its_endpoint_and_stops_cleanly(stop_signal: signal.Signals) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from mxgateway.cli.main import main; main()",
        "simulate",
        "--port",
        "0",
        "--rate",
        "0",
        "--api-key",
        f"{SECRET_KEY}:session:open,invoke:read",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 20)
        endpoint = json.loads(line)["endpoint"]
        async with grpc.aio.insecure_channel(endpoint) as channel:
            raw = Raw(channel, metadata=[("authorization", f"Bearer {SECRET_KEY}")])
            opened = await raw.open()
            handle = await raw.register()
        process.send_signal(stop_signal)
        stdout, stderr = await asyncio.wait_for(process.communicate(), 20)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert opened.protocol_status.code == OK
    assert handle >= 1
    assert process.returncode == 0
    assert set(json.loads(line)) == {"endpoint"}
    assert stdout == b""
    output = line + stderr
    assert b"Traceback" not in output
    assert SECRET_KEY.encode() not in output


def test_simulate_rejects_an_unknown_scope_without_echoing_the_key() -> None:
    from typer.testing import CliRunner

    from mxgateway.cli.app import app

    result = CliRunner().invoke(
        app, ["simulate", "--port", "0", "--api-key", f"{SECRET_KEY}:invoke:everything"]
    )
    assert result.exit_code == 2
    assert "unknown scope" in result.output
    assert SECRET_KEY not in result.output


@pytest.mark.anyio
async def test_async_clients_on_the_test_loop_reach_the_background_simulator(
    mx_simulator: BackgroundSimulator,
) -> None:
    async with grpc.aio.insecure_channel(mx_simulator.endpoint) as channel:
        raw = Raw(channel)
        await raw.open()
        handle = await raw.register()
        await raw.advise(handle, await raw.add(handle, "AppEngine_001.Heartbeat"))
        mx_simulator.call(mx_simulator.simulator.advance, 2.0)
        events = await raw.drain()
    assert [e.value.int32_value for e in events] == [0, 2]
