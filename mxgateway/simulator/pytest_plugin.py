"""pytest fixtures for testing code against the simulator (registered as ``mxgateway_simulator``).

``mx_simulator`` is a background simulator per test (authentication disabled, demo
Galaxy, values move only on ``mx_simulator.call(mx_simulator.simulator.advance, s)``);
``mx_simulator_endpoint`` is its ``host:port``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from mxgateway.simulator.background import BackgroundSimulator
    from mxgateway.simulator.server import Simulator


@pytest.fixture
def mx_simulator() -> Iterator[BackgroundSimulator[Simulator]]:
    """A running simulator on its own thread, closed after the test."""
    # Imported here so that merely having the plugin installed costs nothing.
    from mxgateway.simulator.server import Simulator

    with Simulator.start_in_background(update_rate_hz=0) as simulator:
        yield simulator


@pytest.fixture
def mx_simulator_endpoint(mx_simulator: BackgroundSimulator[Simulator]) -> str:
    """The ``host:port`` of ``mx_simulator``."""
    return mx_simulator.endpoint
