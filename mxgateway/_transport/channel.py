"""Channels and call metadata built from ``ClientOptions``, for any stub of the gateway.

``create_channel(options)`` makes the ``grpc.aio.Channel`` (plaintext or TLS,
keepalive, message limits, extra options); ``call_metadata(options)`` is the
metadata to pass on every call, unary or stream, of any stub
(``stub.Method(request, metadata=md)``). Both must run on the event loop that will
use the channel.
"""

from __future__ import annotations

import os

import grpc
import grpc.aio

from mxgateway._version import __version__
from mxgateway.errors import MxGatewayArgumentError
from mxgateway.options import ClientOptions

__all__ = ["Metadata", "call_metadata", "channel_arguments", "create_channel"]

#: Call metadata as grpc.aio takes it.
Metadata = tuple[tuple[str, str], ...]

_USER_AGENT = f"mxgateway-python/{__version__}"


def call_metadata(options: ClientOptions) -> Metadata:
    """The metadata of every call: ``authorization: Bearer <key>`` when a key is set.

    Raises ``ValueError`` when the key would travel in plaintext to a host that is
    not loopback and the options do not allow it.
    """
    options.check_key_transport()
    if not options.api_key:
        return ()
    return (("authorization", f"Bearer {options.api_key}"),)


def channel_arguments(options: ClientOptions) -> list[tuple[str, str | int]]:
    """The gRPC channel arguments the options ask for (extra ``channel_options`` last)."""
    policy = options.reconnect
    args: list[tuple[str, str | int]] = [
        ("grpc.primary_user_agent", _USER_AGENT),
        ("grpc.max_receive_message_length", options.max_receive_message_bytes),
        # gRPC's own reconnect back-off (1 s growing to 120 s by default) would hold
        # a resuming event stream back long after the gateway is up again: follow
        # the SDK's reconnect policy instead.
        ("grpc.initial_reconnect_backoff_ms", max(1, int(policy.initial_backoff_s * 1000))),
        ("grpc.max_reconnect_backoff_ms", max(1, int(policy.max_backoff_s * 1000))),
    ]
    if options.keepalive_time_s is not None:
        args += [
            ("grpc.keepalive_time_ms", int(options.keepalive_time_s * 1000)),
            ("grpc.keepalive_timeout_ms", int(options.keepalive_timeout_s * 1000)),
            # gRPC waits this long for any ping's answer (one minute by default, whatever the
            # keepalive timeout says): without it a half-open connection lasts a minute.
            ("grpc.http2.ping_timeout_ms", int(options.keepalive_timeout_s * 1000)),
            ("grpc.keepalive_permit_without_calls", int(options.keepalive_permit_without_calls)),
            ("grpc.http2.max_pings_without_data", 0),
        ]
    if options.server_name_override:
        args.append(("grpc.ssl_target_name_override", options.server_name_override))
    args.extend(options.channel_options)
    return args


def _read(path: str | os.PathLike[str] | None, what: str) -> bytes | None:
    if path is None:
        return None
    from pathlib import Path

    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise MxGatewayArgumentError(
            f"cannot read {what} {str(path)!r}: {exc.strerror or exc}", argument=what
        ) from None


def create_channel(options: ClientOptions) -> grpc.aio.Channel:
    """A new ``grpc.aio.Channel`` for the options' endpoint (connects lazily)."""
    options.check_key_transport()
    args = channel_arguments(options)
    if options.plaintext:
        return grpc.aio.insecure_channel(options.endpoint, options=args)
    credentials = grpc.ssl_channel_credentials(
        root_certificates=_read(options.ca_file, "ca_file"),
        private_key=_read(options.client_key_file, "client_key_file"),
        certificate_chain=_read(options.client_cert_file, "client_cert_file"),
    )
    return grpc.aio.secure_channel(options.endpoint, credentials, options=args)
