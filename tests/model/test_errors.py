"""The error mapping: every gRPC code, every protocol status, MXAccess failure detection.

These tests feed the mapping real ``grpc.aio.AioRpcError`` objects and replies; the
loopback tests (tests/transport/test_faults.py) check the same mapping end to end.
"""

from __future__ import annotations

import grpc
import grpc.aio
import pytest

from mxgateway import errors as e
from mxgateway.generated import mxaccess_gateway_pb2 as pb

GRPC_CASES: list[tuple[grpc.StatusCode, type[e.MxGatewayError]]] = [
    (grpc.StatusCode.UNAVAILABLE, e.MxGatewayUnavailableError),
    # Also what grpc raises for a reply over max_receive_message_bytes: retrying cannot help.
    (grpc.StatusCode.RESOURCE_EXHAUSTED, e.MxGatewayError),
    (grpc.StatusCode.ABORTED, e.MxGatewayUnavailableError),
    (grpc.StatusCode.DEADLINE_EXCEEDED, e.MxGatewayTimeoutError),
    (grpc.StatusCode.CANCELLED, e.MxGatewayCancelledError),
    (grpc.StatusCode.UNAUTHENTICATED, e.MxGatewayAuthenticationError),
    (grpc.StatusCode.PERMISSION_DENIED, e.MxGatewayPermissionError),
    (grpc.StatusCode.NOT_FOUND, e.MxGatewaySessionNotFoundError),
    (grpc.StatusCode.INVALID_ARGUMENT, e.MxGatewayInvalidRequestError),
    (grpc.StatusCode.OUT_OF_RANGE, e.MxGatewayInvalidRequestError),
    (grpc.StatusCode.ALREADY_EXISTS, e.MxGatewayInvalidRequestError),
    (grpc.StatusCode.FAILED_PRECONDITION, e.MxGatewayInvalidRequestError),
    (grpc.StatusCode.UNIMPLEMENTED, e.MxGatewayProtocolViolationError),
    (grpc.StatusCode.INTERNAL, e.MxGatewayError),
    (grpc.StatusCode.UNKNOWN, e.MxGatewayError),
    (grpc.StatusCode.DATA_LOSS, e.MxGatewayError),
]

PROTOCOL_CASES: list[tuple[int, type[e.MxGatewayError]]] = [
    (pb.PROTOCOL_STATUS_CODE_INVALID_REQUEST, e.MxGatewayInvalidRequestError),
    (pb.PROTOCOL_STATUS_CODE_SESSION_NOT_FOUND, e.MxGatewaySessionNotFoundError),
    (pb.PROTOCOL_STATUS_CODE_SESSION_NOT_READY, e.MxGatewaySessionNotReadyError),
    (pb.PROTOCOL_STATUS_CODE_WORKER_UNAVAILABLE, e.MxGatewayUnavailableError),
    (pb.PROTOCOL_STATUS_CODE_TIMEOUT, e.MxGatewayTimeoutError),
    (pb.PROTOCOL_STATUS_CODE_CANCELED, e.MxGatewayCancelledError),
    (pb.PROTOCOL_STATUS_CODE_PROTOCOL_VIOLATION, e.MxGatewayProtocolViolationError),
    (99, e.MxGatewayCommandError),
]


def rpc_error(code: grpc.StatusCode, details: str) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details=details)


def test_every_grpc_code_is_covered() -> None:
    assert {c for c, _ in GRPC_CASES} == set(grpc.StatusCode) - {grpc.StatusCode.OK}


@pytest.mark.parametrize(("code", "cls"), GRPC_CASES)
def test_grpc_code_mapping(code: grpc.StatusCode, cls: type[e.MxGatewayError]) -> None:
    err = e.map_rpc_error(
        rpc_error(code, "the gateway says why"), method="/mxaccess_gateway.v1.MxAccessGateway/Invoke"
    )
    assert type(err) is cls
    assert err.grpc_code is code
    assert err.method == "Invoke"
    assert str(err) == f"Invoke failed: {code.name}: the gateway says why"


def test_not_found_outside_sessions_is_plain_not_found() -> None:
    err = e.map_rpc_error(rpc_error(grpc.StatusCode.NOT_FOUND, "no root"), method="DiscoverHierarchy")
    assert type(err) is e.MxGatewayNotFoundError


def test_timeout_is_also_a_builtin_timeout() -> None:
    assert isinstance(
        e.map_rpc_error(rpc_error(grpc.StatusCode.DEADLINE_EXCEEDED, ""), method="x"), TimeoutError
    )


@pytest.mark.parametrize(
    ("details", "hint", "scope"),
    [
        ("API key lacks scope invoke:write", None, "invoke:write"),
        ("missing scope 'events:read'", "invoke:read", "events:read"),
        ("permission denied", "invoke:secure", "invoke:secure"),
        ("permission denied", None, None),
    ],
)
def test_permission_names_the_scope(details: str, hint: str | None, scope: str | None) -> None:
    err = e.map_rpc_error(rpc_error(grpc.StatusCode.PERMISSION_DENIED, details), method="Invoke", scope=hint)
    assert isinstance(err, e.MxGatewayPermissionError)
    assert err.scope == scope
    if scope:
        assert scope in str(err)


def test_secrets_are_scrubbed_from_messages() -> None:
    err = e.map_rpc_error(
        rpc_error(grpc.StatusCode.UNAUTHENTICATED, "bad key mxgw_a_secret"),
        method="Invoke",
        secrets=["mxgw_a_secret", None],
    )
    assert "mxgw_a_secret" not in str(err)
    assert "mxgw_a_secret" not in err.details
    assert "<redacted>" in str(err)


@pytest.mark.parametrize(("code", "cls"), PROTOCOL_CASES)
def test_protocol_status_mapping(code: int, cls: type[e.MxGatewayError]) -> None:
    reply = pb.MxCommandReply(protocol_status=pb.ProtocolStatus(code=code, message="why"))  # type: ignore[arg-type]
    with pytest.raises(cls) as info:
        e.check_protocol_status(reply, method="Invoke")
    assert type(info.value) is cls
    assert info.value.reply is reply
    assert info.value.protocol_code == code
    assert "why" in str(info.value)


@pytest.mark.parametrize(
    "code",
    [
        pb.PROTOCOL_STATUS_CODE_OK,
        pb.PROTOCOL_STATUS_CODE_UNSPECIFIED,
        pb.PROTOCOL_STATUS_CODE_MXACCESS_FAILURE,
    ],
)
def test_protocol_success_and_mxaccess_failure_pass_the_protocol_check(code: int) -> None:
    e.check_protocol_status(pb.MxCommandReply(protocol_status=pb.ProtocolStatus(code=code)), method="Invoke")  # type: ignore[arg-type]


def test_proto3_default_status_is_not_a_failure() -> None:
    reply = pb.MxCommandReply(
        protocol_status=pb.ProtocolStatus(code=pb.PROTOCOL_STATUS_CODE_OK), statuses=[pb.MxStatusProxy()]
    )
    assert not e.is_mxaccess_failure(reply)
    e.raise_for_mxaccess_failure(reply)
    ok = pb.MxStatusProxy(success=1, category=pb.MX_STATUS_CATEGORY_OK)
    assert not e.is_mxaccess_failure(pb.MxCommandReply(statuses=[ok]))


@pytest.mark.parametrize(
    "reply",
    [
        pb.MxCommandReply(protocol_status=pb.ProtocolStatus(code=pb.PROTOCOL_STATUS_CODE_MXACCESS_FAILURE)),
        pb.MxCommandReply(hresult=-2147467259),
        pb.MxCommandReply(
            statuses=[
                pb.MxStatusProxy(success=1, category=pb.MX_STATUS_CATEGORY_OK),
                pb.MxStatusProxy(
                    success=0,
                    category=pb.MX_STATUS_CATEGORY_CONFIGURATION_ERROR,
                    detected_by=pb.MX_STATUS_SOURCE_RESPONDING_LMX,
                    detail=1003,
                    diagnostic_text="unknown tag",
                ),
            ]
        ),
    ],
)
def test_mxaccess_failures_are_detected(reply: pb.MxCommandReply) -> None:
    reply.kind = pb.MX_COMMAND_KIND_ADD_ITEM
    with pytest.raises(e.MxAccessError) as info:
        e.raise_for_mxaccess_failure(reply)
    err = info.value
    assert err.reply is reply
    assert err.hresult == reply.hresult
    assert len(err.statuses) == len(reply.statuses)
    assert str(err).startswith("ADD_ITEM failed in MXAccess")
    assert isinstance(err, e.MxGatewayCommandError)
    if reply.statuses:
        (failed,) = err.failed_statuses
        assert (failed.category, failed.detected_by, failed.detail) == (
            "CONFIGURATION_ERROR",
            "RESPONDING_LMX",
            1003,
        )
        assert failed.readable == "CONFIGURATION_ERROR (detail 1003, by RESPONDING_LMX): unknown tag"
        assert failed.readable in str(err)
    if reply.hresult:
        assert "0x80004005" in str(err)


def test_redact_removes_long_secrets_everywhere_and_short_ones_as_words() -> None:
    key = "mxgw_k1_s3cr3tvalue"
    assert e.redact(f"bad key {key}; again:{key}!", [key]) == "bad key <redacted>; again:<redacted>!"
    # A short secret would otherwise garble the text and hint at itself.
    assert e.redact("failed: a password", ["a"]) == "failed: <redacted> password"
    assert e.redact("invalid password", ["a"]) == "invalid password"
    # Never inside a marker already written, whatever the secrets are.
    assert e.redact(f"{key} and red", [key, "red"]) == "<redacted> and <redacted>"
    assert e.redact("nothing secret", [None, ""]) == "nothing secret"


def test_mxaccess_error_says_the_gateway_message_once() -> None:
    reply = pb.MxCommandReply(
        kind=pb.MX_COMMAND_KIND_ADD_ITEM,
        hresult=-2147467259,
        protocol_status=pb.ProtocolStatus(
            code=pb.PROTOCOL_STATUS_CODE_MXACCESS_FAILURE, message="unknown tag 'Tank_001.Levle'"
        ),
        statuses=[
            pb.MxStatusProxy(
                success=0,
                category=pb.MX_STATUS_CATEGORY_CONFIGURATION_ERROR,
                detail=1003,
                diagnostic_text="unknown tag 'Tank_001.Levle'",
            )
        ],
    )
    with pytest.raises(e.MxAccessError) as caught:
        e.raise_for_mxaccess_failure(reply)
    assert str(caught.value).count("unknown tag 'Tank_001.Levle'") == 1
    assert "0x80004005" in str(caught.value)


def test_a_blank_secret_redacts_nothing() -> None:
    from mxgateway.errors import redact

    message = "unexpected KeyError: 'first second'"
    assert redact(message, [" ", "\t", "", None]) == message
    assert redact(message + " key-123", [" ", "key-123"]) == message + " <redacted>"


def test_a_key_the_gateway_echoes_in_another_case_is_redacted_and_not_chained() -> None:
    key = "mxgw_k1_S3cr3tValue"
    err = e.map_rpc_error(
        rpc_error(grpc.StatusCode.UNAUTHENTICATED, f"bad key {key.upper()}"), method="Invoke", secrets=[key]
    )
    assert str(err) == "Invoke failed: UNAUTHENTICATED: bad key <redacted>"
    assert err.details == "bad key <redacted>"
    assert err.__cause__ is None


def test_a_protocol_status_echoing_a_key_is_redacted_everywhere_the_error_holds_it() -> None:
    key = "mxgw_k1_S3cr3tValue"
    reply = pb.MxCommandReply(
        protocol_status=pb.ProtocolStatus(
            code=pb.PROTOCOL_STATUS_CODE_INVALID_REQUEST, message=f"key {key.lower()} refused"
        ),
        diagnostic_message=f"caller {key.swapcase()}",
    )
    with pytest.raises(e.MxGatewayInvalidRequestError) as caught:
        e.check_protocol_status(reply, method="Invoke", secrets=[key])
    err = caught.value
    assert str(err) == "Invoke failed: INVALID_REQUEST: key <redacted> refused"
    assert err.details == "key <redacted> refused"
    assert err.reply is not None
    assert key.casefold() not in str(err.reply).casefold()
    assert key.lower() in reply.protocol_status.message  # the caller's reply is left as it was


def test_an_mxaccess_failure_echoing_a_key_is_redacted() -> None:
    key = "mxgw_k1_S3cr3tValue"
    reply = pb.MxCommandReply(
        kind=pb.MX_COMMAND_KIND_ADD_ITEM,
        protocol_status=pb.ProtocolStatus(
            code=pb.PROTOCOL_STATUS_CODE_MXACCESS_FAILURE, message=f"as {key.upper()}"
        ),
        statuses=[pb.MxStatusProxy(success=0, category=3, detail=1, diagnostic_text=f"user {key.upper()}")],
    )
    with pytest.raises(e.MxAccessError) as caught:
        e.raise_for_mxaccess_failure(reply, secrets=[key])
    err = caught.value
    shown = " ".join([str(err), repr(err), err.details, str(err.reply), *(s.readable for s in err.statuses)])
    assert "<redacted>" in str(err)
    assert key.casefold() not in shown.casefold()


def test_an_acknowledge_reply_echoing_a_key_is_redacted() -> None:
    from mxgateway._alarms.acknowledge import raise_for_acknowledge_reply

    key = "mxgw_k1_S3cr3tValue"
    reply = pb.AcknowledgeAlarmReply(
        protocol_status=pb.ProtocolStatus(
            code=pb.PROTOCOL_STATUS_CODE_INVALID_REQUEST, message=f"Tank_001.Hi unknown to {key.upper()}"
        )
    )
    with pytest.raises(e.MxGatewayAlarmNotFoundError) as caught:
        raise_for_acknowledge_reply(reply, "Tank_001.Hi", secrets=[key])
    err = caught.value
    assert key.casefold() not in f"{err} {err.details} {err.reply}".casefold()
