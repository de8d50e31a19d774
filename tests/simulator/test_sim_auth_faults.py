"""API keys and scopes, and fault injection, over loopback gRPC."""

from __future__ import annotations

import asyncio

import grpc
import grpc.aio
import pytest
from mx_raw import OK, Raw, read_events, serve, wait_for

from mxgateway.generated import galaxy_repository_pb2 as gr
from mxgateway.generated import galaxy_repository_pb2_grpc
from mxgateway.generated import mxaccess_gateway_pb2 as pb
from mxgateway.simulator.auth import UNAUTHENTICATED_MESSAGE
from mxgateway.simulator.clock import ManualClock
from mxgateway.simulator.server import Simulator

pytestmark = pytest.mark.anyio

ADMIN_KEY = "mxgw_admin_0123456789abcdef"
READER_KEY = "mxgw_reader_fedcba9876543210"
KEYS = {
    ADMIN_KEY: ["admin"],
    READER_KEY: ["session:open", "invoke:read", "events:read"],
}


def bearer(key: str) -> tuple[tuple[str, str]]:
    return (("authorization", f"Bearer {key}"),)


async def expect_rpc_error(awaitable: object) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await awaitable  # type: ignore[misc]
    return caught.value


@pytest.mark.parametrize(
    "metadata", [(), bearer("mxgw_unknown_key"), (("authorization", f"Basic {ADMIN_KEY}"),)]
)
async def test_missing_or_unknown_key_is_unauthenticated_on_every_rpc(
    metadata: tuple[tuple[str, str], ...],
) -> None:
    async with serve(api_keys=KEYS) as (sim, raw):
        raw.metadata = metadata
        errors = [
            await expect_rpc_error(raw.open()),
            await expect_rpc_error(raw.invoke("register", pb.RegisterCommand())),
            await expect_rpc_error(raw.close("session-x")),
            await expect_rpc_error(read_events(raw.stream(session_id="session-x"), 1)),
            await expect_rpc_error(
                galaxy_repository_pb2_grpc.GalaxyRepositoryStub(raw.channel).TestConnection(
                    gr.TestConnectionRequest(), metadata=metadata
                )
            ),
        ]
        assert sim.session_ids() == []
    for error in errors:
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED
        assert error.details() == UNAUTHENTICATED_MESSAGE
        assert ADMIN_KEY not in str(error)
        assert "mxgw_unknown_key" not in str(error)


async def test_known_key_without_the_scope_is_permission_denied_naming_the_scope() -> None:
    async with serve(api_keys=KEYS) as (_, raw):
        raw.metadata = bearer(READER_KEY)
        opened = await raw.open()
        handle = await raw.register()
        drained = await raw.drain()
        denied = {
            "invoke:write": await expect_rpc_error(raw.write(handle, 1, pb.MxValue(double_value=1))),
            "invoke:secure": await expect_rpc_error(
                raw.invoke("authenticate_user", pb.AuthenticateUserCommand(server_handle=handle))
            ),
            "session:close": await expect_rpc_error(raw.close()),
            "metadata:read": await expect_rpc_error(
                galaxy_repository_pb2_grpc.GalaxyRepositoryStub(raw.channel).TestConnection(
                    gr.TestConnectionRequest(), metadata=raw.metadata
                )
            ),
        }
        stream = raw.stream()
        await stream.initial_metadata()
        stream.cancel()
    assert opened.protocol_status.code == OK
    assert handle >= 1
    assert drained == []
    for scope, error in denied.items():
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED
        assert scope in error.details()
        assert READER_KEY not in str(error)


async def test_admin_implies_every_scope() -> None:
    async with serve(api_keys=KEYS) as (_, raw):
        raw.metadata = bearer(ADMIN_KEY)
        await raw.open()
        handle = await raw.register()
        item = await raw.add(handle, "Tank_001.Name")
        write = await raw.write(handle, item, pb.MxValue(string_value="x"))
        auth = await raw.invoke(
            "authenticate_user",
            pb.AuthenticateUserCommand(server_handle=handle, user_name="supervisor", password="supervisor"),
        )
        repository = await galaxy_repository_pb2_grpc.GalaxyRepositoryStub(raw.channel).TestConnection(
            gr.TestConnectionRequest(), metadata=raw.metadata
        )
        close = await raw.close()
    assert write.protocol_status.code == OK
    assert auth.authenticate_user.user_id == 102
    assert repository.ok
    assert close.final_state == pb.SESSION_STATE_CLOSED


async def test_stream_without_events_scope_is_permission_denied() -> None:
    async with serve(api_keys={**KEYS, "mxgw_opener_1": ["session:open"]}) as (_, raw):
        raw.metadata = bearer("mxgw_opener_1")
        await raw.open()
        error = await expect_rpc_error(read_events(raw.stream(), 1))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "events:read" in error.details()


def test_api_keys_are_validated_and_never_shown() -> None:
    with pytest.raises(ValueError, match="unknown scope"):
        Simulator(api_keys={"k": ["invoke:everything"]})
    sim = Simulator(api_keys={ADMIN_KEY: ["admin"]})
    assert ADMIN_KEY not in repr(sim)
    assert ADMIN_KEY not in repr(vars(sim))


async def test_fail_next_with_grpc_code_only_hits_the_named_method() -> None:
    async with serve() as (sim, raw):
        sim.faults.fail_next(
            2, grpc_code=grpc.StatusCode.UNAVAILABLE, message="worker down", methods={"Invoke"}
        )
        other = Raw(raw.channel)
        await other.open()  # OpenSession is not named: not affected
        errors = [await expect_rpc_error(raw.invoke("register", pb.RegisterCommand())) for _ in range(2)]
        recovered = await raw.invoke("register", pb.RegisterCommand())
        injected = sim.stats.faults_injected
    assert [(e.code(), e.details()) for e in errors] == [(grpc.StatusCode.UNAVAILABLE, "worker down")] * 2
    assert recovered.protocol_status.code == OK
    assert injected == 2


async def test_fail_next_with_protocol_status_answers_a_reply() -> None:
    async with serve() as (sim, raw):
        sim.faults.fail_next(
            1, protocol_status=pb.PROTOCOL_STATUS_CODE_WORKER_UNAVAILABLE, methods={"Invoke", "OpenSession"}
        )
        sim.faults.fail_next(1, protocol_status=pb.PROTOCOL_STATUS_CODE_TIMEOUT)
        reply = await raw.invoke("register", pb.RegisterCommand())
        opened = await Raw(raw.channel).open()
        assert sim.faults.pending == 0
    assert reply.protocol_status.code == pb.PROTOCOL_STATUS_CODE_WORKER_UNAVAILABLE
    assert reply.protocol_status.message == "injected fault"
    assert reply.session_id == raw.session_id
    assert reply.kind == pb.MX_COMMAND_KIND_REGISTER
    assert opened.protocol_status.code == pb.PROTOCOL_STATUS_CODE_TIMEOUT
    assert not opened.session_id


async def test_fail_next_on_streams_and_default_code() -> None:
    async with serve() as (sim, raw):
        sim.faults.fail_next(1, methods={"/mxaccess_gateway.v1.MxAccessGateway/StreamEvents"})
        error = await expect_rpc_error(read_events(raw.stream(), 1))
        stream = raw.stream()
        await stream.initial_metadata()
        stream.cancel()
    assert error.code() == grpc.StatusCode.UNAVAILABLE
    assert error.details() == "injected fault"


async def test_latency_is_added_to_unary_calls() -> None:
    clock = ManualClock()
    async with serve(clock=clock) as (sim, raw):
        sim.faults.latency_s = 0.15
        timers = clock.pending
        slow = asyncio.create_task(raw.invoke("register", pb.RegisterCommand()))
        await wait_for(lambda: clock.pending == timers + 1)  # the call waits out its latency
        await clock.advance(0.14)
        assert clock.pending == timers + 1
        await clock.advance(0.01)
        delayed = await asyncio.wait_for(slow, 5)
        sim.faults.latency_s = 0
        # Without latency the call is answered while the clock stands still.
        prompt = await raw.invoke("register", pb.RegisterCommand())
        assert clock.pending == timers
    assert delayed.protocol_status.code == prompt.protocol_status.code == OK
