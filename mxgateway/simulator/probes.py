"""The standard gRPC services a simulator serves beside the gateway: health and reflection.

``grpc.health.v1.Health`` lets load balancers and ``grpc_health_probe`` check the
simulator; it answers without an API key (probes have none). Server reflection
lets ``grpcurl -plaintext HOST:PORT list`` discover the services; it needs a key
like any other call when the simulator has keys. Reflection is served as
``grpc.reflection.v1`` (what current tools ask for first) and ``v1alpha``: the two
are the same messages under two package names, so one servicer answers both.
"""

from __future__ import annotations

from typing import Protocol

import grpc.aio
from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection, reflection_pb2, reflection_pb2_grpc

from mxgateway.generated import galaxy_repository_pb2, mxaccess_gateway_pb2

__all__ = [
    "HEALTH_PREFIX",
    "REFLECTION_PREFIX",
    "REFLECTION_V1_SERVICE",
    "HealthServicer",
    "add_probes",
    "mark_serving",
    "mark_stopping",
]


class HealthServicer(Protocol):
    """The part of grpcio's asyncio health servicer used here (its stubs lack the asyncio one)."""

    async def set(self, service: str, status: int) -> None:
        """Set the status of ``service`` ('' is the whole server)."""

    async def enter_graceful_shutdown(self) -> None:
        """Report NOT_SERVING for every service from now on."""


HEALTH_PREFIX = "/grpc.health.v1.Health/"
REFLECTION_PREFIX = "/grpc.reflection."
REFLECTION_V1_SERVICE = "grpc.reflection.v1.ServerReflection"

_SERVICES = (
    mxaccess_gateway_pb2.DESCRIPTOR.services_by_name["MxAccessGateway"].full_name,
    galaxy_repository_pb2.DESCRIPTOR.services_by_name["GalaxyRepository"].full_name,
)


def add_probes(server: grpc.aio.Server) -> HealthServicer:
    """Add health (every service SERVING) and reflection (v1 and v1alpha) to ``server``."""
    checker: HealthServicer = health.aio.HealthServicer()  # type: ignore[attr-defined]
    health_pb2_grpc.add_HealthServicer_to_server(checker, server)
    _describe_reflection_v1()
    servicer = reflection.aio.ReflectionServicer(  # type: ignore[attr-defined]
        (
            *_SERVICES,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            REFLECTION_V1_SERVICE,
            reflection.SERVICE_NAME,
        )
    )
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(servicer, server)
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                REFLECTION_V1_SERVICE,
                {
                    "ServerReflectionInfo": grpc.stream_stream_rpc_method_handler(
                        servicer.ServerReflectionInfo,
                        request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
                        response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
                    )
                },
            ),
        )
    )
    return checker


def _describe_reflection_v1() -> None:
    """Put grpc/reflection/v1/reflection.proto in the default pool (v1alpha's file, renamed).

    grpcio-reflection ships only v1alpha; with the v1 file in the pool, reflection
    describes its own v1 service too (``grpcurl describe grpc.reflection.v1.ServerReflection``).
    """
    pool = descriptor_pool.Default()
    name = "grpc/reflection/v1/reflection.proto"
    try:
        pool.FindFileByName(name)
        return
    except KeyError:
        pass
    source = descriptor_pb2.FileDescriptorProto()
    reflection_pb2.DESCRIPTOR.CopyToProto(source)
    source.name = name
    source.package = "grpc.reflection.v1"
    source.options.Clear()
    old, new = ".grpc.reflection.v1alpha.", ".grpc.reflection.v1."
    for message in source.message_type:
        for field in message.field:
            if field.type_name:
                field.type_name = field.type_name.replace(old, new)
    for service in source.service:
        for method in service.method:
            method.input_type = method.input_type.replace(old, new)
            method.output_type = method.output_type.replace(old, new)
    pool.Add(source)


async def mark_serving(checker: HealthServicer) -> None:
    """Report the server and each gateway service as SERVING."""
    for name in ("", *_SERVICES):
        await checker.set(name, health_pb2.HealthCheckResponse.SERVING)


async def mark_stopping(checker: HealthServicer) -> None:
    """Report NOT_SERVING to watchers before the server stops."""
    await checker.enter_graceful_shutdown()
