"""What a simulated worker's commands act on: handle lookups, an item's life cycle and checked writes.

``ItemCommands`` holds the steps the single and the bulk commands share; a
failing step raises ``CommandFailure``, which becomes the reply's (or the bulk
item's) MXAccess failure.
"""

from __future__ import annotations

from mxgateway.generated import mxaccess_gateway_pb2 as pb
from mxgateway.simulator import statuses as st
from mxgateway.simulator.faults import Faults
from mxgateway.simulator.galaxy import GalaxyAttribute
from mxgateway.simulator.sessions import Item, Registration, Session
from mxgateway.simulator.tags import TagStore
from mxgateway.simulator.values import ValueTypeMismatch, from_mx_value, timestamp_of

__all__ = ["CommandFailure", "ItemCommands"]


class CommandFailure(Exception):
    """An MXAccess call that failed: its HRESULT and status."""

    def __init__(self, hresult: int, status: pb.MxStatusProxy) -> None:
        super().__init__(status.diagnostic_text)
        self.hresult = hresult
        self.status = status
        self.message = status.diagnostic_text

    @classmethod
    def of(
        cls, hresult: int, category: pb.MxStatusCategory.ValueType, detail: int, text: str
    ) -> CommandFailure:
        """A failure whose one status has ``category``, ``detail`` and ``text``."""
        return cls(hresult, st.error_status(category, detail, text))


def _invalid_handle(text: str) -> CommandFailure:
    return CommandFailure.of(
        st.E_INVALIDARG, pb.MX_STATUS_CATEGORY_CONFIGURATION_ERROR, st.DETAIL_INVALID_HANDLE, text
    )


def _security_refusal(detail: int, text: str) -> pb.MxStatusProxy:
    return st.error_status(
        pb.MX_STATUS_CATEGORY_SECURITY_ERROR,
        detail,
        text,
        detected_by=pb.MX_STATUS_SOURCE_RESPONDING_AUTOMATION_OBJECT,
    )


class ItemCommands:
    """The lookups and item steps of the command processor, over the shared plant values."""

    _tags: TagStore
    _faults: Faults

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
            raise CommandFailure.of(
                st.E_FAIL,
                pb.MX_STATUS_CATEGORY_CONFIGURATION_ERROR,
                st.DETAIL_ITEM_NOT_FOUND,
                f"unknown tag {reference!r}",
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
            raise CommandFailure.of(
                st.DISP_E_TYPEMISMATCH,
                pb.MX_STATUS_CATEGORY_CONFIGURATION_ERROR,
                st.DETAIL_TYPE_MISMATCH,
                str(exc),
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
            timestamp_ns = int(when.timestamp() * 1e9) if when is not None else None
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
