"""A thin raw-stub client for the simulator tests: generated messages over real gRPC."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import grpc
import grpc.aio

from mxgateway.generated import mxaccess_gateway_pb2 as pb
from mxgateway.generated import mxaccess_gateway_pb2_grpc
from mxgateway.simulator.commands import PAYLOAD_OF_KIND
from mxgateway.simulator.server import Simulator

KIND_OF_PAYLOAD = {payload: kind for kind, payload in PAYLOAD_OF_KIND.items()}
OK = pb.PROTOCOL_STATUS_CODE_OK
MXACCESS_FAILURE = pb.PROTOCOL_STATUS_CODE_MXACCESS_FAILURE

#: Generous for loopback, small enough that a hang fails fast.
TIMEOUT = 5.0


class Raw:
    """One channel and stub to a simulator, with helpers for the common commands."""

    def __init__(self, channel: grpc.aio.Channel, metadata: Sequence[tuple[str, str]] = ()) -> None:
        self.channel = channel
        self.stub = mxaccess_gateway_pb2_grpc.MxAccessGatewayStub(channel)
        self.metadata = tuple(metadata)
        self.session_id = ""

    async def open(self, name: str = "test") -> pb.OpenSessionReply:
        reply: pb.OpenSessionReply = await self.stub.OpenSession(
            pb.OpenSessionRequest(client_session_name=name), metadata=self.metadata, timeout=TIMEOUT
        )
        self.session_id = reply.session_id
        return reply

    async def close(self, session_id: str | None = None) -> pb.CloseSessionReply:
        reply: pb.CloseSessionReply = await self.stub.CloseSession(
            pb.CloseSessionRequest(session_id=session_id or self.session_id),
            metadata=self.metadata,
            timeout=TIMEOUT,
        )
        return reply

    async def invoke(self, payload: str, message: Any, *, kind: int | None = None) -> pb.MxCommandReply:
        command = pb.MxCommand(kind=KIND_OF_PAYLOAD[payload] if kind is None else kind)  # type: ignore[arg-type]
        getattr(command, payload).CopyFrom(message)
        reply: pb.MxCommandReply = await self.stub.Invoke(
            pb.MxCommandRequest(session_id=self.session_id, command=command),
            metadata=self.metadata,
            timeout=TIMEOUT,
        )
        return reply

    async def register(self, name: str = "client") -> int:
        reply = await self.invoke("register", pb.RegisterCommand(client_name=name))
        assert reply.protocol_status.code == OK, reply
        return reply.register.server_handle

    async def add(self, server_handle: int, tag: str) -> int:
        reply = await self.invoke(
            "add_item", pb.AddItemCommand(server_handle=server_handle, item_definition=tag)
        )
        assert reply.protocol_status.code == OK, reply
        return reply.add_item.item_handle

    async def advise(self, server_handle: int, item_handle: int) -> pb.MxCommandReply:
        reply = await self.invoke(
            "advise", pb.AdviseCommand(server_handle=server_handle, item_handle=item_handle)
        )
        assert reply.protocol_status.code == OK, reply
        return reply

    async def write(self, server_handle: int, item_handle: int, value: pb.MxValue) -> pb.MxCommandReply:
        return await self.invoke(
            "write", pb.WriteCommand(server_handle=server_handle, item_handle=item_handle, value=value)
        )

    async def drain(self, max_events: int = 0) -> list[pb.MxEvent]:
        reply = await self.invoke("drain_events", pb.DrainEventsCommand(max_events=max_events))
        assert reply.protocol_status.code == OK, reply
        return list(reply.drain_events.events)

    async def read(self, server_handle: int, *tags: str) -> list[pb.BulkReadResult]:
        reply = await self.invoke(
            "read_bulk", pb.ReadBulkCommand(server_handle=server_handle, tag_addresses=tags)
        )
        assert reply.protocol_status.code == OK, reply
        return list(reply.bulk_read.results)

    def stream(self, after: int = 0, session_id: str | None = None) -> Any:
        return self.stub.StreamEvents(
            pb.StreamEventsRequest(session_id=session_id or self.session_id, after_worker_sequence=after),
            metadata=self.metadata,
        )


async def read_events(call: Any, count: int, timeout: float = TIMEOUT) -> list[pb.MxEvent]:
    """Exactly ``count`` events from a stream call (fails on timeout or end of stream)."""
    events: list[pb.MxEvent] = []

    async def collect() -> None:
        while len(events) < count:
            event = await call.read()
            assert event is not grpc.aio.EOF, f"stream ended after {len(events)} events"
            events.append(event)

    await asyncio.wait_for(collect(), timeout)
    return events


async def wait_for(predicate: Any, timeout: float = TIMEOUT, interval: float = 0.01) -> None:
    """Poll a condition that has no event to await (server-side state seen from outside)."""

    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(interval)

    await asyncio.wait_for(poll(), timeout)


@asynccontextmanager
async def serve(**kwargs: Any) -> AsyncIterator[tuple[Simulator, Raw]]:
    """A simulator (values move only on ``advance``) and a raw client with an open session."""
    kwargs.setdefault("update_rate_hz", 0)
    async with Simulator(**kwargs) as sim, grpc.aio.insecure_channel(sim.endpoint) as channel:
        raw = Raw(channel)
        if kwargs.get("api_keys") is None:
            await raw.open()
        yield sim, raw
