"""Lazily opened server streams: ``LazyStream`` and ``RawEventStream``.

``LazyStream`` is the plumbing every such stream shares (opening on first use,
reading, cancelling on close or when dropped): raw events, alarm streams and deploy events.
``GatewayClient.stream_events_raw`` gives the generated ``MxEvent`` messages of a
StreamEvents call of its own, with no conversion and no resume. It counts as the
session's one event subscriber on a gateway that allows only one; sessions read
their events through their event pump (``Session.events()``) instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Generic, TypeVar, cast

import grpc
import grpc.aio

from mxgateway._model.scopes import EVENTS_READ
from mxgateway.errors import MxGatewayError, map_rpc_error
from mxgateway.generated import mxaccess_gateway_pb2 as pb

__all__ = [
    "AlarmCall",
    "LazyStream",
    "RawEventStream",
    "StreamCall",
    "StreamOpener",
    "done_within",
    "surely_not_cancelled",
    "wait_done",
    "wait_event",
    "task_cancelling",
]

MessageT = TypeVar("MessageT")
UnaryStreamCall = grpc.aio.UnaryStreamCall
StreamCall = grpc.aio.UnaryStreamCall[pb.StreamEventsRequest, pb.MxEvent]
#: One StreamAlarms call.
AlarmCall = grpc.aio.UnaryStreamCall[pb.StreamAlarmsRequest, pb.AlarmFeedMessage]
#: Opens a StreamEvents call resuming after the given worker sequence; may be
#: async (a lazily opening session opens first).
StreamOpener = Callable[[int], "StreamCall | Awaitable[StreamCall]"]


def task_cancelling() -> bool:
    """True when the current task itself is being cancelled.

    Before 3.11 a task cannot tell; then False, because the caller asks only after
    closing the stream itself, and a close racing a cancellation of the reader
    then ends the reader normally instead of cancelled.
    """
    task = asyncio.current_task()
    cancelling = getattr(task, "cancelling", None)
    return False if cancelling is None else bool(cancelling())


async def wait_done(future: asyncio.Future[Any], timeout: float | None) -> bool:
    """Wait at most ``timeout`` s (None: as long as it takes) for ``future``; True when it is done.

    Unlike ``asyncio.wait_for`` before Python 3.12, a cancellation of the waiting task
    is never lost when the future completes in the same moment, and the future is
    not cancelled on a timeout.
    """
    if not future.done():
        await asyncio.wait({future}, timeout=timeout)
    return future.done()


async def done_within(awaitable: Awaitable[Any], timeout: float | None) -> bool:
    """Run ``awaitable`` for at most ``timeout`` s: True when it finished (its error raised), else False.

    On time it is cancelled. Unlike ``asyncio.wait_for`` before Python 3.12, a
    cancellation of the waiting task is never lost when ``awaitable`` finishes in
    the same moment: it is cancelled too, and the CancelledError goes on.
    """
    task = asyncio.ensure_future(awaitable)
    try:
        finished = await wait_done(task, timeout)
    except BaseException:
        task.cancel()
        raise
    if not finished:
        task.cancel()
        return False
    task.result()
    return True


async def wait_event(event: asyncio.Event, timeout: float | None) -> bool:
    """Wait at most ``timeout`` s for ``event``: True when it is set (a cancel is never lost)."""
    return event.is_set() or await done_within(event.wait(), timeout)


def surely_not_cancelled() -> bool:
    """True when the current task is known to have no cancellation pending.

    grpc.aio raises CancelledError into a call's awaiter when the call's channel is
    closed under it, as if the task had been cancelled. Only a task that can tell
    (Python 3.11 and newer) may read such an error as something else: before 3.11
    this is False, and the CancelledError must stay what it is.
    """
    task = asyncio.current_task()
    cancelling = getattr(task, "cancelling", None)
    return cancelling is not None and cancelling() == 0


class LazyStream(Generic[MessageT]):
    """One server-streaming call, opened on first use, read message by message, cancelled on close.

    Dropping the stream (as breaking out of ``async for`` over an unreferenced
    stream does) cancels the call, on the loop it belongs to. ``on_close`` is
    told when the stream ends or closes (its owner stops tracking it).
    """

    #: The RPC and the scope the stream's typed errors name (each kind of stream sets them).
    _method = ""
    _scope: str | None = None

    def __init__(
        self,
        opener: Callable[[], Awaitable[UnaryStreamCall[Any, MessageT]] | UnaryStreamCall[Any, MessageT]],
        *,
        secrets: tuple[str, ...],
        on_close: Callable[[LazyStream[MessageT]], None] | None = None,
    ) -> None:
        self._opener = opener
        self._secrets = secrets
        self._on_close = on_close
        self._call: UnaryStreamCall[Any, MessageT] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    @property
    def closed(self) -> bool:
        """True once the stream ended or was closed."""
        return self._closed

    async def _open(self) -> UnaryStreamCall[Any, MessageT]:
        if self._call is None:
            self._loop = asyncio.get_running_loop()
            opened = self._opener()
            call = await opened if inspect.isawaitable(opened) else opened
            if self._closed:
                # Closed while an async opener ran (a lazily opening session): the
                # call must not outlive the stream; reading it now ends the stream.
                call.cancel()
                return call
            self._call = call
        return self._call

    def _close_now(self) -> None:
        if self._closed:
            return
        self._closed = True
        call, self._call = self._call, None
        if call is not None:
            call.cancel()
        if self._on_close is not None:
            self._on_close(self)

    def __del__(self) -> None:
        # ``break`` out of ``async for`` never calls aclose(): cancel the call when
        # the stream is dropped, or it would run on in the channel. The collector
        # may run on any thread; the call belongs to its loop.
        call = getattr(self, "_call", None)
        if call is None or call.done():
            return
        loop: asyncio.AbstractEventLoop | None = getattr(self, "_loop", None)
        try:
            on_own_loop = asyncio.get_running_loop() is loop
        except RuntimeError:
            on_own_loop = False
        # A loop closing under us leaves nothing to cancel.
        with contextlib.suppress(RuntimeError):
            if on_own_loop or loop is None:
                call.cancel()
            elif not loop.is_closed():
                loop.call_soon_threadsafe(call.cancel)

    async def aclose(self) -> None:
        """Cancel the stream; idempotent."""
        self._close_now()

    async def _read(self) -> MessageT | None:
        """The next message, None at the normal end of the stream (gRPC failures raise as is)."""
        call = self._call or await self._open()
        try:
            message = await call.read()
        except asyncio.CancelledError:
            if self._closed and not task_cancelling():
                return None  # closed by aclose() or the owner: the stream simply ends
            self._close_now()
            raise
        if message is grpc.aio.EOF:  # type: ignore[attr-defined]  # missing from grpc-stubs
            return None
        return cast("MessageT", message)

    def _failed(self, exc: grpc.aio.AioRpcError) -> MxGatewayError:
        """End the stream; the typed error of its failed call."""
        self._close_now()
        return map_rpc_error(exc, method=self._method, scope=self._scope, secrets=self._secrets)

    async def _next_message(self) -> MessageT:
        """The next message; StopAsyncIteration at the end of the stream, the typed error on failure."""
        if self._closed:
            raise StopAsyncIteration
        failure: grpc.aio.AioRpcError | None = None
        try:
            message = await self._read()
        except grpc.aio.AioRpcError as exc:
            failure = exc
        if failure is not None:
            # Raised out here, not in the except block: the raw error, which may hold
            # what the gateway echoed (a key included), must not become __context__.
            error = self._failed(failure)
            raise error from error.__cause__
        if message is None:
            self._close_now()
            raise StopAsyncIteration
        return message

    async def _attach(self, timeout: float) -> UnaryStreamCall[Any, MessageT] | None:
        """Open the call now and wait up to ``timeout`` seconds for the gateway to attach it (None: closed)."""
        if self._closed:
            return None
        call = await self._open()
        failure: grpc.aio.AioRpcError | None = None
        try:
            await done_within(call.initial_metadata(), timeout)
        except grpc.aio.AioRpcError as exc:
            failure = exc
        if failure is not None:  # raised out here, for the reason _next_message gives
            error = self._failed(failure)
            raise error from error.__cause__
        return call


class RawEventStream(LazyStream[pb.MxEvent]):
    """The generated ``MxEvent`` messages of one StreamEvents call, as they come.

    An async iterator and an async context manager; opened on first use; no
    conversion, no resume.
    """

    _method = "StreamEvents"
    _scope = EVENTS_READ

    def __init__(
        self,
        opener: StreamOpener,
        *,
        after_worker_sequence: int,
        secrets: tuple[str, ...],
        on_close: Callable[[LazyStream[pb.MxEvent]], None] | None,
    ) -> None:
        if after_worker_sequence < 0:
            raise ValueError("after_worker_sequence must not be negative")
        self._after = after_worker_sequence
        super().__init__(lambda: opener(after_worker_sequence), secrets=secrets, on_close=on_close)

    async def wait_connected(self, timeout: float = 2.0) -> None:
        """Open the call now and wait until the gateway has attached it.

        A gateway that sends its headers on attach (as the simulator does) makes
        this exact: events published afterwards reach the stream. Otherwise the
        wait ends after ``timeout`` seconds (or with the first event).
        """
        call = await self._attach(timeout)
        if call is not None and call.done() and not self._closed:
            # Failed while attaching (bad key, unknown session): report it now.
            code = await call.code()
            if code is not grpc.StatusCode.OK:
                details = await call.details()
                failure = grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details, None)
                raise self._failed(failure)

    def __aiter__(self) -> RawEventStream:
        return self

    async def __anext__(self) -> pb.MxEvent:
        return await self._next_message()

    async def __aenter__(self) -> RawEventStream:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._close_now()
