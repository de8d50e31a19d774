"""Fixtures of the core tests: a simulator on loopback, a client and a session on it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from mxgateway import GatewayClient, Session
from mxgateway.simulator.server import Simulator


@pytest.fixture
async def simulator(anyio_backend: object) -> AsyncIterator[Simulator]:
    # Values move only on advance(): tests decide when events happen.
    async with Simulator(update_rate_hz=0) as sim:
        yield sim


@pytest.fixture
async def client(simulator: Simulator) -> AsyncIterator[GatewayClient]:
    async with GatewayClient.connect(simulator.endpoint, plaintext=True, default_timeout=5.0) as gateway:
        yield gateway


@pytest.fixture
async def session(client: GatewayClient) -> AsyncIterator[Session]:
    async with client.open_session("core-tests") as opened:
        yield opened
