"""The MQTT side: one broker connection at a time, reconnecting, draining the outbox in order.

Each connection is a fresh ``aiomqtt.Client`` (MQTT 3.1.1, clean session) with a
last will (the layout's NDEATH, or the status topic's ``offline``). After the
broker accepts it, the publisher subscribes to the command topics, waits until
the layout may publish (a Sparkplug primary host online), publishes the layout's
births and the status ``online``, then sends what the outbox holds, several
messages in flight at once; a message leaves the outbox only when it was sent (QoS
0) or acknowledged (QoS 1 and 2), so a connection lost mid-batch sends the rest
again after reconnecting. Incoming messages (commands, STATE) go to a handler.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
from collections.abc import Callable, Sequence
from typing import Protocol

import aiomqtt

from mxgateway.bridge.config import BrokerConfig
from mxgateway.bridge.health import Counters, status_payload
from mxgateway.bridge.outbox import Entry, Outbox
from mxgateway.bridge.topics import Message

__all__ = ["Hooks", "PlainHooks", "Publisher"]

_log = logging.getLogger("mxgateway.bridge")
_BATCH = 200
_FINAL_TIMEOUT_S = 2.0
_PUBACK_TIMEOUT_S = 60.0
_SUBSCRIBE_CHUNK = 100


class Hooks(Protocol):
    """What the publisher asks of the layout (Sparkplug's session rules, or none for UNS)."""

    #: Set while births may be published and data may flow.
    ready: asyncio.Event
    #: Set when the session must end now and a new one begin (a primary host went offline).
    restart: asyncio.Event

    @property
    def subscriptions(self) -> list[str]:
        """The layout's own command topics."""

    def will(self) -> Message | None:
        """The last will of the next connection (None: the status topic's ``offline``)."""

    def connected(self) -> None:
        """The broker accepted a connection."""

    def disconnected(self) -> None:
        """The connection ended."""

    def births(self, mark: int) -> list[Message]:
        """Messages to publish first; what the outbox queued up to ``mark`` is older than them."""

    def prepare(self, entries: Sequence[Entry]) -> list[tuple[int, Message | None]]:
        """The messages to send now for ``entries``, in order: each with how many entries it and those before cover."""

    def farewell(self) -> list[Message]:
        """The messages a clean end of a session publishes before disconnecting (NDEATH, stale values)."""


class PlainHooks:
    """The UNS layout: no births, no numbering, always ready."""

    def __init__(self, farewell: Callable[[], list[Message]] | None = None) -> None:
        self.ready = asyncio.Event()
        self.ready.set()
        self.restart = asyncio.Event()
        self._farewell = farewell

    @property
    def subscriptions(self) -> list[str]:
        """None of its own."""
        return []

    def will(self) -> Message | None:
        """The status topic's ``offline``."""
        return None

    def connected(self) -> None:
        """Nothing to remember."""

    def disconnected(self) -> None:
        """Nothing to forget."""

    def births(self, mark: int) -> list[Message]:
        """None."""
        return []

    def prepare(self, entries: Sequence[Entry]) -> list[tuple[int, Message | None]]:
        """Each message as queued."""
        return [(index + 1, entry.message) for index, entry in enumerate(entries)]

    def farewell(self) -> list[Message]:
        """The retained values again, marked stale."""
        return self._farewell() if self._farewell is not None else []


async def _publish(client: aiomqtt.Client, m: Message, timeout: float | None = None) -> None:
    """``client.publish`` whose caller's cancellation is never lost.

    aiomqtt waits for the broker with ``asyncio.wait_for``, which before Python 3.12
    returns normally when it is cancelled in the loop iteration its wait ends: a task
    awaiting it directly would go on as if it had never been cancelled.
    """
    send = asyncio.ensure_future(client.publish(m.topic, m.payload, m.qos, m.retain, timeout=timeout))
    try:
        await asyncio.wait([send])
    except asyncio.CancelledError:
        send.cancel()
        raise
    send.result()


def _sent(
    plan: Sequence[tuple[int, Message | None]], sends: Sequence[asyncio.Future[None]]
) -> tuple[int, BaseException | None]:
    """How many entries the sends completed in order cover, and the first failure; cancels the rest."""
    covered = 0
    error: BaseException | None = None
    in_order = True
    for (upto, _), send in zip(plan, sends, strict=True):
        if not send.done():
            send.cancel()
            in_order = False
        elif send.cancelled():
            in_order = False
        elif (failure := send.exception()) is not None:
            error = error or failure
            in_order = False
        elif in_order:
            covered = upto
    return covered, error


class _Restart(aiomqtt.MqttError):
    """End this MQTT session and begin a new one at once."""


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
        on_message: Callable[[str, bytes], None] | None = None,
    ) -> None:
        self._config = config
        self._outbox = outbox
        self._counters = counters
        self._hooks = hooks
        self._status_topic = status_topic
        self._status_interval_s = status_interval_s
        self._subscriptions = [*hooks.subscriptions, *subscriptions]
        self._on_message = on_message
        self._stopping = asyncio.Event()
        self._rebirth = asyncio.Event()
        #: Set while no batch of the drain is in flight; ``_closing`` keeps it from starting another.
        self._between_batches = asyncio.Event()
        self._closing = False
        self._connected = asyncio.Event()
        self._session_up = asyncio.Event()
        self.state = "connecting"

    def __repr__(self) -> str:
        return f"Publisher({self._config.host}:{self._config.port}, {self.state})"

    @property
    def connected(self) -> bool:
        """True while a broker connection is up and publishing."""
        return self._connected.is_set()

    async def wait_connected(self) -> None:
        """Wait until the broker connection is up and publishing."""
        await self._connected.wait()

    async def wait_session(self) -> None:
        """Wait until the broker first accepted a connection (births may still wait for a primary host)."""
        await self._session_up.wait()

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
            # Sparkplug (and a bridge that republishes its state on connect) wants no persistent session.
            clean_session=True,
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
            except _Restart:
                self._set_disconnected("")
                continue
            except aiomqtt.MqttError as exc:
                self._set_disconnected(f"{exc}")
            finally:
                self._hooks.disconnected()
            if self._stopping.is_set():
                return
            # Full jitter: many bridges that lost one broker do not come back in step.
            await self._sleep(random.uniform(self._config.reconnect_min_s, delay))
            delay = min(delay * 2, self._config.reconnect_max_s)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    def _set_disconnected(self, reason: str) -> None:
        if reason and (self._connected.is_set() or self.state != "disconnected"):
            _log.warning("broker %s:%s unreachable: %s", self._config.host, self._config.port, reason)
        self._connected.clear()
        self.state = "disconnected"
        self._outbox.set_connected(False)

    async def _connection(self, client: aiomqtt.Client) -> None:
        """One connection's life; returns on stop, raises ``MqttError`` when it drops or must restart."""
        self._counters.broker_connects += 1
        self._hooks.connected()
        # Many topics per SUBSCRIBE: one round trip per hundred command topics, not per tag.
        for start in range(0, len(self._subscriptions), _SUBSCRIBE_CHUNK):
            chunk = self._subscriptions[start : start + _SUBSCRIBE_CHUNK]
            await client.subscribe([(topic, 1) for topic in chunk])
        self.state = "waiting"
        self._session_up.set()
        _log.info("connected to broker %s:%s", self._config.host, self._config.port)
        incoming = asyncio.create_task(self._incoming(client), name="bridge-incoming")
        stopping = asyncio.create_task(self._wait(self._stopping), name="bridge-stop")
        tasks = [incoming, stopping]
        try:
            if not self._hooks.ready.is_set():
                _log.info("waiting for the primary host before publishing (data is stored meanwhile)")
                ready = asyncio.create_task(self._wait(self._hooks.ready), name="bridge-ready")
                try:
                    await asyncio.wait([*tasks, ready], return_when=asyncio.FIRST_COMPLETED)
                finally:
                    ready.cancel()
                self._raise_if_failed(incoming)
            if not self._stopping.is_set():
                await self._live(client, tasks)
            await self._goodbye(client)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._connected.clear()
            self._outbox.set_connected(False)
        self.state = "stopped"

    @staticmethod
    async def _wait(event: asyncio.Event) -> None:
        await event.wait()

    @staticmethod
    def _raise_if_failed(task: asyncio.Task[None]) -> None:
        if task.done():
            error = None if task.cancelled() else task.exception()
            raise error or aiomqtt.MqttError("connection ended")

    async def _live(self, client: aiomqtt.Client, tasks: list[asyncio.Task[None]]) -> None:
        """Births, then the outbox, until stopped; raises when the connection drops or must restart."""
        self._rebirth.clear()
        await self._births(client)
        await _publish(client, self._status_message(True))
        self._outbox.set_connected(True)
        self._connected.set()
        self.state = "connected"
        restart = asyncio.create_task(self._wait(self._hooks.restart), name="bridge-restart")
        self._closing = False
        drain = asyncio.create_task(self._drain(client), name="bridge-drain")
        live = [drain, asyncio.create_task(self._status(client), name="bridge-status"), restart]
        try:
            done, _ = await asyncio.wait([*tasks, *live], return_when=asyncio.FIRST_COMPLETED)
            if restart in done or self._stopping.is_set():
                await self._finish_batch(drain)
        finally:
            # Nothing more goes out of this session before its NDEATH (or the broker's will).
            for task in live:
                task.cancel()
            await asyncio.gather(*live, return_exceptions=True)
        if self._stopping.is_set():
            return
        if restart in done:
            # Sparkplug: the primary host went offline. NDEATH, disconnect, connect again and wait.
            await self._goodbye(client, status=False)
            raise _Restart("the primary host went offline")
        for task in done:
            error = None if task.cancelled() else task.exception()
            if error is not None:
                # MqttError means reconnect; anything else (a full disk, a bug) ends the bridge visibly.
                raise error
        raise aiomqtt.MqttError("connection ended")

    async def _finish_batch(self, drain: asyncio.Task[None]) -> None:
        """Let the batch in flight end (bounded in time) and start no other.

        Its messages are already on their way to the socket: cancelled, they would
        still reach the broker, yet go back to the outbox and out again next session.
        """
        self._closing = True
        if not self._between_batches.is_set():
            await asyncio.wait([drain], timeout=_FINAL_TIMEOUT_S)

    async def _goodbye(self, client: aiomqtt.Client, *, status: bool = True) -> None:
        final = self._hooks.farewell()
        if status:
            final.append(self._status_message(False))
        sends = [
            asyncio.ensure_future(
                client.publish(m.topic, m.payload, m.qos, m.retain, timeout=_FINAL_TIMEOUT_S)
            )
            for m in final
        ]
        if not sends:
            return
        client.pending_calls_threshold = len(sends) + _BATCH + 16
        # All in flight at once (in order), bounded in time: a stop must not hang on a slow broker.
        done, pending = await asyncio.wait(sends, timeout=_FINAL_TIMEOUT_S + len(sends) / 5_000)
        for send in pending:
            send.cancel()
        failed = len(pending) + sum(1 for d in done if d.exception() is not None)
        if failed:
            _log.warning("%d of the %d closing messages did not reach the broker", failed, len(sends))

    async def _births(self, client: aiomqtt.Client) -> None:
        births = self._hooks.births(self._outbox.last_seq)
        for birth in births:
            await _publish(client, birth)
        self._counters.births += len(births)

    def rebirth(self) -> None:
        """Publish the births again before the next message (a Sparkplug host asked with NCMD)."""
        if self._connected.is_set():
            self._rebirth.set()
            self._outbox.wake()

    async def _drain(self, client: aiomqtt.Client) -> None:
        outbox = self._outbox
        prepare = self._hooks.prepare
        while not self._closing:
            self._between_batches.set()
            if self._rebirth.is_set():
                # Here, between batches: the drain is the only sender of numbered messages,
                # so the births' seq restart cannot interleave with a batch in flight.
                self._rebirth.clear()
                await self._births(client)
            entries = await outbox.take(_BATCH, self._rebirth)
            if not entries:
                continue
            # Numbered here, in order, right before they are handed to the socket in that order.
            self._between_batches.clear()
            plan = prepare(entries)
            sends = [asyncio.ensure_future(self._send(client, message)) for _, message in plan]
            try:
                # One wait for the batch: cancelling the drain ends this wait, not a send's own
                # wait_for, which could swallow the cancellation and keep the drain going.
                await asyncio.wait(sends, return_when=asyncio.FIRST_EXCEPTION)
            finally:
                covered, error = _sent(plan, sends)
                outbox.done(entries[:covered])
                self._counters.published += covered
                if covered < len(entries):
                    outbox.give_back(entries[covered:])
            if error is not None:
                raise error

    @staticmethod
    async def _send(client: aiomqtt.Client, m: Message | None) -> None:
        if m is None:
            return
        # No short timeout: a dropped connection ends the wait (the incoming loop notices it).
        await client.publish(m.topic, m.payload, m.qos, m.retain, timeout=_PUBACK_TIMEOUT_S)

    async def _incoming(self, client: aiomqtt.Client) -> None:
        # Also the disconnect detector: iteration raises MqttError when the connection drops.
        async for message in client.messages:
            if self._on_message is None:
                continue
            payload = message.payload if isinstance(message.payload, bytes) else str(message.payload).encode()
            try:
                self._on_message(message.topic.value, payload)
            except Exception:
                _log.exception("handling a message on %s failed", message.topic.value)

    async def _status(self, client: aiomqtt.Client) -> None:
        while True:
            await asyncio.sleep(self._status_interval_s)
            await _publish(client, self._status_message(True))

    def _status_message(self, online: bool) -> Message:
        return Message(self._status_topic, status_payload(online, self._counters), 1, True)
