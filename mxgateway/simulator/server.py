"""``Simulator``: the embedded gateway, serving MxAccessGateway and GalaxyRepository.

State (sessions, values, event logs) belongs to the ``Simulator`` object, not to
the gRPC server inside it, so ``restart()`` drops connections and streams but
keeps every session, as a gateway restart behind a load balancer with session
persistence would.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import socket
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import grpc
import grpc.aio

from mxgateway.generated import galaxy_repository_pb2_grpc, mxaccess_gateway_pb2_grpc
from mxgateway.generated import mxaccess_gateway_pb2 as pb
from mxgateway.simulator.alarms import AlarmMonitor
from mxgateway.simulator.auth import ApiKeys
from mxgateway.simulator.clock import Clock
from mxgateway.simulator.commands import CommandProcessor
from mxgateway.simulator.demo_plant import demo_galaxy
from mxgateway.simulator.faults import Faults
from mxgateway.simulator.galaxy import Galaxy
from mxgateway.simulator.gateway import MAX_EVENT_SUBSCRIBERS_LIMIT, MxAccessGatewayService
from mxgateway.simulator.interceptor import CallGuard
from mxgateway.simulator.probes import HealthServicer, add_probes, mark_serving, mark_stopping
from mxgateway.simulator.repository import GalaxyRepositoryService
from mxgateway.simulator.sessions import SessionRegistry
from mxgateway.simulator.stats import SimulatorStats
from mxgateway.simulator.statuses import DETAIL_ITEM_NOT_FOUND, QUALITY_BAD_CONFIGURATION, error_status
from mxgateway.simulator.tags import Sample, TagStore

if TYPE_CHECKING:
    from mxgateway.simulator.background import BackgroundSimulator


#: Value updates per second at most: more only spins a core (asyncio sleeps about 1 ms at least).
MAX_UPDATE_RATE_HZ = 1000.0
#: The longest detach grace: a day (production's is 30 s).
MAX_DETACH_GRACE_S = 86_400.0


@contextlib.contextmanager
def _held_port(host: str, port: int) -> Iterator[None]:
    """Keep ``host:port`` bound, not listening, for the block: while a server restarts.

    The kernel then gives the port to no other bind or connect on the machine, so
    the server starts again on it; connections meanwhile are refused, as by a
    gateway that is down. gRPC's listener binds with SO_REUSEADDR and SO_REUSEPORT,
    as the holder does, so both coexist. Best effort: a host this cannot bind (a
    name with several addresses) is simply not held.
    """
    holder = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if hasattr(socket, "SO_REUSEPORT"):
            holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        holder.bind((host, port))
    except OSError:
        holder.close()
    try:
        yield
    finally:
        holder.close()


class Simulator:
    """An in-process MXAccess Gateway over a simulated Galaxy; an async context manager.

    ``api_keys`` maps each accepted key to its scopes (None disables
    authentication). ``update_rate_hz`` is how often values move on their own
    (up to ``MAX_UPDATE_RATE_HZ``); 0 means they move only on ``await advance(seconds)``. Like production, a
    session takes one event stream at a time (``max_event_subscribers``, up to 8)
    and is closed ``detach_grace_s`` (up to a day) after its last stream went away. As a real
    server does, it pings each connection every ``keepalive_time_s`` and drops one
    that does not answer within ``keepalive_timeout_s``, which frees the event
    stream slot a dead connection held; clients may ping it every second. ``clock``
    times all of that (real time by default; a ``ManualClock`` moves only when a
    test advances it).
    """

    def __init__(
        self,
        *,
        galaxy: Galaxy | None = None,
        api_keys: Mapping[str, Iterable[str]] | None = None,
        tls_cert_file: str | Path | None = None,
        tls_key_file: str | Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        update_rate_hz: float = 10.0,
        replay_capacity: int = 1024,
        replay_max_age_s: float = 300.0,
        detach_grace_s: float = 30.0,
        lease_s: float = 300.0,
        subscriber_queue_size: int = 10_000,
        max_event_subscribers: int = 1,
        keepalive_time_s: float = 30.0,
        keepalive_timeout_s: float = 10.0,
        clock: Clock | None = None,
    ) -> None:
        if (tls_cert_file is None) != (tls_key_file is None):
            raise ValueError("TLS needs both tls_cert_file and tls_key_file")
        if not (isinstance(update_rate_hz, (int, float)) and 0 <= update_rate_hz <= MAX_UPDATE_RATE_HZ):
            raise ValueError(
                f"update_rate_hz must be from 0 to {MAX_UPDATE_RATE_HZ:g}, not {update_rate_hz!r}"
            )
        if not (isinstance(detach_grace_s, (int, float)) and 0 <= detach_grace_s <= MAX_DETACH_GRACE_S):
            raise ValueError(
                f"detach_grace_s must be from 0 to {MAX_DETACH_GRACE_S:g} seconds, not {detach_grace_s!r}"
            )
        if not 0 <= port <= 65535:
            raise ValueError(f"port must be 0 (any free port) to 65535, not {port}")
        if not 1 <= max_event_subscribers <= MAX_EVENT_SUBSCRIBERS_LIMIT:
            raise ValueError(f"max_event_subscribers must be 1 to {MAX_EVENT_SUBSCRIBERS_LIMIT}")
        for name, seconds in (
            ("keepalive_time_s", keepalive_time_s),
            ("keepalive_timeout_s", keepalive_timeout_s),
        ):
            if not math.isfinite(seconds) or seconds <= 0:
                raise ValueError(f"{name} must be a positive number of seconds, not {seconds!r}")
        self._keepalive_ms = (int(keepalive_time_s * 1000), int(keepalive_timeout_s * 1000))
        self.galaxy = galaxy if galaxy is not None else demo_galaxy()
        self.host = host
        self.port = port
        self.faults = Faults()
        self.stats = SimulatorStats()
        #: What times the schedules, leases, the detach grace, replay ages, latency and time stamps.
        self.clock = clock if clock is not None else Clock()
        self._api_keys = ApiKeys(api_keys) if api_keys is not None else None
        self._tls_files = (
            (Path(tls_cert_file), Path(tls_key_file)) if tls_cert_file and tls_key_file else None
        )
        self._update_rate_hz = update_rate_hz
        self._lease_s = lease_s
        self._tags = TagStore(self.galaxy, self.clock)
        self._sessions = SessionRegistry(
            self._tags,
            self.stats,
            lease_s=lease_s,
            detach_grace_s=detach_grace_s,
            replay_capacity=replay_capacity,
            replay_max_age_s=replay_max_age_s,
            subscriber_queue_size=subscriber_queue_size,
            clock=self.clock,
        )
        #: The gateway-owned alarm monitor (fault injection: ``fail_over()``, ``end_streams()``).
        self.alarms = AlarmMonitor(self.galaxy, self._tags)
        self._gateway = MxAccessGatewayService(
            self._sessions,
            CommandProcessor(self._tags, self.stats, self.faults),
            self.stats,
            self.alarms,
            max_event_subscribers=max_event_subscribers,
        )
        self._repository = GalaxyRepositoryService(self.galaxy, clock=self.clock)
        self._server: grpc.aio.Server | None = None
        self._health: HealthServicer | None = None
        self._tasks: list[asyncio.Task[None]] = []

    def __repr__(self) -> str:
        return f"Simulator(endpoint={self.endpoint!r}, tls={self.tls}, galaxy={self.galaxy.name!r})"

    # ------------------------------------------------------------------ life cycle

    @property
    def endpoint(self) -> str:
        """``host:port`` to connect to."""
        return f"{self.host}:{self.port}"

    @property
    def tls(self) -> bool:
        """Whether the simulator serves TLS."""
        return self._tls_files is not None

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(self) -> None:
        """Bind and start serving (``port`` 0 picks a free port, kept across restarts)."""
        if self._server is not None:
            return
        await self._start_server()
        self._tasks.append(asyncio.create_task(self._expire_leases(), name="mxgateway-simulator-leases"))
        if self._update_rate_hz > 0:
            self._tasks.append(asyncio.create_task(self._update_values(), name="mxgateway-simulator-values"))

    async def close(self) -> None:
        """Stop serving and close every session."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        self._sessions.close_all()
        await self._repository.close()
        await self._stop_server()

    async def aclose(self) -> None:
        """Same as ``close()``."""
        await self.close()

    async def restart(self, downtime_s: float = 0.0) -> None:
        """Stop, stay down ``downtime_s`` seconds, start again on the same port.

        Sessions and values persist (events raised meanwhile are retained for
        resume), as behind a load balancer with session persistence; sessions
        still close when their detach grace runs out while the server is down.
        The downtime is real time whatever the clock: clients wait it out for real.
        """
        with _held_port(self.host, self.port):
            await self._stop_server()
            if downtime_s > 0:
                await asyncio.sleep(downtime_s)
            await self._start_server()

    async def _start_server(self) -> None:
        server = grpc.aio.server(
            interceptors=[CallGuard(self._api_keys, self.faults, self.stats, self.clock)],
            options=[
                # A dead connection is found by pinging it; its streams then end, and a
                # session's one event-subscriber slot is free for the client's resume.
                ("grpc.keepalive_time_ms", self._keepalive_ms[0]),
                ("grpc.keepalive_timeout_ms", self._keepalive_ms[1]),
                ("grpc.http2.ping_timeout_ms", self._keepalive_ms[1]),
                ("grpc.keepalive_permit_without_calls", 1),
                ("grpc.http2.max_pings_without_data", 0),
                # Clients may ping as often as every second (ClientOptions.keepalive_time_s)
                # without being told to calm down (which would make them ping ever less often).
                ("grpc.http2.min_ping_interval_without_data_ms", 1_000),
                ("grpc.http2.max_ping_strikes", 0),
            ],
        )
        mxaccess_gateway_pb2_grpc.add_MxAccessGatewayServicer_to_server(self._gateway, server)
        galaxy_repository_pb2_grpc.add_GalaxyRepositoryServicer_to_server(self._repository, server)
        checker = add_probes(server)
        address = f"{self.host}:{self.port}"
        try:
            if self._tls_files is not None:
                cert, key = (p.read_bytes() for p in self._tls_files)
                port = server.add_secure_port(address, grpc.ssl_server_credentials([(key, cert)]))
            else:
                port = server.add_insecure_port(address)
        except RuntimeError:
            # grpcio raises RuntimeError for an address it cannot bind (in use, or not an address).
            port = 0
        if port == 0:
            raise OSError(f"cannot bind {address}")
        self.port = port
        await server.start()
        await mark_serving(checker)
        self._health = checker
        self._server = server

    async def _stop_server(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            checker, self._health = self._health, None
            if checker is not None:
                await mark_stopping(checker)
            # Streams never finish by themselves: end them first so stop() need not wait.
            self._gateway.end_streams(grpc.StatusCode.UNAVAILABLE, "simulator stopping")
            self.alarms.end_streams(grpc.StatusCode.UNAVAILABLE, "simulator stopping")
            await server.stop(grace=0.2)

    # -------------------------------------------------------------------- control

    async def drop_event_streams(self) -> None:
        """Fail every open StreamEvents call with UNAVAILABLE; sessions survive."""
        self._gateway.end_streams(grpc.StatusCode.UNAVAILABLE, "event stream dropped by the simulator")
        await asyncio.sleep(0)

    async def drop_alarm_streams(self) -> None:
        """Fail every open StreamAlarms call with UNAVAILABLE; the alarms go on."""
        self.alarms.end_streams(grpc.StatusCode.UNAVAILABLE, "alarm stream dropped by the simulator")
        await asyncio.sleep(0)

    async def advance(self, seconds: float) -> None:
        """Move every value schedule on by ``seconds`` and publish the changes."""
        self._tags.advance(seconds)

    async def deploy(self, galaxy: Galaxy | None = None) -> None:
        """Simulate a redeploy, of ``galaxy`` when given (else of the current one).

        Written values are reset; every advised item reports its attribute's value
        afresh, or bad quality when the new Galaxy no longer has it.
        """
        if galaxy is not None:
            self.galaxy = galaxy
        await self._repository.deploy(galaxy)
        self._tags.reset(self.galaxy)
        self.alarms.reset(self.galaxy)
        now_ns = self.clock.time_ns()
        for session in self._sessions.all():
            for item in session.items.values():
                found = self.galaxy.find_attribute(item.reference)
                if found is None:
                    if item.advised:
                        item.advised = False
                        gone = f"{item.reference} is no longer deployed"
                        item.report(
                            Sample(None, now_ns, QUALITY_BAD_CONFIGURATION),
                            [
                                error_status(
                                    pb.MX_STATUS_CATEGORY_CONFIGURATION_ERROR, DETAIL_ITEM_NOT_FOUND, gone
                                )
                            ],
                        )
                    continue
                item.attribute, item.index = found
                if item.advised:
                    item.last = None
                    item.on_sample(self._tags.watch(item.attribute, item))

    def session_ids(self) -> list[str]:
        """Ids of the open sessions."""
        return [s.session_id for s in self._sessions.all()]

    # -------------------------------------------------------------- background

    @classmethod
    def start_in_background(cls, **kwargs: Any) -> BackgroundSimulator[Simulator]:
        """Run a simulator on its own thread and event loop (for blocking code and tests)."""
        from mxgateway.simulator.background import BackgroundSimulator

        return BackgroundSimulator(cls(**kwargs))

    # ------------------------------------------------------------------ tasks

    async def _update_values(self) -> None:
        period = 1.0 / self._update_rate_hz
        last = self.clock.monotonic()
        while True:
            await self.clock.sleep(period)
            now = self.clock.monotonic()
            self._tags.advance(now - last)
            last = now

    async def _expire_leases(self) -> None:
        period = min(1.0, max(0.01, self._lease_s / 4))
        while True:
            await self.clock.sleep(period)
            self._sessions.expire_leases()
