"""Loopback ports where nothing listens, for tests of unreachable gateways."""

from __future__ import annotations

import socket

#: Bound, never listening: their ports stay refused and taken until this process ends.
_HELD: list[socket.socket] = []


def closed_port() -> int:
    """A loopback port that refuses connections for the rest of this test process.

    A port that is only probed and released could meanwhile be given to a server of
    a parallel test worker or of another test run; a bound socket that never
    listens keeps it refused and keeps every other bind and connect off it.
    """
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind(("127.0.0.1", 0))
    _HELD.append(holder)
    return int(holder.getsockname()[1])
