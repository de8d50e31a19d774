"""A fast plant for the bridge benchmark: a gateway that streams changes as fast as asked, and its Galaxy.

    python bench/_plant_server.py [--tags N] [--rate CHANGES_PER_S]

Prints one JSON line ``{"endpoint": ..., "pid": ...}`` once it serves, then runs until
terminated. The Galaxy is one area of objects with four Double attributes each;
``Invoke`` answers Register, SubscribeBulk, ReadBulk and the rest with success; once a
session subscribed, ``StreamEvents`` sends ``--rate`` data changes a second, cycling
over the subscribed items with a moving value. The simulator's own per-event work
(schedules, sessions, replay ring) holds it to a few thousand changes a second on a
shared machine; this one leaves the bridge, not the source, as what is measured.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import grpc.aio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mxgateway.generated import galaxy_repository_pb2 as gr
from mxgateway.generated import mxaccess_gateway_pb2 as pb

OK = pb.ProtocolStatus(code=pb.PROTOCOL_STATUS_CODE_OK)
_TICK_S = 0.005


class Plant:
    def __init__(self, tags: int, rate: float) -> None:
        self.rate = rate
        objects = (tags + 3) // 4
        self.galaxy = gr.DiscoverHierarchyReply(total_object_count=objects + 1)
        self.galaxy.objects.add(gobject_id=1, tag_name="Area_001", is_area=True, category_id=13)
        for index in range(objects):
            obj = self.galaxy.objects.add(
                gobject_id=index + 2,
                tag_name=f"Obj_{index:05d}",
                parent_gobject_id=1,
                area_gobject_id=1,
                template_chain=["$Analog"],
            )
            for attribute in range(4):
                obj.attributes.add(
                    attribute_name=f"A{attribute}",
                    full_tag_reference=f"Obj_{index:05d}.A{attribute}",
                    mx_data_type=pb.MX_DATA_TYPE_DOUBLE - 1,  # the Galaxy's native numbering
                    data_type_name="Double",
                )
        self.subscribed: dict[str, list[int]] = {}
        self.ready: dict[str, asyncio.Event] = {}
        self._handles = itertools.count(1)

    def _ready(self, session: str) -> asyncio.Event:
        return self.ready.setdefault(session, asyncio.Event())

    async def discover(self, request: gr.DiscoverHierarchyRequest, context: Any) -> gr.DiscoverHierarchyReply:
        return self.galaxy

    async def open_session(self, request: pb.OpenSessionRequest, context: Any) -> pb.OpenSessionReply:
        session = f"plant-{next(self._handles)}"
        return pb.OpenSessionReply(session_id=session, protocol_status=OK, gateway_protocol_version=1)

    async def close_session(self, request: pb.CloseSessionRequest, context: Any) -> pb.CloseSessionReply:
        return pb.CloseSessionReply(session_id=request.session_id, protocol_status=OK)

    async def invoke(self, request: pb.MxCommandRequest, context: Any) -> pb.MxCommandReply:
        command = request.command
        reply = pb.MxCommandReply(session_id=request.session_id, kind=command.kind, protocol_status=OK)
        if command.kind == pb.MX_COMMAND_KIND_REGISTER:
            reply.register.server_handle = 1
        elif command.kind == pb.MX_COMMAND_KIND_SUBSCRIBE_BULK:
            handles = self.subscribed.setdefault(request.session_id, [])
            for tag in command.subscribe_bulk.tag_addresses:
                handle = len(handles) + 1
                handles.append(handle)
                reply.bulk_subscribe.results.add(tag_address=tag, item_handle=handle, was_successful=True)
            self._ready(request.session_id).set()
        elif command.kind == pb.MX_COMMAND_KIND_READ_BULK:
            for tag in command.read_bulk.tag_addresses:
                result = reply.bulk_read.results.add(tag_address=tag, was_successful=True, quality=192)
                result.value.CopyFrom(pb.MxValue(double_value=0.5, data_type=pb.MX_DATA_TYPE_DOUBLE))
                result.source_timestamp.GetCurrentTime()
        elif command.kind == pb.MX_COMMAND_KIND_UNSUBSCRIBE_BULK:
            for handle in command.unsubscribe_bulk.item_handles:
                reply.bulk_subscribe.results.add(item_handle=handle, was_successful=True)
        return reply

    async def stream_events(self, request: pb.StreamEventsRequest, context: Any) -> AsyncIterator[bytes]:
        await context.send_initial_metadata(())
        await self._ready(request.session_id).wait()
        handles = self.subscribed[request.session_id]
        sequence = 0
        started = time.monotonic()
        sent = 0
        value = 0.0
        for handle in itertools.cycle(handles):
            due = int((time.monotonic() - started) * self.rate) if self.rate else sent + 1
            if sent >= due:
                await asyncio.sleep(_TICK_S)
                continue
            sequence += 1
            sent += 1
            value += 0.25
            event = pb.MxEvent(
                family=pb.MX_EVENT_FAMILY_ON_DATA_CHANGE,
                worker_sequence=sequence,
                server_handle=1,
                item_handle=handle,
                value=pb.MxValue(double_value=value, data_type=pb.MX_DATA_TYPE_DOUBLE, variant_type=pb.VT_R8),
                quality=192,
                on_data_change=pb.OnDataChangeEvent(),
            )
            event.source_timestamp.GetCurrentTime()
            yield event.SerializeToString()


def _identity(data: bytes) -> bytes:
    return data


async def serve(tags: int, rate: float) -> None:
    plant = Plant(tags, rate)
    server = grpc.aio.server(options=[("grpc.max_send_message_length", -1)])
    gateway = {
        "OpenSession": grpc.unary_unary_rpc_method_handler(
            plant.open_session, pb.OpenSessionRequest.FromString, pb.OpenSessionReply.SerializeToString
        ),
        "CloseSession": grpc.unary_unary_rpc_method_handler(
            plant.close_session, pb.CloseSessionRequest.FromString, pb.CloseSessionReply.SerializeToString
        ),
        "Invoke": grpc.unary_unary_rpc_method_handler(
            plant.invoke, pb.MxCommandRequest.FromString, pb.MxCommandReply.SerializeToString
        ),
        "StreamEvents": grpc.unary_stream_rpc_method_handler(
            plant.stream_events, pb.StreamEventsRequest.FromString, _identity
        ),
    }
    repository = {
        "DiscoverHierarchy": grpc.unary_unary_rpc_method_handler(
            plant.discover,
            gr.DiscoverHierarchyRequest.FromString,
            gr.DiscoverHierarchyReply.SerializeToString,
        ),
    }
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler("mxaccess_gateway.v1.MxAccessGateway", gateway),
            grpc.method_handlers_generic_handler("galaxy_repository.v1.GalaxyRepository", repository),
        )
    )
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
    parser.add_argument("--tags", type=int, default=1200)
    parser.add_argument("--rate", type=float, default=12_000.0)
    args = parser.parse_args()
    asyncio.run(serve(args.tags, args.rate))


if __name__ == "__main__":
    main()
