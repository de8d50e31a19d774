"""``Recovery``: replacing a session the gateway lost (or that became unusable) by a new one.

One replacement at a time, owned here: the first caller starts it as a task of
its own and every caller (the event pump, commands) awaits that task through a
shield, so a caller that is cancelled stops waiting without cancelling the
replacement others wait on. Nothing cancels it: closing the session tells it to
stop, and it ends with ``MxGatewayClosedError`` (closing what it opened), so no
waiter ever gets a CancelledError it did not cause. The replaced session is closed on the gateway too, best effort: it
may still exist (a stream refused for good, a dead connection holding its slot),
and nothing of this client uses it any more.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mxgateway._events.failures import session_lost
from mxgateway._events.state import Binding, ConnectionState, SessionState
from mxgateway._retry import Backoff
from mxgateway._transport.streams import wait_event
from mxgateway.errors import (
    MxGatewayCancelledError,
    MxGatewayClosedError,
    MxGatewayError,
    MxGatewaySessionLostError,
    MxGatewayTimeoutError,
    MxGatewayUnavailableError,
)
from mxgateway.generated import mxaccess_gateway_pb2 as pb

if TYPE_CHECKING:
    from mxgateway._transport.connection import GatewayTransport

__all__ = ["Recovery", "lost_error"]

# The session's logger: recovery is part of the session's story in the log.
_log = logging.getLogger("mxgateway.session")


def lost_error(session_id: str, error: MxGatewayError, *, recovers: bool) -> MxGatewaySessionLostError:
    """What a command gets whose session ``session_id`` the gateway no longer knows (``error`` said so)."""
    hint = " (the tag-level API continues on a new session)" if recovers else ""
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


class Recovery:
    """Replaces the session of a ``SessionState`` when it is lost; see the module docstring.

    ``transport()`` is the connection now (it changes on a fail-over);
    ``owner`` is the session as the transport knows it. After a replacement
    ``on_replaced(old, new)`` runs; when none can be opened, ``on_lost(error)``.
    """

    def __init__(
        self,
        state: SessionState[Any],
        transport: Callable[[], GatewayTransport],
        *,
        owner: object,
        name: str,
        enabled: bool,
        on_replaced: Callable[[Binding[Any], Binding[Any]], None],
        on_lost: Callable[[BaseException], None],
    ) -> None:
        self._state = state
        self._transport = transport
        self._owner = owner
        self._name = name
        self.enabled = enabled
        self._on_replaced = on_replaced
        self._on_lost = on_lost
        self._task: asyncio.Task[Binding[Any]] | None = None
        #: Set when the session closes: a back-off in flight ends at once.
        self._stop = asyncio.Event()
        #: Background closes of replaced sessions.
        self._closing: set[asyncio.Task[None]] = set()

    @property
    def in_flight(self) -> bool:
        """True while a replacement runs."""
        return self._task is not None and not self._task.done()

    async def replace(self, lost: Binding[Any], why: str) -> Binding[Any]:
        """The binding that replaced ``lost``: opened now, or by whoever got there first.

        Raises ``MxGatewaySessionLostError`` when recovery is off, the typed error
        of the last attempt when no session could be opened, and
        ``MxGatewayClosedError`` once the session is closed.
        """
        state = self._state
        if state.epoch != lost.epoch:
            return state.current
        if state.closed:
            raise MxGatewayClosedError("the session was closed", method="OpenSession")
        if not self.enabled:
            error = session_lost(lost.session_id, why)
            self._on_lost(error)
            raise error
        task = self._task
        if task is None or task.done():
            task = self._task = asyncio.create_task(
                self._replace(lost, why), name="mxgateway-session-recovery"
            )
            task.add_done_callback(_retrieve)
        return await asyncio.shield(task)

    async def _replace(self, lost: Binding[Any], why: str) -> Binding[Any]:
        state = self._state
        if state.closed:  # closed before this task first ran
            raise MxGatewayClosedError("the session was closed", method="OpenSession")
        state.move(ConnectionState.RECOVERING, why)
        try:
            reply = await self._open_replacement()
        except MxGatewayError as exc:
            if not state.closed:
                # Lost, not refused: a later command may still try again.
                self._on_lost(session_lost(lost.session_id, f"no new session could be opened: {exc.message}"))
            raise
        if state.closed:  # closed while the reply was on its way
            await self._transport().close_quietly(
                reply.session_id, "opened by a recovery the session's close overtook"
            )
            raise MxGatewayClosedError("the session was closed", method="OpenSession")
        current = state.replace(reply.session_id)
        self._transport().rekey(self._owner, current.session_id)
        _log.info(
            "session %s was lost on the gateway (%s); continuing on new session %s",
            lost.session_id,
            why,
            current.session_id,
        )
        closing = asyncio.create_task(
            self._transport().close_quietly(lost.session_id, "replaced by a recovery")
        )
        self._closing.add(closing)
        closing.add_done_callback(self._closing.discard)
        self._on_replaced(lost, current)
        return current

    async def _open_replacement(self) -> pb.OpenSessionReply:
        transport = self._transport()
        policy = transport.options.reconnect
        backoff = Backoff(policy)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(policy.window_s, policy.max_backoff_s)
        default = transport.default_timeout
        attempt_timeout = policy.window_s if default is None else min(default, max(policy.window_s, 1.0))
        failures = 0
        while True:
            transport = self._transport()
            generation = transport.generation
            try:
                # Each attempt is bounded by the window too, so the whole replacement is (docs/events.md).
                return await transport.open_session(self._name, timeout=attempt_timeout)
            except (MxGatewayUnavailableError, MxGatewayTimeoutError, MxGatewayCancelledError):
                failures += 1
                if failures % policy.endpoint_attempts == 0:
                    transport.fail_over(generation)
                if loop.time() > deadline:
                    raise
            # One way: once the session closes it never opens again.
            await wait_event(self._stop, backoff.next_delay())
            if self._state.closed:  # closing waits for this loop: stop trying at once
                raise MxGatewayClosedError("the session was closed", method="OpenSession")

    async def settle(self, timeout: float) -> None:
        """Stop a replacement in flight and wait (bounded) until what it opened is closed again.

        The session is closing: the replacement sees it, closes a session it
        opened, and ends with ``MxGatewayClosedError``.
        """
        self._stop.set()
        pending = {task for task in (self._task, *self._closing) if task is not None and not task.done()}
        if pending:
            await asyncio.wait(pending, timeout=timeout)


def _retrieve(task: asyncio.Task[Any]) -> None:
    # Every waiter may have gone (cancelled): the outcome is known here all the same.
    if not task.cancelled():
        task.exception()
