"""``Client``: a connection, a lazily opened session and Galaxy access in one object.

``Client()`` does nothing until it is used: the first command connects (from the
arguments, or ``MXGATEWAY_ENDPOINT`` and ``MXGATEWAY_API_KEY``), opens a session and
runs. It is a :class:`~mxgateway._session.session.Session`, so every MXAccess command and
every tag convenience is a method of it::

    client = Client(endpoint="simulator")       # the embedded simulator
    handle = await client.register("my-script")
    print(await client.read(["Tank_001.Level"]))
    galaxy = await client.galaxy()              # Galaxy Repository, same channel
    await client.close()                        # or: async with Client(...) as client

``endpoint="simulator"`` (or ``"simulator:plant.json"`` for a Galaxy file) starts an
embedded simulator on the running loop and stops it again on ``close()``.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING

from mxgateway._model.checks import checked
from mxgateway._session.session import Session
from mxgateway._transport.connection import CLOSE_TIMEOUT_S
from mxgateway._transport.streams import wait_done
from mxgateway.errors import MxGatewayClosedError
from mxgateway.generated import mxaccess_gateway_pb2 as pb
from mxgateway.options import USE_CLIENT_DEFAULT, ClientOptions, ConnectKeywords, Timeout, connect_options

if TYPE_CHECKING:
    from typing_extensions import Unpack

    # Imported where used: Galaxy access and alarms cost start-up time most scripts never use.
    from mxgateway._alarms.feed import AlarmFeed
    from mxgateway._alarms.model import Alarm
    from mxgateway._alarms.streams import AlarmStream
    from mxgateway._clients.gateway_client import GatewayClient
    from mxgateway._model.display import ResultList
    from mxgateway._model.events import DataChange
    from mxgateway._transport.connection import GatewayTransport
    from mxgateway._views.markers import RecordingGap, RecordingRecovery
    from mxgateway.galaxy import GalaxyRepositoryClient

__all__ = ["Client"]

DEFAULT_SESSION_NAME = "mxgateway-python"


class Client(Session):
    """One object for a script: a connection, a lazily opened session and Galaxy access.

    Nothing connects until the first call. Arguments left out come from the
    environment (``MXGATEWAY_ENDPOINT``, ``MXGATEWAY_API_KEY``); ``options`` gives
    the full ``ClientOptions``; the connection keywords are those of ``connect()``
    (``ConnectKeywords``). ``endpoint="simulator"`` runs the embedded simulator;
    ``endpoints`` (or a comma list) names gateways to fail over to. When the gateway
    loses the session, the tag-level API continues on a new one (``recover``).
    ``close()`` (or leaving ``async with``) closes the session, the Galaxy client,
    the connection and any embedded simulator.
    """

    def __init__(
        self,
        endpoint: str = "",
        *,
        client_session_name: str = DEFAULT_SESSION_NAME,
        recover: bool | None = None,
        options: ClientOptions | None = None,
        **keywords: Unpack[ConnectKeywords],
    ) -> None:
        # Resolved now (no network): bad options fail here, and the key is known for redaction.
        resolved = connect_options(options, endpoint, keywords, caller="Client")
        self._init_state(client_session_name, resolved, recover=recover, fresh=True)
        self._gateway: GatewayClient | None = None
        self._galaxy: GalaxyRepositoryClient | None = None
        self._opened = False
        self._open_lock = asyncio.Lock()
        #: Alarm streams and feeds handed out: closed with the client.
        self._alarm_readers: weakref.WeakSet[AlarmStream | AlarmFeed] = weakref.WeakSet()

    def __repr__(self) -> str:
        if self._closed:
            state = "closed"
        elif self._opened:
            state = f"session {self.session_id}"
        else:
            state = "not connected yet"
        return f"Client(endpoint={self._options.endpoint!r}, {state})"

    def _repr_html_(self) -> str:
        if self._closed:
            state = "closed"
        elif self._opened:
            state = f"open, event stream {self.connection_state.value}"
        else:
            state = "not connected yet (connects on first use)"
        from mxgateway._model.display import client_html

        return client_html(
            "Client",
            self._options.endpoint,
            state,
            self._session_id if self._opened else "",
            self._client_session_name,
        )

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # ------------------------------------------------------------------ lazy connection

    async def gateway(self) -> GatewayClient:
        """The connection to the gateway (connecting on first use)."""
        if self._closed:
            raise MxGatewayClosedError("the client is closed", method="connect")
        if self._gateway is None:
            async with self._open_lock:
                if self._gateway is None:
                    self._check_not_closed("connect")
                    from mxgateway._clients.gateway_client import GatewayClient

                    gateway = await GatewayClient.connect(options=self._options)
                    if self._closed:
                        # Closed while connecting: close() waits for this lock, so nothing
                        # (no channel, no embedded simulator) outlives it.
                        await gateway.close()
                        self._check_not_closed("connect")
                    self._gateway = gateway
        return self._gateway

    async def open(self) -> None:
        """Connect and open the session now (any call does it on first use)."""
        self._check_not_closed("OpenSession")
        if self._opened:
            return
        gateway = await self.gateway()
        async with self._open_lock:
            if self._opened:
                return
            self._check_not_closed("OpenSession")
            transport = gateway.transport
            reply = await transport.open_session(self._client_session_name)
            if self._closed:
                # Closed while the session opened: close it too before close() goes on.
                await transport.close_quietly(reply.session_id, "the client closed while it opened")
                self._check_not_closed("OpenSession")
            # Bound like any session of the gateway client, so its close() closes it.
            self._bind(transport, reply)
            self._opened = True

    def _check_not_closed(self, method: str) -> None:
        if self._closed:
            raise MxGatewayClosedError("the client is closed", method=method)

    async def galaxy(self) -> GalaxyRepositoryClient:
        """The Galaxy Repository client of the same gateway, sharing the connection."""
        gateway = await self.gateway()
        if self._galaxy is None:
            from mxgateway.galaxy import GalaxyRepositoryClient

            self._galaxy = GalaxyRepositoryClient(gateway.options, channel=gateway.channel)
        return self._galaxy

    async def _call(self, request: pb.MxCommandRequest, timeout: Timeout) -> pb.MxCommandReply:
        if not request.session_id:  # built before the session opened
            await self.open()
            request.session_id = self._session_id
        return await super()._call(request, timeout)

    async def _ensure_open(self) -> None:
        if self._closed:
            raise MxGatewayClosedError("the client is closed", method="StreamEvents")
        await self.open()

    # ------------------------------------------------------------------ closing

    async def close(self) -> None:
        """Close the session, the Galaxy client, the connection and any embedded gateway; idempotent."""
        if self._closed:
            return
        try:
            if self._opened:
                await super().close()
            else:
                self._close_now()
        finally:
            await self._settle_first_use()
            await self._close_connections()

    async def detach(self) -> None:
        """Leave the session open on the gateway (for another client to attach to) and disconnect."""
        if self._closed:
            return
        try:
            if self._opened:
                await super().detach()
            else:
                self._close_now()
        finally:
            await self._settle_first_use()
            await self._close_connections()

    async def _settle_first_use(self) -> None:
        """Wait (bounded) for a connect or open in flight: it sees the close and undoes itself."""
        lock = self._open_lock
        if not lock.locked():
            return
        acquiring = asyncio.ensure_future(lock.acquire())
        try:
            await wait_done(acquiring, CLOSE_TIMEOUT_S)
        finally:
            if acquiring.done() and not acquiring.cancelled():
                lock.release()  # only waited for it
            else:
                acquiring.cancel()

    async def _close_connections(self) -> None:
        for reader in list(self._alarm_readers):
            await reader.aclose()
        gateway, galaxy = self._gateway, self._galaxy
        self._gateway = self._galaxy = None
        try:
            if galaxy is not None:
                await galaxy.close()
        finally:
            if gateway is not None:
                await gateway.close()  # also stops an embedded gateway

    async def aclose(self) -> None:
        """Same as ``close()`` (for ``contextlib.aclosing`` and exit-time clean-up)."""
        await self.close()

    # ------------------------------------------------------------------ recordings and trends

    @checked
    async def record(
        self,
        tags: Sequence[str],
        seconds: float | None = None,
        max_changes: int | None = None,
        *,
        supervisory: bool = False,
    ) -> ResultList[DataChange | RecordingGap | RecordingRecovery]:
        """Subscribe ``tags``, collect their changes for ``seconds`` (or ``max_changes``), unsubscribe.

        The recording starts with each tag's current value. Lost events and a
        replaced session show as ``RecordingGap`` / ``RecordingRecovery`` markers
        in place. ``to_pandas(wide=True)`` and ``plot()`` show it.
        """
        from mxgateway._views.recording import check_limits

        check_limits(seconds, max_changes)
        async with self.subscribe(tags, supervisory=supervisory) as subscription:
            return await subscription.collect(seconds, max_changes)

    @checked
    async def trend(self, tags: Sequence[str], seconds: float | None = None, *, refresh: float = 1.0) -> None:
        """In a Jupyter notebook: a chart of ``tags`` redrawn in place every ``refresh`` seconds.

        It runs until ``seconds`` passed (None: until the cell is interrupted),
        then unsubscribes; nothing keeps running. Needs matplotlib
        (``pip install 'mxgateway[notebook]'``); outside a notebook use
        ``record()`` and ``plot()``.
        """
        from mxgateway._views.trend import LiveChart

        chart = LiveChart(tags, seconds, refresh)
        async with self.subscribe(tags) as subscription:
            await chart.run(subscription)

    # ------------------------------------------------------------------ alarms (no session needed)

    @checked
    async def active_alarms(
        self, prefix: str = "", *, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> ResultList[Alarm]:
        """The active set (active, or cleared and unacknowledged alarms) whose reference starts with ``prefix``."""
        return await (await self.gateway()).active_alarms(prefix, timeout=timeout)

    @checked
    async def acknowledge_alarm(
        self,
        reference: str,
        *,
        comment: str = "",
        operator: str = "",
        operator_node: str = "",
        operator_domain: str = "",
        operator_full_name: str = "",
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> None:
        """Acknowledge one alarm; acknowledging it again is not an error.

        An unknown reference raises ``MxGatewayAlarmNotFoundError``.
        """
        await (await self.gateway()).acknowledge_alarm(
            reference,
            comment=comment,
            operator=operator,
            operator_node=operator_node,
            operator_domain=operator_domain,
            operator_full_name=operator_full_name,
            timeout=timeout,
        )

    @checked
    def stream_alarms(self, prefix: str = "") -> AlarmStream:
        """StreamAlarms as typed items, in the feed's order (one call; no reconnect).

        The snapshot's ``Alarm``s, ``AlarmSnapshotComplete``, ``AlarmProviderStatus``,
        then ``AlarmTransition``s.
        """
        if self._closed:
            raise MxGatewayClosedError("the client is closed", method="StreamAlarms")
        from mxgateway._alarms.streams import AlarmStream

        stream = AlarmStream(self._alarm_transport, prefix)
        self._alarm_readers.add(stream)
        return stream

    @checked
    def alarm_feed(self, prefix: str = "", *, queue_size: int = 32_768) -> AlarmFeed:
        """An ``AlarmFeed``: the active set kept right across reconnects, and its transitions."""
        if self._closed:
            raise MxGatewayClosedError("the client is closed", method="StreamAlarms")
        from mxgateway._alarms.feed import AlarmFeed

        feed = AlarmFeed(self._alarm_transport, prefix, queue_size=queue_size)
        self._alarm_readers.add(feed)
        return feed

    async def _alarm_transport(self) -> GatewayTransport:
        return (await self.gateway()).transport
