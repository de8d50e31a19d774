"""SIGTERM for programs that use the blocking facade.

A service manager stops a process with SIGTERM, whose default action ends it at
once: sessions the facade opened would stay open on the gateway until their lease
runs out. The handler here unwinds the process instead, as ``SystemExit(143)``
raised in the main thread, so the facade's exit-time clean-up closes them, whichever
thread made the clients.

Only the main thread may set a signal handler, so it is installed when
``mxgateway_sync`` is imported there (or when the facade's loop first starts
there), and only while nothing else handles SIGTERM: a handler the program set
earlier is kept, and one it sets later replaces this one (that program then owns
SIGTERM; ``mxgateway_sync.loop.shutdown()`` closes what the facade opened). Until
the facade's loop has started there is nothing to close, and SIGTERM keeps its
default action: the process ends by the signal, as it would without this module.

This module imports nothing heavy: importing ``mxgateway_sync`` stays light.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

__all__ = ["TERMINATED_EXIT_STATUS", "install", "mark_in_use", "reset_after_fork"]

#: The exit status after SIGTERM (128 + the signal number, as shells report it).
TERMINATED_EXIT_STATUS = 128 + int(signal.SIGTERM)

_in_use = False


def install() -> None:
    """From the main thread, where SIGTERM has its default action: handle it (a no-op elsewhere)."""
    if threading.current_thread() is not threading.main_thread():
        return  # only the main thread may set handlers
    try:
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _terminate)
    except (ValueError, OSError):  # pragma: no cover - embedded interpreters without signals
        pass


def mark_in_use() -> None:
    """The facade's loop has started: from now on SIGTERM has something to close."""
    global _in_use
    _in_use = True


def reset_after_fork() -> None:
    """A forked child has not used the facade (its runtime starts afresh)."""
    global _in_use
    _in_use = False


def _terminate(signum: int, frame: FrameType | None) -> None:
    if not _in_use:
        # Nothing to close: the default action, as though no handler were set.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.raise_signal(signal.SIGTERM)
        return
    raise SystemExit(TERMINATED_EXIT_STATUS)
