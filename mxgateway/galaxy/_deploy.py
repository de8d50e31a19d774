"""``DeployEventStream``: one WatchDeployEvents call, with sequence-gap accounting."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from types import TracebackType

import grpc
import grpc.aio

from mxgateway._transport.streams import LazyStream
from mxgateway.errors import map_galaxy_rpc_error
from mxgateway.galaxy._filters import deploy_time
from mxgateway.generated import galaxy_repository_pb2 as gr

__all__ = ["DeployCall", "DeployEventStream"]

_UTC = dt.timezone.utc
#: One WatchDeployEvents call.
DeployCall = grpc.aio.UnaryStreamCall[gr.WatchDeployEventsRequest, gr.DeployEvent]


class DeployEventStream(LazyStream[gr.DeployEvent]):
    """``DeployEvent`` messages of one WatchDeployEvents call, as they come (``async for``).

    The first event is the current state (unless suppressed by
    ``last_seen_deploy_time``), then one per deploy. ``sequence`` numbers deploy
    states; when it skips numbers this subscriber lost events: ``gap`` is how
    many were lost right before the event just returned (0 normally) and
    ``missed`` the total. ``last_seen_deploy_time`` is the value to
    resume from in a later ``watch_deploy_events()``.

    The call starts on first use. ``aclose()``, ``async with``, cancelling the
    reading task, closing the client, or dropping the stream (as breaking out of
    ``async for client.watch_deploy_events()`` does) cancels it.
    """

    _last_sequence: int
    _gap: int
    _missed: int
    _last_seen: dt.datetime | None

    @classmethod
    def _create(
        cls,
        opener: Callable[[], DeployCall],
        *,
        secrets: tuple[str, ...],
        last_seen_deploy_time: dt.datetime | None,
    ) -> DeployEventStream:
        self = cls.__new__(cls)
        LazyStream.__init__(self, opener, secrets=secrets)
        self._last_sequence = 0
        self._gap = 0
        self._missed = 0
        self._last_seen = last_seen_deploy_time.astimezone(_UTC) if last_seen_deploy_time else None
        return self

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"DeployEventStream(last_sequence={self._last_sequence}, missed={self._missed}, {state})"

    @property
    def last_sequence(self) -> int:
        """``sequence`` of the last event returned (0 before the first)."""
        return self._last_sequence

    @property
    def gap(self) -> int:
        """Events lost right before the last one returned (0 when none were)."""
        return self._gap

    @property
    def missed(self) -> int:
        """Events lost over the stream's life (sequence gaps)."""
        return self._missed

    @property
    def last_seen_deploy_time(self) -> dt.datetime | None:
        """The deploy time of the last event (or the one given at start): the resume point."""
        return self._last_seen

    def __aiter__(self) -> DeployEventStream:
        return self

    async def __anext__(self) -> gr.DeployEvent:
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
            if self._closed and failure.code() is grpc.StatusCode.CANCELLED:
                raise StopAsyncIteration from None
            self._close_now()
            error = map_galaxy_rpc_error(failure, method="WatchDeployEvents", secrets=self._secrets)
            raise error from error.__cause__
        if message is None:
            self._close_now()
            raise StopAsyncIteration
        self._track(message)
        return message

    def _track(self, event: gr.DeployEvent) -> None:
        sequence = event.sequence
        last = self._last_sequence
        # A lower number means the gateway restarted and counts afresh: no gap.
        self._gap = sequence - last - 1 if last and sequence > last + 1 else 0
        self._missed += self._gap
        self._last_sequence = sequence
        seen = deploy_time(event)
        if seen is not None:
            self._last_seen = seen

    async def __aenter__(self) -> DeployEventStream:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._close_now()
