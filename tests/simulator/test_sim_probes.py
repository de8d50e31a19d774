"""The simulator serves grpc.health.v1 (no key needed) and server reflection (key checked)."""

from __future__ import annotations

import json
import select
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from mxgateway.simulator.background import BackgroundSimulator
from mxgateway.simulator.server import Simulator

KEY = "probe-test-key-0123456789"
SERVICES = {
    "mxaccess_gateway.v1.MxAccessGateway",
    "galaxy_repository.v1.GalaxyRepository",
    "grpc.health.v1.Health",
    "grpc.reflection.v1alpha.ServerReflection",
    "grpc.reflection.v1.ServerReflection",
}


@pytest.fixture
def keyed() -> Iterator[BackgroundSimulator]:
    with Simulator.start_in_background(api_keys={KEY: ["admin"]}, update_rate_hz=0) as sim:
        yield sim


def _status(channel: grpc.Channel, service: str = "") -> str:
    reply = health_pb2_grpc.HealthStub(channel).Check(
        health_pb2.HealthCheckRequest(service=service), timeout=5
    )
    return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)


def test_health_answers_without_a_key(keyed: BackgroundSimulator) -> None:
    with grpc.insecure_channel(keyed.endpoint) as channel:
        assert _status(channel) == "SERVING"
        assert _status(channel, "mxaccess_gateway.v1.MxAccessGateway") == "SERVING"
        with pytest.raises(grpc.RpcError) as unknown:
            _status(channel, "no.such.Service")
        assert unknown.value.code() is grpc.StatusCode.NOT_FOUND


def test_reflection_needs_the_key_like_any_call(keyed: BackgroundSimulator) -> None:
    with grpc.insecure_channel(keyed.endpoint) as channel:
        with pytest.raises(grpc.RpcError) as refused:
            ProtoReflectionDescriptorDatabase(channel).get_services()
        assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED
    keyed_channel = grpc.intercept_channel(grpc.insecure_channel(keyed.endpoint), _Bearer(KEY))
    with keyed_channel:
        database = ProtoReflectionDescriptorDatabase(keyed_channel)
        assert set(database.get_services()) == SERVICES
        described = database.FindFileContainingSymbol("mxaccess_gateway.v1.MxAccessGateway")
        assert "OpenSession" in [m.name for m in described.service[0].method]


class _Bearer(grpc.StreamStreamClientInterceptor):  # type: ignore[misc]
    def __init__(self, key: str) -> None:
        self._metadata = (("authorization", f"Bearer {key}"),)

    def intercept_stream_stream(self, continuation, details, requests):  # type: ignore[no-untyped-def]
        details = details._replace(metadata=self._metadata)
        return continuation(details, requests)


def test_grpcurl_style_listing_of_a_simulate_process() -> None:
    """What ``grpcurl -plaintext ENDPOINT list`` does, against ``mxgw-py simulate``."""
    command = [str(Path(sys.executable).with_name("mxgw-py")), "simulate", "--port", "0", "--rate", "0"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 30)
        assert ready, "mxgw-py simulate printed no endpoint within 30 s"
        endpoint = json.loads(process.stdout.readline())["endpoint"]
        with grpc.insecure_channel(endpoint) as channel:
            assert set(ProtoReflectionDescriptorDatabase(channel).get_services()) == SERVICES
            assert _status(channel) == "SERVING"
    finally:
        process.terminate()
        process.wait(timeout=10)


class _V1Stub:
    """grpcio-reflection's client speaks v1alpha only: the same messages on the v1 method path."""

    def __init__(self, channel: grpc.Channel) -> None:
        self.ServerReflectionInfo = channel.stream_stream(
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
            request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
            response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
        )


def test_reflection_v1_lists_and_describes_as_v1alpha_does(keyed: BackgroundSimulator) -> None:
    keyed_channel = grpc.intercept_channel(grpc.insecure_channel(keyed.endpoint), _Bearer(KEY))
    with keyed_channel:
        database = ProtoReflectionDescriptorDatabase(keyed_channel)
        database._stub = _V1Stub(keyed_channel)  # what grpcurl asks first
        assert set(database.get_services()) == SERVICES
        described = database.FindFileContainingSymbol("mxaccess_gateway.v1.MxAccessGateway")
        assert "OpenSession" in [m.name for m in described.service[0].method]
        own = database.FindFileContainingSymbol("grpc.reflection.v1.ServerReflection")
        assert own.package == "grpc.reflection.v1"
        assert own.service[0].method[0].input_type == ".grpc.reflection.v1.ServerReflectionRequest"
    # A v1 request without the key is refused like any other call.
    with grpc.insecure_channel(keyed.endpoint) as channel:
        bare = ProtoReflectionDescriptorDatabase(channel)
        bare._stub = _V1Stub(channel)
        with pytest.raises(grpc.RpcError) as refused:
            bare.get_services()
        assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED
