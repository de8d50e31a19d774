"""The bulk MXAccess commands of a simulated worker: item by item, in input order.

A failed item is a result with ``was_successful = false``; the command itself succeeds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from mxgateway.generated import mxaccess_gateway_pb2 as pb
from mxgateway.simulator import statuses as st
from mxgateway.simulator.command_items import CommandFailure, ItemCommands
from mxgateway.simulator.sessions import Item, Registration, Session
from mxgateway.simulator.tags import Sample
from mxgateway.simulator.values import attribute_mx_value, element_of, timestamp_from_ns

__all__ = ["BulkCommands"]


class BulkCommands(ItemCommands):
    """The ``*_bulk`` command handlers."""

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
