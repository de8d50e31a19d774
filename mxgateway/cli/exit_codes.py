"""Exit codes of ``mxgw-py`` (documented in ``docs/cli.md``; scripts rely on them)."""

from __future__ import annotations

from enum import IntEnum

__all__ = ["ExitCode"]


class ExitCode(IntEnum):
    """What a ``mxgw-py`` exit status means."""

    #: The command did what it was asked.
    OK = 0
    #: Any other failure: an unexpected error, a gateway error without a more specific code.
    ERROR = 1
    #: Bad command line: unknown option, a value that does not parse, no password source.
    USAGE = 2
    #: The API key is missing, unknown or unreadable by the gateway (UNAUTHENTICATED).
    AUTHENTICATION = 3
    #: The API key lacks a scope the call needs (PERMISSION_DENIED).
    PERMISSION = 4
    #: The gateway, its worker or the network cannot be reached (UNAVAILABLE, TLS failures).
    UNAVAILABLE = 5
    #: A deadline passed (``--timeout``, DEADLINE_EXCEEDED, protocol TIMEOUT).
    TIMEOUT = 6
    #: MXAccess reported a failure (MXACCESS_FAILURE, a non-zero HRESULT, a failed status).
    MXACCESS = 7
    #: The session, tag or Galaxy object named does not exist (NOT_FOUND, SESSION_NOT_FOUND).
    NOT_FOUND = 8
    #: The gateway rejected the request as malformed (INVALID_ARGUMENT, INVALID_REQUEST).
    INVALID_REQUEST = 9
    #: Interrupted by Ctrl-C (SIGINT); the call in flight was cancelled.
    INTERRUPTED = 130
    #: Stopped by SIGTERM (a service manager's stop); sessions it opened were closed.
    TERMINATED = 143
