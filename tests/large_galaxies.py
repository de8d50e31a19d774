"""Large generated Galaxies for the 100,000-object tests, built and kept out of the garbage collector's way."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

from mxgateway.simulator.demo_plant import generate_galaxy
from mxgateway.simulator.galaxy import Galaxy


@contextlib.contextmanager
def generated(object_count: int) -> Iterator[Galaxy]:
    """A generated Galaxy of ``object_count`` objects, for the block.

    Its million-odd objects live as long as the block and hold no garbage, yet the
    cyclic garbage collector would traverse all of them on every full collection,
    while they are built and while the tests run: most of these tests' time. They
    are built with collection paused and then frozen (``gc.freeze``) until the
    block ends.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        galaxy = generate_galaxy(object_count)
    finally:
        if was_enabled:
            gc.enable()
    gc.freeze()
    try:
        yield galaxy
    finally:
        gc.unfreeze()
