"""Typed session events and the streams that deliver them.

Each ``MxEvent`` becomes one frozen dataclass, which keeps the message as ``raw``:

- ``DataChange`` (OnDataChange): the value in Python form, its quality and time;
- ``WriteComplete`` (OnWriteComplete): the real outcome of an earlier write;
- ``OperationComplete``; ``BufferedDataChange`` (several samples of one item);
- ``ReplayGap``: the gateway's sentinel when a resume point is older than its
  replay ring (drop cached state, re-read, resume after ``resume_after``);
- ``SequenceGap``: made by this SDK when ``worker_sequence`` skips numbers, i.e.
  events were dropped on the way; it comes right before the event after the gap;
- ``UnknownEvent``: a family this SDK does not know yet.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import grpc
import grpc.aio

from mxgateway import display
from mxgateway.errors import MxGatewayError, MxGatewayUnavailableError, map_rpc_error
from mxgateway.generated import mxaccess_gateway_pb2 as pb
from mxgateway.status import MxStatus, Quality, is_failure_status, statuses_of
from mxgateway.values import MxPythonValue, from_mx_value, timestamp_to_datetime
from mxgateway.views import ValueView

__all__ = [
    "BufferedDataChange",
    "BufferedSample",
    "DataChange",
    "Event",
    "EventStream",
    "OperationComplete",
    "RawEventStream",
    "ReplayGap",
    "SequenceGap",
    "UnknownEvent",
    "WriteComplete",
    "event_from_proto",
]

_UTC = dt.timezone.utc
_DATA_CHANGE = pb.MX_EVENT_FAMILY_ON_DATA_CHANGE
_WRITE_COMPLETE = pb.MX_EVENT_FAMILY_ON_WRITE_COMPLETE
_OPERATION_COMPLETE = pb.MX_EVENT_FAMILY_OPERATION_COMPLETE
_BUFFERED = pb.MX_EVENT_FAMILY_ON_BUFFERED_DATA_CHANGE
_UNSPECIFIED_FAMILY = pb.MX_EVENT_FAMILY_UNSPECIFIED

#: Stream failures worth reopening the stream for (the session lives on).
_RESUMABLE = (grpc.StatusCode.UNAVAILABLE,)

StreamCall = grpc.aio.UnaryStreamCall[pb.StreamEventsRequest, pb.MxEvent]
#: Opens a StreamEvents call resuming after the given worker sequence; may be
#: async (a lazily opened session opens first).
StreamOpener = Callable[[int], "StreamCall | Awaitable[StreamCall]"]


def _task_cancelling() -> bool:
    """True when the current task itself is being cancelled (unknowable before 3.11)."""
    task = asyncio.current_task()
    cancelling = getattr(task, "cancelling", None)
    return True if cancelling is None else bool(cancelling())


def _time(ts: Any, present: bool) -> dt.datetime | None:
    return timestamp_to_datetime(ts) if present else None


class DataChange(ValueView[pb.MxEvent]):
    """A new value of an advised item. ``tag`` is known when this SDK added the item.

    A view of the raw ``MxEvent`` (``raw``): ``value``, ``source_timestamp`` and
    ``statuses`` are converted on first access and kept, so a fast stream pays only
    for what its reader uses. Immutable; equal when the raw events and tags are.
    """

    __slots__ = ("item_handle", "server_handle", "tag", "worker_sequence")
    __match_args__ = (
        "worker_sequence",
        "server_handle",
        "item_handle",
        "value",
        "quality",
        "source_timestamp",
        "statuses",
        "tag",
    )

    raw: pb.MxEvent
    worker_sequence: int
    server_handle: int
    item_handle: int
    tag: str | None

    def __init__(self, raw: pb.MxEvent, tag: str | None = None) -> None:
        super().__init__(raw)
        set_field = object.__setattr__
        set_field(self, "worker_sequence", raw.worker_sequence)
        set_field(self, "server_handle", raw.server_handle)
        set_field(self, "item_handle", raw.item_handle)
        set_field(self, "tag", tag)

    def _fields(self) -> tuple[object, ...]:
        return (self.raw, self.tag)

    def __repr__(self) -> str:
        return display.data_change_repr(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


@dataclass(frozen=True, slots=True)
class WriteComplete:
    """The outcome of a write (OnWriteComplete): ``succeeded`` tells."""

    worker_sequence: int
    server_handle: int
    item_handle: int
    hresult: int
    statuses: tuple[MxStatus, ...]
    tag: str | None
    raw: pb.MxEvent = field(repr=False)

    @property
    def succeeded(self) -> bool:
        """No HRESULT failure and no failed status."""
        return self.hresult == 0 and not any(is_failure_status(s) for s in self.raw.statuses)

    def __repr__(self) -> str:
        return display.write_complete_repr(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


@dataclass(frozen=True, slots=True)
class OperationComplete:
    """An asynchronous MXAccess operation finished."""

    worker_sequence: int
    server_handle: int
    operation_id: str
    hresult: int
    statuses: tuple[MxStatus, ...]
    raw: pb.MxEvent = field(repr=False)


@dataclass(frozen=True, slots=True)
class BufferedSample:
    """One sample of a buffered data change."""

    value: MxPythonValue
    quality: Quality
    source_timestamp: dt.datetime | None


@dataclass(frozen=True, slots=True)
class BufferedDataChange:
    """Several samples of one item delivered at once (OnBufferedDataChange)."""

    worker_sequence: int
    server_handle: int
    item_handle: int
    data_type: int
    samples: tuple[BufferedSample, ...]
    statuses: tuple[MxStatus, ...]
    tag: str | None
    raw: pb.MxEvent = field(repr=False)


@dataclass(frozen=True, slots=True)
class ReplayGap:
    """The gateway no longer holds the events after ``requested_after_sequence``.

    Cached state is stale: re-read it. Resuming after ``resume_after`` is gap-free.
    """

    requested_after_sequence: int
    oldest_available_sequence: int
    raw: pb.MxEvent = field(repr=False)

    @property
    def resume_after(self) -> int:
        """The ``after_worker_sequence`` that resumes without a further gap."""
        return max(0, self.oldest_available_sequence - 1)

    @property
    def missed(self) -> int:
        """How many events the gateway no longer holds."""
        return max(0, self.oldest_available_sequence - self.requested_after_sequence - 1)


@dataclass(frozen=True, slots=True)
class SequenceGap:
    """Events ``expected_sequence`` up to ``received_sequence - 1`` never arrived."""

    expected_sequence: int
    received_sequence: int
    raw: pb.MxEvent = field(repr=False)

    @property
    def missed(self) -> int:
        """How many events were lost."""
        return self.received_sequence - self.expected_sequence


@dataclass(frozen=True, slots=True)
class UnknownEvent:
    """An event family this SDK does not model (alarm transitions, future families)."""

    worker_sequence: int
    family: int
    raw: pb.MxEvent = field(repr=False)


#: Every typed event a stream yields.
Event = (
    DataChange
    | WriteComplete
    | OperationComplete
    | BufferedDataChange
    | ReplayGap
    | SequenceGap
    | UnknownEvent
)

_NO_TAGS: Mapping[tuple[int, int], str] = {}


def event_from_proto(event: pb.MxEvent, tags: Mapping[tuple[int, int], str] = _NO_TAGS) -> Event:
    """The typed form of an ``MxEvent``; ``tags`` maps (server, item) handles to tag names."""
    family = event.family
    if family == _DATA_CHANGE:
        return DataChange(event, tags.get((event.server_handle, event.item_handle)) if tags else None)
    if family == _WRITE_COMPLETE:
        return WriteComplete(
            event.worker_sequence,
            event.server_handle,
            event.item_handle,
            event.hresult,
            statuses_of(event.statuses),
            tags.get((event.server_handle, event.item_handle)),
            event,
        )
    if family == _OPERATION_COMPLETE:
        return OperationComplete(
            event.worker_sequence,
            event.server_handle,
            event.operation_complete.operation_id,
            event.hresult,
            statuses_of(event.statuses),
            event,
        )
    if family == _BUFFERED:
        body = event.on_buffered_data_change
        return BufferedDataChange(
            event.worker_sequence,
            event.server_handle,
            event.item_handle,
            body.data_type,
            tuple(
                BufferedSample(
                    from_mx_value(s.value),
                    Quality(s.quality),
                    _time(s.source_timestamp, s.HasField("source_timestamp")),
                )
                for s in body.samples
            ),
            statuses_of(event.statuses),
            tags.get((event.server_handle, event.item_handle)),
            event,
        )
    if family == _UNSPECIFIED_FAMILY and event.HasField("replay_gap"):
        gap = event.replay_gap
        return ReplayGap(gap.requested_after_sequence, gap.oldest_available_sequence, event)
    return UnknownEvent(event.worker_sequence, family, event)


class _StreamBase:
    """Opening, reading and closing one StreamEvents call (lazily, on first use)."""

    def __init__(
        self,
        opener: StreamOpener,
        *,
        after_worker_sequence: int,
        secrets: tuple[str, ...],
        on_close: Callable[[_StreamBase], None] | None,
    ) -> None:
        if after_worker_sequence < 0:
            raise ValueError("after_worker_sequence must not be negative")
        self._opener = opener
        self._after = after_worker_sequence
        self._secrets = secrets
        self._on_close = on_close
        self._call: StreamCall | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    @property
    def closed(self) -> bool:
        """True once the stream ended or was closed."""
        return self._closed

    async def _open(self) -> StreamCall:
        if self._call is None:
            self._loop = asyncio.get_running_loop()
            opened = self._opener(self._after)
            call = await opened if inspect.isawaitable(opened) else opened
            if self._closed:
                # Closed while an async opener ran (a lazily opening session): the
                # call must not outlive the stream; reading it now ends the stream.
                call.cancel()
                return call
            self._call = call
        return self._call

    async def wait_connected(self, timeout: float = 2.0) -> None:
        """Open the call now and wait until the gateway has attached it.

        A gateway that sends its headers on attach (as the simulator does) makes
        this exact: events published afterwards reach the stream. Otherwise the
        wait ends after ``timeout`` seconds (or with the first event).
        """
        if self._closed:
            return
        call = await self._open()
        try:
            await asyncio.wait_for(call.initial_metadata(), timeout)
        except asyncio.TimeoutError:
            pass
        except grpc.aio.AioRpcError as exc:
            self._finish()
            error = map_rpc_error(exc, method="StreamEvents", scope="events:read", secrets=self._secrets)
            raise error from error.__cause__
        if call.done() and not self._closed:
            # Failed while attaching (bad key, unknown session): report it now.
            code = await call.code()
            if code is not grpc.StatusCode.OK:
                self._finish()
                details = await call.details()
                failure = grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details, None)
                raise map_rpc_error(
                    failure, method="StreamEvents", scope="events:read", secrets=self._secrets
                )

    def _finish(self) -> None:
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
        if on_own_loop or loop is None:
            call.cancel()
        elif not loop.is_closed():
            loop.call_soon_threadsafe(call.cancel)

    def _cancel(self) -> None:
        """Cancel at once, from the event loop's thread (the session's and client's close)."""
        self._finish()

    async def aclose(self) -> None:
        """Cancel the stream; idempotent."""
        self._finish()

    async def _read(self) -> pb.MxEvent | None:
        """The next message, None at the normal end of the stream."""
        call = self._call or await self._open()
        try:
            message = await call.read()
        except asyncio.CancelledError:
            if self._closed and not _task_cancelling():
                return None  # closed by aclose() or the session: the stream simply ends
            self._finish()
            raise
        if message is grpc.aio.EOF:  # type: ignore[attr-defined]
            return None
        assert isinstance(message, pb.MxEvent)
        return message


class RawEventStream(_StreamBase):
    """The generated ``MxEvent`` messages of one StreamEvents call, as they come.

    An async iterator and an async context manager; no conversion, no resume.
    """

    def __aiter__(self) -> RawEventStream:
        return self

    async def __anext__(self) -> pb.MxEvent:
        if self._closed:
            raise StopAsyncIteration
        try:
            message = await self._read()
        except grpc.aio.AioRpcError as exc:
            self._finish()
            error = map_rpc_error(exc, method="StreamEvents", scope="events:read", secrets=self._secrets)
            raise error from error.__cause__
        if message is None:
            self._finish()
            raise StopAsyncIteration
        return message

    async def __aenter__(self) -> RawEventStream:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._finish()


class EventStream(_StreamBase):
    """Typed events of one session, in ``worker_sequence`` order.

    Iterate with ``async for``; use ``async with`` (or ``aclose()``) to cancel the
    stream deterministically when leaving early. When the connection drops the
    stream reopens itself after the last sequence it delivered (up to
    ``resume_attempts`` times in a row), so nothing is lost while the gateway
    still retains the events; otherwise a ``ReplayGap`` or ``SequenceGap`` says so.
    ``last_sequence`` is the value to resume from in a later ``events()`` call.
    """

    def __init__(
        self,
        opener: StreamOpener,
        *,
        after_worker_sequence: int = 0,
        tags: Mapping[tuple[int, int], str] = _NO_TAGS,
        resume_attempts: int = 3,
        secrets: tuple[str, ...] = (),
        on_close: Callable[[_StreamBase], None] | None = None,
    ) -> None:
        super().__init__(
            opener, after_worker_sequence=after_worker_sequence, secrets=secrets, on_close=on_close
        )
        self._tags = tags
        self._last = after_worker_sequence
        self._resume_attempts = resume_attempts
        self._failures = 0
        self._pending: deque[Event] = deque()

    @property
    def last_sequence(self) -> int:
        """The highest ``worker_sequence`` delivered so far (the resume point)."""
        return self._last

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> Event:
        if self._pending:
            return self._pending.popleft()
        while True:
            if self._closed:
                raise StopAsyncIteration
            try:
                message = await self._read()
            except grpc.aio.AioRpcError as exc:
                error = map_rpc_error(exc, method="StreamEvents", scope="events:read", secrets=self._secrets)
                if await self._reopen(exc, error):
                    continue
                raise error from error.__cause__
            if message is None:
                self._finish()
                raise StopAsyncIteration
            self._failures = 0
            return self._typed(message)

    def _typed(self, message: pb.MxEvent) -> Event:
        event = event_from_proto(message, self._tags)
        sequence = message.worker_sequence
        if type(event) is ReplayGap:
            self._last = max(self._last, event.resume_after)
            return event
        last = self._last
        if sequence > last:
            self._last = sequence
            if last and sequence > last + 1:
                self._pending.append(event)
                return SequenceGap(last + 1, sequence, message)
        return event

    async def _reopen(self, exc: grpc.aio.AioRpcError, error: MxGatewayError) -> bool:
        """Reopen after a transient failure; False when the error must surface."""
        if self._closed or exc.code() not in _RESUMABLE or not isinstance(error, MxGatewayUnavailableError):
            self._finish()
            return False
        if self._failures >= self._resume_attempts:
            self._finish()
            return False
        self._failures += 1
        if self._call is not None:
            self._call.cancel()
            self._call = None
        await asyncio.sleep(0.05 * 2 ** (self._failures - 1))
        self._after = self._last
        return True

    async def __aenter__(self) -> EventStream:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._finish()
