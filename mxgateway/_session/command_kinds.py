"""What the session's request path needs to know of each MXAccess command kind.

The scope a refused command lacked (for the error message), the reply field that
carries a bulk command's per-item results, which commands can raise an event, and
which items a write sends to (each gets an OnWriteComplete).
"""

from __future__ import annotations

from mxgateway._model.scopes import EVENTS_READ, INVOKE_READ, INVOKE_SECURE, INVOKE_WRITE
from mxgateway.generated import mxaccess_gateway_pb2 as pb

__all__ = ["BULK_PAYLOADS", "EVENT_KINDS", "WRITE_PAYLOADS", "scope_of", "written_items"]

_SCOPES: dict[int, str] = {
    pb.MX_COMMAND_KIND_WRITE: INVOKE_WRITE,
    pb.MX_COMMAND_KIND_WRITE2: INVOKE_WRITE,
    pb.MX_COMMAND_KIND_WRITE_BULK: INVOKE_WRITE,
    pb.MX_COMMAND_KIND_WRITE2_BULK: INVOKE_WRITE,
    pb.MX_COMMAND_KIND_WRITE_SECURED: INVOKE_SECURE,
    pb.MX_COMMAND_KIND_WRITE_SECURED2: INVOKE_SECURE,
    pb.MX_COMMAND_KIND_WRITE_SECURED_BULK: INVOKE_SECURE,
    pb.MX_COMMAND_KIND_WRITE_SECURED2_BULK: INVOKE_SECURE,
    pb.MX_COMMAND_KIND_AUTHENTICATE_USER: INVOKE_SECURE,
    pb.MX_COMMAND_KIND_DRAIN_EVENTS: EVENTS_READ,
}

#: Bulk kinds, whose per-item failures live in the results: the reply field holding them.
BULK_PAYLOADS: dict[int, str] = {
    pb.MX_COMMAND_KIND_ADD_ITEM_BULK: "bulk_subscribe",
    pb.MX_COMMAND_KIND_ADVISE_ITEM_BULK: "bulk_subscribe",
    pb.MX_COMMAND_KIND_REMOVE_ITEM_BULK: "bulk_subscribe",
    pb.MX_COMMAND_KIND_UNADVISE_ITEM_BULK: "bulk_subscribe",
    pb.MX_COMMAND_KIND_SUBSCRIBE_BULK: "bulk_subscribe",
    pb.MX_COMMAND_KIND_UNSUBSCRIBE_BULK: "bulk_subscribe",
    pb.MX_COMMAND_KIND_READ_BULK: "bulk_read",
    pb.MX_COMMAND_KIND_WRITE_BULK: "bulk_write",
    pb.MX_COMMAND_KIND_WRITE2_BULK: "bulk_write",
    pb.MX_COMMAND_KIND_WRITE_SECURED_BULK: "bulk_write",
    pb.MX_COMMAND_KIND_WRITE_SECURED2_BULK: "bulk_write",
}

#: Commands that can raise an event: the pump attaches before the first is sent,
#: so their first event (the value ADVISE publishes, a write's outcome) is kept.
EVENT_KINDS = frozenset(
    {
        pb.MX_COMMAND_KIND_ADVISE,
        pb.MX_COMMAND_KIND_ADVISE_SUPERVISORY,
        pb.MX_COMMAND_KIND_WRITE,
        pb.MX_COMMAND_KIND_WRITE2,
        pb.MX_COMMAND_KIND_WRITE_SECURED,
        pb.MX_COMMAND_KIND_WRITE_SECURED2,
        pb.MX_COMMAND_KIND_ADVISE_ITEM_BULK,
        pb.MX_COMMAND_KIND_SUBSCRIBE_BULK,
        pb.MX_COMMAND_KIND_WRITE_BULK,
        pb.MX_COMMAND_KIND_WRITE2_BULK,
        pb.MX_COMMAND_KIND_WRITE_SECURED_BULK,
        pb.MX_COMMAND_KIND_WRITE_SECURED2_BULK,
    }
)


def scope_of(kind: int) -> str:
    """The scope an Invoke of ``kind`` needs (``invoke:read`` for every kind not listed)."""
    return _SCOPES.get(kind, INVOKE_READ)


#: The write kinds, each with the command field that carries it.
WRITE_PAYLOADS: dict[int, str] = {
    pb.MX_COMMAND_KIND_WRITE: "write",
    pb.MX_COMMAND_KIND_WRITE2: "write2",
    pb.MX_COMMAND_KIND_WRITE_SECURED: "write_secured",
    pb.MX_COMMAND_KIND_WRITE_SECURED2: "write_secured2",
    pb.MX_COMMAND_KIND_WRITE_BULK: "write_bulk",
    pb.MX_COMMAND_KIND_WRITE2_BULK: "write2_bulk",
    pb.MX_COMMAND_KIND_WRITE_SECURED_BULK: "write_secured_bulk",
    pb.MX_COMMAND_KIND_WRITE_SECURED2_BULK: "write_secured2_bulk",
}


def written_items(command: pb.MxCommand, field: str) -> list[tuple[int, int]]:
    """The (server handle, item handle) of each item a write command sends a value to, in order."""
    payload = getattr(command, field)
    entries = getattr(payload, "entries", None)
    if entries is None:
        return [(payload.server_handle, payload.item_handle)]
    server = payload.server_handle
    return [(server, entry.item_handle) for entry in entries]
