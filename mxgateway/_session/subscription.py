"""``Subscription``: the data changes of a set of tags, from ``Session.subscribe``.

It reads from the session's event pump like every other consumer, so it shares
the session's one gateway stream, its resume after an outage and its recovery:
after a gap it re-reads its tags so ``latest`` is right again, and after the
session was replaced it subscribes its tags on the new session.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Protocol

from mxgateway._events.pump import EventPump
from mxgateway._events.queue import EventConsumer
from mxgateway._model.checks import checked
from mxgateway._model.events import DataChange, EventsDropped, ReplayGap, SequenceGap, SessionRecovered
from mxgateway._model.results import ItemResult, ReadResult
from mxgateway._views.recording import collect_changes
from mxgateway.errors import MxAccessError, MxGatewayError, MxGatewaySessionLostError
from mxgateway.generated import mxaccess_gateway_pb2 as pb

if TYPE_CHECKING:
    from mxgateway._model.display import ResultList
    from mxgateway._views.markers import RecordingGap, RecordingRecovery

__all__ = ["Subscription", "SubscriptionSession"]

_log = logging.getLogger("mxgateway.session")
_DATA_CHANGE = pb.MX_EVENT_FAMILY_ON_DATA_CHANGE


class SubscriptionSession(Protocol):
    """What a subscription needs of its session (``Session`` has it)."""

    @property
    def session_id(self) -> str:
        """The gateway's id of the session now."""
        ...

    @property
    def closed(self) -> bool:
        """True once the session was closed here."""
        ...

    async def default_server_handle(self) -> int:
        """The server handle of the tag-level API."""
        ...

    async def subscribe_bulk(
        self, server_handle: int, tags: Sequence[str], *, supervisory: bool = False
    ) -> list[ItemResult]:
        """SubscribeBulk."""
        ...

    async def unsubscribe_bulk(self, server_handle: int, item_handles: Sequence[int]) -> list[ItemResult]:
        """UnsubscribeBulk."""
        ...

    async def read_bulk(self, server_handle: int, tags: Sequence[str]) -> list[ReadResult]:
        """ReadBulk."""
        ...

    async def _await_recovery(self, error: MxGatewaySessionLostError) -> None: ...


class Subscription:
    """Data changes of a set of tags, from ``Session.subscribe``.

    ``async with`` subscribes on entry and unsubscribes on exit; ``async for``
    yields ``DataChange`` events (``tag`` set) of these tags only, starting with each
    tag's current value. ``latest`` holds the newest change per tag; ``missed``
    counts events lost to gaps. After a gap the tags are re-read and their values
    delivered as ``DataChange`` objects with ``worker_sequence`` 0 (changes the
    gateway still replays after them are older: delivered, but they leave
    ``latest`` alone); after the session was replaced they are subscribed again
    on the new one.
    """

    def __init__(
        self, session: SubscriptionSession, pump: EventPump, tags: Sequence[str], *, supervisory: bool = False
    ):
        self._session = session
        self._pump = pump
        self._tags = list(tags)
        self._supervisory = supervisory
        self._consumer: EventConsumer | None = None
        self._server_handle = 0
        self._handles: dict[int, str] = {}
        #: The session the handles belong to: after a recovery the same numbers
        #: name other items of the new session, which must never be touched.
        self._handles_session = ""
        #: Set when a marker asked for work that is not done yet: a reader cancelled
        #: (a timeout) or failed half-way must not lose it, or the tags go silent.
        self._resubscribe_due = False
        self._reread_due = False
        self._latest: dict[str, DataChange] = {}
        #: After a re-read (see ``_keeps_latest``): events up to ``_reread_fence`` were
        #: received before the read was sent, those up to ``_reread_window`` before its
        #: reply; ``_reread_stamps`` holds each re-read value's source time.
        self._reread_fence = 0
        self._reread_window = 0
        self._reread_stamps: dict[str, tuple[int, int]] = {}
        self._pending: deque[DataChange] = deque()
        self._missed = 0
        self._recoveries = 0
        self._started = False
        self._closed = False

    def __repr__(self) -> str:
        return f"Subscription(tags={self._tags!r}, supervisory={self._supervisory})"

    @property
    def tags(self) -> list[str]:
        """The subscribed tags."""
        return list(self._tags)

    @property
    def closed(self) -> bool:
        """True once the subscription was closed (or its session was)."""
        return self._closed

    @property
    def item_handles(self) -> dict[str, int]:
        """The item handle of each subscribed tag (on the current session)."""
        return {tag: handle for handle, tag in self._handles.items()}

    @property
    def latest(self) -> dict[str, DataChange]:
        """The newest change delivered for each tag."""
        return dict(self._latest)

    @property
    def missed(self) -> int:
        """Events of the session lost to gaps while this subscription ran."""
        return self._missed

    @property
    def recoveries(self) -> int:
        """How often the subscription moved to a replacement session."""
        return self._recoveries

    async def start(self) -> None:
        """Subscribe now (``async with`` and the first ``async for`` step do it for you)."""
        if self._started:
            return
        self._started = True
        try:
            self._consumer = self._pump.add_consumer()
            # Attached before advising: the first value of every tag is captured.
            await self._pump.ensure_attached()
            try:
                await self._subscribe_tags()
            except MxGatewaySessionLostError as exc:
                # The gateway lost the session before the pump noticed: the
                # tag-level API recovers, and the recovery's marker is then skipped.
                await self._session._await_recovery(exc)
                await self._subscribe_tags()
        except BaseException:
            await self.aclose()
            raise

    async def _subscribe_tags(self) -> None:
        session = self._session
        self._server_handle = await session.default_server_handle()
        # Taken right before the command, which is built with this id.
        session_id = session.session_id
        results = await session.subscribe_bulk(self._server_handle, self._tags, supervisory=self._supervisory)
        # The caller's own tag strings (the gateway answers in input order): no copies.
        pairs = zip(self._tags, results, strict=True) if len(results) == len(self._tags) else ()
        self._handles = {r.item_handle: tag for tag, r in pairs if r.ok} or {
            r.item_handle: r.tag for r in results if r.ok
        }
        self._handles_session = session_id
        failed = [r for r in results if not r.ok]
        if failed:
            await self.aclose()
            raise MxAccessError(f"cannot subscribe {_reasons(failed)}", method="Invoke")

    async def _resubscribe(self) -> None:
        """The session was replaced: the old handles are gone; subscribe on the new session."""
        self._handles = {}
        self._reread_fence = self._reread_window = 0  # the new session numbers its events from 1
        try:
            await self._subscribe_tags()
        except MxAccessError:
            raise
        except MxGatewayError as exc:
            _log.warning("subscribing again on the recovered session failed: %s", exc)
            raise
        self._recoveries += 1

    async def _reread(self) -> None:
        """Events were lost: read the tags now so ``latest`` (and the reader) catch up."""
        if not self._handles or self._handles_session != self._session.session_id:
            return  # the handles died with their session; SessionRecovered follows
        by_tag = {tag: handle for handle, tag in self._handles.items()}
        # Everything received so far is older than what the read will return.
        fence = self._pump.high_water
        results = await self._session.read_bulk(self._server_handle, list(by_tag))
        self._reread_fence = fence
        self._reread_window = self._pump.high_water
        self._reread_stamps = {}
        for result in results:
            if result.ok and result.tag in by_tag:
                change = _change_from_read(result, self._server_handle, by_tag[result.tag])
                self._pending.append(change)
                stamp = change.raw.source_timestamp
                self._reread_stamps[result.tag] = (stamp.seconds, stamp.nanos)

    def _keeps_latest(self, tag: str, change: DataChange) -> bool:
        """True when ``change`` is older than the value a re-read put in ``latest``.

        It is delivered all the same (it happened), but ``latest`` must not go back
        in time. A change received before the read was sent is older. One received
        while the read was under way may be older (the gateway replays what it kept
        after a gap) or newer: its source time decides. Later ones are newer.
        """
        sequence = change.worker_sequence
        if sequence > self._reread_window:
            return False
        if sequence <= self._reread_fence:
            return True
        stamp = self._reread_stamps.get(tag)
        raw = change.raw.source_timestamp
        return stamp is not None and (raw.seconds, raw.nanos) < stamp

    def _stream_cancel(self) -> None:
        """The session is closing: end at once (the session unsubscribes nothing any more)."""
        self._closed = True
        if self._consumer is not None:
            self._consumer.end()

    async def aclose(self) -> None:
        """Unsubscribe and stop reading; idempotent."""
        if self._closed:
            return
        self._closed = True
        consumer = self._consumer
        if consumer is not None:
            consumer.end_now()
            self._pump.fanout.remove(consumer)
        handles, self._handles = list(self._handles), {}
        current = self._handles_session == self._session.session_id
        if handles and current and not self._session.closed:
            try:
                await self._session.unsubscribe_bulk(self._server_handle, handles)
            except MxGatewayError as exc:
                _log.debug("unsubscribe failed while closing a subscription: %s", exc)

    @checked
    async def collect(
        self, seconds: float | None = None, max_changes: int | None = None
    ) -> ResultList[DataChange | RecordingGap | RecordingRecovery]:
        """The changes of the next ``seconds``, or the next ``max_changes`` (whichever ends first).

        Built on ``async for``: the subscription stays open for more. Where events
        were lost or the session was replaced, a ``RecordingGap`` or
        ``RecordingRecovery`` marker stands before the changes that repaired it.
        Without either limit it would never end: that is an ``MxGatewayArgumentError``.
        """
        return await collect_changes(self, seconds, max_changes)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> DataChange:
        if not self._started:
            await self.start()
        consumer = self._consumer
        if consumer is None or self._closed:
            raise StopAsyncIteration
        while True:
            if self._resubscribe_due:
                await self._resubscribe()
                self._resubscribe_due = False
            if self._reread_due:
                await self._reread()
                self._reread_due = False
            if self._pending:
                change = self._pending.popleft()
                self._latest[change.tag or ""] = change
                return change
            event = await consumer.get()
            kind = type(event)
            if kind is DataChange:
                assert isinstance(event, DataChange)
                tag = self._handles.get(event.item_handle)
                if tag is not None and event.server_handle == self._server_handle:
                    if event.tag != tag:
                        event = DataChange(event.raw, tag)
                    if not self._reread_window or not self._keeps_latest(tag, event):
                        self._latest[tag] = event
                    return event
            elif kind is SessionRecovered:
                # Already on the current session when start() recovered it itself,
                # or when a later marker of a chain of recoveries already moved it.
                self._resubscribe_due = self._handles_session != self._session.session_id
            elif kind is SequenceGap or kind is ReplayGap or kind is EventsDropped:
                assert isinstance(event, (SequenceGap, ReplayGap, EventsDropped))
                self._missed += event.missed
                self._reread_due = True
            elif event is None:
                raise StopAsyncIteration

    def __del__(self) -> None:
        # ``async for ... break`` without ``async with`` never closes it: its queue
        # must stop taking every later event of the session. The collector may run
        # on any thread; the pump belongs to its loop.
        consumer = getattr(self, "_consumer", None)
        if consumer is None or getattr(self, "_closed", True):
            return
        pump = self._pump

        def finish() -> None:
            consumer.end_now()
            pump.fanout.remove(consumer)

        loop = consumer.loop
        try:
            on_own_loop = asyncio.get_running_loop() is loop
        except RuntimeError:
            on_own_loop = False
        if on_own_loop:
            finish()
        elif not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(finish)

    async def __aenter__(self) -> Subscription:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


def _reasons(failed: list[ItemResult]) -> str:
    return "; ".join(f"{r.tag}: {r.error_message or 'failed'}" for r in failed)


def _change_from_read(result: ReadResult, server_handle: int, item_handle: int) -> DataChange:
    raw = result.raw
    event = pb.MxEvent(
        family=_DATA_CHANGE,
        server_handle=server_handle,
        item_handle=item_handle,
        value=raw.value,
        quality=raw.quality,
        statuses=raw.statuses,
        on_data_change=pb.OnDataChangeEvent(),
    )
    if raw.HasField("source_timestamp"):
        event.source_timestamp.CopyFrom(raw.source_timestamp)
    return DataChange(event, result.tag)
