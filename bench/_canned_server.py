"""A minimal gateway for the benchmarks: every reply is built once, then sent as stored bytes.

    python bench/_canned_server.py [--events N]

Prints one JSON line ``{"endpoint": ..., "pid": ...}`` once it serves, then runs
until terminated. It keeps no session and no Galaxy: ``Invoke`` answers each
command kind with a successful reply (bulk replies carry one result per requested
tag, built on the first request for that tag list and kept serialized), and
``StreamEvents`` sends ``N`` data changes numbered on from ``after_worker_sequence``
(serialized once per starting point), then holds the stream open like a gateway.
Against the simulator, whose single thread is busy for most of a bulk call, the
client's own cost hardly shows in wall time; against this server it does.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import grpc
import grpc.aio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mxgateway.generated import mxaccess_gateway_pb2 as pb

SERVICE = "mxaccess_gateway.v1.MxAccessGateway"
OK = pb.ProtocolStatus(code=pb.PROTOCOL_STATUS_CODE_OK)
STAMP = {"seconds": 1_780_000_000, "nanos": 123_000_000}


def _value(index: int) -> pb.MxValue:
    return pb.MxValue(double_value=index + 0.5, data_type=pb.MX_DATA_TYPE_DOUBLE, variant_type=pb.VT_R8)


class Canned:
    def __init__(self, events: int) -> None:
        self.events = events
        self._sessions = itertools.count(1)
        self._handles = itertools.count(1)
        self._bulk: dict[tuple[int, tuple[str, ...]], bytes] = {}
        self._streams: dict[int, list[bytes]] = {}

    async def open_session(self, request: pb.OpenSessionRequest, context: Any) -> bytes:
        reply = pb.OpenSessionReply(
            session_id=f"session-canned-{next(self._sessions)}",
            backend_name="canned",
            gateway_protocol_version=1,
            protocol_status=OK,
        )
        return reply.SerializeToString()

    async def close_session(self, request: pb.CloseSessionRequest, context: Any) -> bytes:
        reply = pb.CloseSessionReply(
            session_id=request.session_id, final_state=pb.SESSION_STATE_CLOSED, protocol_status=OK
        )
        return reply.SerializeToString()

    async def invoke(self, request: pb.MxCommandRequest, context: Any) -> bytes:
        command = request.command
        kind = command.kind
        if kind == pb.MX_COMMAND_KIND_READ_BULK:
            return self._bulk_reply(kind, command.read_bulk.tag_addresses, request.session_id)
        if kind == pb.MX_COMMAND_KIND_SUBSCRIBE_BULK:
            return self._bulk_reply(kind, command.subscribe_bulk.tag_addresses, request.session_id)
        reply = pb.MxCommandReply(session_id=request.session_id, kind=kind, protocol_status=OK)
        if kind == pb.MX_COMMAND_KIND_REGISTER:
            reply.register.server_handle = next(self._handles)
        elif kind in (pb.MX_COMMAND_KIND_ADD_ITEM, pb.MX_COMMAND_KIND_ADD_ITEM2):
            reply.add_item.item_handle = 1
        elif kind == pb.MX_COMMAND_KIND_UNSUBSCRIBE_BULK:
            for handle in command.unsubscribe_bulk.item_handles:
                reply.bulk_subscribe.results.add(item_handle=handle, was_successful=True)
        return reply.SerializeToString()

    def _bulk_reply(self, kind: int, tags: Any, session_id: str) -> bytes:
        key = (kind, tuple(tags))
        cached = self._bulk.get(key)
        if cached is None:
            reply = pb.MxCommandReply(kind=kind, protocol_status=OK)
            if kind == pb.MX_COMMAND_KIND_READ_BULK:
                for index, tag in enumerate(key[1]):
                    result = reply.bulk_read.results.add(
                        tag_address=tag, was_successful=True, quality=192, value=_value(index)
                    )
                    result.source_timestamp.FromSeconds(STAMP["seconds"])
            else:
                for index, tag in enumerate(key[1]):
                    reply.bulk_subscribe.results.add(
                        tag_address=tag, item_handle=index + 1, was_successful=True
                    )
            cached = self._bulk[key] = reply.SerializeToString()
        # The session id is the only per-request field: the rest stays serialized.
        return pb.MxCommandReply(session_id=session_id).SerializeToString() + cached

    def _events_after(self, after: int) -> list[bytes]:
        stream = self._streams.get(after)
        if stream is None:
            stream = []
            for index in range(self.events):
                event = pb.MxEvent(
                    family=pb.MX_EVENT_FAMILY_ON_DATA_CHANGE,
                    worker_sequence=after + 1 + index,
                    server_handle=1,
                    item_handle=index + 1,
                    value=_value(index),
                    quality=192,
                    on_data_change=pb.OnDataChangeEvent(),
                )
                event.source_timestamp.FromSeconds(STAMP["seconds"])
                event.worker_timestamp.FromSeconds(STAMP["seconds"])
                stream.append(event.SerializeToString())
            self._streams[after] = stream
        return stream

    async def stream_events(self, request: pb.StreamEventsRequest, context: Any) -> AsyncIterator[bytes]:
        await context.send_initial_metadata(())
        for message in self._events_after(request.after_worker_sequence):
            yield message
        await asyncio.Event().wait()  # a gateway keeps the stream open until the client leaves


def _identity(data: bytes) -> bytes:
    return data


def _unary(handler: Callable[..., Any], request_type: Any) -> grpc.RpcMethodHandler:
    return grpc.unary_unary_rpc_method_handler(
        handler, request_deserializer=request_type.FromString, response_serializer=_identity
    )


async def serve(events: int) -> None:
    canned = Canned(events)
    server = grpc.aio.server(
        options=[("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1)]
    )
    handlers = {
        "OpenSession": _unary(canned.open_session, pb.OpenSessionRequest),
        "CloseSession": _unary(canned.close_session, pb.CloseSessionRequest),
        "Invoke": _unary(canned.invoke, pb.MxCommandRequest),
        "StreamEvents": grpc.unary_stream_rpc_method_handler(
            canned.stream_events,
            request_deserializer=pb.StreamEventsRequest.FromString,
            response_serializer=_identity,
        ),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    sys.stdout.write(json.dumps({"endpoint": f"127.0.0.1:{port}", "pid": os.getpid()}) + "\n")
    sys.stdout.flush()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await server.stop(0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000)
    asyncio.run(serve(parser.parse_args().events))


if __name__ == "__main__":
    main()
