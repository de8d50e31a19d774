"""Recognise the errors grpc.aio's poller raises on a loop for work it cannot deliver.

grpc.aio hands every completion to one poller shared by all the event loops of a
process. Two leftovers of a channel or a loop that went away reach the exception
handler of whichever loop is still bound to the poller:

- ``OSError(EBADF)``: the last channel or server closed the poller's descriptor
  while a wake-up it had queued on a loop was still pending;
- ``RuntimeError("Event loop is closed")``: a completion (a cancelled call's
  last operation, a deadline) arrived for a loop that has since closed, so the
  poller could not schedule it there. Whatever awaited it is gone with its loop.

Neither loses anything a live loop is waiting for. Loops the package owns drop
them (:func:`quiet_grpc_teardown`); any other error is reported as usual.
"""

from __future__ import annotations

import asyncio
import errno
import traceback
from typing import Any

__all__ = ["is_grpc_teardown_noise", "quiet_grpc_teardown"]

_POLLER = "PollerCompletionQueue"


def is_grpc_teardown_noise(context: dict[str, Any]) -> bool:
    """True for an exception-handler ``context`` that is one of the poller's leftovers above."""
    error = context.get("exception")
    if isinstance(error, OSError):
        if error.errno != errno.EBADF:
            return False
    elif not (isinstance(error, RuntimeError) and str(error) == "Event loop is closed"):
        return False
    return any(_POLLER in frame.name for frame in traceback.extract_tb(error.__traceback__))


def quiet_grpc_teardown(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """An exception handler: drop the poller's leftovers, report the rest as asyncio would."""
    if not is_grpc_teardown_noise(context):
        loop.default_exception_handler(context)
