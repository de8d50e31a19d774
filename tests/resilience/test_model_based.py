"""Model-based fault tests: random interleavings of commands, readers and faults, invariants after every step.

A hypothesis ``RuleBasedStateMachine`` drives a real ``Client`` through the loopback
fault proxy to a real simulator. Rules write tags, confirm writes, read, restart
readers, cancel calls, close a client during its first use, and inject faults
(cut, black hole, dropped streams, a slow gateway, the session closed by
another client, the gateway restarted). After every step:

- every write lands on the tag it names (checked through a separate client: a
  value written to one tag never shows up on another);
- the ``events()`` reader got every event once, in order, or a marker for what it
  could not get;
- every reader heard something within the liveness bound after an event was raised;
- no task ended cancelled unless it was cancelled, and none that was cancelled
  (Python 3.11+) went on as if it was not;
- after the clients close, no session is left on the simulator.

``MXGATEWAY_MODEL_PROFILE=long`` runs the long profile (local runs);
``MXGATEWAY_MODEL_STATS=path`` writes the run's counts (examples, steps, faults
injected, invariant checks) as JSON.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import re
import sys
import time
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from mxgateway import (
    Client,
    ClientOptions,
    EventsDropped,
    GatewayClient,
    MxGatewayError,
    ReconnectPolicy,
    ReplayGap,
    SequenceGap,
    SessionRecovered,
)
from mxgateway._transport.grpc_teardown import quiet_grpc_teardown
from mxgateway.generated import mxaccess_gateway_pb2 as pb
from mxgateway.simulator.faultproxy import FaultProxy
from mxgateway.simulator.server import Simulator

LONG = os.environ.get("MXGATEWAY_MODEL_PROFILE") == "long"
STATS: Counter[str] = Counter()
#: Writable attributes of the demo plant; each write's value is unique across all of them.
TAGS = ["Tank_001.Notes", "Tank_001.Name", "Tank_002.Notes", "Tank_002.Name"]
POLICY = ReconnectPolicy(initial_backoff_s=0.05, max_backoff_s=0.3, window_s=2.0)
KEEPALIVE_S = 1.0
#: The liveness bound of these options (docs/events.md): keepalive time and timeout, the
#: reconnect window (resume), twice the window (recovery), the attach confirmation, and room
#: for a loaded 2-core machine.
BOUND_S = KEEPALIVE_S + KEEPALIVE_S + 3 * POLICY.window_s + 2.0 + 6.0
MARKERS = (SequenceGap, ReplayGap, EventsDropped, SessionRecovered)


class OpenedSessions(logging.Handler):
    """The ids of the sessions whose OpenSession reply reached a client (its INFO line says so).

    A reply the network lost leaves a session no client can know of, to close: the
    contract has no idempotent open, and the gateway's lease ends such a session.
    """

    OPENED = re.compile(r"opened session (\S+) ")

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.ids: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        match = self.OPENED.match(record.getMessage())
        if match:
            self.ids.add(match.group(1))


OPENED = OpenedSessions()


class GatewayModel(RuleBasedStateMachine):
    """A client, its readers and the faults of the network and the gateway; see the module docstring."""

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.loop.set_exception_handler(quiet_grpc_teardown)
        self.values = itertools.count(1)
        #: Every value attempted on each tag (any of them may be what the gateway holds).
        self.attempted: dict[str, set[str]] = {tag: set() for tag in TAGS}
        #: The tag each value was written to.
        self.owner: dict[str, str] = {}
        #: (time received, item) of everything the events() reader got, across restarts.
        self.heard: list[tuple[float, object]] = []
        self.checked_upto = 0
        self.reader: asyncio.Task[None] | None = None
        self.last_raised = 0.0

    def run(self, coro: Any, timeout: float = 30.0) -> Any:
        return self.loop.run_until_complete(asyncio.wait_for(coro, timeout))

    # ------------------------------------------------------------------ set-up and tear-down

    @initialize()
    def start(self) -> None:
        STATS["examples"] += 1

        async def start() -> None:
            self.sim = Simulator(
                update_rate_hz=0, keepalive_time_s=KEEPALIVE_S, keepalive_timeout_s=KEEPALIVE_S
            )
            await self.sim.start()
            self.proxy = FaultProxy(self.sim.host, self.sim.port)
            await self.proxy.start()
            self.client = Client(options=self.options())
            self.checker = await GatewayClient.connect(self.sim.endpoint)
            self.check_session = await self.checker.open_session("checker")
            await self.client.read(TAGS)
            self.start_reader()

        self.run(start())

    def options(self) -> ClientOptions:
        return ClientOptions(
            endpoint=self.proxy.endpoint,
            reconnect=POLICY,
            keepalive_time_s=KEEPALIVE_S,
            keepalive_timeout_s=KEEPALIVE_S,
            default_timeout=3.0,
        )

    def start_reader(self) -> None:
        async def read() -> None:
            try:
                async with self.client.events() as events:
                    async for item in events:
                        self.heard.append((time.monotonic(), item))
            except MxGatewayError as exc:
                self.heard.append((time.monotonic(), exc))  # a typed error is something heard too

        self.reader = self.loop.create_task(read())

    def teardown(self) -> None:
        async def stop() -> None:
            self.proxy.heal()
            self.sim.faults.clear()
            await self.client.close()
            if self.reader is not None:
                await asyncio.wait_for(self.reader, 5)
            await self.check_session.close()
            await self.checker.close()
            # Close is total: no session a client knew of is left on the gateway.
            left = self.sim.session_ids()
            known = [session_id for session_id in left if session_id in OPENED.ids]
            STATS["sessions whose open reply was lost"] += len(left) - len(known)
            assert known == [], f"left open: {known} (the client's last: {self.client.session_id})"
            STATS["invariant checks"] += 1
            await self.proxy.close()
            await self.sim.close()

        try:
            self.run(stop())
        finally:
            for task in asyncio.all_tasks(self.loop):
                task.cancel()
            self.loop.run_until_complete(asyncio.sleep(0))
            self.loop.close()

    # ------------------------------------------------------------------ commands

    def value_for(self, tag: str) -> str:
        value = f"w{next(self.values)}"
        self.attempted[tag].add(value)
        self.owner[value] = tag
        return value

    @rule(tag=st.sampled_from(TAGS))
    def write_tag(self, tag: str) -> None:
        STATS["steps"] += 1
        value = self.value_for(tag)
        sent = time.monotonic()
        if self.call_uncancelled(self.client.write_tag(tag, value), ok=True):
            self.last_raised = sent

    @rule(tag=st.sampled_from(TAGS))
    def write_and_confirm(self, tag: str) -> None:
        STATS["steps"] += 1
        value = self.value_for(tag)
        sent = time.monotonic()
        outcome = self.call_uncancelled(self.client.write_and_confirm(tag, value, outcome_timeout=5.0))
        if outcome is not None:
            self.last_raised = sent
            assert outcome.ok

    @rule()
    def read(self) -> None:
        STATS["steps"] += 1
        results = self.call_uncancelled(self.client.read(TAGS))
        if results is not None:
            for result in results:
                assert not result.ok or result.value in self.attempted[result.tag] | {
                    self.initial(result.tag)
                }

    @rule(delay=st.sampled_from([0.0, 0.002, 0.02]))
    def cancel_a_read(self, delay: float) -> None:
        STATS["steps"] += 1

        async def cancel() -> None:
            task = asyncio.ensure_future(self.client.read(TAGS))
            await asyncio.sleep(delay)
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                assert task.cancelled()
                return
            except MxGatewayError:
                return
            # It finished before the cancel landed: only possible when it was already done.
            if sys.version_info >= (3, 11):
                assert task.done()

        self.run(cancel())

    @rule()
    def restart_the_reader(self) -> None:
        STATS["steps"] += 1
        reader = self.reader
        if reader is not None:
            reader.cancel()
            self.run(asyncio.gather(reader, return_exceptions=True))
        self.start_reader()

    @rule(delay=st.sampled_from([0.0, 0.005, 0.05]))
    def close_a_client_during_its_first_use(self, delay: float) -> None:
        STATS["steps"] += 1

        async def close_early() -> None:
            other = Client(options=self.options())
            reading = asyncio.ensure_future(other.read(TAGS[:1]))
            await asyncio.sleep(delay)
            await other.close()
            with contextlib.suppress(MxGatewayError):
                await reading
            assert not reading.cancelled()
            assert other.session_id not in self.sim.session_ids() or not other.session_id

        self.run(close_early())

    def call_uncancelled(self, coro: Any, *, ok: Any = None) -> Any:
        """Run a call nobody cancels: its result (``ok`` for None), None for a typed error; never a CancelledError."""
        task = self.loop.create_task(coro)
        try:
            result = self.run(asyncio.shield(task), timeout=60)
        except MxGatewayError:
            return None
        finally:
            assert not task.cancelled(), "a task nobody cancelled ended cancelled"
        return ok if result is None else result

    # ------------------------------------------------------------------ faults

    @rule(duration=st.sampled_from([0.1, 0.3]))
    def cut(self, duration: float) -> None:
        STATS["steps"] += 1
        STATS["faults injected"] += 1
        self.run(self.proxy.cut(duration))
        self.run(asyncio.sleep(duration))

    @rule(hold=st.sampled_from([0.2, 1.2]))
    def black_hole(self, hold: float) -> None:
        STATS["steps"] += 1
        STATS["faults injected"] += 1
        self.proxy.black_hole()
        self.run(asyncio.sleep(hold))
        self.proxy.heal()

    @rule()
    def drop_event_streams(self) -> None:
        STATS["steps"] += 1
        STATS["faults injected"] += 1
        self.run(self.sim.drop_event_streams())

    @rule()
    def slow_gateway(self) -> None:
        STATS["steps"] += 1
        STATS["faults injected"] += 1
        kinds = [pb.MX_COMMAND_KIND_ADD_ITEM, pb.MX_COMMAND_KIND_WRITE, pb.MX_COMMAND_KIND_READ_BULK]
        self.sim.faults.hold_replies(0.3, n=2, command_kinds=kinds)

    @rule()
    def close_the_session_from_another_client(self) -> None:
        STATS["steps"] += 1
        STATS["faults injected"] += 1
        session_id = self.client.session_id
        if session_id in self.sim.session_ids():
            self.run(self.checker.close_session_raw(session_id))

    @rule(downtime=st.sampled_from([0.0, 0.3]))
    def restart_the_gateway(self, downtime: float) -> None:
        STATS["steps"] += 1
        STATS["faults injected"] += 1
        self.run(self.sim.restart(downtime))
        # The checker's own connection comes back by itself (it reads with retries).

    # ------------------------------------------------------------------ invariants

    def initial(self, tag: str) -> str:
        index = tag.split("_")[1][:3]
        return f"Raw water tank {int(index)}" if tag.endswith(".Name") else ""

    @invariant()
    def writes_land_on_the_tags_they_name(self) -> None:
        STATS["invariant checks"] += 1

        async def held() -> list[Any]:
            return list(await self.check_session.read(TAGS))

        for result in self.run(held()):
            assert result.ok, result
            value = result.value
            if value != self.initial(result.tag):
                assert self.owner.get(value) == result.tag, (
                    f"{value!r} on {result.tag} was written to {self.owner.get(value)}"
                )

    @invariant()
    def the_reader_misses_nothing_without_a_marker(self) -> None:
        STATS["invariant checks"] += 1
        last = None
        for _, item in self.heard[self.checked_upto :]:
            if isinstance(item, (SessionRecovered, MxGatewayError)):
                last = None  # a new session numbers from 1; an error ends the reader
                continue
            if isinstance(item, MARKERS):
                last = None
                continue
            sequence = getattr(item, "worker_sequence", 0)
            if not sequence:
                continue
            if last is not None:
                assert sequence == last + 1, f"event {sequence} after {last} with no marker between"
            last = sequence
        self.checked_upto = max(0, len(self.heard) - 1)

    @invariant()
    def every_reader_hears_something_within_the_bound(self) -> None:
        STATS["invariant checks"] += 1
        raised = self.last_raised
        if not raised:
            return
        reader = self.reader
        if reader is not None and reader.done():
            self.start_reader()  # it ended with a typed error (heard): a new one reads on

        async def heard_since() -> None:
            deadline = raised + BOUND_S
            for _ in range(int(BOUND_S / 0.01) + 100):
                if self.heard and self.heard[-1][0] >= raised:
                    return
                if time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.01)
            raise AssertionError(f"no event, marker or error within {BOUND_S} s of an event raised")

        self.run(heard_since(), timeout=BOUND_S + 5)
        self.last_raised = 0.0


GatewayModel.TestCase.settings = settings(
    max_examples=200 if LONG else 10,
    stateful_step_count=40 if LONG else 15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@pytest.mark.model
def test_the_gateway_model() -> None:
    """The state machine above, in this run's profile."""
    STATS.clear()
    started = time.monotonic()
    logger = logging.getLogger("mxgateway.client")
    level = logger.level
    logger.setLevel(logging.INFO)
    OPENED.ids.clear()
    logger.addHandler(OPENED)
    try:
        GatewayModel.TestCase("runTest").runTest()
    finally:
        logger.removeHandler(OPENED)
        logger.setLevel(level)
        STATS["sessions opened"] = len(OPENED.ids)
        STATS["seconds"] = round(time.monotonic() - started)
        path = os.environ.get("MXGATEWAY_MODEL_STATS")
        if path:
            with open(path, "w", encoding="utf-8") as out:
                json.dump(dict(STATS), out, indent=1, sort_keys=True)
    assert STATS["examples"] >= (200 if LONG else 10)
    assert STATS["invariant checks"] > STATS["examples"]
