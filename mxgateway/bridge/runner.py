"""``Bridge``: the gateway's data changes into the outbox, the outbox into the broker.

The gateway side stands on the event pump: ``client.subscribe(tags)`` survives
outages, resumes, and after a lost session re-advises every tag on a new one, which
re-delivers the current values, so they are republished and nothing is silently
missing. The MQTT side is the ``Publisher`` draining the store-and-forward outbox.

In the Sparkplug layout the births carry current values: before the first births
the bridge waits (a bounded time) for every tag's first value and reads the ones
still missing; when the gateway session is lost every device dies (DDEATH) and is
born again (DBIRTH) once the session is back and its values were read again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping, Sequence

from mxgateway import Client, ConnectionState, Subscription
from mxgateway.bridge.alarms import AlarmFeed, alarm_message, find_alarm_feed
from mxgateway.bridge.config import BridgeConfig
from mxgateway.bridge.health import Counters, StateLine
from mxgateway.bridge.metrics import MetricsServer
from mxgateway.bridge.outbox import Outbox
from mxgateway.bridge.publisher import Hooks, PlainHooks, Publisher
from mxgateway.bridge.secured import SecuredWriter
from mxgateway.bridge.sources import resolve_tags
from mxgateway.bridge.sparkplug import SparkplugLayout
from mxgateway.bridge.sparkplug_commands import SparkplugCommands
from mxgateway.bridge.sparkplug_session import SparkplugSession
from mxgateway.bridge.store import DiskQueue
from mxgateway.bridge.topics import Message, TagInfo, UnsLayout
from mxgateway.bridge.writes import CommandWorker, SetCommands, TagWriter

__all__ = ["Bridge"]

_log = logging.getLogger("mxgateway.bridge")
#: How long births wait for the first values before the missing ones are read.
_SETTLE_S = 5.0
#: Drop-triggered rebirths at most this often.
_REBIRTH_SPACING_S = 1.0
_LOST = (ConnectionState.RECOVERING, ConnectionState.LOST)


class Bridge:
    """Publishes the configured tags to MQTT until ``stop()`` (or cancellation).

    ``client`` is an open or lazy ``mxgateway.Client`` to use instead of one built
    from ``[gateway]`` (the bridge then leaves it open); ``alarm_feed`` overrides the
    SDK's alarm feed when ``[alarms] enabled``.
    """

    def __init__(
        self,
        config: BridgeConfig,
        *,
        client: Client | None = None,
        alarm_feed: AlarmFeed | None = None,
        state_line: StateLine | None = None,
    ) -> None:
        self.config = config
        self.counters = Counters()
        self._client = client
        self._alarm_feed = alarm_feed
        self._state_line = state_line
        self._stop = asyncio.Event()
        self._ready = asyncio.Event()
        self._publisher: Publisher | None = None
        self._outbox: Outbox | None = None
        self._sparkplug: SparkplugLayout | None = None
        self._session: SparkplugSession | None = None
        self._metrics: MetricsServer | None = None
        self._last_rebirth = 0.0
        self.tags: list[TagInfo] = []
        self.topics: Mapping[str, str] = {}
        self._areas: Mapping[str, tuple[str, ...]] = {}

    def __repr__(self) -> str:
        b = self.config.broker
        return f"Bridge({self.config.topics.layout}, broker {b.host}:{b.port}, {len(self.tags)} tags)"

    def stop(self) -> None:
        """End ``run()``: the broker gets the death/offline messages, the queue stays on disk."""
        self._stop.set()

    async def wait_ready(self) -> None:
        """Wait until the tags are subscribed, their values known and the broker connected."""
        await self._ready.wait()

    @property
    def broker_connected(self) -> bool:
        """True while the broker connection is up and publishing."""
        return self._publisher is not None and self._publisher.connected

    @property
    def waiting(self) -> int:
        """Messages waiting to be published (memory and disk)."""
        return self._outbox.queued if self._outbox is not None else 0

    @property
    def metrics_port(self) -> int | None:
        """The port of the Prometheus endpoint (None when it is off)."""
        return self._metrics.port if self._metrics is not None else None

    @property
    def bd_seq(self) -> int | None:
        """The Sparkplug ``bdSeq`` of the current MQTT session (None in the UNS layout)."""
        return self._session.bd_seq if self._session is not None else None

    def _new_client(self) -> Client:
        g = self.config.gateway
        return Client(
            endpoint=g.endpoint,
            api_key=g.api_key.reveal() if g.api_key is not None else None,
            plaintext=g.plaintext,
            ca_file=g.ca_file,
            client_session_name=g.session_name,
        )

    def _dropped(self, count: int, reason: str) -> None:
        self.counters.dropped += count
        if self._sparkplug is not None:
            self._sparkplug.dropped = self.counters.dropped
        session, publisher = self._session, self._publisher
        now = time.monotonic()
        # Hosts cannot see a dropped message in seq (it is numbered when sent): a rebirth
        # tells them the current values, and that what they missed is gone.
        live = session is not None and session.live and publisher is not None
        if live and publisher is not None and now - self._last_rebirth >= _REBIRTH_SPACING_S:
            self._last_rebirth = now
            publisher.rebirth()

    def _enqueue(self, messages: Sequence[Message]) -> None:
        outbox = self._outbox
        assert outbox is not None
        self.counters.queued += outbox.put(messages)

    def _start_metrics(self) -> None:
        m = self.config.metrics
        if not m.enabled:
            return
        server = MetricsServer(m.host, m.port)
        try:
            server.start()
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise self.config.error(
                "metrics", "port", f"cannot listen on {m.host}:{m.port}: {reason}"
            ) from None
        self._metrics = server

    async def run(self) -> None:
        """Run until ``stop()``; the gateway client is closed on the way out when the bridge made it."""
        owned = self._client is None
        client = self._client or self._new_client()
        disk = DiskQueue(
            self.config.store.path,
            max_messages=self.config.store.max_messages,
            max_age_s=self.config.store.max_age_s,
        )
        outbox = self._outbox = Outbox(disk, on_drop=self._dropped)
        try:
            self._start_metrics()
            galaxy = await client.galaxy()
            selection = await resolve_tags(self.config, galaxy)
            self.tags, self._areas = selection.tags, selection.areas
            _log.info("bridging %d tags (%s layout)", len(self.tags), self.config.topics.layout)
            async with client.subscribe([t.tag for t in self.tags]) as subscription:
                await self._run_with(client, subscription, outbox, disk)
        finally:
            outbox.close()
            if self._metrics is not None:
                self._metrics.close()
            if self._state_line is not None:
                self._state_line.close()
            if owned:
                await client.close()

    def _writer(self, client: Client) -> TagWriter:
        w = self.config.writes
        secured = None
        if w.user is not None and w.password is not None:
            secured = SecuredWriter(
                client,
                w.user,
                w.password,
                verifier_user=w.verifier_user,
                verifier_password=w.verifier_password,
                timeout_s=w.timeout_s,
            )
        return TagWriter(client, self.tags, w, self.counters, secured)

    async def _run_with(
        self, client: Client, subscription: Subscription, outbox: Outbox, disk: DiskQueue
    ) -> None:
        c = self.config
        uns = UnsLayout(c.topics.prefix, self.tags, qos=c.publish.qos, retain=c.publish.retain)
        self.topics = uns.topics
        worker = CommandWorker()
        writer = self._writer(client)
        sets = SetCommands(writer, uns.topics, self._enqueue, self.counters) if c.writes.enabled else None
        hooks: Hooks
        commands: SparkplugCommands | None = None
        if c.sparkplug:
            layout = self._sparkplug = SparkplugLayout(c.topics.group_id, c.topics.edge_node_id, self.tags)
            session = self._session = SparkplugSession(layout, disk, c.topics.primary_host_id)
            hooks = session
            commands = SparkplugCommands(layout, writer, lambda: publisher.rebirth(), self.counters)
        else:
            hooks = PlainHooks(uns.stale_messages)

        def on_message(topic: str, payload: bytes) -> None:
            session, layout = self._session, self._sparkplug
            if session is not None and topic == session.state_topic:
                session.on_state(payload)
            elif commands is not None and layout is not None and topic == layout.ncmd_topic:
                commands.on_ncmd(payload)
            elif commands is not None and layout is not None and (device := layout.device_of_command(topic)):
                if not worker.submit(lambda: commands.on_dcmd(device, payload)):
                    _log.warning("DCMD to %s refused: too many commands waiting", device)
            elif (
                sets is not None
                and sets.tag_of(topic) is not None
                and not worker.submit(lambda: sets.handle(topic, payload))
            ):
                _log.warning("command on %s refused: too many commands waiting", topic)

        publisher = self._publisher = Publisher(
            c.broker,
            outbox,
            self.counters,
            hooks,
            status_topic=c.status_topic,
            status_interval_s=c.health.interval_s,
            subscriptions=sets.command_topics if sets is not None else [],
            on_message=on_message,
        )
        layout_for_data = self._sparkplug or uns
        tasks = [asyncio.create_task(self._forward(subscription, layout_for_data), name="bridge-forward")]
        if self._sparkplug is not None:
            # Births carry values: the first values arrive (or are read) before the broker hears of us.
            await self._settle(client, self._sparkplug)
        tasks.append(asyncio.create_task(publisher.run(), name="bridge-publisher"))
        # Side tasks: their end does not end the bridge.
        side = [
            asyncio.create_task(self._ready_when_connected(publisher), name="bridge-ready"),
            asyncio.create_task(self._show_state(client), name="bridge-state"),
            asyncio.create_task(worker.run(), name="bridge-commands"),
        ]
        if self._sparkplug is not None:
            side.append(
                asyncio.create_task(self._watch_gateway(client, self._sparkplug), name="bridge-gateway")
            )
        if c.alarms.enabled:
            feed = self._alarm_feed or find_alarm_feed(client)
            if feed is not None:
                tasks.append(asyncio.create_task(self._alarms(feed), name="bridge-alarms"))
        stop = asyncio.create_task(self._stop.wait(), name="bridge-stop")
        try:
            done, _ = await asyncio.wait([*tasks, stop], return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                error = None if task is stop or task.cancelled() else task.exception()
                if error is not None:
                    raise error
        finally:
            publisher.stop()
            for task in [*tasks, *side, stop]:
                if task.get_name() != "bridge-publisher":
                    task.cancel()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.gather(*tasks, *side, stop, return_exceptions=True), 10.0)

    async def _settle(self, client: Client, layout: SparkplugLayout) -> None:
        """Wait (bounded) until every tag has a value, then read those that still have none."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(layout.complete.wait(), _SETTLE_S)
        missing = layout.missing
        if missing:
            layout.note_reads(await client.read(missing))
        layout.start()

    async def _watch_gateway(self, client: Client, layout: SparkplugLayout) -> None:
        """DDEATH for every device when the gateway session is lost, DBIRTH when it is back."""
        async for change in client.state_changes():
            if change.state in _LOST:
                self._enqueue(layout.gateway_lost())
            elif change.state is ConnectionState.RECOVERED:
                await self._settle(client, layout)
                self._enqueue(layout.gateway_back())

    async def _ready_when_connected(self, publisher: Publisher) -> None:
        await publisher.wait_session()
        self._ready.set()

    async def _forward(self, subscription: Subscription, layout: UnsLayout | SparkplugLayout) -> None:
        counters = self.counters
        enqueue = self._enqueue
        data_messages = layout.data_messages
        async for change in subscription:
            counters.changes += 1
            messages = data_messages((change,))
            if messages:
                enqueue(messages)

    async def _alarms(self, feed: AlarmFeed) -> None:
        c = self.config
        prefix = c.alarms.prefix or c.topics.prefix
        areas = None if c.alarms.prefix else self._areas
        async for record in feed:
            self._enqueue([alarm_message(prefix, record, qos=c.publish.qos, areas=areas)])

    def _snapshot(self, client: Client) -> dict[str, float]:
        snapshot: dict[str, float] = dict(self.counters.snapshot())
        outbox = self._outbox
        oldest = outbox.oldest_enqueued() if outbox is not None else None
        snapshot["waiting"] = self.waiting
        snapshot["lag_seconds"] = max(time.time() - oldest, 0.0) if oldest is not None else 0.0
        snapshot["broker_connected"] = float(self.broker_connected)
        state = client.connection_state
        snapshot["gateway_connected"] = float(state in (ConnectionState.CONNECTED, ConnectionState.RECOVERED))
        return snapshot

    async def _show_state(self, client: Client) -> None:
        line = self._state_line
        metrics = self._metrics
        drawing = line is not None and line.enabled
        if not drawing and metrics is None:
            return
        while True:
            if metrics is not None:
                metrics.update(self._snapshot(client))
            if line is not None and drawing:
                publisher = self._publisher
                broker = publisher.state if publisher is not None else "connecting"
                line.show(broker, client.connection_state.value, self.counters, self.waiting)
            await asyncio.sleep(0.5)
