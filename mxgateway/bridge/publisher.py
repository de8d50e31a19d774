"""The MQTT side: one broker connection at a time, reconnecting, draining the outbox in order.

Each connection is a fresh ``aiomqtt.Client`` with a last will (the layout's, or the
status topic's ``offline``). After connecting it publishes the status ``online`` and
the layout's births, then sends what the outbox holds, several messages in flight
at once (QoS 1 PUBACKs come back in order); a message leaves the outbox only when the
broker acknowledged it, so a connection lost mid-batch sends the rest again after
reconnecting. Incoming messages (command topics) go to a handler.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

import aiomqtt

from mxgateway.bridge.config import BrokerConfig
from mxgateway.bridge.health import Counters, status_payload
from mxgateway.bridge.outbox import Entry, Outbox
from mxgateway.bridge.topics import Message

__all__ = ["Hooks", "Publisher"]

_log = logging.getLogger("mxgateway.bridge")
_BATCH = 200
_FINAL_TIMEOUT_S = 2.0
_PUBACK_TIMEOUT_S = 60.0
_SUBSCRIBE_CHUNK = 100


class Hooks(Protocol):
    """What the publisher asks of the layout and the bridge."""

    def will(self) -> Message | None:
        """The last will of a new connection (None: the status topic's ``offline``)."""

    def births(self) -> list[Message]:
        """Messages to publish first on every new connection."""

    def finalize(self, message: Message, stored: bool) -> bytes:
        """The payload to send for a message, at the moment it is sent."""

    def death(self) -> Message | None:
        """The message a clean shutdown publishes before disconnecting."""


class Publisher:
    """Keeps a broker connection and publishes the outbox through it until stopped."""

    def __init__(
        self,
        config: BrokerConfig,
        outbox: Outbox,
        counters: Counters,
        hooks: Hooks,
        *,
        status_topic: str,
        status_interval_s: float,
        subscriptions: Sequence[str] = (),
        on_message: Callable[[str, bytes], Awaitable[None]] | None = None,
    ) -> None:
        self._config = config
        self._outbox = outbox
        self._counters = counters
        self._hooks = hooks
        self._status_topic = status_topic
        self._status_interval_s = status_interval_s
        self._subscriptions = list(subscriptions)
        self._on_message = on_message
        self._stopping = asyncio.Event()
        self._rebirth = asyncio.Event()
        self._connected = asyncio.Event()
        self.state = "connecting"
        self._connected_at = 0.0

    def __repr__(self) -> str:
        return f"Publisher({self._config.host}:{self._config.port}, {self.state})"

    @property
    def connected(self) -> bool:
        """True while a broker connection is up."""
        return self._connected.is_set()

    async def wait_connected(self) -> None:
        """Wait until the broker connection is up."""
        await self._connected.wait()

    def stop(self) -> None:
        """Ask ``run`` to publish the death/offline messages, disconnect and return."""
        self._stopping.set()

    def _client(self, will: Message) -> aiomqtt.Client:
        c = self._config
        tls: ssl.SSLContext | None = None
        if c.tls:
            tls = ssl.create_default_context(cafile=c.ca_file)
            if c.cert_file:
                tls.load_cert_chain(c.cert_file, c.key_file)
        client = aiomqtt.Client(
            c.host,
            c.port,
            username=c.username,
            password=c.password.reveal() if c.password is not None else None,
            identifier=c.client_id,
            will=aiomqtt.Will(will.topic, will.payload, will.qos, will.retain),
            keepalive=c.keepalive_s,
            tls_context=tls,
            # The whole batch in flight: paho's default (20) would make throughput one RTT per 20.
            max_inflight_messages=_BATCH,
            # The connect timeout: a broker (or proxy) that closes before CONNACK is noticed only by it.
            timeout=c.connect_timeout_s,
            logger=logging.getLogger("mxgateway.bridge.mqtt"),
        )
        # A batch in flight is by design, not a backlog worth a warning per message.
        client.pending_calls_threshold = _BATCH + 16
        return client

    async def run(self) -> None:
        """Connect, publish, reconnect with back-off, until ``stop()``."""
        delay = self._config.reconnect_min_s
        while not self._stopping.is_set():
            will = self._hooks.will() or Message(self._status_topic, status_payload(False), 1, True)
            try:
                async with self._client(will) as client:
                    delay = self._config.reconnect_min_s
                    await self._connection(client)
                    return
            except aiomqtt.MqttError as exc:
                self._set_disconnected(f"{exc}")
            if self._stopping.is_set():
                return
            # Full jitter: many bridges that lost one broker do not come back in step.
            await self._sleep(random.uniform(self._config.reconnect_min_s, delay))
            delay = min(delay * 2, self._config.reconnect_max_s)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    def _set_disconnected(self, reason: str) -> None:
        if self._connected.is_set() or self.state != "disconnected":
            _log.warning("broker %s:%s unreachable: %s", self._config.host, self._config.port, reason)
        self._connected.clear()
        self.state = "disconnected"
        self._outbox.set_connected(False)

    async def _connection(self, client: aiomqtt.Client) -> None:
        """One connection's life; returns on stop, raises ``MqttError`` when it drops."""
        self._counters.broker_connects += 1
        # Many topics per SUBSCRIBE: one round trip per hundred command topics, not per tag.
        for start in range(0, len(self._subscriptions), _SUBSCRIBE_CHUNK):
            chunk = self._subscriptions[start : start + _SUBSCRIBE_CHUNK]
            await client.subscribe([(topic, 1) for topic in chunk])
        await client.publish(self._status_topic, status_payload(True, self._counters), qos=1, retain=True)
        self._rebirth.clear()
        await self._births(client)
        self._connected_at = time.time()
        self._outbox.set_connected(True)
        self._connected.set()
        self.state = "connected"
        _log.info("connected to broker %s:%s", self._config.host, self._config.port)
        tasks = [
            asyncio.create_task(self._drain(client), name="bridge-drain"),
            asyncio.create_task(self._incoming(client), name="bridge-incoming"),
            asyncio.create_task(self._status(client), name="bridge-status"),
            asyncio.create_task(self._stopping.wait(), name="bridge-stop"),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._stopping.is_set():
            await self._goodbye(client)
            self._connected.clear()
            self.state = "stopped"
            self._outbox.set_connected(False)
            return
        for task in done:
            error = task.exception()
            if error is not None:
                # MqttError means reconnect; anything else (a full disk, a bug) ends the bridge visibly.
                raise error
        raise aiomqtt.MqttError("connection ended")

    async def _goodbye(self, client: aiomqtt.Client) -> None:
        final = [
            self._hooks.death(),
            Message(self._status_topic, status_payload(False, self._counters), 1, True),
        ]
        with contextlib.suppress(aiomqtt.MqttError):
            for message in final:
                if message is not None:
                    await client.publish(
                        message.topic, message.payload, message.qos, message.retain, timeout=_FINAL_TIMEOUT_S
                    )

    async def _births(self, client: aiomqtt.Client) -> None:
        for birth in self._hooks.births():
            await client.publish(birth.topic, self._hooks.finalize(birth, False), birth.qos, birth.retain)

    def rebirth(self) -> None:
        """Publish the births again before the next message (a Sparkplug host asked with NCMD)."""
        self._rebirth.set()
        self._outbox.wake()

    async def _drain(self, client: aiomqtt.Client) -> None:
        outbox = self._outbox
        while True:
            if self._rebirth.is_set():
                # Here, between batches: the drain is the only sender of sequenced messages,
                # so the births' seq restart cannot interleave with a batch in flight.
                self._rebirth.clear()
                await self._births(client)
            entries = await outbox.take(_BATCH, self._rebirth)
            if not entries:
                continue
            acked = 0
            try:
                # Started in order: paho writes them to the socket in this order.
                sends = [asyncio.ensure_future(self._send(client, e)) for e in entries]
                try:
                    for send in sends:
                        await send
                        acked += 1
                finally:
                    for send in sends[acked:]:
                        send.cancel()
            finally:
                outbox.done(entries[:acked])
                self._counters.published += acked
                if acked < len(entries):
                    outbox.give_back(entries[acked:])

    async def _send(self, client: aiomqtt.Client, entry: Entry) -> None:
        m = entry.message
        # Late: queued before this connection began, i.e. while the broker was away.
        late = entry.stored and entry.enqueued < self._connected_at
        # No short timeout: a dropped connection ends the wait (the incoming loop notices it).
        await client.publish(
            m.topic, self._hooks.finalize(m, late), m.qos, m.retain, timeout=_PUBACK_TIMEOUT_S
        )

    async def _incoming(self, client: aiomqtt.Client) -> None:
        # Also the disconnect detector: iteration raises MqttError when the connection drops.
        async for message in client.messages:
            if self._on_message is None:
                continue
            payload = message.payload if isinstance(message.payload, bytes) else str(message.payload).encode()
            try:
                await self._on_message(message.topic.value, payload)
            except Exception:
                _log.exception("handling a message on %s failed", message.topic.value)

    async def _status(self, client: aiomqtt.Client) -> None:
        while True:
            await asyncio.sleep(self._status_interval_s)
            await client.publish(self._status_topic, status_payload(True, self._counters), qos=1, retain=True)
