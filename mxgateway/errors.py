"""The exceptions of the SDK and the one place that maps gateway failures to them.

Two sources of failure meet here:

- gRPC status codes (transport, authentication, gateway errors):
  ``map_rpc_error(exc, method=...)``;
- protocol statuses inside a successful reply (``ProtocolStatus.code``):
  ``check_protocol_status(reply, method=...)``; and MXAccess failures
  (``MXACCESS_FAILURE``, a non-zero ``hresult`` or a failed ``MxStatusProxy``):
  ``raise_for_mxaccess_failure(reply, ...)``.

Every exception derives from ``MxGatewayError``. Messages name the method and the
gateway's explanation and never hold a secret.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import grpc
from google.protobuf.message import Message

# Re-exported: the marker and the function have always been importable from here.
from mxgateway._model.redaction import REDACTED as REDACTED
from mxgateway._model.redaction import mentions_secret, redact_message
from mxgateway._model.redaction import redact as redact
from mxgateway._model.scopes import ALL_SCOPES, METADATA_READ
from mxgateway._model.status import MxStatus, is_failure_status, statuses_of
from mxgateway.generated import mxaccess_gateway_pb2 as pb

__all__ = [
    "KNOWN_SCOPES",
    "MxAccessError",
    "MxGatewayAlarmNotFoundError",
    "MxGatewayArgumentError",
    "MxGatewayAuthenticationError",
    "MxGatewayCancelledError",
    "MxGatewayClosedError",
    "MxGatewayCommandError",
    "MxGatewayError",
    "MxGatewayInvalidRequestError",
    "MxGatewayNotFoundError",
    "MxGatewayObjectNotFoundError",
    "MxGatewayPageTokenError",
    "MxGatewayPermissionError",
    "MxGatewayProtocolViolationError",
    "MxGatewaySessionClosedError",
    "MxGatewaySessionLostError",
    "MxGatewaySessionNotFoundError",
    "MxGatewaySessionNotReadyError",
    "MxGatewayStalePageTokenError",
    "MxGatewayTimeoutError",
    "MxGatewayTlsError",
    "MxGatewayUnavailableError",
    "check_protocol_status",
    "error_for_protocol_status",
    "is_tls_failure",
    "is_mxaccess_failure",
    "map_galaxy_rpc_error",
    "map_rpc_error",
    "raise_for_mxaccess_failure",
    "write_may_have_run",
]

KNOWN_SCOPES = ALL_SCOPES

#: RPCs of the MxAccessGateway service, whose NOT_FOUND means an unknown session.
_SESSION_RPCS = frozenset({"OpenSession", "CloseSession", "Invoke", "StreamEvents"})


class MxGatewayError(Exception):
    """Base of every error the SDK raises for a gateway call.

    ``method`` is the RPC (``"Invoke"``, ``"StreamEvents"`` ...); ``grpc_code`` the
    gRPC status code when the call itself failed; ``protocol_code`` the
    ``ProtocolStatusCode`` value when a reply reported the failure, with that
    ``reply`` kept; ``details`` the gateway's own explanation; ``hint`` what to
    do next, when the SDK knows (also the last part of ``str(error)``).
    """

    def __init__(
        self,
        message: str,
        *,
        method: str = "",
        grpc_code: grpc.StatusCode | None = None,
        protocol_code: int | None = None,
        details: str = "",
        reply: Message | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.method = method
        self.grpc_code = grpc_code
        self.protocol_code = protocol_code
        self.details = details
        self.reply = reply
        self.hint = ""

    def __str__(self) -> str:
        return f"{self.message}; hint: {self.hint}" if self.hint else self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class MxGatewayClosedError(MxGatewayError):
    """The client (or session) was closed: it makes no further calls."""


class MxGatewayArgumentError(MxGatewayError, TypeError, ValueError):
    """An argument is not what the call takes; ``argument`` names it. Nothing was sent.

    Also a ``TypeError`` and a ``ValueError``, whichever the caller already catches.
    """

    def __init__(self, message: str, *, argument: str = "", **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.argument = argument


class MxGatewayUnavailableError(MxGatewayError):
    """The gateway or its worker cannot be reached (UNAVAILABLE, WORKER_UNAVAILABLE, TLS failures)."""


class MxGatewayTlsError(MxGatewayUnavailableError):
    """The TLS handshake failed, which waiting does not fix: it is never retried like an outage.

    A wrong ``ca_file``, a host name the certificate does not name (see
    ``server_name_override``), or a refused client certificate.
    """


class MxGatewayTimeoutError(MxGatewayError, TimeoutError):
    """A deadline passed (DEADLINE_EXCEEDED, protocol TIMEOUT)."""


class MxGatewayCancelledError(MxGatewayError):
    """The call was cancelled by the other side (CANCELLED, protocol CANCELED).

    A call cancelled by this process raises ``asyncio.CancelledError`` instead.
    """


class MxGatewayAuthenticationError(MxGatewayError):
    """The API key is missing or unknown (UNAUTHENTICATED)."""


class MxGatewayPermissionError(MxGatewayError):
    """The API key lacks a scope (PERMISSION_DENIED); ``scope`` names it when known."""

    def __init__(self, message: str, *, scope: str | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.scope = scope


class MxGatewayNotFoundError(MxGatewayError):
    """Something the request names does not exist (NOT_FOUND)."""


class MxGatewaySessionNotFoundError(MxGatewayNotFoundError):
    """The session is unknown or already closed (NOT_FOUND, SESSION_NOT_FOUND)."""


class MxGatewaySessionLostError(MxGatewaySessionNotFoundError):
    """The session ended on the gateway while this client still held it.

    Its server and item handles died with it. The tag-level API (``read``,
    ``subscribe``, ``write_tag``, ``write_and_confirm``) recovers on a new session
    by itself (``ClientOptions.recover_sessions``); a caller of the handle-level
    commands must ``register`` and ``add_item`` again. ``old_session_id`` is the
    session that was lost.
    """

    def __init__(self, message: str, *, old_session_id: str = "", **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.old_session_id = old_session_id


class MxGatewaySessionClosedError(MxGatewayClosedError, MxGatewaySessionNotFoundError):
    """A call on a session (or ``Client``) this process closed.

    An ``MxGatewayClosedError`` like every call on a closed object, and still an
    ``MxGatewaySessionNotFoundError`` for code written against the session's id.
    """


class MxGatewaySessionNotReadyError(MxGatewayError):
    """The session exists but cannot run commands yet or any more (SESSION_NOT_READY)."""


class MxGatewayInvalidRequestError(MxGatewayError):
    """The gateway rejected the request as malformed (INVALID_ARGUMENT, INVALID_REQUEST)."""


class MxGatewayAlarmNotFoundError(MxGatewayNotFoundError, MxGatewayInvalidRequestError):
    """AcknowledgeAlarm named an alarm the gateway does not know; ``reference`` is that name."""

    def __init__(self, message: str, *, reference: str = "", **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.reference = reference


class MxGatewayPageTokenError(MxGatewayInvalidRequestError):
    """The gateway refused a Galaxy page token (INVALID_ARGUMENT): start paging again.

    ``reason`` is ``"stale"`` (the Galaxy was redeployed since the token was
    issued), ``"foreign"`` (issued for other filters or another RPC) or
    ``"invalid"`` (not issued by this gateway).
    """

    def __init__(self, message: str, *, reason: str = "invalid", **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.reason = reason


class MxGatewayStalePageTokenError(MxGatewayPageTokenError):
    """The Galaxy was redeployed while paging: the walk must start again from the first page."""


class MxGatewayObjectNotFoundError(MxGatewayNotFoundError):
    """The Galaxy root or parent object a request names does not exist (NOT_FOUND)."""


class MxGatewayProtocolViolationError(MxGatewayError):
    """The two sides disagree about the protocol (PROTOCOL_VIOLATION, UNIMPLEMENTED)."""


class MxGatewayCommandError(MxGatewayError):
    """A command whose reply reported a failure; ``reply`` is that ``MxCommandReply``."""


class MxAccessError(MxGatewayCommandError):
    """MXAccess itself failed: the RPC succeeded but the reply reports the failure.

    ``hresult`` is the COM HRESULT (0 when only the statuses failed), ``statuses``
    the full status array in readable form, ``reply`` the raw reply.
    """

    def __init__(
        self,
        message: str,
        *,
        hresult: int = 0,
        statuses: tuple[MxStatus, ...] = (),
        **kwargs: object,
    ) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.hresult = hresult
        self.statuses = statuses

    @property
    def failed_statuses(self) -> tuple[MxStatus, ...]:
        """Only the statuses that report a failure."""
        return tuple(s for s in self.statuses if s.is_failure)


_GRPC_CLASSES: dict[grpc.StatusCode, type[MxGatewayError]] = {
    grpc.StatusCode.UNAVAILABLE: MxGatewayUnavailableError,
    grpc.StatusCode.ABORTED: MxGatewayUnavailableError,
    grpc.StatusCode.DEADLINE_EXCEEDED: MxGatewayTimeoutError,
    grpc.StatusCode.CANCELLED: MxGatewayCancelledError,
    grpc.StatusCode.UNAUTHENTICATED: MxGatewayAuthenticationError,
    grpc.StatusCode.PERMISSION_DENIED: MxGatewayPermissionError,
    grpc.StatusCode.NOT_FOUND: MxGatewayNotFoundError,
    grpc.StatusCode.INVALID_ARGUMENT: MxGatewayInvalidRequestError,
    grpc.StatusCode.OUT_OF_RANGE: MxGatewayInvalidRequestError,
    grpc.StatusCode.ALREADY_EXISTS: MxGatewayInvalidRequestError,
    grpc.StatusCode.FAILED_PRECONDITION: MxGatewayInvalidRequestError,
    grpc.StatusCode.UNIMPLEMENTED: MxGatewayProtocolViolationError,
}

_PROTOCOL_CLASSES: dict[int, type[MxGatewayError]] = {
    pb.PROTOCOL_STATUS_CODE_INVALID_REQUEST: MxGatewayInvalidRequestError,
    pb.PROTOCOL_STATUS_CODE_SESSION_NOT_FOUND: MxGatewaySessionNotFoundError,
    pb.PROTOCOL_STATUS_CODE_SESSION_NOT_READY: MxGatewaySessionNotReadyError,
    pb.PROTOCOL_STATUS_CODE_WORKER_UNAVAILABLE: MxGatewayUnavailableError,
    pb.PROTOCOL_STATUS_CODE_TIMEOUT: MxGatewayTimeoutError,
    pb.PROTOCOL_STATUS_CODE_CANCELED: MxGatewayCancelledError,
    pb.PROTOCOL_STATUS_CODE_PROTOCOL_VIOLATION: MxGatewayProtocolViolationError,
}

_SUCCESS_CODES = (pb.PROTOCOL_STATUS_CODE_OK, pb.PROTOCOL_STATUS_CODE_UNSPECIFIED)
_MXACCESS_FAILURE = pb.PROTOCOL_STATUS_CODE_MXACCESS_FAILURE
# Patterns as text: re compiles (and caches) them on the first failure, not at import.
_SCOPE_PATTERN = r"(?<![\w:])(" + "|".join(re.escape(s) for s in KNOWN_SCOPES) + r")(?![\w:])"
_TLS_HINTS = ("ssl", "tls", "handshake", "certificate")


def is_tls_failure(details: str) -> bool:
    """True when a failure's details tell of a TLS handshake or certificate problem."""
    lowered = details.lower()
    return any(hint in lowered for hint in _TLS_HINTS)


def _short_method(method: str) -> str:
    return method.rsplit("/", 1)[-1]


def map_rpc_error(
    exc: grpc.RpcError,
    *,
    method: str,
    scope: str | None = None,
    secrets: Iterable[str | None] = (),
) -> MxGatewayError:
    """The typed error for a failed gRPC call (works for any stub of any service).

    ``method`` names the RPC (short or full path). ``scope`` is the scope the call
    needed, reported when the gateway's message does not name one. ``secrets`` are
    scrubbed from the message. NOT_FOUND on a session RPC of the MxAccessGateway
    service becomes ``MxGatewaySessionNotFoundError``.

    The result's ``__cause__`` is ``exc``, or None when ``exc`` mentions a secret;
    raise it with ``raise err from err.__cause__``.
    """
    return _map_rpc_error(exc, method=method, scope=scope, secrets=tuple(s for s in secrets if s))


def _map_rpc_error(
    exc: grpc.RpcError, *, method: str, scope: str | None, secrets: tuple[str, ...]
) -> MxGatewayError:
    code_fn = getattr(exc, "code", None)
    details_fn = getattr(exc, "details", None)
    code: grpc.StatusCode = code_fn() if callable(code_fn) else grpc.StatusCode.UNKNOWN
    details = redact(str(details_fn() or "") if callable(details_fn) else "", secrets)
    name = _short_method(method)
    cls = _GRPC_CLASSES.get(code, MxGatewayError)
    if cls is MxGatewayNotFoundError and name in _SESSION_RPCS:
        cls = MxGatewaySessionNotFoundError
    message = f"{name} failed: {code.name}"
    if details:
        message += f": {details}"
    if code is grpc.StatusCode.UNAVAILABLE and is_tls_failure(details):
        cls = MxGatewayTlsError
        message += (
            " (TLS: check ca_file, that the server certificate names this host or server_name_override,"
            " and the client certificate)"
        )
    if cls is MxGatewayPermissionError:
        found = re.search(_SCOPE_PATTERN, details)
        missing = found.group(1) if found else scope
        if missing and not found:
            message += f" (needs scope {missing})"
        error: MxGatewayError = MxGatewayPermissionError(
            message, scope=missing, method=name, grpc_code=code, details=details
        )
    else:
        error = cls(message, method=name, grpc_code=code, details=details)
    # The gateway's own words may echo a secret (in any letter case): then do not chain them.
    error.__cause__ = None if mentions_secret(str(exc), secrets) else exc
    error.__suppress_context__ = True
    return error


_PAGE_TOKEN_PROBLEM = r"\b(stale|foreign|invalid) page token\b"


def map_galaxy_rpc_error(
    exc: grpc.RpcError, method: str, secrets: Iterable[str | None] = ()
) -> MxGatewayError:
    """The typed error of a failed Galaxy Repository call (page token and unknown-object errors refined)."""
    error = map_rpc_error(exc, method=method, scope=METADATA_READ, secrets=secrets)
    fields: dict[str, Any] = {"method": error.method, "grpc_code": error.grpc_code, "details": error.details}
    if type(error) is MxGatewayInvalidRequestError:
        found = re.search(_PAGE_TOKEN_PROBLEM, error.details, re.IGNORECASE)
        if found is None:
            return error
        reason = found.group(1).lower()
        cls = MxGatewayStalePageTokenError if reason == "stale" else MxGatewayPageTokenError
        refined: MxGatewayError = cls(error.message, reason=reason, **fields)
    elif type(error) is MxGatewayNotFoundError:
        refined = MxGatewayObjectNotFoundError(error.message, **fields)
    else:
        return error
    # map_rpc_error drops the raw gRPC error from the chain when its text holds a secret.
    refined.__cause__ = error.__cause__
    refined.__suppress_context__ = True
    return refined


def error_for_protocol_status(
    status: pb.ProtocolStatus,
    *,
    method: str,
    reply: Message | None = None,
    secrets: Iterable[str | None] = (),
) -> MxGatewayError:
    """The typed error for a non-OK protocol status (``MXACCESS_FAILURE`` excluded).

    ``secrets`` are scrubbed from the message, the details and the kept ``reply`` (a
    redacted copy when the gateway's text echoes one).
    """
    secrets = tuple(secrets)
    code = status.code
    try:
        code_name = pb.ProtocolStatusCode.Name(code).removeprefix("PROTOCOL_STATUS_CODE_")
    except ValueError:
        code_name = str(code)
    cls = _PROTOCOL_CLASSES.get(code, MxGatewayCommandError)
    details = redact(status.message, secrets)
    message = f"{_short_method(method)} failed: {code_name}"
    if details:
        message += f": {details}"
    if reply is not None:
        reply = redact_message(reply, secrets)
    return cls(message, method=method, protocol_code=code, details=details, reply=reply)


def check_protocol_status(
    reply: pb.MxCommandReply | pb.OpenSessionReply | pb.CloseSessionReply,
    *,
    method: str,
    secrets: Iterable[str | None] = (),
) -> None:
    """Raise the typed error when the reply's protocol status is a gateway failure.

    OK, UNSPECIFIED and ``MXACCESS_FAILURE`` pass: the last is an MXAccess-level
    outcome, which only ``raise_for_mxaccess_failure`` reports. ``secrets`` are
    scrubbed as ``error_for_protocol_status`` does.
    """
    status = reply.protocol_status
    if status.code in _SUCCESS_CODES or status.code == _MXACCESS_FAILURE:
        return
    raise error_for_protocol_status(status, method=method, reply=reply, secrets=secrets)


def is_mxaccess_failure(reply: pb.MxCommandReply) -> bool:
    """True when the reply reports an MXAccess failure.

    That is ``MXACCESS_FAILURE``, a non-zero ``hresult`` or a status with
    ``success == 0`` and a category other than OK (proto3 defaults do not count).
    """
    if reply.protocol_status.code == _MXACCESS_FAILURE or reply.hresult != 0:
        return True
    return any(is_failure_status(s) for s in reply.statuses)


def raise_for_mxaccess_failure(
    reply: pb.MxCommandReply, *, method: str = "Invoke", secrets: Iterable[str | None] = ()
) -> None:
    """Raise ``MxAccessError`` (keeping the reply) when the reply reports an MXAccess failure.

    ``secrets`` are scrubbed from everything the error holds (a redacted copy of the reply).
    """
    if not is_mxaccess_failure(reply):
        return
    reply = redact_message(reply, secrets)
    statuses = statuses_of(reply.statuses)
    try:
        kind = pb.MxCommandKind.Name(reply.kind).removeprefix("MX_COMMAND_KIND_")
    except ValueError:
        kind = str(reply.kind)
    parts = [f"{kind} failed in MXAccess"]
    if reply.hresult:
        parts.append(f"hresult 0x{reply.hresult & 0xFFFFFFFF:08X}")
    failed = [s.readable for s in statuses if s.is_failure]
    if failed:
        parts.append("; ".join(failed))
    explanation = reply.protocol_status.message or reply.diagnostic_message
    # The gateway often repeats a status's own text as its message: say it once.
    if explanation and not any(explanation in part for part in parts):
        parts.append(explanation)
    raise MxAccessError(
        ": ".join(parts[:1]) + (": " + ", ".join(parts[1:]) if len(parts) > 1 else ""),
        hresult=reply.hresult,
        statuses=statuses,
        method=method,
        protocol_code=reply.protocol_status.code,
        details=explanation,
        reply=reply,
    )


def write_may_have_run(error: BaseException) -> bool:
    """True when a write whose call raised ``error`` may have run all the same.

    A deadline, a broken connection or a cancel leave the write's fate unknown: the
    gateway may have run it, and its outcome may still come (a resume replays it).
    A reply that refused the write, or a lost session, means it never ran.
    """
    import asyncio  # loaded already wherever a write can fail: not at import

    if isinstance(error, MxGatewaySessionNotFoundError):
        return False
    return isinstance(
        error,
        (asyncio.CancelledError, MxGatewayTimeoutError, MxGatewayUnavailableError, MxGatewayCancelledError),
    )
