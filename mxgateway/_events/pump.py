"""The event pump: one StreamEvents call per session, shared by every consumer.

A gateway allows one event subscriber per session and closes a session soon after
its last stream goes away, so a session reads its events through exactly one
pump, attached before the first command that can raise an event:

- **Ordering.** Its ``Sequencer`` keeps the high-water mark, drops duplicates
  and marks gaps (``SequenceGap``, ``ReplayGap``).
- **Resume.** A transport failure (see ``mxgateway._retry``) means reopening
  with jittered back-off and ``after_worker_sequence`` = the high-water mark,
  invisibly to consumers, while the gateway keeps the session.
- **Recovery.** When the session is gone (NOT_FOUND, or no way back within the
  policy's window) the pump asks its owner for a new session, attaches to it and
  tells consumers with ``SessionRecovered``; without recovery it fails them
  with ``MxGatewaySessionLostError``.
- **Fan-out.** Every consumer has its own bounded queue; one that falls behind
  sheds its oldest events and learns it at once from an ``EventsDropped`` marker.
  A backlog keeps recent events for the next ``Session.events()`` call.

The state (``ConnectionState``) is a property, an async iterator of changes and
INFO log lines on the ``mxgateway.events`` logger.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import grpc
import grpc.aio

from mxgateway._events.failures import (
    StreamEnded,
    confirm_attach,
    connect_failure,
    failure_reason,
    outcome_lost,
    retired_call,
    retryable,
    session_gone,
    session_lost,
    typed_failure,
)
from mxgateway._events.fanout import Fanout
from mxgateway._events.queue import EventConsumer
from mxgateway._events.sequencer import Sequencer
from mxgateway._events.state import ConnectionState, StateChange, StateTracker
from mxgateway._model.events import SessionRecovered, TagLookup
from mxgateway._retry import Backoff, ReconnectPolicy
from mxgateway._transport.streams import StreamCall
from mxgateway.errors import MxGatewayClosedError, MxGatewayError, redact

__all__ = ["ConnectionState", "EventConsumer", "EventPump", "StateChange"]

_log = logging.getLogger("mxgateway.events")
_EOF = grpc.aio.EOF  # type: ignore[attr-defined]


class _Closed(Exception):
    """The pump was closed while attaching."""


#: What a pump needs from its session, handed over explicitly (no private reach-ins).
SessionIdSource = Callable[[], Awaitable[str]]
CallOpener = Callable[[str, int], StreamCall]
Recoverer = Callable[[str], Awaitable["str | None"]]


class EventPump:
    """The one StreamEvents reader of a session; see the module docstring.

    ``session_id`` gives the id to attach to (opening a lazy session first);
    ``open_call(session_id, after)`` starts a StreamEvents call on the current
    connection; ``recover(old_session_id)`` opens a replacement session and
    returns its id, or None when recovery is off (``recovers()`` tells which);
    ``fail_over(generation)`` moves the connection to the next endpoint (True when
    there was one, or another caller already moved on from ``generation``), and
    ``generation()`` tells which connection is current.
    """

    def __init__(
        self,
        *,
        session_id: SessionIdSource,
        open_call: CallOpener,
        recover: Recoverer,
        recovers: Callable[[], bool],
        fail_over: Callable[[int], bool],
        generation: Callable[[], int],
        tags: TagLookup,
        secrets: tuple[str, ...],
        policy: ReconnectPolicy,
        queue_size: int,
        backlog_size: int,
        fresh_session: bool,
    ) -> None:
        self._session_id_source = session_id
        self._open_call = open_call
        self._recover = recover
        self._recovers = recovers
        self._fail_over = fail_over
        self._generation = generation
        self._secrets = secrets
        self._policy = policy
        self._fanout = Fanout(queue_size=queue_size, backlog_size=backlog_size)
        self._sequencer = Sequencer(
            self._fanout, tags, lambda: self._session_id, expect_from_start=fresh_session
        )
        self._first_after = 0
        self._session_id = ""
        #: The session the stream was last attached to ("" before the first attach).
        self._attached_id = ""
        self._states = StateTracker()
        self._task: asyncio.Task[None] | None = None
        #: The connection (see ``generation``) the current call was opened on.
        self._call_generation = 0
        #: True while ``follow()`` cancels the task on purpose.
        self._restarting = False
        self._attached: asyncio.Future[None] | None = None
        #: Set whenever ``_attached_id`` changes or the pump stops: wakes ``wait_attached_to``.
        self._attach_changed = asyncio.Event()
        self._closed = False
        self.reconnects = 0
        self.recoveries = 0

    # ------------------------------------------------------------------ state

    @property
    def state(self) -> ConnectionState:
        """The current ``ConnectionState``."""
        return self._states.state

    @property
    def high_water(self) -> int:
        """The last ``worker_sequence`` received on the current session."""
        return self._sequencer.high_water

    @property
    def sequencer(self) -> Sequencer:
        """Orders the events; counts those received and the duplicates dropped."""
        return self._sequencer

    @property
    def running(self) -> bool:
        """True once attached (until closed or lost)."""
        return self._task is not None and not self._task.done()

    def _set_state(self, state: ConnectionState, reason: str) -> None:
        self._states.move(state, self._session_id, reason)

    def state_changes(self) -> AsyncIterator[StateChange]:
        """Every later change of state, until the pump closes."""
        return self._states.changes()

    # ------------------------------------------------------------------ consumers

    @property
    def fanout(self) -> Fanout:
        """The readers' side: queues, backlog, the ``events()`` cursor, write waiters."""
        return self._fanout

    def add_consumer(
        self, *, after_worker_sequence: int | None = None, from_cursor: bool = False
    ) -> EventConsumer:
        """A new consumer, fed from now on; optionally first from the backlog.

        ``from_cursor`` starts after the last item any ``events()`` reader got;
        ``after_worker_sequence`` N starts after sequence N of the current session
        (with a ``ReplayGap`` when the backlog no longer reaches back that far).
        """
        if self._closed:
            raise MxGatewayClosedError("the session's event stream is closed", method="StreamEvents")
        fanout = self._fanout
        consumer = EventConsumer(fanout.queue_size)
        if after_worker_sequence is not None and after_worker_sequence > 0:
            if not self.running and fanout.backlog_empty:
                # Not attached yet: the first attach replays from the gateway itself.
                first = self._first_after
                self._first_after = after_worker_sequence if not first else min(first, after_worker_sequence)
            else:
                fanout.replay_to(consumer, after_worker_sequence, self._session_id, self.high_water)
        elif from_cursor:
            fanout.fill_from_cursor(consumer)
        fanout.attach(consumer)
        if self._states.state is ConnectionState.LOST:
            consumer.end(session_lost(self._session_id))
        return consumer

    def attached_to(self, session_id: str) -> bool:
        """True when the stream is attached to ``session_id`` (confirmed by the gateway)."""
        return self._attached_id == session_id

    async def wait_attached_to(self, session_id: str, timeout: float) -> None:
        """Wait, at most ``timeout`` seconds, until the running stream is attached to ``session_id``.

        A command that can raise an event must not reach a session before its stream
        does: attaching to a session is live-only (a replacement session has nothing
        to resume from), so an event raised earlier would be missed.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        changed = self._attach_changed
        for _ in range(1_000):
            if self._closed or self._attached_id == session_id or not (self.running or self._restarting):
                return
            changed.clear()
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(changed.wait(), remaining)

    def _note_attached(self, session_id: str) -> None:
        self._attached_id = session_id
        self._attach_changed.set()

    async def follow(self) -> None:
        """The owner replaced the session: reattach there now (when the stream had started)."""
        task = self._task
        if task is None or self._closed:
            return
        if not task.done() and task is not asyncio.current_task():
            self._restarting = True
            try:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            finally:
                self._restarting = False
        if self._states.state is ConnectionState.LOST:
            # The pump gave up on the old session, but the owner has a new one:
            # staying lost would refuse every later event-raising command.
            self._set_state(ConnectionState.RECOVERING, "the session was replaced by a command")
        await self.ensure_attached()

    # ------------------------------------------------------------------ attaching

    async def ensure_attached(self) -> None:
        """Attach now if not attached yet, and wait until the gateway confirmed it.

        The first attach's failure (a refused key, an unknown session, the gateway
        down) is raised here and leaves the pump idle, so a later call tries again.
        """
        if self._closed:
            raise MxGatewayClosedError("the session's event stream is closed", method="StreamEvents")
        if self._states.state is ConnectionState.LOST:
            raise session_lost(self._session_id)
        if self._task is None or self._task.done():
            self._attached = asyncio.get_running_loop().create_future()
            self._task = asyncio.create_task(self._run(self._attached), name="mxgateway-event-pump")
            self._task.add_done_callback(lambda _: self._attach_changed.set())
        attached = self._attached
        if attached is not None and not attached.done():
            await asyncio.shield(attached)
        elif attached is not None and attached.exception() is not None:
            raise attached.exception()  # type: ignore[misc]

    async def _attach(self, session_id: str, after: int) -> StreamCall:
        generation = self._generation()
        call = self._open_call(session_id, after)
        await confirm_attach(call, session_id, retired=lambda: self._channel_retired(generation))
        self._call_generation = generation
        if self._closed:
            call.cancel()
            raise _Closed
        return call

    # ------------------------------------------------------------------ the reader

    async def _run(self, attached: asyncio.Future[None]) -> None:
        previous = self._attached_id
        try:
            session_id = await self._session_id_source()
            self._session_id = session_id
            replaced = bool(previous) and session_id != previous
            if replaced:
                # The owner recovered the session without the stream's help: start afresh there.
                self._sequencer.start_afresh()
                after = 0
            else:
                self._set_state(ConnectionState.CONNECTING, "attaching")
                after = self.high_water if previous else self._first_after
                self._sequencer.high_water = after
            call = await self._attach(session_id, after)
        except BaseException as exc:
            # The first attach failed: report it to the caller and stay idle.
            if not self._closed:
                self._set_state(ConnectionState.IDLE, "attach failed")
            if isinstance(exc, grpc.aio.AioRpcError) and exc.code() is grpc.StatusCode.OUT_OF_RANGE:
                # One reader's resume point beyond the newest event: refused for
                # that reader, and not kept for every later attach of the session.
                self._first_after = 0
            if not attached.done():
                attached.set_exception(
                    typed_failure(exc, self._secrets) if isinstance(exc, grpc.aio.AioRpcError) else exc
                )
                attached.exception()  # retrieved: a caller that went away must not warn
            if isinstance(exc, asyncio.CancelledError):
                raise
            return
        self._note_attached(session_id)
        if replaced:
            self._switched(previous, session_id)
        else:
            self._set_state(ConnectionState.CONNECTED, "attached")
        attached.set_result(None)
        try:
            await self._pump(call)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # a bug must not leave readers waiting forever
            _log.exception("session %s: the event pump failed", self._session_id)
            self._fail_consumers(exc if isinstance(exc, Exception) else RuntimeError(str(exc)))

    async def _pump(self, call: StreamCall) -> None:
        backoff = Backoff(self._policy)
        while True:
            failure = await self._read_all(call)
            call.cancel()
            if self._closed:
                return
            next_call = await self._reconnect(failure, backoff)
            if next_call is None:
                return
            call = next_call

    async def _read_all(self, call: StreamCall) -> BaseException:
        """Dispatch messages until the call fails or ends; returns why it stopped."""
        read = call.read
        dispatch = self._sequencer.dispatch
        try:
            while True:
                message = await read()
                if message is _EOF:
                    return StreamEnded("the gateway ended the event stream")
                dispatch(message)  # type: ignore[arg-type]
        except grpc.aio.AioRpcError as exc:
            return exc
        except asyncio.CancelledError:
            if self._closed:
                return _Closed()
            if self._channel_retired(self._call_generation):
                return retired_call()
            raise

    def _channel_retired(self, generation: int) -> bool:
        """True when a CancelledError came from the call's channel, closed by a fail-over.

        grpc.aio raises CancelledError from a call whose channel was closed, as if the
        task had been cancelled; only the pump's own close and ``follow()`` cancel
        the task, so without them a moved-on connection explains it.
        """
        return not self._closed and not self._restarting and generation != self._generation()

    async def _reconnect(self, failure: BaseException, backoff: Backoff) -> StreamCall | None:
        """Resume after ``failure``, recovering the session when it is gone; None when done."""
        outage_started = time.monotonic()
        failed_connects = 0
        # The connection the last failure was seen on: failures count towards a
        # fail-over only while they come from the endpoint that is still current.
        seen_on = counted_on = self._generation()
        while not self._closed:
            if session_gone(failure):
                call = await self._recover_and_attach(failure_reason(failure, self._secrets))
                if call is not None:
                    backoff.reset()
                return call
            if not retryable(failure, closed=self._closed):
                self._fail_consumers(
                    typed_failure(failure, self._secrets)
                    if isinstance(failure, grpc.aio.AioRpcError)
                    else failure
                )
                return None
            if time.monotonic() - outage_started > self._policy.window_s and not self._recovers():
                # Past the window the gateway has closed the session; with recovery
                # the loop goes on until the gateway answers (NOT_FOUND: recover).
                self._fail_consumers(session_lost(self._session_id))
                return None
            self._set_state(ConnectionState.RECONNECTING, failure_reason(failure, self._secrets))
            delay = backoff.next_delay()
            await asyncio.sleep(delay)
            if self._closed:
                return None
            if connect_failure(failure):
                if seen_on != counted_on:
                    counted_on, failed_connects = seen_on, 0
                failed_connects += 1
                if failed_connects >= self._policy.endpoint_attempts and self._fail_over(seen_on):
                    failed_connects = 0
                    _log.info("session %s: moved to the next gateway endpoint", self._session_id)
            seen_on = self._generation()
            try:
                call = await self._attach(self._session_id, self.high_water)
            except grpc.aio.AioRpcError as exc:
                failure = exc
                continue
            except _Closed:
                return None
            self.reconnects += 1
            backoff.reset()
            self._set_state(ConnectionState.CONNECTED, f"resumed after sequence {self.high_water}")
            return call
        return None

    async def _recover_and_attach(self, why: str) -> StreamCall | None:
        old_id = self._session_id
        self._set_state(ConnectionState.RECOVERING, why)
        backoff = Backoff(self._policy)
        while not self._closed:
            try:
                new_id = await self._recover(old_id)
            except asyncio.CancelledError:
                raise
            except MxGatewayError as exc:
                self._fail_consumers(exc)
                return None
            if new_id is None:
                self._fail_consumers(session_lost(self._session_id))
                return None
            self._session_id = new_id
            self._sequencer.start_afresh()
            try:
                call = await self._attach(new_id, 0)
            except grpc.aio.AioRpcError as exc:
                if session_gone(exc) or retryable(exc, closed=self._closed):
                    await asyncio.sleep(backoff.next_delay())
                    continue
                self._fail_consumers(typed_failure(exc, self._secrets))
                return None
            except _Closed:
                return None
            self._note_attached(new_id)
            self._switched(old_id, new_id)
            return call
        return None

    def _fail_consumers(self, error: BaseException) -> None:
        self._set_state(ConnectionState.LOST, redact(str(error) or type(error).__name__, self._secrets))
        self._fanout.end_all(error)
        self._fanout.fail_writes(error)

    # ------------------------------------------------------------------ dispatch

    def _switched(self, old_id: str, new_id: str) -> None:
        """Now attached to ``new_id``, which replaced the lost ``old_id``: tell readers and waiters."""
        self.recoveries += 1
        self._fanout.publish(SessionRecovered(old_id, new_id))
        self._fanout.fail_writes(outcome_lost(old_id), old_id)
        self._set_state(ConnectionState.RECOVERED, f"new session {new_id} replaced {old_id}")

    # ------------------------------------------------------------------ closing

    async def aclose(self) -> None:
        """Cancel the stream and end every consumer; idempotent."""
        self.close_now()
        task = self._task
        if task is not None and not task.done() and task is not asyncio.current_task():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def close_now(self) -> None:
        """Cancel at once, from the loop's thread (the session is closing)."""
        if self._closed:
            return
        self._closed = True
        task = self._task
        if task is not None and not task.done():
            task.cancel()
        attached = self._attached
        if attached is not None and not attached.done():
            attached.set_exception(MxGatewayClosedError("the session was closed", method="StreamEvents"))
            attached.exception()
        self._set_state(ConnectionState.CLOSED, "session closed")
        self._attach_changed.set()
        self._fanout.end_all()
        self._states.end()
        self._fanout.close_writes(
            MxGatewayClosedError(
                "the session was closed before the write's outcome arrived", method="StreamEvents"
            )
        )
