"""``EventStream``: one reader of a session's events, fed by the session's event pump.

``Session.events()`` gives one. It never opens a gateway stream of its own: the
session's pump holds the one StreamEvents call, and each reader has its own
bounded queue. A new ``events()`` continues after the last event the previous
``events()`` reader of the session got, so nothing falls between two loops.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from types import TracebackType

from mxgateway._events.pump import EventPump
from mxgateway._events.queue import EMPTY, EventConsumer
from mxgateway._events.state import ConnectionState
from mxgateway._model.events import DataChange, Event

__all__ = ["EventStream"]


class EventStream:
    """Typed events and markers of one session, in ``worker_sequence`` order.

    Iterate with ``async for``; ``async with`` (or ``aclose()``) stops reading.
    Connection failures are invisible here: the session's pump resumes after the
    last event it received. What could not be kept comes as a marker
    (``ReplayGap``, ``SequenceGap``, ``EventsDropped``, ``SessionRecovered``);
    a session lost for good ends the iteration with ``MxGatewaySessionLostError``.
    """

    def __init__(
        self, pump: EventPump, consumer: EventConsumer, *, opened: Callable[[], Awaitable[None]]
    ) -> None:
        self._pump = pump
        self._opened = opened
        self._consumer = consumer
        self._fanout = pump.fanout
        self._loop = asyncio.get_running_loop()
        self._closed = False
        self._attached = False
        self._last = 0

    def __repr__(self) -> str:
        state = "closed" if self._closed else self._pump.state.value
        return f"EventStream(last_sequence={self._last}, queued={self._consumer.queued}, {state})"

    @property
    def closed(self) -> bool:
        """True once the stream ended or was closed."""
        return self._closed

    @property
    def last_sequence(self) -> int:
        """The highest ``worker_sequence`` this stream delivered (of the current session)."""
        return self._last

    @property
    def state(self) -> ConnectionState:
        """The session's event connection state (connected, reconnecting, recovered, lost ...)."""
        return self._pump.state

    async def wait_connected(self, timeout: float | None = None) -> None:
        """Attach the session's event stream now and wait until the gateway confirmed it.

        Events raised from then on reach this stream. ``timeout`` (seconds, None:
        the reconnect window, ``ReconnectPolicy.window_s``) bounds the wait
        (``MxGatewayTimeoutError``); a refused attach raises its typed error.
        """
        if self._closed:
            return
        await self._opened()
        await self._pump.ensure_attached(timeout, fail_fast=False)
        self._attached = True

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> Event:
        if self._closed:
            raise StopAsyncIteration
        if not self._attached:
            # The stream attaches in the background; its failures reach this reader's queue.
            await self._opened()
            self._pump.start()
            self._attached = True
        consumer = self._consumer
        try:
            while (item := consumer.get_nowait()) is EMPTY:
                await consumer.wait()
        except asyncio.CancelledError:
            raise  # only this wait is cancelled: the stream can be read again
        except BaseException:
            self._close_now()  # the session was lost for good: the error ends the stream
            raise
        if item is None:
            self._close_now()
            raise StopAsyncIteration
        # Data changes are nearly every item: their sequence is read once, from the message.
        sequence = (
            item._raw.worker_sequence if type(item) is DataChange else getattr(item, "worker_sequence", 0)
        )
        self._fanout.mark_consumed(consumer, sequence)
        if sequence:
            self._last = sequence
        return item  # type: ignore[return-value]

    def _close_now(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._consumer.close_now()
        self._fanout.remove(self._consumer)

    async def aclose(self) -> None:
        """Stop reading; idempotent. The session's stream stays attached."""
        self._close_now()

    async def __aenter__(self) -> EventStream:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._close_now()

    def __del__(self) -> None:
        # A stream dropped after ``break`` must stop taking a share of the events. The
        # collector may run amid the pump's own work, on any thread: the queue is let go
        # on the loop, later.
        if getattr(self, "_closed", True):
            return
        loop = self._loop
        if not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._close_now)
