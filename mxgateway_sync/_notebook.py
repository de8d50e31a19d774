"""In IPython: a client that only the output history still holds is closed after its cell.

A script's dropped client is closed when its last reference goes (the facade's
``__del__``). In IPython the history keeps what cells displayed (``Out``, ``_``,
``_5``, the last execution result), so re-running ``client = Client(...)`` and
showing ``client`` would leave every earlier client, its session and its embedded
simulator alive for the rest of the kernel. After each cell, a client that
nothing but that history refers to is closed as if it had been dropped; one that
any variable, object, container or running frame still holds is left alone.

Clients are tracked weakly (the registry keeps none alive) and only in IPython.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import re
import sys
import weakref
from typing import Any

__all__ = ["only_history_holds", "watch"]

_log = logging.getLogger("mxgateway.client")
#: Names IPython binds to displayed results: ``_``, ``__``, ``___`` and ``_<n>``.
_HISTORY_NAME = re.compile(r"_{1,3}|_\d+")

_tracked: weakref.WeakSet[Any] = weakref.WeakSet()
_hooked: weakref.WeakSet[Any] = weakref.WeakSet()


def _shell() -> Any:
    ipython = sys.modules.get("IPython")
    get = getattr(ipython, "get_ipython", None)
    return get() if get is not None else None


def watch(facade: object) -> None:
    """Close ``facade`` after a cell once only IPython's history holds it (no-op outside IPython)."""
    shell = _shell()
    if shell is None:
        return
    _tracked.add(facade)
    if shell not in _hooked:
        _hooked.add(shell)
        shell.events.register("post_run_cell", _after_cell)


def _history_holders(shell: Any) -> list[object]:
    holders: list[object] = []
    history = getattr(shell, "history_manager", None)
    if history is not None:
        holders.append(history.output_hist)
    holders.append(shell.user_ns.get("Out"))
    last = getattr(shell, "last_execution_result", None)
    if last is not None:
        holders.append(last)
        holders.append(getattr(last, "__dict__", None))
    return [h for h in holders if h is not None]


def only_history_holds(obj: object, shell: Any) -> bool:
    """True when every reference to ``obj`` is IPython's output history (or this module's frames)."""
    # Plain loops only: a comprehension over ``obj`` would capture it in a closure cell,
    # itself a referrer.
    history = _history_holders(shell)
    for holder in gc.get_referrers(obj):
        if any(holder is h for h in history):
            continue
        if isinstance(holder, dict):
            # The user's namespace and the display hook's own ``_``, ``__``, ``___``.
            if not _bound_under_history_names_only(holder, obj):
                return False
            continue
        if getattr(getattr(holder, "f_code", None), "co_filename", None) == __file__:
            continue  # the frames of this check
        if holder is getattr(shell, "displayhook", None) and _bound_under_history_names_only(
            vars(holder), obj
        ):
            # Its own ``_``, ``__``, ``___``: Python 3.13 names the object, not its ``__dict__``.
            continue
        return False
    return True


def _bound_under_history_names_only(namespace: dict[Any, Any], obj: object) -> bool:
    found = False
    for name, value in namespace.items():
        if value is obj:
            if not (isinstance(name, str) and _HISTORY_NAME.fullmatch(name)):
                return False
            found = True
    return found


def _after_cell(*_: object) -> None:
    shell = _shell()
    if shell is None:
        return
    refs = [weakref.ref(facade) for facade in _tracked]
    for ref in refs:
        facade = ref()
        if facade is None:
            continue
        inner = getattr(facade, "async_object", None)
        if getattr(inner, "closed", True):
            _tracked.discard(facade)
        elif only_history_holds(facade, shell):
            _tracked.discard(facade)
            with contextlib.suppress(Exception):  # closing a dropped client must not break the kernel
                facade.close()
            _log.info("closed %r: only the output history still held it", facade)
        del facade
