"""``Subscription``: the data changes of a set of tags, from ``Session.subscribe``.

It reads from the session's event pump like every other consumer, so it shares
the session's one gateway stream, its resume after an outage and its recovery:
after a gap it re-reads its tags so ``latest`` is right again, and after the
session was replaced it subscribes its tags on the new session.

Every tag's current value arrives, at any size: tags are subscribed in chunks,
the next one sent once at most one chunk is still waiting for first values (two
chunks' values fit the gateway's per-subscriber queue), and a tag whose first
value did not come (dropped by the gateway) is read instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Sequence
from operator import attrgetter
from types import TracebackType
from typing import TYPE_CHECKING

from mxgateway._events.pump import EventPump
from mxgateway._events.queue import EMPTY, EventConsumer
from mxgateway._events.state import Binding
from mxgateway._model.checks import checked
from mxgateway._model.events import DataChange, EventsDropped, ReplayGap, SequenceGap
from mxgateway._model.results import ItemResult
from mxgateway._session.item_tags import ItemTags
from mxgateway._session.rereads import ReadFence, changes_from_reads
from mxgateway._session.tag_port import TagPort
from mxgateway._session.tag_table import TagTables
from mxgateway._views.recording import collect_changes
from mxgateway.errors import MxAccessError, MxGatewayError, MxGatewaySessionLostError

if TYPE_CHECKING:
    from mxgateway._model.display import ResultList
    from mxgateway._views.markers import RecordingGap, RecordingRecovery

__all__ = ["Subscription"]

_log = logging.getLogger("mxgateway.session")
_ok_of = attrgetter("was_successful")
_handle_of = attrgetter("item_handle")

#: Tags per SubscribeBulk: two chunks' first values fit any gateway's per-subscriber
#: queue we know of (the simulator's holds 10,000), so none is dropped on the way.
SUBSCRIBE_CHUNK = 4_096
#: How long collecting first values waits for the next one before reading the rest.
FIRST_VALUE_STALL_S = 2.0


class Subscription:
    """Data changes of a set of tags, from ``Session.subscribe``.

    ``async with`` subscribes on entry and unsubscribes on exit; ``async for``
    yields ``DataChange`` events (``tag`` set) of these tags only, starting with each
    tag's current value (read, with ``worker_sequence`` 0, for a tag whose first
    value the gateway dropped; a tag that cannot be read then gets a change of bad
    quality without a value). ``latest`` holds the newest change per tag;
    ``missed`` counts events lost to gaps. After a gap the tags are re-read and
    their values delivered as ``DataChange`` objects with ``worker_sequence`` 0
    (changes the gateway still replays after them are older: delivered, but they
    leave ``latest`` alone); after the session was replaced they are subscribed
    again on the new one.
    """

    def __init__(self, port: TagPort, pump: EventPump, tags: Sequence[str], *, supervisory: bool = False):
        self._port = port
        self._pump = pump
        self._tags = list(tags)
        self._supervisory = supervisory
        self._consumer: EventConsumer | None = None
        self._server_handle = 0
        #: Item handle -> tag of this subscription's items (compact: see ``ItemTags``).
        self._handles = ItemTags()
        #: The session (epoch) the handles belong to: after a recovery the same
        #: numbers name other items of the new session, which must never be touched.
        self._binding: Binding[TagTables] | None = None
        #: The session every tag was subscribed on: when it is replaced, the next read
        #: subscribes them again. Set only once done, so a reader cancelled half-way (a
        #: timeout) leaves the work to the next read, and the tags never go silent.
        self._complete_on: Binding[TagTables] | None = None
        #: Set when a gap asked for a re-read not done yet (a reader cancelled half-way).
        self._reread_due = False
        self._latest: dict[str, DataChange] = {}
        self._fence = ReadFence()
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
        return self._closed or self._port.commands.closed

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

    # ------------------------------------------------------------------ subscribing

    async def start(self) -> None:
        """Subscribe now (``async with`` and the first ``async for`` step do it for you)."""
        if self._started:
            return
        self._started = True
        try:
            await self._port.opened()
            self._consumer = self._pump.add_consumer()
            # Attached before advising: the first value of every tag is captured. Through
            # an outage too: the stream resumes, or recovers the session, and then it subscribes.
            await self._pump.ensure_attached(fail_fast=False)
            try:
                await self._subscribe_tags()
            except MxGatewaySessionLostError as exc:
                # The gateway lost the session before the pump noticed: the
                # tag-level API recovers, and the recovery's marker is then skipped.
                await self._port.recover(exc)
                await self._subscribe_tags()
        except BaseException:
            await self.aclose()
            raise

    async def _subscribe_tags(self) -> None:
        """Subscribe every tag on the current session, chunk by chunk, collecting first values.

        The next chunk is sent once every first value of the chunk before the last
        one arrived, so the stream stays busy while no more than two chunks' values
        are on their way: together they still fit the gateway's queue.
        """
        port = self._port
        binding = port.state.current
        self._binding = binding
        self._handles = ItemTags()
        with port.pinned(binding):
            self._server_handle = server = await port.server_handle(binding)
            tags = self._tags
            #: Per chunk on its way, oldest first: its handles still without a first value.
            in_flight: deque[set[int]] = deque()
            for start in range(0, len(tags), SUBSCRIBE_CHUNK):
                chunk = tags[start : start + SUBSCRIBE_CHUNK] if len(tags) > SUBSCRIBE_CHUNK else tags
                results = await port.commands.subscribe_bulk(server, chunk, supervisory=self._supervisory)
                raws = results.raw
                # The caller's own tag strings (the gateway answers in input order): no copies.
                if len(raws) != len(chunk):
                    chunk = [r.tag_address for r in raws]
                if not all(map(_ok_of, raws)):
                    # Leaving unsubscribes what this chunk did subscribe, too.
                    for raw, tag in zip(raws, chunk, strict=True):
                        if raw.was_successful:
                            self._handles.add(raw.item_handle, tag)
                    await self.aclose()
                    raise MxAccessError(
                        f"cannot subscribe {_reasons([r for r in results if not r.ok])}", method="Invoke"
                    )
                handles = list(map(_handle_of, raws))
                self._handles.add_all(handles, chunk)
                in_flight.append(set(handles))
                # The reply's messages are not needed while the values arrive.
                del results, raws, handles
                if not await self._collect_first_values(in_flight, chunks_left=1):
                    return  # ended, or replaced meanwhile: the next read subscribes on the new session
            if not await self._collect_first_values(in_flight, chunks_left=0):
                return
        self._complete_on = binding

    async def _collect_first_values(self, in_flight: deque[set[int]], *, chunks_left: int) -> bool:
        """Take the events queued so far until at most ``chunks_left`` chunks of ``in_flight`` still wait.

        A chunk is done, and leaves ``in_flight``, once each of its handles had a
        first value; the changes wait in ``_pending`` for the reader. When none
        came for ``FIRST_VALUE_STALL_S``, or a gap says some were dropped, the tags
        still waiting are read instead. False when the subscription ended
        meanwhile or its session was replaced.
        """
        consumer = self._consumer
        if consumer is None:
            return False
        pending = self._pending
        port_state = self._port.state
        while len(in_flight) > chunks_left:
            item = consumer.get_nowait()
            if item is EMPTY:
                if not await _woken_within(consumer.wait(), FIRST_VALUE_STALL_S):
                    break
                continue
            if item is None or self._closed:
                return False
            change = self._take(item)
            if change is not None:
                pending.append(change)
                handle = change.item_handle
                for waiting in in_flight:
                    if handle in waiting:
                        waiting.discard(handle)
                        break
                while in_flight and not in_flight[0]:
                    in_flight.popleft()
            elif self._reread_due or self._binding is not port_state.current:
                break
        if self._binding is not port_state.current:
            return False
        if len(in_flight) > chunks_left:
            names = self._handles
            missing = {
                tag: handle
                for waiting in in_flight
                for handle in waiting
                if (tag := names.get(handle)) is not None
            }
            in_flight.clear()
            await self._read_into_pending(missing, failed_too=True)
        # The read may have outlived the session: its handles must not take the next chunk there.
        return self._binding is port_state.current

    async def _resubscribe(self) -> None:
        """The session was replaced: the old handles are gone; subscribe on the new session."""
        self._fence.reset()  # the new session numbers its events from 1
        try:
            try:
                await self._subscribe_tags()
            except MxGatewaySessionLostError as exc:
                # Lost again before the pump noticed: the tag-level API recovers, as in start().
                await self._port.recover(exc)
                await self._subscribe_tags()
        except MxAccessError:
            raise
        except MxGatewayError as exc:
            _log.warning("subscribing again on the recovered session failed: %s", exc)
            raise
        if self._complete_on is self._port.state.current:
            self._recoveries += 1

    async def _reread(self) -> None:
        """Events were lost: read the tags now so ``latest`` (and the reader) catch up."""
        if not self._handles or self._binding is not self._port.state.current:
            return  # the handles died with their session; SessionRecovered follows
        await self._read_into_pending(
            {tag: handle for handle, tag in self._handles.items()}, failed_too=False
        )

    async def _read_into_pending(self, handles: dict[str, int], *, failed_too: bool) -> None:
        binding = self._binding
        if binding is None or binding is not self._port.state.current:
            return
        # Everything received so far is older than what the read will return.
        fence = self._pump.high_water
        with self._port.pinned(binding):
            results = await self._port.commands.read_bulk(self._server_handle, list(handles))
        changes = changes_from_reads(results, self._server_handle, handles, failed_too=failed_too)
        self._fence.record(fence, self._pump.high_water, changes)
        self._pending.extend(changes)

    def _resubscribe_due(self) -> bool:
        """True once started while the tags are not all subscribed on the current session."""
        return self._started and self._complete_on is not self._port.state.current

    # ------------------------------------------------------------------ reading

    def _take(self, event: object) -> DataChange | None:
        """What ``event`` means for this subscription: one of its changes, or None (markers noted)."""
        kind = type(event)
        if kind is DataChange:
            assert isinstance(event, DataChange)
            raw = event.raw  # on every event: each field read once, from the message
            tag = self._handles.get(raw.item_handle)
            binding = self._binding
            if (
                tag is not None
                and raw.server_handle == self._server_handle
                and binding is not None
                and raw.session_id in (binding.session_id, "")
            ):
                if event.tag != tag:
                    event = DataChange(raw, tag)
                if not self._fence.active or not self._fence.keeps_latest(tag, event):
                    self._latest[tag] = event
                return event
        elif kind is SequenceGap or kind is ReplayGap or kind is EventsDropped:
            assert isinstance(event, (SequenceGap, ReplayGap, EventsDropped))
            self._missed += event.missed
            self._reread_due = True
        return None

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
            if self._resubscribe_due():
                await self._resubscribe()
            if self._reread_due:
                await self._reread()
                self._reread_due = False
            if self._pending:
                change = self._pending.popleft()
                self._latest[change.tag or ""] = change
                return change
            event = await consumer.get()
            if event is None:
                raise StopAsyncIteration
            taken = self._take(event)
            if taken is not None:
                return taken

    # ------------------------------------------------------------------ closing

    async def aclose(self) -> None:
        """Unsubscribe and stop reading; idempotent."""
        if self._closed:
            return
        self._closed = True
        consumer = self._consumer
        if consumer is not None:
            consumer.close_now()
            self._pump.fanout.remove(consumer)
        handles, self._handles = list(self._handles), ItemTags()
        binding = self._binding
        port = self._port
        if handles and binding is port.state.current and not port.commands.closed:
            try:
                with port.pinned(binding):
                    await port.commands.unsubscribe_bulk(self._server_handle, handles)
            except MxGatewayError as exc:
                _log.debug("unsubscribe failed while closing a subscription: %s", exc)

    def __del__(self) -> None:
        # ``async for ... break`` without ``async with`` never closes it: its queue
        # must stop taking every later event of the session. The collector may run
        # amid the pump's own work, on any thread: the queue is let go on the loop, later.
        consumer = getattr(self, "_consumer", None)
        if consumer is None or getattr(self, "_closed", True):
            return
        fanout = self._pump.fanout

        def let_go() -> None:
            consumer.close_now()
            fanout.remove(consumer)

        loop = consumer.loop
        if not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(let_go)

    async def __aenter__(self) -> Subscription:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


def _reasons(failed: list[ItemResult]) -> str:
    return "; ".join(f"{r.tag}: {r.error_message or 'failed'}" for r in failed)


async def _woken_within(waiter: asyncio.Future[None], seconds: float) -> bool:
    """Wait for a reader's ``waiter`` at most ``seconds``: True when it was woken, False on time.

    One timer per wait (``asyncio.wait_for`` costs a task and two futures): collecting
    10,000 first values waits thousands of times. On time the timer completes the
    waiter itself, which a reader's waiter allows (it may wake with nothing new).
    """
    if waiter.done():
        return True
    timed_out = False

    def give_up() -> None:
        nonlocal timed_out
        if not waiter.done():
            timed_out = True
            waiter.set_result(None)

    timer = waiter.get_loop().call_later(seconds, give_up)
    try:
        await waiter
    finally:
        timer.cancel()
    return not timed_out
