"""The standard gRPC services a simulator serves beside the gateway: health and reflection.

``grpc.health.v1.Health`` lets load balancers and ``grpc_health_probe`` check the
simulator; it answers without an API key (probes have none). Server reflection
lets ``grpcurl -plaintext HOST:PORT list`` discover the services; it needs a key
like any other call when the simulator has keys.
"""

from __future__ import annotations

from typing import Protocol

import grpc.aio
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from mxgateway.generated import galaxy_repository_pb2, mxaccess_gateway_pb2

__all__ = [
    "HEALTH_PREFIX",
    "REFLECTION_PREFIX",
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

_SERVICES = (
    mxaccess_gateway_pb2.DESCRIPTOR.services_by_name["MxAccessGateway"].full_name,
    galaxy_repository_pb2.DESCRIPTOR.services_by_name["GalaxyRepository"].full_name,
)


def add_probes(server: grpc.aio.Server) -> HealthServicer:
    """Add health (every service SERVING) and reflection to ``server``; returns the health servicer."""
    checker: HealthServicer = health.aio.HealthServicer()  # type: ignore[attr-defined]
    health_pb2_grpc.add_HealthServicer_to_server(checker, server)
    reflection.enable_server_reflection(
        (*_SERVICES, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME),
        server,
    )
    return checker


async def mark_serving(checker: HealthServicer) -> None:
    """Report the server and each gateway service as SERVING."""
    for name in ("", *_SERVICES):
        await checker.set(name, health_pb2.HealthCheckResponse.SERVING)


async def mark_stopping(checker: HealthServicer) -> None:
    """Report NOT_SERVING to watchers before the server stops."""
    await checker.enter_graceful_shutdown()
