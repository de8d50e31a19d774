#!/usr/bin/env python3
"""Generate the blocking facade ``mxgateway_sync/_facade.py`` from the async core.

For each public async class listed in ``CLASSES`` the generator reads the class
source (signatures, type hints and docstrings are copied as written; a default
naming a plain module constant is written as its value) and emits
a blocking class of the same name that holds the async object and moves every
call onto the facade's loop thread (``mxgateway_sync._runtime``):

- ``async def m(...) -> R``          becomes ``def m(...) -> R`` (blocking);
- ``__aenter__``/``__aexit__``       become ``__enter__``/``__exit__``;
- ``__aiter__``/``__anext__``        become ``__iter__``/``__next__``; ``aclose`` becomes ``close``;
- an async context manager returned by an awaitable factory (``connect``,
  ``open_session``) becomes a blocking factory of the facade it opens;
- results whose type is another listed class are wrapped in its facade class
  (also inside ``X | None``, ``list[X]``, ``ResultList[X]`` and ``AsyncIterator[X]``).

The facade adds no behaviour; a result shape it cannot convert, or a listed class
that does not exist, stops the generator. ``mxgateway_sync/__init__.py`` re-exports
the facade classes and every other name of ``mxgateway.__all__``. Both import
lazily: the async modules load with the first call (``facade_gen.assemble``).
``--check`` regenerates both in memory and exits 1 when a committed file differs.

The generator itself lives in ``scripts/facade_gen``: ``config`` (what is mirrored),
``model`` (reading the async classes), ``emitter`` (the classes), ``assemble``
(the modules).
"""

from __future__ import annotations

import argparse
import importlib
import sys

# facade_gen sits next to this script, so it is importable as the script runs.
from facade_gen.assemble import package_init
from facade_gen.config import CLASSES, OUTPUT, PACKAGE_INIT, ROOT
from facade_gen.emitter import Emitter
from facade_gen.model import available_classes

__all__ = ["CLASSES", "main", "render", "render_package"]


def render() -> str:
    """The facade module's source text."""
    sys.path.insert(0, str(ROOT))
    return Emitter(available_classes()).render()


def render_package() -> str:
    """``mxgateway_sync/__init__.py``: the facade classes, and every other public core name."""
    sys.path.insert(0, str(ROOT))
    return package_init(list(importlib.import_module("mxgateway").__all__))


def main(argv: list[str] | None = None) -> int:
    """Write, or with ``--check`` verify, mxgateway_sync/_facade.py and mxgateway_sync/__init__.py."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="verify the committed facade instead of writing it"
    )
    args = parser.parse_args(argv)
    outputs = {OUTPUT: render(), PACKAGE_INIT: render_package()}
    if args.check:
        stale = [
            path
            for path, text in outputs.items()
            if (path.read_text(encoding="utf-8") if path.exists() else "") != text
        ]
        for path in stale:
            print(f"{path.relative_to(ROOT)} is out of date (run scripts/generate_sync.py)", file=sys.stderr)
        if stale:
            return 1
        print("mxgateway_sync/_facade.py and mxgateway_sync/__init__.py are up to date")
        return 0
    for path, text in outputs.items():
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
