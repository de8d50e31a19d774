"""``Bridge``: the gateway's data changes into the outbox, the outbox into the broker.

The gateway side stands on the event pump: ``client.subscribe(tags)`` survives
outages, resumes, and after a lost session re-advises every tag on a new one, which
re-delivers the current values, so they are republished and nothing is silently
missing. The MQTT side is the ``Publisher`` draining the store-and-forward outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence

from mxgateway._clients.client import Client
from mxgateway._session.subscription import Subscription
from mxgateway.bridge.alarms import AlarmFeed, alarm_message, find_alarm_feed
from mxgateway.bridge.config import BridgeConfig
from mxgateway.bridge.health import Counters, StateLine
from mxgateway.bridge.outbox import Outbox
from mxgateway.bridge.publisher import Publisher
from mxgateway.bridge.sources import resolve_tags
from mxgateway.bridge.sparkplug import SparkplugLayout
from mxgateway.bridge.store import DiskQueue
from mxgateway.bridge.topics import Message, TagInfo, UnsLayout
from mxgateway.bridge.writes import WriteHandler

__all__ = ["Bridge"]

_log = logging.getLogger("mxgateway.bridge")


class _Hooks:
    """The publisher's view of the layout: Sparkplug births and ``seq``, or plain UNS."""

    def __init__(self, layout: UnsLayout | SparkplugLayout, subscription: Subscription) -> None:
        self._layout = layout
        self._subscription = subscription

    def will(self) -> Message | None:
        return self._layout.will() if isinstance(self._layout, SparkplugLayout) else None

    def births(self) -> list[Message]:
        if isinstance(self._layout, SparkplugLayout):
            return self._layout.births(self._subscription.latest)
        return []

    def finalize(self, message: Message, stored: bool) -> bytes:
        if isinstance(self._layout, SparkplugLayout) and message.topic.startswith("spBv1.0/"):
            return self._layout.finalize(message, stored)
        return message.payload

    def death(self) -> Message | None:
        return self._layout.death() if isinstance(self._layout, SparkplugLayout) else None


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
        self.tags: list[TagInfo] = []
        self.topics: Mapping[str, str] = {}

    def __repr__(self) -> str:
        b = self.config.broker
        return f"Bridge({self.config.topics.layout}, broker {b.host}:{b.port}, {len(self.tags)} tags)"

    def stop(self) -> None:
        """End ``run()``: the broker gets the death/offline messages, the queue stays on disk."""
        self._stop.set()

    async def wait_ready(self) -> None:
        """Wait until the tags are subscribed and the broker is connected."""
        await self._ready.wait()

    @property
    def broker_connected(self) -> bool:
        """True while the broker connection is up."""
        return self._publisher is not None and self._publisher.connected

    @property
    def waiting(self) -> int:
        """Messages waiting to be published (memory and disk)."""
        return self._outbox.queued if self._outbox is not None else 0

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

    def _enqueue(self, messages: Sequence[Message]) -> None:
        outbox = self._outbox
        assert outbox is not None
        self.counters.queued += outbox.put(messages)

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
            galaxy = await client.galaxy()
            self.tags = await resolve_tags(self.config.publish, galaxy)
            _log.info("bridging %d tags (%s layout)", len(self.tags), self.config.topics.layout)
            async with client.subscribe([t.tag for t in self.tags]) as subscription:
                await self._run_with(client, subscription, outbox)
        finally:
            outbox.close()
            if self._state_line is not None:
                self._state_line.close()
            if owned:
                await client.close()

    def _layout(self) -> UnsLayout | SparkplugLayout:
        c = self.config
        if c.topics.layout == "sparkplug":
            return SparkplugLayout(c.topics.group_id, c.topics.edge_node_id, self.tags, qos=c.publish.qos)
        return UnsLayout(c.topics.prefix, self.tags, qos=c.publish.qos, retain=c.publish.retain)

    async def _run_with(self, client: Client, subscription: Subscription, outbox: Outbox) -> None:
        c = self.config
        layout = self._layout()
        uns = UnsLayout(c.topics.prefix, self.tags)
        self.topics = uns.topics
        writes = None
        if c.writes.enabled:
            writes = WriteHandler(
                client, uns.topics, c.writes.allow, self._enqueue, self.counters, timeout_s=c.writes.timeout_s
            )
        subscriptions = writes.command_topics if writes is not None else []
        if isinstance(layout, SparkplugLayout):
            subscriptions.append(layout.ncmd_topic)

        async def on_message(topic: str, payload: bytes) -> None:
            if isinstance(layout, SparkplugLayout) and topic == layout.ncmd_topic:
                if layout.is_rebirth(payload):
                    _log.info("a Sparkplug host asked for a rebirth")
                    publisher.rebirth()
            elif writes is not None:
                await writes.handle(topic, payload)

        publisher = self._publisher = Publisher(
            c.broker,
            outbox,
            self.counters,
            _Hooks(layout, subscription),
            status_topic=c.status_topic,
            status_interval_s=c.health.interval_s,
            subscriptions=subscriptions,
            on_message=on_message,
        )
        tasks = [
            asyncio.create_task(self._forward(subscription, layout), name="bridge-forward"),
            asyncio.create_task(publisher.run(), name="bridge-publisher"),
        ]
        # Side tasks: their end does not end the bridge.
        side = [
            asyncio.create_task(self._ready_when_connected(publisher), name="bridge-ready"),
            asyncio.create_task(self._show_state(client), name="bridge-state"),
        ]
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
                await asyncio.wait_for(asyncio.gather(*tasks, *side, stop, return_exceptions=True), 5.0)

    async def _ready_when_connected(self, publisher: Publisher) -> None:
        await publisher.wait_connected()
        self._ready.set()

    async def _forward(self, subscription: Subscription, layout: UnsLayout | SparkplugLayout) -> None:
        async for change in subscription:
            self.counters.changes += 1
            self._enqueue(layout.data_messages((change,)))

    async def _alarms(self, feed: AlarmFeed) -> None:
        prefix = self.config.alarm_prefix
        async for record in feed:
            self._enqueue([alarm_message(prefix, record, qos=self.config.publish.qos)])

    async def _show_state(self, client: Client) -> None:
        line = self._state_line
        if line is None or not line.enabled:
            return
        while True:
            publisher = self._publisher
            broker = publisher.state if publisher is not None else "connecting"
            line.show(broker, client.connection_state.value, self.counters, self.waiting)
            await asyncio.sleep(0.5)
