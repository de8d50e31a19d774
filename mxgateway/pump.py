"""The event pump: one StreamEvents call per session, shared by every consumer.

A gateway allows one event subscriber per session and closes a session soon after
its last stream goes away, so a session reads its events through exactly one
pump, attached before the first command that can raise an event:

- **Ordering.** It keeps the high-water mark (the last ``worker_sequence``
  received), drops duplicates, and turns a jump in the sequence into a
  ``SequenceGap`` and the gateway's gap sentinel into a ``ReplayGap``.
- **Resume.** A transport failure (see ``mxgateway.reconnect``) means reopening
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
import datetime as dt
import enum
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass

import grpc
import grpc.aio

from mxgateway.errors import (
    MxGatewayClosedError,
    MxGatewayError,
    MxGatewaySessionLostError,
    map_rpc_error,
    redact,
)
from mxgateway.events import (
    EventsDropped,
    ReplayGap,
    SequenceGap,
    SessionRecovered,
    WriteComplete,
    event_from_proto,
)
from mxgateway.generated import mxaccess_gateway_pb2 as pb
from mxgateway.raw_stream import StreamCall
from mxgateway.reconnect import Backoff, ReconnectPolicy, is_transient_code

__all__ = ["ConnectionState", "EventConsumer", "EventPump", "StateChange"]

_log = logging.getLogger("mxgateway.events")
_UTC = dt.timezone.utc
_GAP_FAMILY = pb.MX_EVENT_FAMILY_UNSPECIFIED
_EOF = grpc.aio.EOF  # type: ignore[attr-defined]

#: How long to wait for the gateway to confirm an attach (its response headers)
#: before treating the stream as attached anyway (a gateway may send them late).
ATTACH_CONFIRM_TIMEOUT_S = 2.0


class ConnectionState(str, enum.Enum):
    """Where a session's event stream stands."""

    IDLE = "idle"
    """Nothing has asked for events yet: no stream."""
    CONNECTING = "connecting"
    """Attaching the stream for the first time."""
    CONNECTED = "connected"
    """Attached: events flow."""
    RECONNECTING = "reconnecting"
    """The connection failed; resuming after the last event received."""
    RECOVERING = "recovering"
    """The session is gone; opening a new one."""
    RECOVERED = "recovered"
    """Attached to the new session that replaced a lost one: events flow."""
    LOST = "lost"
    """The session is gone and was not recovered; consumers got the error."""
    CLOSED = "closed"
    """The session was closed or detached here."""


@dataclass(frozen=True, slots=True)
class StateChange:
    """One change of ``ConnectionState``, with why and when (UTC)."""

    state: ConnectionState
    previous: ConnectionState
    session_id: str
    reason: str
    at: dt.datetime


class _Ended(Exception):
    """The gateway ended the stream without an error (treated like a broken connection)."""


class _Closed(Exception):
    """The pump was closed while attaching."""


class EventConsumer:
    """One reader's bounded queue of events; fed by the pump, read with ``get()``.

    When full, the oldest queued event is shed and counted; the next ``get()``
    returns an ``EventsDropped`` marker for everything shed so far. Markers are
    never shed: a reader must always learn of gaps and of a recovered session.
    """

    __slots__ = (
        "_capacity",
        "_drop_count",
        "_drop_first",
        "_drop_last",
        "_ended",
        "_error",
        "_kept_markers",
        "_loop",
        "_queue",
        "_waiter",
        "last_index",
    )

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._queue: deque[tuple[int, object]] = deque()
        self._kept_markers: deque[object] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._drop_count = 0
        self._drop_first = 0
        self._drop_last = 0
        self._ended = False
        self._error: BaseException | None = None
        self._loop = asyncio.get_running_loop()
        #: Pump index of the last item ``get()`` returned (-1: none yet).
        self.last_index = -1

    def offer(self, index: int, item: object) -> None:
        """Queue ``item`` (the pump's ``index``-th), shedding the oldest when full."""
        queue = self._queue
        if len(queue) >= self._capacity:
            self._shed(queue.popleft()[1])
        queue.append((index, item))
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def note_missing(self, count: int, first_sequence: int, last_sequence: int) -> None:
        """Record events this consumer never got (older than the pump's backlog)."""
        if count > 0:
            self._drop_count += count
            self._drop_first = self._drop_first or first_sequence
            self._drop_last = max(self._drop_last, last_sequence)

    def _shed(self, item: object) -> None:
        if isinstance(item, (SessionRecovered, ReplayGap, SequenceGap, EventsDropped)):
            self._kept_markers.append(item)
            return
        sequence = getattr(item, "worker_sequence", 0)
        self._drop_count += 1
        if sequence:
            self._drop_first = self._drop_first or sequence
            self._drop_last = max(self._drop_last, sequence)

    def end(self, error: BaseException | None = None) -> None:
        """No more items: ``get()`` drains the queue, then raises ``error`` or returns None."""
        self._ended = True
        if error is not None and self._error is None:
            self._error = error
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def end_now(self) -> None:
        """Stop at once, dropping what is queued (the reader closed it)."""
        self._queue.clear()
        self._kept_markers.clear()
        self._drop_count = 0
        self._error = None
        self.end()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop the consumer (and its pump) belongs to."""
        return self._loop

    @property
    def queued(self) -> int:
        """Items waiting in the queue."""
        return len(self._queue)

    async def get(self) -> object | None:
        """The next item, None when the consumer has ended; raises the pump's error at the end."""
        while True:
            if self._drop_count:
                marker = EventsDropped(self._drop_count, self._drop_first, self._drop_last)
                self._drop_count = self._drop_first = self._drop_last = 0
                return marker
            if self._kept_markers:
                return self._kept_markers.popleft()
            queue = self._queue
            if queue:
                index, item = queue.popleft()
                self.last_index = index
                return item
            if self._ended:
                error = self._error
                if error is not None:
                    self._error = None
                    raise error
                return None
            waiter = self._loop.create_future()
            self._waiter = waiter
            try:
                await waiter
            finally:
                if self._waiter is waiter:
                    self._waiter = None


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
        tags: Mapping[tuple[int, int], str],
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
        self._tags = tags
        self._secrets = secrets
        self._policy = policy
        self._queue_size = queue_size
        self._backlog: deque[tuple[int, object]] = deque()
        self._backlog_size = backlog_size
        self._evicted_last_sequence = 0
        self._consumers: list[EventConsumer] = []
        self._state_consumers: list[EventConsumer] = []
        self._write_waiters: dict[tuple[str, int, int], list[asyncio.Future[WriteComplete]]] = {}
        self._next_index = 0
        #: Pump index and worker sequence of the last item an ``events()`` reader got.
        self._cursor_index = -1
        self._cursor_sequence = 0
        self._high_water = 0
        #: True when the attached session's first event is sequence 1 (we saw it open).
        self._expect_from_start = fresh_session
        self._first_after = 0
        self._session_id = ""
        #: The session the stream was last attached to ("" before the first attach).
        self._attached_id = ""
        self._state = ConnectionState.IDLE
        self._task: asyncio.Task[None] | None = None
        #: The connection (see ``generation``) the current call was opened on.
        self._call_generation = 0
        #: True while ``follow()`` cancels the task on purpose.
        self._restarting = False
        self._attached: asyncio.Future[None] | None = None
        self._closed = False
        self.events_received = 0
        self.duplicates_dropped = 0
        self.reconnects = 0
        self.recoveries = 0

    # ------------------------------------------------------------------ state

    @property
    def state(self) -> ConnectionState:
        """The current ``ConnectionState``."""
        return self._state

    @property
    def high_water(self) -> int:
        """The last ``worker_sequence`` received on the current session."""
        return self._high_water

    @property
    def running(self) -> bool:
        """True once attached (until closed or lost)."""
        return self._task is not None and not self._task.done()

    def _set_state(self, state: ConnectionState, reason: str) -> None:
        previous = self._state
        if state is previous:
            return
        self._state = state
        change = StateChange(state, previous, self._session_id, reason, dt.datetime.now(_UTC))
        level = (
            logging.DEBUG if state in (ConnectionState.CONNECTING, ConnectionState.CLOSED) else logging.INFO
        )
        _log.log(level, "session %s events %s: %s", self._session_id or "-", state.value, reason)
        for consumer in self._state_consumers:
            consumer.offer(0, change)

    async def state_changes(self) -> AsyncIterator[StateChange]:
        """Every later change of state, until the pump closes."""
        consumer = EventConsumer(1024)
        self._state_consumers.append(consumer)
        if self._closed:
            consumer.end()
        try:
            while True:
                change = await consumer.get()
                if change is None:
                    return
                if isinstance(change, StateChange):
                    yield change
        finally:
            with contextlib.suppress(ValueError):
                self._state_consumers.remove(consumer)

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
        consumer = EventConsumer(self._queue_size)
        if after_worker_sequence is not None and after_worker_sequence > 0:
            self._replay_to(consumer, after_worker_sequence)
        elif from_cursor:
            self._fill_from_cursor(consumer)
        self._consumers.append(consumer)
        if self._state is ConnectionState.LOST:
            consumer.end(self._lost_error())
        return consumer

    def _fill_from_cursor(self, consumer: EventConsumer) -> None:
        backlog = self._backlog
        start = self._cursor_index + 1
        oldest = backlog[0][0] if backlog else self._next_index
        if start < oldest:
            last = self._evicted_last_sequence
            first = self._cursor_sequence + 1 if self._cursor_sequence and last else 0
            consumer.note_missing(oldest - start, first, last)
        for index, item in backlog:
            if index >= start:
                consumer.offer(index, item)

    def _replay_to(self, consumer: EventConsumer, after: int) -> None:
        if not self.running and not self._backlog:
            # Not attached yet: the first attach replays from the gateway itself.
            self._first_after = after if not self._first_after else min(self._first_after, after)
            return
        current = [(i, e) for i, e in self._backlog if _in_session(e, self._session_id)]
        sequences = [getattr(e, "worker_sequence", 0) for _, e in current]
        oldest = next((s for s in sequences if s), self._high_water + 1)
        if after + 1 < oldest:
            gap = pb.MxEvent(
                replay_gap=pb.ReplayGap(requested_after_sequence=after, oldest_available_sequence=oldest)
            )
            consumer.offer(-1, ReplayGap(after, oldest, gap))
        for (index, item), sequence in zip(current, sequences, strict=True):
            if sequence > after:
                consumer.offer(index, item)

    def remove_consumer(self, consumer: EventConsumer) -> None:
        """Stop feeding ``consumer`` (it was closed)."""
        with contextlib.suppress(ValueError):
            self._consumers.remove(consumer)

    def mark_consumed(self, consumer: EventConsumer, item: object) -> None:
        """An ``events()`` reader got ``item``: the next ``events()`` continues after it."""
        index = consumer.last_index
        if index > self._cursor_index:
            self._cursor_index = index
            self._cursor_sequence = getattr(item, "worker_sequence", 0) or self._cursor_sequence

    def expect_write(
        self, session_id: str, server_handle: int, item_handle: int
    ) -> asyncio.Future[WriteComplete]:
        """A future for the next ``WriteComplete`` of this item of ``session_id`` (register before writing)."""
        future: asyncio.Future[WriteComplete] = asyncio.get_running_loop().create_future()
        self._write_waiters.setdefault((session_id, server_handle, item_handle), []).append(future)
        return future

    def forget_write(
        self, session_id: str, server_handle: int, item_handle: int, future: asyncio.Future[WriteComplete]
    ) -> None:
        """Drop a waiter that is no longer waited for."""
        key = (session_id, server_handle, item_handle)
        waiters = self._write_waiters.get(key)
        if waiters and future in waiters:
            waiters.remove(future)
            if not waiters:
                del self._write_waiters[key]

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
        if self._state is ConnectionState.LOST:
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
        if self._state is ConnectionState.LOST:
            raise self._lost_error()
        if self._task is None or self._task.done():
            self._attached = asyncio.get_running_loop().create_future()
            self._task = asyncio.create_task(self._run(self._attached), name="mxgateway-event-pump")
        attached = self._attached
        if attached is not None and not attached.done():
            await asyncio.shield(attached)
        elif attached is not None and attached.exception() is not None:
            raise attached.exception()  # type: ignore[misc]

    def _lost_error(self) -> MxGatewaySessionLostError:
        return MxGatewaySessionLostError(
            f"session {self._session_id} was lost on the gateway; its handles are gone",
            method="StreamEvents",
            old_session_id=self._session_id,
        )

    async def _attach(self, session_id: str, after: int) -> StreamCall:
        generation = self._generation()
        call = self._open_call(session_id, after)
        try:
            await asyncio.wait_for(call.initial_metadata(), ATTACH_CONFIRM_TIMEOUT_S)
        except asyncio.TimeoutError:
            _log.debug(
                "session %s: no headers within %.1f s; reading anyway", session_id, ATTACH_CONFIRM_TIMEOUT_S
            )
        except asyncio.CancelledError:
            call.cancel()
            if self._channel_retired(generation):
                raise _retired_call() from None
            raise
        except BaseException:
            call.cancel()
            raise
        self._call_generation = generation
        if call.done():
            code = await call.code()
            if code is not grpc.StatusCode.OK:
                details = await call.details()
                raise grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details, None)
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
                self._high_water = 0
                self._expect_from_start = True
                after = 0
            else:
                self._set_state(ConnectionState.CONNECTING, "attaching")
                after = self._high_water if previous else self._first_after
                self._high_water = after
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
                attached.set_exception(self._typed(exc) if isinstance(exc, grpc.aio.AioRpcError) else exc)
                attached.exception()  # retrieved: a caller that went away must not warn
            if isinstance(exc, asyncio.CancelledError):
                raise
            return
        self._attached_id = session_id
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
        dispatch = self._dispatch
        try:
            while True:
                message = await read()
                if message is _EOF:
                    return _Ended("the gateway ended the event stream")
                dispatch(message)  # type: ignore[arg-type]
        except grpc.aio.AioRpcError as exc:
            return exc
        except asyncio.CancelledError:
            if self._closed:
                return _Closed()
            if self._channel_retired(self._call_generation):
                return _retired_call()
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
            if _session_gone(failure):
                call = await self._recover_and_attach(self._reason(failure))
                if call is not None:
                    backoff.reset()
                return call
            if not self._retryable(failure):
                self._fail_consumers(
                    self._typed(failure) if isinstance(failure, grpc.aio.AioRpcError) else failure
                )
                return None
            if time.monotonic() - outage_started > self._policy.window_s and not self._recovers():
                # Past the window the gateway has closed the session; with recovery
                # the loop goes on until the gateway answers (NOT_FOUND: recover).
                self._fail_consumers(self._lost_error())
                return None
            self._set_state(ConnectionState.RECONNECTING, self._reason(failure))
            delay = backoff.next_delay()
            await asyncio.sleep(delay)
            if self._closed:
                return None
            if _connect_failure(failure):
                if seen_on != counted_on:
                    counted_on, failed_connects = seen_on, 0
                failed_connects += 1
                if failed_connects >= self._policy.endpoint_attempts and self._fail_over(seen_on):
                    failed_connects = 0
                    _log.info("session %s: moved to the next gateway endpoint", self._session_id)
            seen_on = self._generation()
            try:
                call = await self._attach(self._session_id, self._high_water)
            except grpc.aio.AioRpcError as exc:
                failure = exc
                continue
            except _Closed:
                return None
            self.reconnects += 1
            backoff.reset()
            self._set_state(ConnectionState.CONNECTED, f"resumed after sequence {self._high_water}")
            return call
        return None

    def _retryable(self, failure: BaseException) -> bool:
        if isinstance(failure, _Ended):
            return True
        if not isinstance(failure, grpc.aio.AioRpcError):
            return False
        code = failure.code()
        if code is grpc.StatusCode.CANCELLED:
            # Not cancelled here (closing returns before this): the channel was
            # closed under the call, as a fail-over of the client does.
            return not self._closed
        # A resumed stream can be refused while the gateway still holds the dead
        # connection's stream as the session's one subscriber: that clears itself.
        return is_transient_code(code) or code is grpc.StatusCode.FAILED_PRECONDITION

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
                self._fail_consumers(self._lost_error())
                return None
            self._session_id = new_id
            self._high_water = 0
            self._expect_from_start = True
            try:
                call = await self._attach(new_id, 0)
            except grpc.aio.AioRpcError as exc:
                if _session_gone(exc) or self._retryable(exc):
                    await asyncio.sleep(backoff.next_delay())
                    continue
                self._fail_consumers(self._typed(exc))
                return None
            except _Closed:
                return None
            self._attached_id = new_id
            self._switched(old_id, new_id)
            return call
        return None

    def _lost_error_for(self, old_id: str) -> MxGatewaySessionLostError:
        return MxGatewaySessionLostError(
            f"session {old_id} was lost before the write's outcome arrived; the outcome is unknown",
            method="StreamEvents",
            old_session_id=old_id,
        )

    def _reason(self, failure: BaseException) -> str:
        if isinstance(failure, grpc.aio.AioRpcError):
            text = f"{failure.code().name}: {failure.details() or ''}".rstrip(": ")
        else:
            text = str(failure) or type(failure).__name__
        return redact(text, self._secrets)

    def _typed(self, exc: grpc.aio.AioRpcError) -> MxGatewayError:
        error = map_rpc_error(exc, method="StreamEvents", scope="events:read", secrets=self._secrets)
        error.__cause__ = None  # consumers see the typed error; the raw one may hold gateway text
        return error

    def _fail_consumers(self, error: BaseException) -> None:
        self._set_state(ConnectionState.LOST, redact(str(error) or type(error).__name__, self._secrets))
        for consumer in self._consumers:
            consumer.end(error)
        for waiters in self._write_waiters.values():
            for future in waiters:
                if not future.done():
                    future.set_exception(error)
        self._write_waiters.clear()

    # ------------------------------------------------------------------ dispatch

    def _dispatch(self, message: pb.MxEvent) -> None:
        self.events_received += 1
        sequence = message.worker_sequence
        if message.family == _GAP_FAMILY and message.HasField("replay_gap"):
            gap = message.replay_gap
            replay = ReplayGap(gap.requested_after_sequence, gap.oldest_available_sequence, message)
            self._high_water = max(self._high_water, replay.resume_after)
            self._publish(replay)
            return
        high = self._high_water
        if sequence <= high:
            self.duplicates_dropped += 1
            return
        if sequence != high + 1 and (high or self._expect_from_start):
            self._publish(SequenceGap(high + 1, sequence, message))
        self._high_water = sequence
        event = event_from_proto(message, self._tags)
        if self._write_waiters and type(event) is WriteComplete:
            self._complete_write(event)
        self._publish(event)

    def _complete_write(self, event: WriteComplete) -> None:
        key = (self._session_id, event.server_handle, event.item_handle)
        waiters = self._write_waiters.pop(key, None)
        if waiters:
            future = waiters.pop(0)
            if waiters:
                self._write_waiters[key] = waiters
            if not future.done():
                future.set_result(event)

    def _switched(self, old_id: str, new_id: str) -> None:
        """Now attached to ``new_id``, which replaced the lost ``old_id``: tell readers and waiters."""
        self.recoveries += 1
        self._publish(SessionRecovered(old_id, new_id))
        for key in [k for k in self._write_waiters if k[0] == old_id]:
            for future in self._write_waiters.pop(key):
                if not future.done():
                    future.set_exception(self._lost_error_for(old_id))
        self._set_state(ConnectionState.RECOVERED, f"new session {new_id} replaced {old_id}")

    def _publish(self, item: object) -> None:
        index = self._next_index
        self._next_index = index + 1
        backlog = self._backlog
        if len(backlog) >= self._backlog_size:
            evicted = backlog.popleft()[1]
            self._evicted_last_sequence = (
                getattr(evicted, "worker_sequence", 0) or self._evicted_last_sequence
            )
        backlog.append((index, item))
        for consumer in self._consumers:
            consumer.offer(index, item)

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
        for consumer in self._consumers + self._state_consumers:
            consumer.end()
        # An exception, not cancel(): the writer's task was not cancelled, and a
        # CancelledError escaping into it would look like one to its callers.
        closed = MxGatewayClosedError(
            "the session was closed before the write's outcome arrived", method="StreamEvents"
        )
        for waiters in self._write_waiters.values():
            for future in waiters:
                if not future.done():
                    future.set_exception(closed)
                    future.exception()  # retrieved: a writer that gave up must not warn
        self._write_waiters.clear()


def _in_session(item: object, session_id: str) -> bool:
    raw = getattr(item, "raw", None)
    return raw is None or getattr(raw, "session_id", session_id) in ("", session_id)


def _retired_call() -> grpc.aio.AioRpcError:
    # Retryable (see ``_retryable``): the pump reopens the call on the new connection.
    return grpc.aio.AioRpcError(
        grpc.StatusCode.CANCELLED,
        grpc.aio.Metadata(),
        grpc.aio.Metadata(),
        "the connection was replaced by a fail-over",
        None,
    )


def _session_gone(failure: BaseException) -> bool:
    return isinstance(failure, grpc.aio.AioRpcError) and failure.code() is grpc.StatusCode.NOT_FOUND


def _connect_failure(failure: BaseException) -> bool:
    return isinstance(failure, grpc.aio.AioRpcError) and failure.code() is grpc.StatusCode.UNAVAILABLE
