"""The event pump: one StreamEvents call per session, shared by every consumer.

A gateway allows one event subscriber per session and closes a session soon after
its last stream goes away, so a session reads its events through exactly one
pump, attached before the first command that can raise an event. Its supervisor
task attaches to the current ``Binding`` of the session's ``SessionState``; reads
(the ``Sequencer`` orders and types, the ``Fanout`` feeds each consumer's bounded
queue); resumes after a transport failure (``ReconnectPolicy``) for ``window_s``;
recovers when the session is gone or no resume succeeded in the window (the new
session is announced by ``SessionRecovered``); and fails consumers with a typed
error when neither works: they never wait in silence. Only ``close_now()`` cancels
the task; ``retarget()``, ``fail()`` and a fail-over cancel only its call.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from typing import Any

import grpc
import grpc.aio

from mxgateway._events.failures import (
    Outage,
    confirm_attach,
    connect_failure,
    failure_reason,
    fresh,
    outcome_lost,
    retired_call,
    retryable,
    session_gone,
    session_lost,
    typed_failure,
)
from mxgateway._events.fanout import Fanout
from mxgateway._events.link import SessionLink
from mxgateway._events.queue import EventConsumer
from mxgateway._events.reading import read_events
from mxgateway._events.sequencer import Sequencer
from mxgateway._events.state import Binding, ConnectionState, SessionState
from mxgateway._model.events import SessionRecovered, TagLookup
from mxgateway._retry import Backoff, ReconnectPolicy
from mxgateway._transport.streams import StreamCall, wait_done, wait_event
from mxgateway.errors import (
    MxGatewayClosedError,
    MxGatewayError,
    MxGatewayTimeoutError,
    MxGatewayUnavailableError,
    redact,
)

__all__ = ["EventConsumer", "EventPump"]

_log = logging.getLogger("mxgateway.events")
_S = ConnectionState


class _Retarget(Exception):
    """The session was replaced under the stream: attach to the current one."""


class _Stopped(Exception):
    """The pump was closed, or the session lost, while reading."""


class EventPump:
    """The one StreamEvents reader of a session; see the module docstring.

    ``state`` is the session's owner of its id, epoch and ``ConnectionState``;
    ``link`` is what the pump may ask of the session and its connection;
    ``tag_lookup(tables)`` names the items of an epoch's tables.
    """

    def __init__(
        self,
        *,
        state: SessionState[Any],
        link: SessionLink,
        tag_lookup: Callable[[Any], TagLookup],
        secrets: tuple[str, ...],
        policy: ReconnectPolicy,
        queue_size: int,
        backlog_size: int,
        fresh_session: bool,
    ) -> None:
        self._state = state
        self._link = link
        self._tag_lookup = tag_lookup
        self._secrets = secrets
        self._policy = policy
        self._fanout = Fanout(queue_size=queue_size, backlog_size=backlog_size)
        self._sequencer = Sequencer(self._fanout, expect_from_start=fresh_session)
        #: Where the first attach starts (``events(after_worker_sequence=N)`` before it),
        #: and the session the reader asked that of.
        self._first_after = 0
        self._first_asked_of = ""
        #: The binding the stream is attached to (None before the first attach), and
        #: whether its call is reading now.
        self._attached: Binding[Any] | None = None
        self._live = False
        self._task: asyncio.Task[None] | None = None
        self._call: StreamCall | None = None
        #: The connection (see ``generation``) the current call was opened on.
        self._call_generation = 0
        #: Set by ``retarget()``, taken by the loop: the call was cancelled to move it.
        self._retarget = False
        #: Set on every attach, failed attempt, retarget and close: wakes waiters and sleeps.
        self._changed = asyncio.Event()
        #: The typed failure of the last attempt, and how many attempts failed in all.
        self._last_failure: MxGatewayError | None = None
        self._failures = 0
        #: The error that ended the pump for good (the session lost, or the first attach refused).
        self._ended_with: BaseException | None = None
        self._closed = False
        self.reconnects = 0
        self.recoveries = 0

    # ------------------------------------------------------------------ state

    @property
    def state(self) -> ConnectionState:
        """The session's ``ConnectionState``."""
        return self._state.state

    @property
    def high_water(self) -> int:
        """The last ``worker_sequence`` received on the current session."""
        return self._sequencer.high_water

    @property
    def fanout(self) -> Fanout:
        """The readers' side: queues, backlog, the ``events()`` cursor, write waiters."""
        return self._fanout

    @property
    def running(self) -> bool:
        """True while the supervisor runs (attaching, attached, reconnecting, recovering)."""
        return self._task is not None and not self._task.done()

    @property
    def has_attached(self) -> bool:
        """True once the stream was attached to some session."""
        return self._attached is not None

    def attached_to(self, epoch: int) -> bool:
        """True when an event raised now on the session of ``epoch`` reaches the readers.

        That is while the stream is attached there, and also while it resumes, once
        it has a high-water mark to resume after: the gateway replays what was raised
        meanwhile. Before the first event a resume is live-only, as an attach is.
        """
        attached = self._attached
        if attached is None or attached.epoch != epoch or not self.running:
            return False
        return self._live or self._sequencer.high_water > 0

    # ------------------------------------------------------------------ consumers

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
        before_attach = self._attached is None
        if before_attach and after_worker_sequence and self._fanout.backlog_empty:
            # Not attached yet: the first attach replays from the gateway itself.
            first = self._first_after
            self._first_after = after_worker_sequence if not first else min(first, after_worker_sequence)
            self._first_asked_of = self._state.session_id
            after_worker_sequence = None
        consumer = self._fanout.new_consumer(
            after_worker_sequence=after_worker_sequence,
            from_cursor=from_cursor,
            session_id=self._state.session_id,
            high_water=self.high_water,
        )
        if self._state.state is _S.LOST:
            consumer.end(self._ended_with or session_lost(self._state.session_id))
        return consumer

    # ------------------------------------------------------------------ attaching

    def start(self) -> None:
        """Run the supervisor if it does not run (it attaches in the background)."""
        if self._closed or self.running or self._state.state is _S.LOST:
            return
        self._ended_with = None
        self._task = asyncio.create_task(self._run(), name="mxgateway-event-pump")

    async def ensure_attached(self, timeout: float | None = None, *, fail_fast: bool = True) -> None:
        """Start the stream if needed and wait until it is attached to the current session.

        Raises the typed error when the session is lost or closed, or an attempt was
        refused or (``fail_fast``) could not reach the gateway; ``MxGatewayTimeoutError``
        after ``timeout`` s, ``MxGatewayUnavailableError`` after the window (None).
        """
        loop = asyncio.get_running_loop()
        limit = self._policy.window_s if timeout is None else timeout
        deadline = loop.time() + limit
        failures_before = self._failures
        for _ in range(100_000):
            if self._closed:
                raise MxGatewayClosedError("the session's event stream is closed", method="StreamEvents")
            if self._state.state is _S.LOST:
                raise fresh(self._ended_with or session_lost(self._state.session_id))
            if self.attached_to(self._state.epoch):
                return
            if not self.running:
                if self._ended_with is not None and self._failures > failures_before:
                    raise fresh(self._ended_with)  # the first attach was refused
                self.start()
            elif fail_fast and self._failures > failures_before and self._attached is None:
                failure = self._last_failure
                if failure is not None and failure.grpc_code is grpc.StatusCode.UNAVAILABLE:
                    raise fresh(failure)  # the gateway cannot be reached: the command could not run either
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            self._changed.clear()
            changed = asyncio.ensure_future(self._changed.wait())
            try:
                await wait_done(changed, remaining)  # never swallows the caller's cancellation
            finally:
                changed.cancel()
        message = (
            f"the event stream of session {self._state.session_id} did not attach within {limit:g} s"
            + (f" (last attempt: {self._last_failure.message})" if self._last_failure is not None else "")
        )
        if timeout is not None:
            raise MxGatewayTimeoutError(message, method="StreamEvents")
        raise MxGatewayUnavailableError(message, method="StreamEvents")

    def retarget(self) -> None:
        """The session was replaced: move the stream to the current binding now."""
        if self._closed or not self.running:
            return
        self._retarget = True
        call = self._call
        if call is not None:
            call.cancel()
        self._changed.set()

    def _take_retarget(self) -> bool:
        taken, self._retarget = self._retarget and not self._closed, False
        return taken

    async def _attach(self, binding: Binding[Any], after: int) -> tuple[StreamCall, bool]:
        """The call attached to ``binding``'s session, and whether the gateway confirmed it."""
        generation = self._link.generation()
        call = self._link.open_call(binding.session_id, after)
        self._call = call
        confirmed = await confirm_attach(
            call, binding.session_id, retired=lambda: self._channel_retired(generation)
        )
        self._call_generation = generation
        return call, confirmed

    # ------------------------------------------------------------------ the supervisor

    async def _run(self) -> None:
        backoff = Backoff(self._policy)
        outage = Outage()
        try:
            while self._should_run():
                self._retarget = False
                binding = self._state.current
                previous = self._attached
                if self._state.state is _S.IDLE:
                    self._state.move(_S.CONNECTING, "attaching")
                after = self._resume_point(binding, previous)
                try:
                    call, confirmed = await self._attach(binding, after)
                except asyncio.CancelledError:
                    if self._take_retarget() or not self._should_run():
                        continue
                    raise
                except (grpc.aio.AioRpcError, MxGatewayError) as exc:
                    if not await self._after_failure(exc, binding, backoff, outage):
                        return
                    continue
                if binding.epoch != self._state.epoch:  # replaced while it attached
                    call.cancel()
                    continue
                self._attached = binding
                self._live = True
                self._sequencer.follow(binding.session_id, self._tag_lookup(binding.tables))
                # Sure once the headers or the first message came: until then the outage goes on.
                settle = functools.partial(self._confirm, binding, previous, after, backoff, outage)
                if confirmed:
                    settle()
                failure = await read_events(
                    call,
                    self._sequencer,
                    first=None if confirmed else settle,
                    within=outage.left(self._policy.window_s),
                    interrupted=self._interrupted,
                )
                self._live = False
                self._closed_call()
                if isinstance(failure, (_Retarget, _Stopped)):
                    continue
                if not await self._after_failure(failure, binding, backoff, outage):
                    return
        except Exception as exc:  # a bug must not leave readers waiting forever
            _log.exception("session %s: the event pump failed", self._state.session_id)
            self.fail(exc)
        finally:
            self._call = None
            self._changed.set()

    def _resume_point(self, binding: Binding[Any], previous: Binding[Any] | None) -> int:
        """Where a stream on ``binding`` starts: after the high-water mark, or live on a new session."""
        sequencer = self._sequencer
        if previous is None and binding.session_id == self._first_asked_of:
            # A reader asked for events after N before the first attach: replay from there.
            sequencer.high_water = self._first_after
            return self._first_after
        if previous is None or previous.epoch != binding.epoch:
            sequencer.start_afresh()
            return 0
        return sequencer.high_water

    def _confirm(
        self,
        binding: Binding[Any],
        previous: Binding[Any] | None,
        after: int,
        backoff: Backoff,
        outage: Outage,
    ) -> None:
        """The stream is attached to ``binding`` for sure: the outage is over; tell readers, move the state."""
        backoff.reset()
        outage.reset()
        state = self._state
        old_id = previous.session_id if previous is not None else self._first_asked_of
        if old_id and old_id != binding.session_id:
            self.recoveries += 1
            self._fanout.publish(SessionRecovered(old_id, binding.session_id))
            self._fanout.fail_writes(outcome_lost(old_id), old_id)
            target, reason = _S.RECOVERED, f"new session {binding.session_id} replaced {old_id}"
        elif state.state is _S.RECONNECTING:
            self.reconnects += 1
            target, reason = _S.CONNECTED, f"resumed after sequence {after}"
        else:
            target, reason = _S.CONNECTED, "attached"
        self._last_failure = None
        self._changed.set()
        if state.state is _S.RECOVERING and target is _S.CONNECTED:
            return  # still the session a recovery in flight replaces: the new one's attach moves on
        if target is _S.RECOVERED and state.state is not _S.RECOVERING:
            target = _S.CONNECTED
        state.move(target, reason)

    def _interrupted(self) -> BaseException | None:
        """Why the call was cancelled under the reader: None when the task itself was."""
        if not self._should_run():
            return _Stopped()
        if self._take_retarget():
            return _Retarget()
        if self._channel_retired(self._call_generation):
            return retired_call()
        return None

    def _should_run(self) -> bool:
        return not self._closed and self._state.state is not _S.LOST

    def _channel_retired(self, generation: int) -> bool:
        """True when a CancelledError came from the call's channel, closed by a fail-over."""
        return not self._closed and generation != self._link.generation()

    async def _after_failure(
        self, failure: BaseException, binding: Binding[Any], backoff: Backoff, outage: Outage
    ) -> bool:
        """Decide what follows a failed attach or a broken stream: True to try again, False when done."""
        if not self._should_run():
            return False
        self._failures += 1
        if isinstance(failure, grpc.aio.AioRpcError):
            self._last_failure = typed_failure(failure, self._secrets)
        self._changed.set()
        why = failure_reason(failure, self._secrets)
        if binding.epoch != self._state.epoch:
            return True  # replaced meanwhile: attach to the current session
        if self._link.recovering():
            return await self._replace(binding, why)  # a command found it gone: join that recovery
        if session_gone(failure):
            if outage.replacing():
                return await self._replace(binding, why)
            return self._gave_up(binding, why)
        if not retryable(failure, closed=self._closed):
            self._refused(failure)
            return False
        elapsed = outage.begin()
        if elapsed > self._policy.window_s:
            # The gateway keeps refusing the stream (a dead connection's stream may hold the
            # session's one subscriber slot until the server notices): a new session does not wait.
            why = f"no resume within {self._policy.window_s:g} s: {why}"
            if self._link.recovers() and outage.replacing():
                return await self._replace(binding, why)
            return self._gave_up(binding, why)
        if self._state.state in (_S.CONNECTING, _S.CONNECTED, _S.RECOVERED):
            self._state.move(_S.RECONNECTING, why)  # attaching a new session stays recovering
        seen_on = self._link.generation()
        if connect_failure(failure):
            if seen_on != outage.counted_on:
                outage.counted_on, outage.connect_failures = seen_on, 0
            outage.connect_failures += 1
            if outage.connect_failures >= self._policy.endpoint_attempts and self._link.fail_over(seen_on):
                outage.connect_failures = 0
                _log.info("session %s: moved to the next gateway endpoint", binding.session_id)
        self._changed.clear()  # back off, or less when retargeted or closed
        await wait_event(self._changed, backoff.next_delay())
        return self._should_run()

    def _gave_up(self, binding: Binding[Any], why: str) -> bool:
        """No way back: recovery is off, or a new session fared no better. Readers get the error."""
        if self._link.recovers():
            why = f"a new session fared no better: {why}"
        self.fail(session_lost(binding.session_id, why))
        return False

    def _refused(self, failure: BaseException) -> None:
        """A failure no waiting heals (a refused key, a bad resume point, a certificate)."""
        error = (
            typed_failure(failure, self._secrets) if isinstance(failure, grpc.aio.AioRpcError) else failure
        )
        if self._attached is None:
            # The first attach was refused: report it and stay idle, so a later call tries again.
            if isinstance(failure, grpc.aio.AioRpcError) and failure.code() is grpc.StatusCode.OUT_OF_RANGE:
                self._first_after = 0  # one reader's resume point beyond the newest event
            if self._state.state in (_S.CONNECTING, _S.RECONNECTING):
                self._state.move(_S.IDLE, f"attach refused: {failure_reason(failure, self._secrets)}")
            self._end_readers(error)
            return
        self.fail(error)

    async def _replace(self, binding: Binding[Any], why: str) -> bool:
        try:
            await self._link.recover(binding, why)
        except MxGatewayError as exc:
            self.fail(exc)
            return False
        return self._should_run()

    def fail(self, error: BaseException) -> None:
        """The session is gone for good here: LOST, and every reader and waiter gets ``error``."""
        if self._closed or self._state.state is _S.LOST:
            return
        self._state.move(_S.LOST, redact(str(error) or type(error).__name__, self._secrets))
        self._end_readers(error)
        self._closed_call()  # the supervisor sees LOST and stops

    def _end_readers(self, error: BaseException) -> None:
        self._ended_with = error
        self._fanout.end_all(error)
        self._fanout.fail_writes(error)
        self._changed.set()

    def _closed_call(self) -> None:
        call, self._call = self._call, None
        if call is not None:
            call.cancel()

    # ------------------------------------------------------------------ closing

    def close_now(self) -> None:
        """Stop at once, from the loop's thread (the session is closing)."""
        if self._closed:
            return
        self._closed = True
        self._closed_call()
        task = self._task
        if task is not None and not task.done():
            task.cancel()
        self._changed.set()
        self._fanout.end_all()
        self._fanout.close_writes(
            MxGatewayClosedError(
                "the session was closed before the write's outcome arrived", method="StreamEvents"
            )
        )
