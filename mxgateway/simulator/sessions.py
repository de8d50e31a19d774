"""Sessions, their MXAccess registrations and items, leases and the detach grace.

A session belongs to the server, not to a connection: a client may open it in one
process and use it from the next. It ends on CloseSession, when its lease runs out
while no event stream is attached (any unary call extends the lease), or
``detach_grace_s`` after its last event stream went away (unless a new stream
attached in the meantime).
"""

from __future__ import annotations

import functools
import secrets
from collections import OrderedDict
from dataclasses import dataclass, field

from mxgateway.generated import mxaccess_gateway_pb2 as pb
from mxgateway.simulator.clock import Clock, Timer
from mxgateway.simulator.events import EventLog
from mxgateway.simulator.galaxy import GalaxyAttribute
from mxgateway.simulator.stats import SimulatorStats
from mxgateway.simulator.statuses import QUALITY_GOOD, ok_status
from mxgateway.simulator.tags import Sample, TagStore
from mxgateway.simulator.values import attribute_mx_value, element_of, timestamp_from_ns

#: How many closed session ids are remembered, so that closing twice answers CLOSED.
_CLOSED_MEMORY = 10_000


class Item:
    """An item added with AddItem: a tag reference bound to a Galaxy attribute."""

    def __init__(
        self,
        session: Session,
        server_handle: int,
        item_handle: int,
        reference: str,
        attribute: GalaxyAttribute,
        index: int | None,
        context: str = "",
    ) -> None:
        self.session = session
        self.server_handle = server_handle
        self.item_handle = item_handle
        self.reference = reference
        self.attribute = attribute
        self.index = index
        self.context = context
        self.advised = False
        self.supervisory = False
        #: The last value this item reported (its cache for ReadBulk).
        self.last: Sample | None = None

    def on_sample(self, sample: Sample) -> None:
        """Report the item's part of a new attribute value, if it changed."""
        value = element_of(sample.value, self.index)
        if self.last is not None and self.last.value == value and self.last.quality == sample.quality:
            return
        self.report(Sample(value, sample.timestamp_ns, sample.quality))

    def report(self, sample: Sample, statuses: list[pb.MxStatusProxy] | None = None) -> None:
        """Publish an OnDataChange event for ``sample`` (already narrowed to the item)."""
        self.last = sample
        event = pb.MxEvent(
            family=pb.MX_EVENT_FAMILY_ON_DATA_CHANGE,
            server_handle=self.server_handle,
            item_handle=self.item_handle,
            value=attribute_mx_value(self.attribute, sample.value, self.index),
            quality=sample.quality,
            source_timestamp=timestamp_from_ns(sample.timestamp_ns),
            statuses=statuses if statuses is not None else [ok_status()],
            on_data_change=pb.OnDataChangeEvent(),
        )
        if sample.quality != QUALITY_GOOD:
            event.value.is_null = True
        self.session.events.publish(event)


@dataclass
class Registration:
    """One Register call: a server handle and the items added under it."""

    server_handle: int
    client_name: str
    items: dict[int, Item] = field(default_factory=dict)


class Session:
    """One client session and its simulated MXAccess worker state."""

    def __init__(self, session_id: str, name: str, events: EventLog, lease_s: float, clock: Clock) -> None:
        self.session_id = session_id
        self.client_session_name = name
        self.state = pb.SESSION_STATE_READY
        self.events = events
        self.registrations: dict[int, Registration] = {}
        self.items: dict[int, Item] = {}
        self.authenticated_users: set[int] = set()
        self.lease_s = lease_s
        self._clock = clock
        #: When the lease runs out, on the clock's ``monotonic()``.
        self.lease_deadline = clock.monotonic() + lease_s
        self.streams = 0
        self._next_server_handle = 0
        self._next_item_handle = 0
        self.detach_timer: Timer | None = None

    def touch(self) -> None:
        """Extend the lease (any unary call on the session does)."""
        self.lease_deadline = self._clock.monotonic() + self.lease_s

    def lease_expires_at_ns(self) -> int:
        """When the lease runs out, in wall-clock nanoseconds since the epoch."""
        return self._clock.time_ns() + round((self.lease_deadline - self._clock.monotonic()) * 1e9)

    def new_server_handle(self) -> int:
        """The next server handle (1, 2, ...)."""
        self._next_server_handle += 1
        return self._next_server_handle

    def new_item_handle(self) -> int:
        """The next item handle, unique within the session."""
        self._next_item_handle += 1
        return self._next_item_handle


class SessionRegistry:
    """Every open session, plus the ids of recently closed ones."""

    def __init__(
        self,
        tags: TagStore,
        stats: SimulatorStats,
        *,
        lease_s: float,
        detach_grace_s: float,
        replay_capacity: int,
        replay_max_age_s: float,
        subscriber_queue_size: int,
        clock: Clock,
    ) -> None:
        self._tags = tags
        self._stats = stats
        self._clock = clock
        self._lease_s = lease_s
        self._detach_grace_s = detach_grace_s
        self._replay_capacity = replay_capacity
        self._replay_max_age_s = replay_max_age_s
        self._subscriber_queue_size = subscriber_queue_size
        self._sessions: dict[str, Session] = {}
        self._closed: OrderedDict[str, None] = OrderedDict()

    def all(self) -> list[Session]:
        """Open sessions, oldest first."""
        return list(self._sessions.values())

    def open(self, name: str) -> Session:
        """Open a READY session."""
        session_id = f"session-{secrets.token_hex(16)}"
        events = EventLog(
            session_id,
            replay_capacity=self._replay_capacity,
            replay_max_age_s=self._replay_max_age_s,
            subscriber_queue_size=self._subscriber_queue_size,
            stats=self._stats,
            clock=self._clock,
        )
        session = Session(session_id, name, events, self._lease_s, self._clock)
        self._sessions[session_id] = session
        self._stats.sessions_opened += 1
        return session

    def get(self, session_id: str) -> Session | None:
        """The open session with this id."""
        return self._sessions.get(session_id)

    def was_closed(self, session_id: str) -> bool:
        """Whether this id belonged to a session closed recently."""
        return session_id in self._closed

    def close(self, session_id: str, *, expired: bool = False) -> bool:
        """Close a session: drop its items, end its streams. False when it is not open."""
        session = self._sessions.pop(session_id, None)
        if session is None:
            return False
        session.state = pb.SESSION_STATE_CLOSED
        if session.detach_timer is not None:
            session.detach_timer.cancel()
            session.detach_timer = None
        for item in session.items.values():
            if item.advised:
                self._tags.unwatch(item.attribute, item)
        session.items.clear()
        session.registrations.clear()
        session.events.end_streams()
        self._closed[session_id] = None
        while len(self._closed) > _CLOSED_MEMORY:
            self._closed.popitem(last=False)
        self._stats.sessions_closed += 1
        if expired:
            self._stats.sessions_expired += 1
        return True

    def close_all(self) -> None:
        """Close every session (the simulator is shutting down)."""
        for session_id in list(self._sessions):
            self.close(session_id)

    def stream_attached(self, session: Session) -> None:
        """A StreamEvents call started: the session no longer counts down its grace."""
        session.streams += 1
        if session.detach_timer is not None:
            session.detach_timer.cancel()
            session.detach_timer = None

    def stream_detached(self, session: Session) -> None:
        """A StreamEvents call ended: after the last one, the detach grace starts."""
        session.streams -= 1
        if session.streams > 0 or session.state != pb.SESSION_STATE_READY:
            return
        session.detach_timer = self._clock.call_later(
            self._detach_grace_s, functools.partial(self._detach_grace_over, session.session_id)
        )

    def _detach_grace_over(self, session_id: str) -> None:
        session = self._sessions.get(session_id)
        if session is not None and session.streams == 0:
            self.close(session_id, expired=True)

    def expire_leases(self) -> int:
        """Close sessions whose lease ran out while no stream was attached."""
        now = self._clock.monotonic()
        expired = [
            s.session_id
            for s in self._sessions.values()
            if s.streams == 0 and s.detach_timer is None and s.lease_deadline < now
        ]
        for session_id in expired:
            self.close(session_id, expired=True)
        return len(expired)
