"""Session recovery: replacing a session the gateway lost by a new one.

``SessionRecovery`` is the part of ``Session`` that opens the replacement (with
backoff and fail-over), rebinds the session to it and makes the handles of the
lost session dead, and that lets closing wait for a recovery in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from mxgateway._session.tag_table import TagTable
from mxgateway.errors import (
    MxGatewayCancelledError,
    MxGatewayClosedError,
    MxGatewayError,
    MxGatewaySessionLostError,
    MxGatewayTimeoutError,
    MxGatewayUnavailableError,
)
from mxgateway.generated import mxaccess_gateway_pb2 as pb
from mxgateway.options import ClientOptions

if TYPE_CHECKING:
    # The event machinery loads when a session is made (see Session), not with the package.
    from mxgateway._events.pump import EventPump
    from mxgateway._transport.connection import GatewayTransport

__all__ = ["SessionRecovery"]

#: Closes of sessions nobody wants any more, referenced until done (the loop keeps only weak references).
_CLOSING: set[asyncio.Future[None]] = set()

# The session's logger: recovery is part of the session's story in the log.
_log = logging.getLogger("mxgateway.session")


class SessionRecovery:
    """Replacing a lost session; the state it touches is the session's own."""

    _client_session_name: str
    _options: ClientOptions
    _transport: GatewayTransport
    _recover_enabled: bool
    _recover_lock: asyncio.Lock
    _session_id: str
    _open_reply: pb.OpenSessionReply
    _closed: bool
    _pump: EventPump
    _tags: TagTable
    _server_handle: int | None
    _handles: dict[str, int]
    _user_servers: set[int]
    _stale_servers: set[int]

    # Provided by the session.
    def _fail_over(self, generation: int | None = None) -> bool:
        raise NotImplementedError

    def _recovers(self) -> bool:
        return self._recover_enabled and not self._closed

    def _lost(self, session_id: str, error: MxGatewayError) -> MxGatewaySessionLostError:
        hint = " (the tag-level API continues on a new session)" if self._recover_enabled else ""
        return MxGatewaySessionLostError(
            f"{error.message}: session {session_id} no longer exists on the gateway; "
            f"its server and item handles are gone{hint}",
            method="Invoke",
            grpc_code=error.grpc_code,
            protocol_code=error.protocol_code,
            details=error.details,
            reply=error.reply,
            old_session_id=session_id,
        )

    async def _await_recovery(self, error: MxGatewaySessionLostError) -> None:
        if not self._recovers():
            raise error
        if await self._recover_session(error.old_session_id or self._session_id) is None:
            raise error
        # Found by a command, not by the stream: move the stream over before any
        # command on the new session can raise an event.
        await self._pump.follow()

    async def _recover_session(self, old_session_id: str) -> str | None:
        """Replace the lost session ``old_session_id``; its new id (None: recovery is off)."""
        async with self._recover_lock:
            if self._closed:
                raise MxGatewayClosedError("the session was closed", method="OpenSession")
            if self._session_id != old_session_id:
                return self._session_id  # another caller recovered it meanwhile
            if not self._recover_enabled:
                return None
            reply = await self._open_replacement()
            self._replace(reply)
            return self._session_id

    async def _open_replacement(self) -> pb.OpenSessionReply:
        from mxgateway._retry import Backoff

        policy = self._options.reconnect
        backoff = Backoff(policy)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(policy.window_s, policy.max_backoff_s)
        failures = 0
        while True:
            generation = self._transport.generation
            opening = asyncio.ensure_future(self._transport.open_session(self._client_session_name))
            try:
                return await asyncio.shield(opening)
            except asyncio.CancelledError:
                # Closing cancelled the recovery, but the gateway may open the session
                # all the same: close it when the reply comes, or it lives on until its lease.
                opening.add_done_callback(self._close_unwanted)
                raise
            except (MxGatewayUnavailableError, MxGatewayTimeoutError, MxGatewayCancelledError):
                # Cancelled: a fail-over closed the channel the open was sent on.
                failures += 1
                if failures % policy.endpoint_attempts == 0:
                    self._fail_over(generation)
                if loop.time() > deadline:
                    raise
                await asyncio.sleep(backoff.next_delay())
                if self._closed:  # closing waits for this loop: stop trying at once
                    raise MxGatewayClosedError("the session was closed", method="OpenSession") from None

    def _close_unwanted(self, opening: asyncio.Future[pb.OpenSessionReply]) -> None:
        if opening.cancelled() or opening.exception() is not None or self._transport.closed:
            return
        session_id = opening.result().session_id
        task = asyncio.ensure_future(self._close_quietly(session_id))
        _CLOSING.add(task)
        task.add_done_callback(_CLOSING.discard)

    async def _close_quietly(self, session_id: str) -> None:
        with contextlib.suppress(MxGatewayError):
            await self._transport.close_session(session_id)
            _log.info("closed session %s, opened by a recovery that closing cancelled", session_id)

    def _replace(self, reply: pb.OpenSessionReply) -> None:
        old_id = self._session_id
        self._transport.rekey(self, old_id, reply.session_id)
        self._open_reply = reply
        self._session_id = reply.session_id
        self._stale_servers |= self._user_servers
        self._user_servers = set()
        self._server_handle = None
        self._handles.clear()
        self._tags.clear()
        _log.info(
            "session %s was lost on the gateway; continuing on new session %s", old_id, reply.session_id
        )

    async def _settled_id(self, timeout: float) -> str:
        """The session's id once a recovery in flight has finished (the client is closing)."""
        await self._settle_recovery(timeout)
        return self._session_id

    async def _settle_recovery(self, timeout: float = 5.0) -> None:
        """Wait (bounded) for a recovery in flight, so closing closes the session it opened."""
        lock = self._recover_lock
        if not lock.locked():
            return
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(lock.acquire(), timeout)
            lock.release()
