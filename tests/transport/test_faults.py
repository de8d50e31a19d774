"""Gateway failures end to end: every gRPC code and protocol status as a typed error,
deadlines, read retries (and none for writes), cancellation of calls in flight."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from mxgateway import (
    GatewayClient,
    MxGatewayCommandError,
    MxGatewayError,
    MxGatewaySessionLostError,
    MxGatewaySessionNotFoundError,
    MxGatewayTimeoutError,
    MxGatewayUnavailableError,
    Session,
)
from mxgateway.generated import mxaccess_gateway_pb2 as pb
from mxgateway.simulator.server import Simulator
from tests.model.test_errors import GRPC_CASES, PROTOCOL_CASES

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(("code", "cls"), GRPC_CASES, ids=[c.name for c, _ in GRPC_CASES])
async def test_grpc_codes_from_the_gateway(
    session: Session, simulator: Simulator, code: grpc.StatusCode, cls: type[MxGatewayError]
) -> None:
    simulator.faults.fail_next(1, grpc_code=code, message=f"injected {code.name}", methods=["Invoke"])
    with pytest.raises(MxGatewayError) as info:
        await session.register("x")
    # A session command that finds no session: the session was lost, its handles with it.
    assert type(info.value) is (MxGatewaySessionLostError if cls is MxGatewaySessionNotFoundError else cls)
    assert info.value.grpc_code is code
    assert f"injected {code.name}" in str(info.value)
    assert await session.register("after") > 0  # one fault only


@pytest.mark.parametrize(("code", "cls"), PROTOCOL_CASES[:-1], ids=lambda v: str(v))
async def test_protocol_statuses_from_the_gateway(
    session: Session, client: GatewayClient, simulator: Simulator, code: int, cls: type[MxGatewayError]
) -> None:
    command = pb.MxCommand(kind=pb.MX_COMMAND_KIND_REGISTER, register=pb.RegisterCommand())
    for call in ("helper", "invoke_raw", "open", "close"):
        simulator.faults.fail_next(1, protocol_status=code, message="injected status")
        calls = {
            "helper": lambda: session.register("x"),
            "invoke_raw": lambda: session.invoke_raw(command),
            "open": lambda: client.open_session_raw("x"),
            "close": lambda: client.close_session_raw(session.session_id),
        }
        with pytest.raises(MxGatewayError) as info:
            await calls[call]()
        lost = cls is MxGatewaySessionNotFoundError and call in ("helper", "invoke_raw")
        assert type(info.value) is (MxGatewaySessionLostError if lost else cls), call
        assert info.value.protocol_code == code
        assert info.value.reply is not None
        assert info.value.reply.protocol_status.code == code
        assert "injected status" in str(info.value)


async def test_unknown_protocol_status_is_a_command_error(session: Session, simulator: Simulator) -> None:
    simulator.faults.fail_next(1, protocol_status=77, methods=["Invoke"])
    with pytest.raises(MxGatewayCommandError) as info:
        await session.register("x")
    assert type(info.value) is MxGatewayCommandError
    assert info.value.reply is not None


async def test_unknown_session(client: GatewayClient) -> None:
    ghost = client.attach_session("session-00000000000000000000000000000000")
    with pytest.raises(MxGatewaySessionNotFoundError):
        await ghost.register("x")
    with pytest.raises(MxGatewaySessionNotFoundError):
        async for _ in ghost.events():
            pass


async def test_default_deadline(simulator: Simulator) -> None:
    simulator.faults.latency_s = 0.5
    async with GatewayClient.connect(simulator.endpoint, plaintext=True, default_timeout=0.1) as client:
        with pytest.raises(MxGatewayTimeoutError) as info:
            await client.open_session("slow")
        assert info.value.grpc_code is grpc.StatusCode.DEADLINE_EXCEEDED
        assert isinstance(info.value, TimeoutError)
        simulator.faults.latency_s = 0.0
        session = await client.open_session("fast")
        simulator.faults.latency_s = 0.3
        # A per-call timeout beats the default.
        assert await session.register("patient", timeout=2.0) > 0


async def test_reads_are_retried_writes_are_not(session: Session, simulator: Simulator) -> None:
    await session.read(["Tank_001.Name"])  # registers and caches
    simulator.faults.fail_next(2, grpc_code=grpc.StatusCode.UNAVAILABLE, methods=["Invoke"])
    (result,) = await session.read(["Tank_001.Name"])
    assert result.ok
    assert simulator.faults.pending == 0
    server = await session.default_server_handle()
    item = await session.add_item(server, "Tank_001.Name")
    simulator.faults.fail_next(1, grpc_code=grpc.StatusCode.UNAVAILABLE, methods=["Invoke"])
    with pytest.raises(MxGatewayUnavailableError):
        await session.write(server, item, "once")
    simulator.faults.fail_next(5, grpc_code=grpc.StatusCode.UNAVAILABLE, methods=["Invoke"])
    with pytest.raises(MxGatewayUnavailableError):
        await session.read(["Tank_001.Name"])  # read_retries=2: three attempts, then the error
    assert simulator.faults.pending == 2
    simulator.faults.clear()


async def test_cancelling_a_task_cancels_its_call(session: Session, simulator: Simulator) -> None:
    simulator.faults.latency_s = 5.0
    task = asyncio.create_task(session.register("slow"))
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    simulator.faults.latency_s = 0.0
    assert await session.register("next") > 0
