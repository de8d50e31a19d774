"""Embedded simulator gateway: the MXAccess Gateway contract over a simulated Galaxy.

::

    from mxgateway.simulator import Simulator

    async with Simulator(update_rate_hz=0) as sim:      # 127.0.0.1, a free port
        ...connect to sim.endpoint...
        await sim.advance(1.0)                           # move the value schedules

    with Simulator.start_in_background() as bg:          # own thread and loop
        ...connect to bg.endpoint from blocking code...

    clock = ManualClock()                                # simulator time stands still...
    async with Simulator(clock=clock, lease_s=60) as sim:
        await clock.advance(61)                          # ...until a test moves it: leases run out

From the shell: ``mxgw-py simulate``. In pytest: the ``mx_simulator`` fixture.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mxgateway.simulator.background import BackgroundSimulator
    from mxgateway.simulator.clock import Clock, ManualClock
    from mxgateway.simulator.server import Simulator

__all__ = ["BackgroundSimulator", "Clock", "ManualClock", "Simulator"]


def __getattr__(name: str) -> Any:
    # Lazy, so that importing the Galaxy model imports neither the gRPC server nor asyncio.
    if name == "Simulator":
        from mxgateway.simulator.server import Simulator

        return Simulator
    if name == "BackgroundSimulator":
        from mxgateway.simulator.background import BackgroundSimulator

        return BackgroundSimulator
    if name in ("Clock", "ManualClock"):
        from mxgateway.simulator import clock

        return getattr(clock, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
