"""How the event pump opens a StreamEvents call and tells its failures apart.

An attach is confirmed by the gateway's response headers (or, from a gateway that
sends them late, by its first message: until then the outage it ends goes on); a call that broke is
either resumed (a transient failure, a channel closed by a fail-over, the stream
simply ended), recovered (the session is gone) or the end of the session's events
(everything else, such as a refused key or a certificate problem).
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from collections.abc import Callable

import grpc
import grpc.aio

from mxgateway._retry import is_transient_code
from mxgateway._transport.streams import StreamCall, done_within
from mxgateway.errors import MxGatewayError, MxGatewaySessionLostError, is_tls_failure, map_rpc_error, redact

__all__ = [
    "Outage",
    "ATTACH_CONFIRM_TIMEOUT_S",
    "StreamEnded",
    "confirm_attach",
    "connect_failure",
    "failure_reason",
    "fresh",
    "outcome_lost",
    "retired_call",
    "retryable",
    "session_gone",
    "session_lost",
    "typed_failure",
]

_log = logging.getLogger("mxgateway.events")

#: How long to wait for the gateway to confirm an attach (its response headers)
#: before treating the stream as attached anyway (a gateway may send them late).
ATTACH_CONFIRM_TIMEOUT_S = 2.0


class StreamEnded(Exception):
    """The gateway ended the stream without an error (treated like a broken connection)."""


async def confirm_attach(call: StreamCall, session_id: str, *, retired: Callable[[], bool]) -> bool:
    """Wait until the gateway confirmed ``call``: True; False when no headers came in time.

    On failure the call is cancelled and the failure raised. ``retired()`` tells
    whether a CancelledError came from the call's channel being closed by a
    fail-over (raised as a retryable ``retired_call()``) rather than from
    cancelling the waiting task.
    """
    confirmed = True
    try:
        if not await done_within(call.initial_metadata(), ATTACH_CONFIRM_TIMEOUT_S):
            confirmed = False
            _log.debug(
                "session %s: no headers within %.1f s; reading anyway", session_id, ATTACH_CONFIRM_TIMEOUT_S
            )
    except asyncio.CancelledError:
        call.cancel()
        if retired():
            raise retired_call() from None
        raise
    except BaseException:
        call.cancel()
        raise
    if call.done():
        code = await call.code()
        if code is not grpc.StatusCode.OK:
            details = await call.details()
            raise grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details, None)
    return confirmed


def retryable(failure: BaseException, *, closed: bool) -> bool:
    """True when reopening the stream on the same session may succeed (``closed``: the pump is closing)."""
    if isinstance(failure, StreamEnded):
        return True
    if not isinstance(failure, grpc.aio.AioRpcError):
        return False
    code = failure.code()
    if code is grpc.StatusCode.UNAVAILABLE and is_tls_failure(failure.details() or ""):
        return False  # a certificate problem does not go away by waiting
    if code is grpc.StatusCode.CANCELLED:
        # Not cancelled here (closing returns before this): the channel was
        # closed under the call, as a fail-over of the client does.
        return not closed
    # A resumed stream can be refused while the gateway still holds the dead
    # connection's stream as the session's one subscriber: that clears itself.
    return is_transient_code(code) or code is grpc.StatusCode.FAILED_PRECONDITION


def retired_call() -> grpc.aio.AioRpcError:
    """The failure of a call whose channel a fail-over closed (retryable: reopened on the new one)."""
    return grpc.aio.AioRpcError(
        grpc.StatusCode.CANCELLED,
        grpc.aio.Metadata(),
        grpc.aio.Metadata(),
        "the connection was replaced by a fail-over",
        None,
    )


def session_gone(failure: BaseException) -> bool:
    """True when the gateway no longer knows the session (recover it)."""
    return isinstance(failure, grpc.aio.AioRpcError) and failure.code() is grpc.StatusCode.NOT_FOUND


def connect_failure(failure: BaseException) -> bool:
    """True when the endpoint could not be reached (counts towards a fail-over)."""
    return isinstance(failure, grpc.aio.AioRpcError) and failure.code() is grpc.StatusCode.UNAVAILABLE


def failure_reason(failure: BaseException, secrets: tuple[str, ...]) -> str:
    """One line on why the stream broke, with ``secrets`` redacted (for state changes and logs)."""
    if isinstance(failure, grpc.aio.AioRpcError):
        text = f"{failure.code().name}: {failure.details() or ''}".rstrip(": ")
    else:
        text = str(failure) or type(failure).__name__
    return redact(text, secrets)


def typed_failure(exc: grpc.aio.AioRpcError, secrets: tuple[str, ...]) -> MxGatewayError:
    """The typed error readers see, with no raw cause (it may hold gateway text)."""
    error = map_rpc_error(exc, method="StreamEvents", scope="events:read", secrets=secrets)
    error.__cause__ = None
    return error


def session_lost(session_id: str, why: str = "") -> MxGatewaySessionLostError:
    """What readers and commands get when ``session_id`` is gone and not replaced here."""
    return MxGatewaySessionLostError(
        f"session {session_id} was lost on the gateway{': ' + why if why else ''}; its handles are gone",
        method="StreamEvents",
        old_session_id=session_id,
    )


def fresh(error: BaseException) -> BaseException:
    """A copy of ``error`` to raise once more: the stored one's traceback must not grow with every raise."""
    copied = copy.copy(error)
    copied.__traceback__ = copied.__cause__ = copied.__context__ = None
    return copied


def outcome_lost(old_id: str) -> MxGatewaySessionLostError:
    """What a ``write_and_confirm`` waiting on the replaced session ``old_id`` gets."""
    return MxGatewaySessionLostError(
        f"session {old_id} was lost before the write's outcome arrived; the outcome is unknown",
        method="StreamEvents",
        old_session_id=old_id,
    )


class Outage:
    """One run of failed attempts.

    Since when, the connection failures per connection, and whether it replaced the
    session already (a second replacement in one outage ends it).
    """

    __slots__ = ("connect_failures", "counted_on", "replaced", "started")

    def __init__(self) -> None:
        self.started: float | None = None
        self.connect_failures = 0
        self.counted_on = -1
        self.replaced = False

    def begin(self) -> float:
        """Note a failure; the seconds since the first of this run."""
        if self.started is None:
            self.started = time.monotonic()
        return time.monotonic() - self.started

    def left(self, window: float) -> float:
        """Seconds of ``window`` this run has left (all of it when nothing failed yet)."""
        return window if self.started is None else window - (time.monotonic() - self.started)

    def replacing(self) -> bool:
        """A replacement starts: False when this run replaced the session already."""
        if self.replaced:
            return False
        self.replaced = True
        self.started = time.monotonic()  # the new session gets a window of its own
        return True

    def reset(self) -> None:
        """The stream is back: the next failure starts a new run."""
        self.started = None
        self.connect_failures = 0
        self.replaced = False
