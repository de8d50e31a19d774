"""Large generated Galaxies for the 100,000-object tests, built without the garbage collector's rescans."""

from __future__ import annotations

import gc

from mxgateway.simulator.demo_plant import generate_galaxy
from mxgateway.simulator.galaxy import Galaxy


def generated(object_count: int) -> Galaxy:
    """A generated Galaxy of ``object_count`` objects, built with cyclic collection paused.

    Building its million-odd objects, none of them garbage, set off a full
    collection again and again, each traversing all that was built so far: most
    of the build's time.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return generate_galaxy(object_count)
    finally:
        if was_enabled:
            gc.enable()
