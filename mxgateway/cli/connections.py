"""The clients a command uses (``Connections``), opened on first use and closed together.

A command gets them from ``shared_connections()``; ``batch_scope()`` keeps one
set for every line of a batch, so a session or an embedded simulator lives
across them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import signal
import sys
import threading
from collections.abc import Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from mxgateway.cli.common import BATCH_DEFAULTS, CommonOptions
from mxgateway.cli.context import (
    BATCH_SESSION,
    ENV_SESSION_ID,
    IN_BATCH,
    BatchSession,
    session_id_for,
)
from mxgateway.cli.errors import CliUsageError

#: Far above any id a gateway hands out, far below what a header can carry.
MAX_SESSION_ID = 1024

if TYPE_CHECKING:
    from mxgateway.options import ClientOptions
    from mxgateway_sync import GalaxyRepositoryClient, GatewayClient, Session
    from mxgateway_sync.embedded import EmbeddedGateway

__all__ = ["Connections", "batch_scope", "no_interrupts", "own_or_attached_session", "shared_connections"]


def _facade() -> Any:
    """The blocking facade, imported on first use (it brings grpc along)."""
    return importlib.import_module("mxgateway_sync")


class Connections:
    """The clients a command uses, opened on first use and closed together.

    One instance serves one command; ``batch`` keeps one for all its lines so a
    session or the embedded simulator of ``--simulator`` lives across them.
    """

    def __init__(self) -> None:
        self._gateways: dict[tuple[Any, ...], GatewayClient] = {}
        self._galaxies: dict[tuple[Any, ...], GalaxyRepositoryClient] = {}
        self._attached: list[Session] = []
        self._embedded: dict[tuple[str, str], EmbeddedGateway] = {}

    @staticmethod
    def _key(common: CommonOptions) -> tuple[Any, ...]:
        # --json does not change the connection.
        return dataclasses.astuple(dataclasses.replace(common, json=False))

    def _options(self, common: CommonOptions) -> ClientOptions:
        named = common.embedded
        if named is None:
            return common.client_options()
        embedded = self._embedded.get(named)
        if embedded is None:
            from mxgateway_sync.embedded import start_embedded_gateway

            # Started here rather than by each client's connect, so that the
            # gateway and Galaxy clients (and batch lines) share one simulator.
            try:
                embedded = start_embedded_gateway(*named)
            except (OSError, ValueError) as exc:
                # An unreadable Galaxy file or an unknown name: the endpoint given does not work.
                raise CliUsageError(f"cannot start the embedded gateway {':'.join(named)!r}: {exc}") from None
            self._embedded[named] = embedded
            if common.endpoint is None and not common.simulator:  # MXGATEWAY_ENDPOINT named it
                from mxgateway._transport.endpoints import environment_notice

                notice = environment_notice(common.resolved_endpoint)
                if notice is not None:
                    sys.stderr.write(f"mxgw-py: warning: {notice}\n")
        return common.client_options(embedded.endpoint)

    def gateway(self, common: CommonOptions) -> GatewayClient:
        """A connected ``mxgateway_sync.GatewayClient``."""
        key = self._key(common)
        client = self._gateways.get(key)
        if client is None:
            client = _facade().GatewayClient.connect(options=self._options(common))
            self._gateways[key] = client
        return client

    def galaxy(self, common: CommonOptions) -> GalaxyRepositoryClient:
        """A connected ``mxgateway_sync.GalaxyRepositoryClient``."""
        key = self._key(common)
        client = self._galaxies.get(key)
        if client is None:
            client = _facade().GalaxyRepositoryClient.connect(options=self._options(common))
            self._galaxies[key] = client
        return client

    def session(self, common: CommonOptions, session_id: str) -> Session:
        """The existing session ``session_id``, left open when the command ends."""
        if not session_id:
            raise CliUsageError(f"--session-id is required (or set {ENV_SESSION_ID})")
        if len(session_id) > MAX_SESSION_ID:
            # Event streams carry it in a header, which the gateway refuses past 16 KiB.
            raise CliUsageError(
                f"a session id has at most {MAX_SESSION_ID} characters, not {len(session_id)}"
            )
        session = self.gateway(common).attach_session(session_id)
        self._attached.append(session)
        return session

    def close(self) -> None:
        """Close every client and the embedded simulator; attached sessions stay open."""
        for session in self._attached:
            session.detach()
        self._attached.clear()
        clients: list[GalaxyRepositoryClient | GatewayClient] = [
            *self._galaxies.values(),
            *self._gateways.values(),
        ]
        self._gateways.clear()
        self._galaxies.clear()
        for client in clients:
            with contextlib.suppress(Exception):
                client.close()
        embedded = list(self._embedded.values())
        self._embedded.clear()
        for gateway in embedded:
            with contextlib.suppress(Exception):
                gateway.close()


_SHARED: ContextVar[Connections | None] = ContextVar("mxgw_py_connections", default=None)


@contextlib.contextmanager
def shared_connections() -> Iterator[Connections]:
    """The connections of the current command (or of the running ``batch``)."""
    existing = _SHARED.get()
    if existing is not None:
        yield existing
        return
    connections = Connections()
    token = _SHARED.set(connections)
    try:
        yield connections
    finally:
        _SHARED.reset(token)
        connections.close()


@contextlib.contextmanager
def batch_scope(defaults: CommonOptions | None = None) -> Iterator[Connections]:
    """Run several commands with shared connections, reporting errors as records.

    ``defaults`` are the batch's own options, the defaults of every line.
    """
    connections = Connections()
    token = _SHARED.set(connections)
    batch_token = IN_BATCH.set(True)
    defaults_token = BATCH_DEFAULTS.set(defaults)
    session_token = BATCH_SESSION.set(BatchSession())
    try:
        yield connections
    finally:
        BATCH_SESSION.reset(session_token)
        BATCH_DEFAULTS.reset(defaults_token)
        IN_BATCH.reset(batch_token)
        _SHARED.reset(token)
        connections.close()


@contextlib.contextmanager
def no_interrupts() -> Iterator[None]:
    """Hold off Ctrl-C while a session is being closed, so clean-up is not cut short."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def own_or_attached_session(
    connections: Connections, common: CommonOptions, session_id: str, name: str
) -> Iterator[Any]:
    """The session ``session_id`` (left open), or a new one closed on the way out (also on Ctrl-C)."""
    session_id = session_id_for(session_id)
    if session_id:
        yield connections.session(common, session_id)
        return
    session = connections.gateway(common).open_session(name)
    try:
        yield session
    finally:
        with no_interrupts():
            session.close()
