"""What an AcknowledgeAlarm reply means: nothing when it succeeded, else the typed error."""

from __future__ import annotations

from collections.abc import Iterable

from mxgateway._model.redaction import redact_message
from mxgateway.errors import (
    MxGatewayAlarmNotFoundError,
    MxGatewayCommandError,
    error_for_protocol_status,
)
from mxgateway.generated import mxaccess_gateway_pb2 as pb

__all__ = ["raise_for_acknowledge_reply"]


def raise_for_acknowledge_reply(
    reply: pb.AcknowledgeAlarmReply, reference: str, secrets: Iterable[str | None] = ()
) -> None:
    """Raise the typed error when an AcknowledgeAlarm reply reports a failure.

    INVALID_REQUEST naming the reference is ``MxGatewayAlarmNotFoundError``; another
    failed protocol status its usual error; a non-zero ``native_status`` or
    ``hresult`` (the alarm manager refused) ``MxGatewayCommandError``. ``secrets``
    are scrubbed from the error and the reply it keeps.
    """
    secrets = tuple(secrets)
    reply = redact_message(reply, secrets)  # and with it every text below
    status = reply.protocol_status
    if status.code not in (pb.PROTOCOL_STATUS_CODE_OK, pb.PROTOCOL_STATUS_CODE_UNSPECIFIED):
        if (
            status.code == pb.PROTOCOL_STATUS_CODE_INVALID_REQUEST
            and reference
            and reference in status.message
        ):
            raise MxGatewayAlarmNotFoundError(
                f"AcknowledgeAlarm failed: {status.message or f'unknown alarm {reference!r}'}",
                reference=reference,
                method="AcknowledgeAlarm",
                protocol_code=status.code,
                details=status.message,
                reply=reply,
            )
        raise error_for_protocol_status(status, method="AcknowledgeAlarm", reply=reply, secrets=secrets)
    hresult = reply.hresult if reply.HasField("hresult") else 0
    if reply.native_status or hresult:
        raise MxGatewayCommandError(
            f"AcknowledgeAlarm of {reference!r} refused by the alarm manager: native status "
            f"{reply.native_status}" + (f", hresult 0x{hresult & 0xFFFFFFFF:08X}" if hresult else ""),
            method="AcknowledgeAlarm",
            protocol_code=status.code,
            reply=reply,
        )
