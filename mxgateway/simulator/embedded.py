"""The ``simulator`` endpoint name: an embedded simulator started on the caller's loop.

Registered in the ``mxgateway.embedded_gateways`` entry-point group, so that
``Client(endpoint="simulator")`` (demo Galaxy) or ``Client(endpoint="simulator:plant.json")``
(a Galaxy file) works with nothing else installed.
"""

from __future__ import annotations

from mxgateway.simulator.galaxy import Galaxy
from mxgateway.simulator.server import Simulator

__all__ = ["EmbeddedSimulator", "start_embedded_simulator"]


class EmbeddedSimulator:
    """A running simulator owned by a client: stopped when the client closes."""

    def __init__(self, simulator: Simulator) -> None:
        self.simulator = simulator

    @property
    def endpoint(self) -> str:
        """The ``127.0.0.1:port`` the simulator listens on."""
        return self.simulator.endpoint

    async def aclose(self) -> None:
        """Stop the simulator."""
        await self.simulator.close()

    def __repr__(self) -> str:
        return f"EmbeddedSimulator(endpoint={self.endpoint!r})"


async def start_embedded_simulator(argument: str = "") -> EmbeddedSimulator:
    """Start a simulator (authentication disabled); ``argument`` names a Galaxy file, or empty for the demo."""
    galaxy = Galaxy.load(argument) if argument else None
    simulator = Simulator(galaxy=galaxy)
    await simulator.start()
    return EmbeddedSimulator(simulator)
