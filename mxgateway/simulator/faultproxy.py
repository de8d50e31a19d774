"""``FaultProxy``: a loopback TCP proxy in front of a gateway, whose connections can be cut.

Real network faults for resilience tests, without touching the gateway::

    async with FaultProxy(simulator.host, simulator.port) as proxy:
        client = await GatewayClient.connect(proxy.endpoint)
        ...
        await proxy.cut(2.0)   # reset every connection, refuse new ones for 2 s

While cut, the proxy keeps its port and closes each new connection at once, which a
gRPC client sees as UNAVAILABLE, exactly as a gateway that went away.
``black_hole()`` is the other network fault: the connections open now stop
carrying anything, in both directions, without being closed (a half-open
connection: only keepalive notices), while new connections work;
``heal()`` lets them flow again with nothing lost. It listens on loopback only. Run it on any event loop (a background simulator's loop works:
``bg.call(proxy.start)``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from types import TracebackType

__all__ = ["FaultProxy"]

_CHUNK = 64 * 1024


class FaultProxy:
    """Forwards ``host:port`` (loopback) to ``target_host:target_port``; an async context manager."""

    def __init__(self, target_host: str, target_port: int, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None
        self._links: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        #: Per open connection: set while it carries data (cleared by ``black_hole()``).
        self._flowing: set[asyncio.Event] = set()
        self._down_until = 0.0
        self._restore: asyncio.TimerHandle | None = None
        #: Connections reset by ``cut()`` or refused while cut.
        self.connections_cut = 0
        #: Connections forwarded in all.
        self.connections_forwarded = 0
        #: Connections ``black_hole()`` held.
        self.connections_black_holed = 0

    def __repr__(self) -> str:
        state = "cut" if self.is_cut else "forwarding"
        return f"FaultProxy({self.endpoint!r} -> {self.target_host}:{self.target_port}, {state})"

    @property
    def endpoint(self) -> str:
        """``host:port`` for clients to connect to."""
        return f"{self.host}:{self.port}"

    @property
    def is_cut(self) -> bool:
        """True while connections are refused."""
        return time.monotonic() < self._down_until

    async def start(self) -> None:
        """Listen (``port`` 0 picks a free port, kept until ``close()``)."""
        if self._server is not None:
            return
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        """Stop listening and drop every connection."""
        if self._restore is not None:
            self._restore.cancel()
        server, self._server = self._server, None
        if server is not None:
            server.close()
        await self._reset_all()
        if server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2.0)

    async def aclose(self) -> None:
        """Same as ``close()``."""
        await self.close()

    async def __aenter__(self) -> FaultProxy:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def cut(self, duration: float | None = None) -> None:
        """Reset every open connection and refuse new ones for ``duration`` s (None: until ``restore()``)."""
        if self._restore is not None:
            self._restore.cancel()
            self._restore = None
        self._down_until = float("inf") if duration is None else time.monotonic() + duration
        await self._reset_all()

    def restore(self) -> None:
        """Accept connections again."""
        self._down_until = 0.0

    def black_hole(self) -> int:
        """Stop every open connection from carrying data, without closing it; new ones work.

        Nothing is read from either side meanwhile, so TCP holds what was sent, as it
        does on a network that drops packets. Returns how many connections it holds.
        """
        for flowing in self._flowing:
            flowing.clear()
        self.connections_black_holed += len(self._flowing)
        return len(self._flowing)

    def heal(self) -> None:
        """Let black-holed connections carry data again (what waited is delivered)."""
        for flowing in self._flowing:
            flowing.set()

    async def _reset_all(self) -> None:
        for writer in list(self._writers):
            self.connections_cut += 1
            _abort(writer)
        links = list(self._links)
        for task in links:
            task.cancel()
        for task in links:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.is_cut:
            self.connections_cut += 1
            _abort(writer)
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                self.target_host, self.target_port
            )
        except OSError:
            _abort(writer)
            return
        self.connections_forwarded += 1
        self._writers.update((writer, upstream_writer))
        link = asyncio.current_task()
        assert link is not None
        self._links.add(link)
        flowing = asyncio.Event()
        flowing.set()
        self._flowing.add(flowing)
        try:
            await asyncio.gather(
                _pipe(reader, upstream_writer, flowing), _pipe(upstream_reader, writer, flowing)
            )
        except asyncio.CancelledError:
            pass
        finally:
            self._flowing.discard(flowing)
            self._links.discard(link)
            for end in (writer, upstream_writer):
                self._writers.discard(end)
                _abort(end)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, flowing: asyncio.Event) -> None:
    try:
        while True:
            await flowing.wait()
            data = await reader.read(_CHUNK)
            if not data:
                break
            await flowing.wait()  # black-holed while reading: hold what was read
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        _abort(writer)


def _abort(writer: asyncio.StreamWriter) -> None:
    # abort(), not close(): a reset, as a failed network gives, with nothing flushed.
    transport = writer.transport
    if not transport.is_closing():
        transport.abort()
