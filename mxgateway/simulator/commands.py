"""``Invoke`` semantics: the MXAccess methods a session's simulated worker runs.

How outcomes look (as the production gateway reports them):

* A kind that does not agree with the payload case is ``INVALID_REQUEST``.
* A failing MXAccess call is a successful RPC whose reply has protocol status
  ``MXACCESS_FAILURE``, a non-zero ``hresult`` and one status with ``success = 0``:
  an unknown tag (CONFIGURATION_ERROR, detail 1003), an unknown server or item
  handle (detail 1004), a written value of the wrong type (detail 1010), a failed
  AuthenticateUser (SECURITY_ERROR, detail 1014).
* A write that passes those checks is answered with a plain OK. Its outcome follows
  as an ON_WRITE_COMPLETE event; a security refusal is reported there (hresult
  E_ACCESSDENIED and a SECURITY_ERROR status): a plain Write to a secured or
  verified attribute (detail 1012), a WriteSecured whose current user is not
  authenticated in the session (detail 1015), a verified write without a
  different authenticated verifier (detail 1013), any write to a view-only
  attribute (detail 1011). Free-access, Operate, Tune and Configure attributes
  take plain writes. An accepted write then shows as a data change of every item
  that advises the attribute.
* Bulk commands run item by item in input order; a failed item is a result with
  ``was_successful = false``, the command itself succeeds.
* DrainEvents returns the session's retained events not drained before.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from mxgateway.generated import mxaccess_gateway_pb2 as pb
from mxgateway.simulator import statuses as st
from mxgateway.simulator import users
from mxgateway.simulator.bulk_commands import BulkCommands
from mxgateway.simulator.command_items import CommandFailure
from mxgateway.simulator.faults import Faults
from mxgateway.simulator.sessions import Registration, Session
from mxgateway.simulator.stats import SimulatorStats
from mxgateway.simulator.tags import TagStore

__all__ = ["PAYLOAD_OF_KIND", "CommandFailure", "CommandProcessor", "kind_name"]

#: The payload field each command kind must carry.
PAYLOAD_OF_KIND: dict[int, str] = {
    pb.MX_COMMAND_KIND_REGISTER: "register",
    pb.MX_COMMAND_KIND_UNREGISTER: "unregister",
    pb.MX_COMMAND_KIND_ADD_ITEM: "add_item",
    pb.MX_COMMAND_KIND_ADD_ITEM2: "add_item2",
    pb.MX_COMMAND_KIND_REMOVE_ITEM: "remove_item",
    pb.MX_COMMAND_KIND_ADVISE: "advise",
    pb.MX_COMMAND_KIND_ADVISE_SUPERVISORY: "advise_supervisory",
    pb.MX_COMMAND_KIND_UNADVISE: "unadvise",
    pb.MX_COMMAND_KIND_WRITE: "write",
    pb.MX_COMMAND_KIND_WRITE2: "write2",
    pb.MX_COMMAND_KIND_WRITE_SECURED: "write_secured",
    pb.MX_COMMAND_KIND_WRITE_SECURED2: "write_secured2",
    pb.MX_COMMAND_KIND_AUTHENTICATE_USER: "authenticate_user",
    pb.MX_COMMAND_KIND_DRAIN_EVENTS: "drain_events",
    pb.MX_COMMAND_KIND_ADD_ITEM_BULK: "add_item_bulk",
    pb.MX_COMMAND_KIND_ADVISE_ITEM_BULK: "advise_item_bulk",
    pb.MX_COMMAND_KIND_REMOVE_ITEM_BULK: "remove_item_bulk",
    pb.MX_COMMAND_KIND_UNADVISE_ITEM_BULK: "unadvise_item_bulk",
    pb.MX_COMMAND_KIND_SUBSCRIBE_BULK: "subscribe_bulk",
    pb.MX_COMMAND_KIND_UNSUBSCRIBE_BULK: "unsubscribe_bulk",
    pb.MX_COMMAND_KIND_READ_BULK: "read_bulk",
    pb.MX_COMMAND_KIND_WRITE_BULK: "write_bulk",
    pb.MX_COMMAND_KIND_WRITE2_BULK: "write2_bulk",
    pb.MX_COMMAND_KIND_WRITE_SECURED_BULK: "write_secured_bulk",
    pb.MX_COMMAND_KIND_WRITE_SECURED2_BULK: "write_secured2_bulk",
}


def kind_name(kind: int) -> str:
    """The enum name of a command kind (the number for an unknown one)."""
    try:
        return pb.MxCommandKind.Name(kind)  # type: ignore[arg-type]
    except ValueError:
        return str(kind)


class CommandProcessor(BulkCommands):
    """Runs ``MxCommandRequest``s against a session and the shared plant values."""

    def __init__(self, tags: TagStore, stats: SimulatorStats, faults: Faults | None = None) -> None:
        self._tags = tags
        self._faults = faults if faults is not None else Faults()
        self._stats = stats
        self._handlers: dict[str, Callable[[Session, Any, pb.MxCommandReply], None]] = {
            "register": self._register,
            "unregister": self._unregister,
            "add_item": self._add_item,
            "add_item2": self._add_item2,
            "remove_item": self._remove_item,
            "advise": self._advise,
            "advise_supervisory": self._advise_supervisory,
            "unadvise": self._unadvise,
            "write": self._write,
            "write2": self._write2,
            "write_secured": self._write_secured,
            "write_secured2": self._write_secured2,
            "authenticate_user": self._authenticate_user,
            "drain_events": self._drain_events,
            "add_item_bulk": self._add_item_bulk,
            "advise_item_bulk": self._advise_item_bulk,
            "remove_item_bulk": self._remove_item_bulk,
            "unadvise_item_bulk": self._unadvise_item_bulk,
            "subscribe_bulk": self._subscribe_bulk,
            "unsubscribe_bulk": self._unsubscribe_bulk,
            "read_bulk": self._read_bulk,
            "write_bulk": self._write_bulk,
            "write2_bulk": self._write2_bulk,
            "write_secured_bulk": self._write_secured_bulk,
            "write_secured2_bulk": self._write_secured2_bulk,
        }

    def execute(self, session: Session, request: pb.MxCommandRequest) -> pb.MxCommandReply:
        """Run one command and build its reply."""
        command = request.command
        self._stats.invoke_calls[kind_name(command.kind)] += 1
        reply = pb.MxCommandReply(
            session_id=session.session_id, correlation_id=uuid.uuid4().hex, kind=command.kind
        )
        case = command.WhichOneof("payload")
        expected = PAYLOAD_OF_KIND.get(command.kind)
        if expected is None or case != expected:
            reply.protocol_status.code = pb.PROTOCOL_STATUS_CODE_INVALID_REQUEST
            reply.protocol_status.message = (
                f"command kind {kind_name(command.kind)} does not match payload {case or 'none'}"
            )
            return reply
        try:
            self._handlers[case](session, getattr(command, case), reply)
        except CommandFailure as failure:
            reply.ClearField("payload")
            reply.protocol_status.code = pb.PROTOCOL_STATUS_CODE_MXACCESS_FAILURE
            reply.protocol_status.message = failure.message
            reply.hresult = failure.hresult
            reply.statuses.append(failure.status)
            reply.diagnostic_message = failure.message
            return reply
        reply.protocol_status.code = pb.PROTOCOL_STATUS_CODE_OK
        return reply

    # ------------------------------------------------------------ single ops

    def _register(self, session: Session, cmd: pb.RegisterCommand, reply: pb.MxCommandReply) -> None:
        handle = session.new_server_handle()
        session.registrations[handle] = Registration(handle, cmd.client_name)
        reply.register.server_handle = handle

    def _unregister(self, session: Session, cmd: pb.UnregisterCommand, reply: pb.MxCommandReply) -> None:
        registration = self._registration(session, cmd.server_handle)
        for item in list(registration.items.values()):
            self._remove(session, item)
        del session.registrations[cmd.server_handle]

    def _add_item(self, session: Session, cmd: pb.AddItemCommand, reply: pb.MxCommandReply) -> None:
        reply.add_item.item_handle = self._new_item(
            session, cmd.server_handle, cmd.item_definition
        ).item_handle

    def _add_item2(self, session: Session, cmd: pb.AddItem2Command, reply: pb.MxCommandReply) -> None:
        item = self._new_item(session, cmd.server_handle, cmd.item_definition, cmd.item_context)
        reply.add_item.item_handle = item.item_handle

    def _remove_item(self, session: Session, cmd: pb.RemoveItemCommand, reply: pb.MxCommandReply) -> None:
        self._remove(session, self._item(session, cmd.server_handle, cmd.item_handle))

    def _advise(self, session: Session, cmd: pb.AdviseCommand, reply: pb.MxCommandReply) -> None:
        self._advise_item(self._item(session, cmd.server_handle, cmd.item_handle), supervisory=False)

    def _advise_supervisory(
        self, session: Session, cmd: pb.AdviseSupervisoryCommand, reply: pb.MxCommandReply
    ) -> None:
        self._advise_item(self._item(session, cmd.server_handle, cmd.item_handle), supervisory=True)

    def _unadvise(self, session: Session, cmd: pb.UnAdviseCommand, reply: pb.MxCommandReply) -> None:
        self._unadvise_item(self._item(session, cmd.server_handle, cmd.item_handle))

    def _authenticate_user(
        self, session: Session, cmd: pb.AuthenticateUserCommand, reply: pb.MxCommandReply
    ) -> None:
        self._registration(session, cmd.server_handle)
        user = users.authenticate(cmd.user_name, cmd.password)
        if user is None:
            raise CommandFailure.of(
                st.E_ACCESSDENIED,
                pb.MX_STATUS_CATEGORY_SECURITY_ERROR,
                st.DETAIL_AUTHENTICATION_FAILED,
                "authentication failed: unknown user or wrong password",
            )
        session.authenticated_users.add(user.user_id)
        reply.authenticate_user.user_id = user.user_id

    def _drain_events(self, session: Session, cmd: pb.DrainEventsCommand, reply: pb.MxCommandReply) -> None:
        reply.drain_events.SetInParent()
        reply.drain_events.events.extend(session.events.drain(cmd.max_events))

    # ---------------------------------------------------------------- writes

    def _write(self, session: Session, cmd: pb.WriteCommand, reply: pb.MxCommandReply) -> None:
        self._write_item(session, cmd.server_handle, cmd.item_handle, cmd.value, None)

    def _write2(self, session: Session, cmd: pb.Write2Command, reply: pb.MxCommandReply) -> None:
        stamp = cmd.timestamp_value if cmd.HasField("timestamp_value") else None
        self._write_item(session, cmd.server_handle, cmd.item_handle, cmd.value, stamp)

    def _write_secured(self, session: Session, cmd: pb.WriteSecuredCommand, reply: pb.MxCommandReply) -> None:
        self._write_item(
            session,
            cmd.server_handle,
            cmd.item_handle,
            cmd.value,
            None,
            secured=(cmd.current_user_id, cmd.verifier_user_id),
        )

    def _write_secured2(
        self, session: Session, cmd: pb.WriteSecured2Command, reply: pb.MxCommandReply
    ) -> None:
        stamp = cmd.timestamp_value if cmd.HasField("timestamp_value") else None
        self._write_item(
            session,
            cmd.server_handle,
            cmd.item_handle,
            cmd.value,
            stamp,
            secured=(cmd.current_user_id, cmd.verifier_user_id),
        )
