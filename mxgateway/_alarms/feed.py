"""``AlarmFeed``: the gateway's alarms with an active set kept right across dropped connections.

A transport failure means: reconnect with jittered back-off
(``ClientOptions.reconnect``), re-read the active set with QueryActiveAlarms, and
emit the synthetic transitions (``synthetic=True``) that reconcile what changed
meanwhile; then the new stream's own snapshot is reconciled the same way and live
transitions follow. No session is needed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from types import TracebackType

import grpc
import grpc.aio

from mxgateway._alarms.active_set import apply_transition, reconcile
from mxgateway._alarms.model import (
    Alarm,
    AlarmProviderMode,
    AlarmProviderStatus,
    AlarmTransition,
    alarm_from_proto,
    provider_status_from_proto,
    transition_from_proto,
)
from mxgateway._alarms.streams import AlarmGateway, GatewaySource, gateway_secrets, task_cancelling
from mxgateway._model.scopes import EVENTS_READ
from mxgateway._retry import Backoff, ReconnectPolicy, is_transient_code
from mxgateway._transport.streams import AlarmCall
from mxgateway.errors import MxGatewayClosedError, MxGatewayError, MxGatewayUnavailableError, map_rpc_error
from mxgateway.generated import mxaccess_gateway_pb2 as pb

__all__ = ["AlarmFeed", "AlarmFeedEvent"]

_log = logging.getLogger("mxgateway.alarms")

#: What an ``AlarmFeed`` yields: transitions (live or synthetic) and provider changes.
AlarmFeedEvent = AlarmTransition | AlarmProviderStatus

_METHOD = "StreamAlarms"
_SCOPE = EVENTS_READ


class AlarmFeed:
    """The gateway's alarms with an active set that stays right across reconnects.

    ``async with client.alarm_feed(prefix="...") as feed`` connects and waits for
    the opening snapshot; then ``feed.active`` (reference -> ``Alarm``) is the active
    set, and ``async for event in feed`` yields each ``AlarmTransition`` (after it
    was applied to ``active``) and each ``AlarmProviderStatus`` that changes the
    provider mode or the degraded flag (the first one included).

    After a transport failure the feed reconnects by itself (jittered back-off,
    for ``ClientOptions.reconnect.window_s``), re-reads the set and yields the
    synthetic transitions (``synthetic=True``) that reconcile it. A refused key
    or scope, or an outage longer than the window, ends the iteration with the
    typed error. Consumers that fall behind by ``queue_size`` events lose the
    oldest (counted in ``missed``); ``active`` stays right regardless.
    """

    def __init__(
        self,
        source: GatewaySource,
        prefix: str = "",
        *,
        policy: ReconnectPolicy | None = None,
        queue_size: int = 32_768,
    ) -> None:
        if queue_size < 1:
            raise ValueError("queue_size must be at least 1")
        self._source = source
        self._prefix = prefix
        self._policy = policy
        self._queue_size = queue_size
        self._active: dict[str, Alarm] = {}
        self._status: AlarmProviderStatus | None = None
        self._pending: deque[AlarmFeedEvent] = deque()
        self._wakeup = asyncio.Event()
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._call: AlarmCall | None = None
        self._failure: MxGatewayError | None = None
        self._connected = False
        self._closed = False
        self._reconnects = 0
        self._missed = 0
        #: When the current outage began (monotonic), None while connected.
        self._outage_started: float | None = None

    def __repr__(self) -> str:
        state = "closed" if self._closed else "connected" if self._connected else "not connected"
        return f"AlarmFeed(prefix={self._prefix!r}, {len(self._active)} active, {state})"

    # ------------------------------------------------------------------ state

    @property
    def active(self) -> dict[str, Alarm]:
        """The active set now: full reference -> ``Alarm`` (a copy)."""
        return dict(self._active)

    @property
    def provider_status(self) -> AlarmProviderStatus | None:
        """The last provider status the gateway sent (None before the first)."""
        return self._status

    @property
    def provider_mode(self) -> AlarmProviderMode:
        """ALARMMGR, or SUBTAG while the gateway falls back on alarm subtags."""
        return self._status.mode if self._status is not None else AlarmProviderMode.UNSPECIFIED

    @property
    def degraded(self) -> bool:
        """True while the gateway reports degraded (subtag) data."""
        return self._status.degraded if self._status is not None else False

    @property
    def connected(self) -> bool:
        """True while a stream is attached and its snapshot was applied."""
        return self._connected

    @property
    def reconnects(self) -> int:
        """How often the feed reconnected after losing its stream."""
        return self._reconnects

    @property
    def missed(self) -> int:
        """Events dropped because the consumer fell ``queue_size`` behind."""
        return self._missed

    @property
    def closed(self) -> bool:
        """True once ``aclose()`` was called or the feed failed for good."""
        return self._closed

    # ------------------------------------------------------------------ life cycle

    async def start(self, timeout: float | None = 30.0) -> None:
        """Connect and wait until the opening snapshot is applied (``async with`` does it)."""
        if self._task is None and not self._closed:
            self._task = asyncio.create_task(self._run(), name="mxgateway-alarm-feed")
            self._task.add_done_callback(self._pump_ended)
        waiter = asyncio.ensure_future(self._ready.wait())
        finished = [waiter] if self._task is None else [waiter, self._task]
        try:
            done, _ = await asyncio.wait(finished, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        if self._failure is not None:
            raise self._failure
        if not self._ready.is_set() and self._closed:
            raise MxGatewayClosedError(
                "the alarm feed was closed before its snapshot arrived", method=_METHOD
            )
        if not done and not self._ready.is_set():
            raise MxGatewayUnavailableError(
                f"{_METHOD}: no alarm snapshot within {timeout} s", method=_METHOD
            )

    async def aclose(self) -> None:
        """Stop the feed and cancel its stream; idempotent."""
        self._closed = True
        self._connected = False
        call, self._call = self._call, None
        if call is not None:
            call.cancel()
        task, self._task = self._task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                if task_cancelling():
                    raise
        self._wakeup.set()

    async def __aenter__(self) -> AlarmFeed:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def __aiter__(self) -> AlarmFeed:
        return self

    async def __anext__(self) -> AlarmFeedEvent:
        if self._task is None and not self._closed:
            await self.start()
        while True:
            if self._pending:
                return self._pending.popleft()
            if self._failure is not None:
                raise self._failure
            if self._closed:
                raise StopAsyncIteration
            self._wakeup.clear()
            await self._wakeup.wait()

    # ------------------------------------------------------------------ the pump

    def _emit(self, event: AlarmFeedEvent) -> None:
        if len(self._pending) >= self._queue_size:
            self._pending.popleft()
            self._missed += 1
        self._pending.append(event)
        self._wakeup.set()

    def _reconcile(self, found: dict[str, Alarm]) -> None:
        for transition in reconcile(self._active, found):
            apply_transition(self._active, transition)
            self._emit(transition)

    def _set_status(self, status: AlarmProviderStatus) -> None:
        previous = self._status
        self._status = status
        if previous is None or (previous.mode, previous.degraded) != (status.mode, status.degraded):
            _log.info(
                "alarm provider %s%s: %s", status.mode.name, " (degraded)" * status.degraded, status.reason
            )
            self._emit(status)

    def _pump_ended(self, task: asyncio.Task[None]) -> None:
        # However the pump ended, a consumer waiting for the next event must wake up.
        self._closed = True
        self._connected = False
        if not task.cancelled() and task.exception() is not None and self._failure is None:
            # Only the type: an unexpected exception's text is not known to be free of secrets.
            failure = type(task.exception()).__name__
            self._failure = MxGatewayError(f"{_METHOD}: the alarm feed failed ({failure})", method=_METHOD)
        self._wakeup.set()

    def _fail(self, error: MxGatewayError) -> None:
        self._failure = error
        self._closed = True
        self._connected = False
        self._wakeup.set()

    async def _run(self) -> None:
        backoff: Backoff | None = None
        while not self._closed:
            try:
                gateway = await self._source()
            except MxGatewayError as exc:
                self._fail(exc)
                return
            policy = self._policy or gateway.options.reconnect
            backoff = backoff or Backoff(policy)
            try:
                if self._ready.is_set():
                    found = await gateway.query_active_alarms_raw(self._prefix)
                    self._reconcile({s.alarm_full_reference: alarm_from_proto(s) for s in found})
                await self._consume(gateway, backoff)
                code: grpc.StatusCode | None = grpc.StatusCode.UNAVAILABLE  # a feed never ends by itself
                error: MxGatewayError = MxGatewayUnavailableError(f"{_METHOD} ended", method=_METHOD)
            except grpc.aio.AioRpcError as exc:
                code = exc.code()
                error = map_rpc_error(exc, method=_METHOD, scope=_SCOPE, secrets=gateway_secrets(gateway))
            except MxGatewayError as exc:
                code, error = exc.grpc_code, exc
            except asyncio.CancelledError:
                if task_cancelling():
                    raise
                # The call was cancelled under us (the channel closed): not the feed itself.
                code = grpc.StatusCode.CANCELLED
                error = MxGatewayUnavailableError(f"{_METHOD} was cancelled", method=_METHOD, grpc_code=code)
            finally:
                self._call = None
            self._connected = False
            if self._closed or gateway.closed:
                self._closed = True
                self._wakeup.set()
                return
            if not is_transient_code(code):
                self._fail(error)
                return
            now = time.monotonic()
            if self._outage_started is None:
                self._outage_started = now
            elif now - self._outage_started > policy.window_s:
                self._fail(
                    MxGatewayUnavailableError(
                        f"{_METHOD}: gave up after {policy.window_s:g} s without the gateway: {error}",
                        method=_METHOD,
                        grpc_code=code,
                    )
                )
                return
            delay = backoff.next_delay()
            _log.info("alarm feed lost its stream (%s); reconnecting in %.2f s", error, delay)
            await asyncio.sleep(delay)

    async def _consume(self, gateway: AlarmGateway, backoff: Backoff) -> None:
        call = gateway.open_alarm_call(self._prefix)
        self._call = call
        if self._closed:
            call.cancel()
        snapshot: dict[str, Alarm] = {}
        snapshot_done = False
        while True:
            message = await call.read()
            if message is grpc.aio.EOF:  # type: ignore[attr-defined]
                return
            assert isinstance(message, pb.AlarmFeedMessage)
            payload = message.WhichOneof("payload")
            if payload == "transition":
                transition = transition_from_proto(message.transition)
                apply_transition(self._active, transition)
                self._emit(transition)
            elif payload == "active_alarm":
                alarm = alarm_from_proto(message.active_alarm)
                snapshot[alarm.reference] = alarm
            elif payload == "snapshot_complete":
                snapshot_done = True
                if self._ready.is_set():
                    self._reconcile(snapshot)
                else:
                    self._active = snapshot
            elif payload == "provider_status":
                self._set_status(provider_status_from_proto(message.provider_status))
                if snapshot_done and not self._connected:
                    if self._ready.is_set():
                        self._reconnects += 1
                    self._connected = True
                    self._outage_started = None
                    backoff.reset()
                    self._ready.set()
