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

import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from mxgateway.generated import mxaccess_gateway_pb2 as pb
from mxgateway.simulator import statuses as st
from mxgateway.simulator import users
from mxgateway.simulator.faults import Faults
from mxgateway.simulator.galaxy import GalaxyAttribute
from mxgateway.simulator.sessions import Item, Registration, Session
from mxgateway.simulator.stats import SimulatorStats
from mxgateway.simulator.tags import Sample, TagStore
from mxgateway.simulator.values import (
    ValueTypeMismatch,
    attribute_mx_value,
    element_of,
    from_mx_value,
    timestamp_from_ns,
    timestamp_of,
)

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


class CommandFailure(Exception):
    """An MXAccess call that failed: its HRESULT and status."""

    def __init__(self, hresult: int, status: pb.MxStatusProxy) -> None:
        super().__init__(status.diagnostic_text)
        self.hresult = hresult
        self.status = status
        self.message = status.diagnostic_text


def _invalid_handle(text: str) -> CommandFailure:
    return CommandFailure(
        st.E_INVALIDARG,
        st.error_status(pb.MX_STATUS_CATEGORY_CONFIGURATION_ERROR, st.DETAIL_INVALID_HANDLE, text),
    )


def _security_refusal(detail: int, text: str) -> pb.MxStatusProxy:
    return st.error_status(
        pb.MX_STATUS_CATEGORY_SECURITY_ERROR,
        detail,
        text,
        detected_by=pb.MX_STATUS_SOURCE_RESPONDING_AUTOMATION_OBJECT,
    )


class CommandProcessor:
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

    # ----------------------------------------------------------------- lookups

    @staticmethod
    def _registration(session: Session, server_handle: int) -> Registration:
        registration = session.registrations.get(server_handle)
        if registration is None:
            raise _invalid_handle(f"unknown server handle {server_handle}")
        return registration

    def _item(self, session: Session, server_handle: int, item_handle: int) -> Item:
        item = self._registration(session, server_handle).items.get(item_handle)
        if item is None:
            raise _invalid_handle(f"unknown item handle {item_handle}")
        return item

    def _resolve(self, reference: str) -> tuple[GalaxyAttribute, int | None]:
        found = self._tags.galaxy.find_attribute(reference) if reference.strip() else None
        if found is None:
            raise CommandFailure(
                st.E_FAIL,
                st.error_status(
                    pb.MX_STATUS_CATEGORY_CONFIGURATION_ERROR,
                    st.DETAIL_ITEM_NOT_FOUND,
                    f"unknown tag {reference!r}",
                ),
            )
        return found

    # ------------------------------------------------------- item life cycle

    def _new_item(self, session: Session, server_handle: int, reference: str, context: str = "") -> Item:
        registration = self._registration(session, server_handle)
        attribute, index = self._resolve(reference)
        item = Item(session, server_handle, session.new_item_handle(), reference, attribute, index, context)
        registration.items[item.item_handle] = item
        session.items[item.item_handle] = item
        return item

    def _advise_item(self, item: Item, supervisory: bool) -> None:
        item.supervisory = supervisory
        if item.advised:
            return
        item.advised = True
        item.last = None
        # The current value comes first, as an ordinary data change.
        item.on_sample(self._tags.watch(item.attribute, item))

    def _unadvise_item(self, item: Item) -> None:
        if item.advised:
            self._tags.unwatch(item.attribute, item)
            item.advised = False

    def _remove(self, session: Session, item: Item) -> None:
        self._unadvise_item(item)
        registration = session.registrations.get(item.server_handle)
        if registration is not None:
            registration.items.pop(item.item_handle, None)
        session.items.pop(item.item_handle, None)

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
            raise CommandFailure(
                st.E_ACCESSDENIED,
                st.error_status(
                    pb.MX_STATUS_CATEGORY_SECURITY_ERROR,
                    st.DETAIL_AUTHENTICATION_FAILED,
                    "authentication failed: unknown user or wrong password",
                ),
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

    def _write_item(
        self,
        session: Session,
        server_handle: int,
        item_handle: int,
        mx_value: pb.MxValue,
        mx_timestamp: pb.MxValue | None,
        *,
        secured: tuple[int, int] | None = None,
    ) -> None:
        """Check and queue one write; the outcome is published as ON_WRITE_COMPLETE."""
        item = self._item(session, server_handle, item_handle)
        try:
            value = from_mx_value(mx_value, item.attribute, item.index)
            when = timestamp_of(mx_timestamp) if mx_timestamp is not None else None
        except ValueTypeMismatch as exc:
            raise CommandFailure(
                st.DISP_E_TYPEMISMATCH,
                st.error_status(pb.MX_STATUS_CATEGORY_CONFIGURATION_ERROR, st.DETAIL_TYPE_MISMATCH, str(exc)),
            ) from exc
        refusal = self._write_refusal(session, item.attribute, secured)
        event = pb.MxEvent(
            family=pb.MX_EVENT_FAMILY_ON_WRITE_COMPLETE,
            server_handle=server_handle,
            item_handle=item_handle,
            statuses=[refusal or st.ok_status()],
            hresult=st.E_ACCESSDENIED if refusal else st.S_OK,
            on_write_complete=pb.OnWriteCompleteEvent(),
        )
        if not self._faults.withhold_write_outcomes:
            session.events.publish(event)
        if refusal is None:
            timestamp_ns = int(when.timestamp() * 1e9) if when is not None else time.time_ns()
            self._tags.write(item.attribute, item.index, value, timestamp_ns)

    @staticmethod
    def _write_refusal(
        session: Session, attribute: GalaxyAttribute, secured: tuple[int, int] | None
    ) -> pb.MxStatusProxy | None:
        reference = attribute.full_tag_reference
        if not attribute.is_writable:
            return _security_refusal(st.DETAIL_WRITE_REFUSED, f"{reference} is view-only")
        if secured is None:
            if attribute.is_secured:
                return _security_refusal(
                    st.DETAIL_SECURED_WRITE_REQUIRED, f"{reference} is secured: use WriteSecured"
                )
            return None
        current, verifier = secured
        if current not in session.authenticated_users:
            return _security_refusal(
                st.DETAIL_NOT_AUTHENTICATED, f"user id {current} is not authenticated in this session"
            )
        if attribute.needs_verifier and (verifier == current or verifier not in session.authenticated_users):
            return _security_refusal(
                st.DETAIL_VERIFIER_REQUIRED,
                f"{reference} needs a verifier: another authenticated user",
            )
        return None

    # ------------------------------------------------------------------ bulk

    def _subscribe_results(
        self,
        reply: pb.MxCommandReply,
        server_handle: int,
        keys: list[str] | list[int],
        step: Callable[[Any], Item | None],
    ) -> None:
        results = reply.bulk_subscribe
        results.SetInParent()
        for key in keys:
            result = results.results.add(server_handle=server_handle)
            if isinstance(key, str):
                result.tag_address = key
            else:
                result.item_handle = key
            try:
                item = step(key)
            except CommandFailure as failure:
                result.was_successful = False
                result.error_message = failure.message
                continue
            result.was_successful = True
            if item is not None:
                result.item_handle = item.item_handle
                result.tag_address = item.reference

    def _add_item_bulk(self, session: Session, cmd: pb.AddItemBulkCommand, reply: pb.MxCommandReply) -> None:
        self._subscribe_results(
            reply,
            cmd.server_handle,
            list(cmd.tag_addresses),
            lambda tag: self._new_item(session, cmd.server_handle, tag),
        )

    def _advise_item_bulk(
        self, session: Session, cmd: pb.AdviseItemBulkCommand, reply: pb.MxCommandReply
    ) -> None:
        def advise(handle: int) -> Item:
            item = self._item(session, cmd.server_handle, handle)
            self._advise_item(item, supervisory=False)
            return item

        self._subscribe_results(reply, cmd.server_handle, list(cmd.item_handles), advise)

    def _remove_item_bulk(
        self, session: Session, cmd: pb.RemoveItemBulkCommand, reply: pb.MxCommandReply
    ) -> None:
        def remove(handle: int) -> Item:
            item = self._item(session, cmd.server_handle, handle)
            self._remove(session, item)
            return item

        self._subscribe_results(reply, cmd.server_handle, list(cmd.item_handles), remove)

    def _unadvise_item_bulk(
        self, session: Session, cmd: pb.UnAdviseItemBulkCommand, reply: pb.MxCommandReply
    ) -> None:
        def unadvise(handle: int) -> Item:
            item = self._item(session, cmd.server_handle, handle)
            self._unadvise_item(item)
            return item

        self._subscribe_results(reply, cmd.server_handle, list(cmd.item_handles), unadvise)

    def _subscribe_bulk(
        self, session: Session, cmd: pb.SubscribeBulkCommand, reply: pb.MxCommandReply
    ) -> None:
        def subscribe(tag: str) -> Item:
            item = self._new_item(session, cmd.server_handle, tag)
            self._advise_item(item, supervisory=cmd.supervisory)
            return item

        self._subscribe_results(reply, cmd.server_handle, list(cmd.tag_addresses), subscribe)

    def _unsubscribe_bulk(
        self, session: Session, cmd: pb.UnsubscribeBulkCommand, reply: pb.MxCommandReply
    ) -> None:
        def unsubscribe(handle: int) -> Item:
            item = self._item(session, cmd.server_handle, handle)
            self._remove(session, item)
            return item

        self._subscribe_results(reply, cmd.server_handle, list(cmd.item_handles), unsubscribe)

    def _read_bulk(self, session: Session, cmd: pb.ReadBulkCommand, reply: pb.MxCommandReply) -> None:
        results = reply.bulk_read
        results.SetInParent()
        for tag in cmd.tag_addresses:
            result = results.results.add(tag_address=tag)
            try:
                registration = self._registration(session, cmd.server_handle)
                attribute, index = self._resolve(tag)
            except CommandFailure as failure:
                result.was_successful = False
                result.statuses.append(failure.status)
                result.error_message = failure.message
                continue
            item = _item_for(registration, tag)
            if item is not None:
                result.item_handle = item.item_handle
            if item is not None and item.advised and item.last is not None:
                cached, was_cached = item.last, True
            else:
                sample = self._tags.sample(attribute)
                cached, was_cached = Sample(element_of(sample.value, index), sample.timestamp_ns), False
            result.was_successful = True
            result.was_cached = was_cached
            result.value.CopyFrom(attribute_mx_value(attribute, cached.value, index))
            result.quality = cached.quality
            result.source_timestamp.CopyFrom(timestamp_from_ns(cached.timestamp_ns))
            result.statuses.append(st.ok_status())

    def _bulk_write(
        self,
        session: Session,
        reply: pb.MxCommandReply,
        server_handle: int,
        entries: Sequence[tuple[int, pb.MxValue, pb.MxValue | None, tuple[int, int] | None]],
    ) -> None:
        results = reply.bulk_write
        results.SetInParent()
        for item_handle, value, stamp, secured in entries:
            result = results.results.add(item_handle=item_handle)
            try:
                self._write_item(session, server_handle, item_handle, value, stamp, secured=secured)
            except CommandFailure as failure:
                result.was_successful = False
                result.hresult = failure.hresult
                result.statuses.append(failure.status)
                result.error_message = failure.message
                continue
            result.was_successful = True

    def _write_bulk(self, session: Session, cmd: pb.WriteBulkCommand, reply: pb.MxCommandReply) -> None:
        entries = [(e.item_handle, e.value, None, None) for e in cmd.entries]
        self._bulk_write(session, reply, cmd.server_handle, entries)

    def _write2_bulk(self, session: Session, cmd: pb.Write2BulkCommand, reply: pb.MxCommandReply) -> None:
        entries = [
            (e.item_handle, e.value, e.timestamp_value if e.HasField("timestamp_value") else None, None)
            for e in cmd.entries
        ]
        self._bulk_write(session, reply, cmd.server_handle, entries)

    def _write_secured_bulk(
        self, session: Session, cmd: pb.WriteSecuredBulkCommand, reply: pb.MxCommandReply
    ) -> None:
        entries = [
            (e.item_handle, e.value, None, (e.current_user_id, e.verifier_user_id)) for e in cmd.entries
        ]
        self._bulk_write(session, reply, cmd.server_handle, entries)

    def _write_secured2_bulk(
        self, session: Session, cmd: pb.WriteSecured2BulkCommand, reply: pb.MxCommandReply
    ) -> None:
        entries = [
            (
                e.item_handle,
                e.value,
                e.timestamp_value if e.HasField("timestamp_value") else None,
                (e.current_user_id, e.verifier_user_id),
            )
            for e in cmd.entries
        ]
        self._bulk_write(session, reply, cmd.server_handle, entries)


def _item_for(registration: Registration, reference: str) -> Item | None:
    """The registration's item on ``reference``, preferring an advised one."""
    wanted = reference.strip().lower()
    matches = [i for i in registration.items.values() if i.reference.strip().lower() == wanted]
    advised = [i for i in matches if i.advised]
    chosen = advised or matches
    return chosen[0] if chosen else None
