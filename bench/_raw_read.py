"""The raw-stub baseline of ``mxgw-py read TAG --json``: the same calls with the generated stubs only.

    python bench/_raw_read.py ENDPOINT TAG

Opens a plaintext channel, opens a session, registers, reads the tag with
ReadBulk, closes the session and prints the result as one JSON line: what the
CLI does, without the CLI, the facade or the SDK.
"""

from __future__ import annotations

import json
import sys

import grpc

from mxgateway.generated import mxaccess_gateway_pb2 as pb
from mxgateway.generated import mxaccess_gateway_pb2_grpc as pb_grpc


def main() -> None:
    endpoint, tag = sys.argv[1], sys.argv[2]
    with grpc.insecure_channel(endpoint) as channel:
        stub = pb_grpc.MxAccessGatewayStub(channel)
        session_id = stub.OpenSession(
            pb.OpenSessionRequest(client_session_name="raw-read"), timeout=30
        ).session_id
        command = pb.MxCommand(
            kind=pb.MX_COMMAND_KIND_REGISTER, register=pb.RegisterCommand(client_name="raw")
        )
        server = stub.Invoke(pb.MxCommandRequest(session_id=session_id, command=command), timeout=30)
        read = pb.MxCommand(
            kind=pb.MX_COMMAND_KIND_READ_BULK,
            read_bulk=pb.ReadBulkCommand(server_handle=server.register.server_handle, tag_addresses=[tag]),
        )
        reply = stub.Invoke(pb.MxCommandRequest(session_id=session_id, command=read), timeout=30)
        result = reply.bulk_read.results[0]
        value = result.value
        field = value.WhichOneof("value")
        print(
            json.dumps(
                {
                    "tag": result.tag_address,
                    "ok": result.was_successful,
                    "value": getattr(value, field) if field else None,
                    "quality": result.quality,
                },
                sort_keys=True,
            )
        )
        stub.CloseSession(pb.CloseSessionRequest(session_id=session_id), timeout=30)


if __name__ == "__main__":
    main()
