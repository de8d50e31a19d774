"""Every MXAccess command as a method of a session, with the handles MXAccess uses.

``register`` gives a server handle, ``add_item`` an item handle. Non-raw methods
raise ``MxAccessError`` (keeping the reply) when MXAccess reports a failure; bulk
methods report per-item failures in their results instead, as a ``ResultSequence``
that builds each typed result when it is first looked at. ``Session`` gets these
methods from ``MxAccessCommands``, which needs only its request plumbing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mxgateway._model.checks import checked
from mxgateway._model.results import (
    ItemResult,
    ReadResult,
    WriteEntry,
    WriteResult,
    fill_time,
    fill_value,
    item_results,
    write_results,
)
from mxgateway._model.sequences import ResultSequence
from mxgateway._session.tag_table import HandleBook
from mxgateway.errors import MxGatewayError
from mxgateway.generated import mxaccess_gateway_pb2 as pb
from mxgateway.options import USE_CLIENT_DEFAULT, Timeout

if TYPE_CHECKING:
    # The event types load with the event machinery, not with the commands.
    from mxgateway._model.events import Event

__all__ = ["MxAccessCommands"]


class MxAccessCommands:
    """The MXAccess commands; the session supplies the request plumbing below."""

    @property
    def _session_id(self) -> str:
        raise NotImplementedError

    def _request(self, kind: int) -> tuple[pb.MxCommandRequest, pb.MxCommand]:
        raise NotImplementedError

    async def _call(self, request: pb.MxCommandRequest, timeout: Timeout) -> pb.MxCommandReply:
        raise NotImplementedError

    async def _run(
        self, request: pb.MxCommandRequest, timeout: Timeout = USE_CLIENT_DEFAULT, *, watched: bool = False
    ) -> pb.MxCommandReply:
        raise NotImplementedError

    #: Keeps each command's handles in the tables of the session it was sent to.
    _book: HandleBook

    @checked
    async def invoke(
        self, command: pb.MxCommand, *, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> pb.MxCommandReply:
        """Run any command; raises ``MxAccessError`` when MXAccess reports a failure.

        Bulk commands that carry their per-item results are not failures as a whole.
        """
        request = pb.MxCommandRequest(session_id=self._session_id, command=command)
        return await self._run(request, timeout)

    @checked
    async def invoke_raw(
        self, command: pb.MxCommand, *, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> pb.MxCommandReply:
        """Run any command and return the reply as is (gateway failures still raise)."""
        request = pb.MxCommandRequest(session_id=self._session_id, command=command)
        return await self._call(request, timeout)

    # ------------------------------------------------------------------ commands

    @checked
    async def register(self, client_name: str, *, timeout: Timeout = USE_CLIENT_DEFAULT) -> int:
        """Register with MXAccess; returns the server handle."""
        request, command = self._request(pb.MX_COMMAND_KIND_REGISTER)
        command.register.client_name = client_name
        handle = (await self._run(request, timeout)).register.server_handle
        # A replacement session numbers its handles afresh: a number the caller may still
        # hold from the lost session is never handed out again, or its old item handles
        # would pass for this session's.
        skipped: list[int] = []
        for _ in range(8):
            if handle not in self._book.stale_servers:
                break
            skipped.append(handle)
            handle = (await self._run(request, timeout)).register.server_handle
        for stale in skipped:
            await self._unregister_quietly(request.session_id, stale)
        self._book.note_registered(request.session_id, handle)
        return handle

    async def _unregister_quietly(self, session_id: str, server_handle: int) -> None:
        """Unregister a handle registered only to be skipped (best effort)."""
        request, command = self._request(pb.MX_COMMAND_KIND_UNREGISTER)
        request.session_id = session_id
        command.unregister.server_handle = server_handle
        try:
            await self._run(request)
        except MxGatewayError:
            return

    @checked
    async def unregister(self, server_handle: int, *, timeout: Timeout = USE_CLIENT_DEFAULT) -> None:
        """Unregister a server handle (its items go with it)."""
        request, command = self._request(pb.MX_COMMAND_KIND_UNREGISTER)
        command.unregister.server_handle = server_handle
        await self._run(request, timeout)
        self._book.forget_server(request.session_id, server_handle)

    @checked
    async def add_item(self, server_handle: int, tag: str, *, timeout: Timeout = USE_CLIENT_DEFAULT) -> int:
        """Add an item (a tag reference such as ``Tank_001.Level``); returns its item handle."""
        request, command = self._request(pb.MX_COMMAND_KIND_ADD_ITEM)
        payload = command.add_item
        payload.server_handle = server_handle
        payload.item_definition = tag
        handle = (await self._run(request, timeout)).add_item.item_handle
        self._book.remember_item(request.session_id, server_handle, handle, tag)
        return handle

    @checked
    async def add_item2(
        self,
        server_handle: int,
        tag: str,
        item_context: str,
        *,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> int:
        """AddItem2: add an item with an item context; returns its item handle."""
        request, command = self._request(pb.MX_COMMAND_KIND_ADD_ITEM2)
        payload = command.add_item2
        payload.server_handle = server_handle
        payload.item_definition = tag
        payload.item_context = item_context
        handle = (await self._run(request, timeout)).add_item.item_handle
        self._book.remember_item(request.session_id, server_handle, handle, tag)
        return handle

    @checked
    async def remove_item(
        self, server_handle: int, item_handle: int, *, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> None:
        """Remove an item."""
        request, command = self._request(pb.MX_COMMAND_KIND_REMOVE_ITEM)
        command.remove_item.server_handle = server_handle
        command.remove_item.item_handle = item_handle
        await self._run(request, timeout)
        self._book.forget_item(request.session_id, server_handle, item_handle)

    @checked
    async def advise(
        self, server_handle: int, item_handle: int, *, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> None:
        """Advise an item: its current value, then its changes, arrive as DataChange events."""
        request, command = self._request(pb.MX_COMMAND_KIND_ADVISE)
        command.advise.server_handle = server_handle
        command.advise.item_handle = item_handle
        await self._run(request, timeout)

    @checked
    async def advise_supervisory(
        self, server_handle: int, item_handle: int, *, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> None:
        """AdviseSupervisory: advise an item as a supervisory client."""
        request, command = self._request(pb.MX_COMMAND_KIND_ADVISE_SUPERVISORY)
        command.advise_supervisory.server_handle = server_handle
        command.advise_supervisory.item_handle = item_handle
        await self._run(request, timeout)

    @checked
    async def unadvise(
        self, server_handle: int, item_handle: int, *, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> None:
        """Stop the data changes of an item."""
        request, command = self._request(pb.MX_COMMAND_KIND_UNADVISE)
        command.unadvise.server_handle = server_handle
        command.unadvise.item_handle = item_handle
        await self._run(request, timeout)

    @checked
    async def write(
        self,
        server_handle: int,
        item_handle: int,
        value: Any,
        *,
        user_id: int = 0,
        data_type: int | None = None,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> None:
        """Write a value (Python, or a ready ``MxValue``); the outcome arrives as WriteComplete."""
        await self._run(self._write_request(server_handle, item_handle, value, user_id, data_type), timeout)

    def _write_request(
        self, server_handle: int, item_handle: int, value: Any, user_id: int, data_type: int | None
    ) -> pb.MxCommandRequest:
        request, command = self._request(pb.MX_COMMAND_KIND_WRITE)
        payload = command.write
        payload.server_handle = server_handle
        payload.item_handle = item_handle
        payload.user_id = user_id
        fill_value(payload.value, value, data_type)
        return request

    @checked
    async def write2(
        self,
        server_handle: int,
        item_handle: int,
        value: Any,
        timestamp: dt.datetime,
        *,
        user_id: int = 0,
        data_type: int | None = None,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> None:
        """Write2: a write that carries the value's timestamp."""
        request, command = self._request(pb.MX_COMMAND_KIND_WRITE2)
        payload = command.write2
        payload.server_handle = server_handle
        payload.item_handle = item_handle
        payload.user_id = user_id
        fill_value(payload.value, value, data_type)
        fill_time(payload.timestamp_value, timestamp)
        await self._run(request, timeout)

    @checked
    async def write_secured(
        self,
        server_handle: int,
        item_handle: int,
        value: Any,
        *,
        current_user_id: int,
        verifier_user_id: int = 0,
        data_type: int | None = None,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> None:
        """WriteSecured: a write signed by an authenticated user (and a verifier)."""
        request, command = self._request(pb.MX_COMMAND_KIND_WRITE_SECURED)
        payload = command.write_secured
        payload.server_handle = server_handle
        payload.item_handle = item_handle
        payload.current_user_id = current_user_id
        payload.verifier_user_id = verifier_user_id
        fill_value(payload.value, value, data_type)
        await self._run(request, timeout)

    @checked
    async def write_secured2(
        self,
        server_handle: int,
        item_handle: int,
        value: Any,
        timestamp: dt.datetime,
        *,
        current_user_id: int,
        verifier_user_id: int = 0,
        data_type: int | None = None,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> None:
        """WriteSecured2: a secured write that carries the value's timestamp."""
        request, command = self._request(pb.MX_COMMAND_KIND_WRITE_SECURED2)
        payload = command.write_secured2
        payload.server_handle = server_handle
        payload.item_handle = item_handle
        payload.current_user_id = current_user_id
        payload.verifier_user_id = verifier_user_id
        fill_value(payload.value, value, data_type)
        fill_time(payload.timestamp_value, timestamp)
        await self._run(request, timeout)

    @checked
    async def authenticate_user(
        self, server_handle: int, user_name: str, password: str, *, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> int:
        """Authenticate a user for secured writes; returns the user id."""
        request, command = self._request(pb.MX_COMMAND_KIND_AUTHENTICATE_USER)
        payload = command.authenticate_user
        payload.server_handle = server_handle
        payload.user_name = user_name
        payload.password = password
        return (await self._run(request, timeout)).authenticate_user.user_id

    @checked
    async def drain_events(
        self, max_events: int = 0, *, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> list[Event]:
        """Events not drained before, oldest first, without a stream (0 = all retained)."""
        request, command = self._request(pb.MX_COMMAND_KIND_DRAIN_EVENTS)
        command.drain_events.max_events = max_events
        reply = await self._run(request, timeout)
        tags = self._book.tag_names(request.session_id)
        from mxgateway._model.events import event_from_proto

        return [event_from_proto(e, tags) for e in reply.drain_events.events]

    # ------------------------------------------------------------------ bulk commands

    async def _bulk_items(self, request: pb.MxCommandRequest, timeout: Timeout) -> ResultSequence[ItemResult]:
        return item_results(await self._run(request, timeout))

    async def _bulk_added(
        self, request: pb.MxCommandRequest, timeout: Timeout, server_handle: int, tags: Sequence[str]
    ) -> ResultSequence[ItemResult]:
        """Run a bulk command that adds items, and remember their tags from the raw results."""
        # The reply's own repeated field, not a list of it: each pass makes short-lived
        # message objects instead of holding one per tag for as long as the results live.
        raws = (await self._run(request, timeout)).bulk_subscribe.results
        self._book.remember(request.session_id, server_handle, tags, raws)
        return ResultSequence(raws, ItemResult)

    @checked
    async def add_item_bulk(
        self, server_handle: int, tags: Sequence[str], *, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> ResultSequence[ItemResult]:
        """Add many items; one result per tag, in order."""
        request, command = self._request(pb.MX_COMMAND_KIND_ADD_ITEM_BULK)
        command.add_item_bulk.server_handle = server_handle
        command.add_item_bulk.tag_addresses.extend(tags)
        return await self._bulk_added(request, timeout, server_handle, tags)

    @checked
    async def advise_item_bulk(
        self, server_handle: int, item_handles: Sequence[int], *, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> ResultSequence[ItemResult]:
        """Advise many items; one result per handle, in order."""
        request, command = self._request(pb.MX_COMMAND_KIND_ADVISE_ITEM_BULK)
        command.advise_item_bulk.server_handle = server_handle
        command.advise_item_bulk.item_handles.extend(item_handles)
        return await self._bulk_items(request, timeout)

    @checked
    async def remove_item_bulk(
        self, server_handle: int, item_handles: Sequence[int], *, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> ResultSequence[ItemResult]:
        """Remove many items; one result per handle, in order."""
        request, command = self._request(pb.MX_COMMAND_KIND_REMOVE_ITEM_BULK)
        command.remove_item_bulk.server_handle = server_handle
        command.remove_item_bulk.item_handles.extend(item_handles)
        results = await self._bulk_items(request, timeout)
        for handle in item_handles:
            self._book.forget_item(request.session_id, server_handle, handle)
        return results

    @checked
    async def unadvise_item_bulk(
        self, server_handle: int, item_handles: Sequence[int], *, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> ResultSequence[ItemResult]:
        """Unadvise many items; one result per handle, in order."""
        request, command = self._request(pb.MX_COMMAND_KIND_UNADVISE_ITEM_BULK)
        command.unadvise_item_bulk.server_handle = server_handle
        command.unadvise_item_bulk.item_handles.extend(item_handles)
        return await self._bulk_items(request, timeout)

    @checked
    async def subscribe_bulk(
        self,
        server_handle: int,
        tags: Sequence[str],
        *,
        supervisory: bool = False,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> ResultSequence[ItemResult]:
        """Add and advise many tags in one command; one result per tag, in order."""
        request, command = self._request(pb.MX_COMMAND_KIND_SUBSCRIBE_BULK)
        payload = command.subscribe_bulk
        payload.server_handle = server_handle
        payload.tag_addresses.extend(tags)
        payload.supervisory = supervisory
        return await self._bulk_added(request, timeout, server_handle, tags)

    @checked
    async def unsubscribe_bulk(
        self, server_handle: int, item_handles: Sequence[int], *, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> ResultSequence[ItemResult]:
        """Unadvise and remove many items in one command; one result per handle."""
        request, command = self._request(pb.MX_COMMAND_KIND_UNSUBSCRIBE_BULK)
        command.unsubscribe_bulk.server_handle = server_handle
        command.unsubscribe_bulk.item_handles.extend(item_handles)
        results = await self._bulk_items(request, timeout)
        for handle in item_handles:
            self._book.forget_item(request.session_id, server_handle, handle)
        return results

    @checked
    async def read_bulk(
        self,
        server_handle: int,
        tags: Sequence[str],
        *,
        timeout_ms: int = 0,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> ResultSequence[ReadResult]:
        """Read many tags (cached value when advised, else a snapshot); one result per tag.

        ``timeout_ms`` is MXAccess's own wait (0 = the gateway default); ``timeout``
        the call's deadline.
        """
        request, command = self._request(pb.MX_COMMAND_KIND_READ_BULK)
        payload = command.read_bulk
        payload.server_handle = server_handle
        payload.tag_addresses.extend(tags)
        payload.timeout_ms = timeout_ms
        reply = await self._run(request, timeout)
        return ResultSequence(reply.bulk_read.results, ReadResult)

    async def _bulk_write(
        self, kind: int, server_handle: int, entries: Sequence[WriteEntry], timeout: Timeout
    ) -> list[WriteResult]:
        request, command = self._request(kind)
        if kind == pb.MX_COMMAND_KIND_WRITE_BULK:
            plain = command.write_bulk
            plain.server_handle = server_handle
            for entry in entries:
                item = plain.entries.add(item_handle=entry.item_handle, user_id=entry.user_id)
                fill_value(item.value, entry.value, entry.data_type)
        elif kind == pb.MX_COMMAND_KIND_WRITE2_BULK:
            timed = command.write2_bulk
            timed.server_handle = server_handle
            for entry in entries:
                item2 = timed.entries.add(item_handle=entry.item_handle, user_id=entry.user_id)
                fill_value(item2.value, entry.value, entry.data_type)
                fill_time(item2.timestamp_value, entry.timestamp)
        elif kind == pb.MX_COMMAND_KIND_WRITE_SECURED_BULK:
            secured = command.write_secured_bulk
            secured.server_handle = server_handle
            for entry in entries:
                item3 = secured.entries.add(
                    item_handle=entry.item_handle,
                    current_user_id=entry.current_user_id,
                    verifier_user_id=entry.verifier_user_id,
                )
                fill_value(item3.value, entry.value, entry.data_type)
        else:
            secured2 = command.write_secured2_bulk
            secured2.server_handle = server_handle
            for entry in entries:
                item4 = secured2.entries.add(
                    item_handle=entry.item_handle,
                    current_user_id=entry.current_user_id,
                    verifier_user_id=entry.verifier_user_id,
                )
                fill_value(item4.value, entry.value, entry.data_type)
                fill_time(item4.timestamp_value, entry.timestamp)
        return write_results(await self._run(request, timeout))

    @checked
    async def write_bulk(
        self, server_handle: int, entries: Sequence[WriteEntry], *, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> list[WriteResult]:
        """Write many items; one result per entry, in order."""
        return await self._bulk_write(pb.MX_COMMAND_KIND_WRITE_BULK, server_handle, entries, timeout)

    @checked
    async def write2_bulk(
        self, server_handle: int, entries: Sequence[WriteEntry], *, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> list[WriteResult]:
        """Write2 for many items (each entry needs ``timestamp``)."""
        return await self._bulk_write(pb.MX_COMMAND_KIND_WRITE2_BULK, server_handle, entries, timeout)

    @checked
    async def write_secured_bulk(
        self, server_handle: int, entries: Sequence[WriteEntry], *, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> list[WriteResult]:
        """WriteSecured for many items (each entry needs ``current_user_id``)."""
        return await self._bulk_write(pb.MX_COMMAND_KIND_WRITE_SECURED_BULK, server_handle, entries, timeout)

    @checked
    async def write_secured2_bulk(
        self, server_handle: int, entries: Sequence[WriteEntry], *, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> list[WriteResult]:
        """WriteSecured2 for many items (each entry needs ``timestamp`` and ``current_user_id``)."""
        return await self._bulk_write(pb.MX_COMMAND_KIND_WRITE_SECURED2_BULK, server_handle, entries, timeout)
