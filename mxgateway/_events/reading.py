"""Reading one StreamEvents call to its end: every message to the sequencer, and why it stopped."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import grpc
import grpc.aio

from mxgateway._events.failures import StreamEnded
from mxgateway._events.sequencer import Sequencer
from mxgateway._transport.streams import StreamCall, wait_done

__all__ = ["read_events"]


async def read_events(
    call: StreamCall,
    sequencer: Sequencer,
    *,
    first: Callable[[], None] | None,
    within: float,
    interrupted: Callable[[], BaseException | None],
) -> BaseException:
    """Dispatch ``call``'s messages until it fails or ends; returns why it stopped.

    ``first()`` runs before the first message is dispatched: an attach the gateway
    did not confirm is confirmed by it, if it comes ``within`` seconds (else the call
    counts as broken). A CancelledError is the reason ``interrupted()`` gives for it,
    or, when that is None, the task's own cancellation, raised.
    """
    dispatch = sequencer.dispatch
    skip = sequencer.skip
    try:
        if first is not None and not await _confirmed(call, within):
            return StreamEnded(f"no response headers and no event within {within:.1f} s")
        if first is not None:
            first()
        # The call's own async iterator: one coroutine level less per message than read().
        async for message in call:
            try:
                dispatch(message)
            except Exception:  # a bug typing one event: readers get it untyped, the stream goes on
                skip(message)
        return StreamEnded("the gateway ended the event stream")
    except grpc.aio.AioRpcError as exc:
        return exc
    except asyncio.CancelledError:
        reason = interrupted()
        if reason is None:
            raise
        return reason


async def _confirmed(call: StreamCall, within: float) -> bool:
    """True when the late headers come within ``within`` s (a first message or the call's end brings them).

    Nothing is read: the first message stays for the reading loop.
    """
    headers = asyncio.ensure_future(call.initial_metadata())
    try:
        return await wait_done(headers, within)
    finally:
        if not headers.done():
            headers.cancel()
        elif not headers.cancelled():
            headers.exception()  # retrieved: a failed call reports itself when read
