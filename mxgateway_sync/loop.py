"""The facade's event-loop thread, for programs that end it themselves.

The thread starts on first use and stops at interpreter exit on its own; a
program that wants it gone earlier (a command line that exits right after its
work) calls ``shutdown()``: open facade objects are closed first, and the next
facade call starts a new thread.
"""

from __future__ import annotations

from mxgateway_sync import _runtime

__all__ = ["in_loop_thread", "shutdown"]


def shutdown() -> None:
    """Close the facade objects still open and stop the loop thread."""
    _runtime.shutdown()


def in_loop_thread() -> bool:
    """True on the facade's loop thread, where blocking facade calls are refused."""
    return _runtime.in_loop_thread()
