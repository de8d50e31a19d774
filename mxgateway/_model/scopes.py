"""The gateway's API-key scopes: what each call needs, named once for the SDK, the CLI and the simulator.

Plain strings with no imports, so the command line can list them without
loading grpc, and the simulator can check them without the client.
"""

from __future__ import annotations

__all__ = [
    "ADMIN",
    "ALL_SCOPES",
    "EVENTS_READ",
    "INVOKE_READ",
    "INVOKE_SECURE",
    "INVOKE_WRITE",
    "METADATA_READ",
    "SESSION_CLOSE",
    "SESSION_OPEN",
]

SESSION_OPEN = "session:open"
SESSION_CLOSE = "session:close"
INVOKE_READ = "invoke:read"
INVOKE_WRITE = "invoke:write"
INVOKE_SECURE = "invoke:secure"
EVENTS_READ = "events:read"
METADATA_READ = "metadata:read"
#: Implies every other scope.
ADMIN = "admin"

#: Every scope a key may hold, in the order the documentation lists them.
ALL_SCOPES = (
    SESSION_OPEN,
    SESSION_CLOSE,
    INVOKE_READ,
    INVOKE_WRITE,
    INVOKE_SECURE,
    EVENTS_READ,
    METADATA_READ,
    ADMIN,
)
