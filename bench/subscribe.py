"""Subscribe pair: subscribe N tags and receive every tag's first value, the user's task.

Both sides stream: the clock starts before either opens its event stream and stops
when every tag's first value has been received, so both pay for the same SUBSCRIBE
call and the same N data changes read from the stream.

- raw: a StreamEvents call on the session (attached before the command, so no value
  is missed), one ``SUBSCRIBE_BULK`` of the N tags, then the stream read until every
  item handle had a value, the newest event per tag kept in a dict;
- SDK: ``Session.subscribe(tags)`` (its event pump attaches before subscribing,
  subscribes in chunks the gateway's queue can hold) iterated until every tag's
  first value came; ``latest`` then holds one change per tag.

Each round uses a fresh session on either side (opened, and closed after the
clock stopped, untimed). The figure is client CPU per value received.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import grpc.aio

from bench._common import Clock, Result, Sample, ServerProcess, interleave, time_result
from mxgateway import GatewayClient, call_metadata
from mxgateway.generated import mxaccess_gateway_pb2 as pb
from mxgateway.generated import mxaccess_gateway_pb2_grpc as pb_grpc

TIMEOUT_S = 60.0
#: Client CPU per value received through ``Session.subscribe`` over the raw stream's.
CPU_TARGET = 1.0
_EOF = grpc.aio.EOF  # type: ignore[attr-defined]


@dataclass
class SubscribeConfig:
    rounds: int


def run(server: ServerProcess, tags: list[str], config: SubscribeConfig) -> Result:
    """The subscribe-and-receive pair over ``tags``."""
    loop = asyncio.new_event_loop()
    clock = Clock(server)
    count = len(tags)
    client: GatewayClient = loop.run_until_complete(GatewayClient.connect(server.endpoint, plaintext=True))
    stub = pb_grpc.MxAccessGatewayStub(client.channel)
    metadata = call_metadata(client.options)

    async def invoke(session_id: str, kind: int, **payload: object) -> pb.MxCommandReply:
        request = pb.MxCommandRequest(session_id=session_id, command=pb.MxCommand(kind=kind, **payload))  # type: ignore[arg-type]
        reply: pb.MxCommandReply = await stub.Invoke(request, timeout=TIMEOUT_S, metadata=metadata)
        return reply

    async def close(session_id: str) -> None:
        await stub.CloseSession(pb.CloseSessionRequest(session_id=session_id), metadata=metadata)

    async def raw() -> Sample:
        session_id = (await client.open_session_raw("bench-subscribe-raw")).session_id
        registered = await invoke(
            session_id, pb.MX_COMMAND_KIND_REGISTER, register=pb.RegisterCommand(client_name="bench")
        )
        handle = registered.register.server_handle
        started = clock.start()
        call = stub.StreamEvents(pb.StreamEventsRequest(session_id=session_id), metadata=metadata)
        await call.initial_metadata()
        reply = await invoke(
            session_id,
            pb.MX_COMMAND_KIND_SUBSCRIBE_BULK,
            subscribe_bulk=pb.SubscribeBulkCommand(server_handle=handle, tag_addresses=tags),
        )
        names = {r.item_handle: r.tag_address for r in reply.bulk_subscribe.results}
        latest: dict[str, pb.MxEvent] = {}
        while len(latest) < count:
            event = await call.read()
            if event is _EOF:
                raise RuntimeError(f"the raw stream ended after {len(latest)} of {count} values")
            tag = names.get(event.item_handle)  # type: ignore[union-attr]
            if tag is not None:
                latest[tag] = event  # type: ignore[assignment]
        sample = clock.stop(started, count)
        call.cancel()
        await close(session_id)
        return sample

    async def typed() -> Sample:
        session = await client.open_session("bench-subscribe")
        try:
            started = clock.start()
            subscription = session.subscribe(tags)
            await subscription.start()
            for _ in range(count):
                await subscription.__anext__()
            sample = clock.stop(started, count)
            if len(subscription.latest) != count:
                raise RuntimeError(f"the subscription has {len(subscription.latest)} of {count} values")
            await subscription.aclose()
        finally:
            await session.close()
        return sample

    try:
        loop.run_until_complete(raw())
        loop.run_until_complete(typed())
        base, cand = interleave(
            config.rounds, lambda: loop.run_until_complete(raw()), lambda: loop.run_until_complete(typed())
        )
    finally:
        loop.run_until_complete(client.close())
        loop.close()
    return time_result(
        "subscribe_receive",
        f"raw StreamEvents + SUBSCRIBE_BULK ({count:,} tags), every first value read",
        f"Session.subscribe ({count:,} tags), every first value received",
        base,
        cand,
        1.10,
        unit="us/value",
        extra={"tags": count},
        cpu_target=CPU_TARGET,
    )
