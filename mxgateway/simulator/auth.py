"""API-key authentication and the scope each call needs.

Keys are kept only as SHA-256 digests, so neither a repr nor a log line of the
simulator can reveal one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence

import grpc

from mxgateway._model.scopes import (
    ADMIN,
    ALL_SCOPES,
    EVENTS_READ,
    INVOKE_READ,
    INVOKE_SECURE,
    INVOKE_WRITE,
    METADATA_READ,
    SESSION_CLOSE,
    SESSION_OPEN,
)
from mxgateway.generated import mxaccess_gateway_pb2 as pb

#: Every scope a key may hold; ``admin`` implies all the others.
SCOPES = frozenset(ALL_SCOPES)

UNAUTHENTICATED_MESSAGE = "missing or invalid API key"

_GATEWAY = "/mxaccess_gateway.v1.MxAccessGateway/"
_REPOSITORY = "/galaxy_repository.v1.GalaxyRepository/"

_METHOD_SCOPES = {
    _GATEWAY + "OpenSession": SESSION_OPEN,
    _GATEWAY + "CloseSession": SESSION_CLOSE,
    _GATEWAY + "StreamEvents": EVENTS_READ,
    _GATEWAY + "StreamAlarms": EVENTS_READ,
    _GATEWAY + "QueryActiveAlarms": EVENTS_READ,
    _GATEWAY + "AcknowledgeAlarm": INVOKE_WRITE,
}

_WRITE_KINDS = frozenset(
    {
        pb.MX_COMMAND_KIND_WRITE,
        pb.MX_COMMAND_KIND_WRITE2,
        pb.MX_COMMAND_KIND_WRITE_BULK,
        pb.MX_COMMAND_KIND_WRITE2_BULK,
    }
)
_SECURE_KINDS = frozenset(
    {
        pb.MX_COMMAND_KIND_WRITE_SECURED,
        pb.MX_COMMAND_KIND_WRITE_SECURED2,
        pb.MX_COMMAND_KIND_WRITE_SECURED_BULK,
        pb.MX_COMMAND_KIND_WRITE_SECURED2_BULK,
        pb.MX_COMMAND_KIND_AUTHENTICATE_USER,
    }
)


def invoke_scope(kind: int) -> str:
    """The scope an ``Invoke`` of this command kind needs.

    Writes need ``invoke:write``, secured writes and AuthenticateUser
    ``invoke:secure``, DrainEvents ``events:read``; everything else (register,
    add/remove, advise/unadvise, subscribe, read) is a read.
    """
    if kind in _WRITE_KINDS:
        return INVOKE_WRITE
    if kind in _SECURE_KINDS:
        return INVOKE_SECURE
    if kind == pb.MX_COMMAND_KIND_DRAIN_EVENTS:
        return EVENTS_READ
    return INVOKE_READ


def required_scope(method: str, request: object) -> str:
    """The scope a call of the full gRPC ``method`` name needs (``admin`` for unknown methods)."""
    if method == _GATEWAY + "Invoke" and isinstance(request, pb.MxCommandRequest):
        return invoke_scope(request.command.kind)
    if method.startswith((_REPOSITORY, "/grpc.reflection.")):
        return METADATA_READ  # reflection describes the services, like the Galaxy metadata
    return _METHOD_SCOPES.get(method, ADMIN)


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


def bearer_key(metadata: Sequence[tuple[str, str | bytes]] | None) -> str | None:
    """The key of an ``authorization: Bearer <key>`` metadata entry."""
    for name, value in metadata or ():
        if name.lower() != "authorization":
            continue
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        scheme, _, key = text.strip().partition(" ")
        if scheme.lower() == "bearer" and key.strip():
            return key.strip()
    return None


class ApiKeys:
    """The accepted keys and their scopes."""

    def __init__(self, api_keys: Mapping[str, Iterable[str]]) -> None:
        self._scopes: dict[bytes, frozenset[str]] = {}
        for key, scopes in api_keys.items():
            granted = frozenset(scopes)
            unknown = granted - SCOPES
            if unknown:
                raise ValueError(f"unknown scope(s): {', '.join(sorted(unknown))}")
            if not key:
                raise ValueError("an API key must not be empty")
            self._scopes[_digest(key)] = granted

    def __repr__(self) -> str:
        return f"ApiKeys(<{len(self._scopes)} keys>)"

    def check(
        self, metadata: Sequence[tuple[str, str | bytes]] | None, scope: str
    ) -> tuple[grpc.StatusCode, str] | None:
        """None when the call may proceed, else the status code and message to fail it with."""
        key = bearer_key(metadata)
        granted = self._scopes.get(_digest(key)) if key is not None else None
        if granted is None:
            return grpc.StatusCode.UNAUTHENTICATED, UNAUTHENTICATED_MESSAGE
        if scope in granted or ADMIN in granted:
            return None
        return grpc.StatusCode.PERMISSION_DENIED, f"API key lacks scope '{scope}'"
