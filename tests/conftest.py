"""Shared pytest configuration."""

from __future__ import annotations

import signal

import pytest

# A test run started in the background by a shell without job control inherits
# SIGINT ignored, and so would every process the tests start: their Ctrl-C tests
# would wait for an interrupt that never comes. Ctrl-C means KeyboardInterrupt here.
signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture
def anyio_backend() -> str:
    """grpc.aio runs on asyncio only."""
    return "asyncio"
