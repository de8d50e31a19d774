"""Tag-level access, what MXAccess itself lacks: read, write and subscribe by tag name.

``read`` gives one result per tag, ``write_tag`` and ``write_and_confirm`` resolve
the item handle and the attribute's type once, ``subscribe`` gives the data changes
of some tags. They share one server handle registered on first use, and survive a
lost session: when the gateway loses the session they continue on a new one
(``ClientOptions.recover_sessions``), re-adding and re-advising what they need.

Every handle they use comes from the tables of one epoch of the session (a
``Binding``), and the commands that use it are pinned to that epoch's session: a
handle looked up before a recovery can never reach the new session, where the
same number names another item.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from mxgateway._events.state import Binding, ConnectionState, SessionState
from mxgateway._model import display
from mxgateway._model.checks import checked
from mxgateway._model.results import ReadResult
from mxgateway._model.values import tag_value
from mxgateway._retry import Backoff
from mxgateway._session.commands import MxAccessCommands
from mxgateway._session.tag_table import TagTables
from mxgateway._transport.streams import wait_done
from mxgateway.errors import (
    MxAccessError,
    MxGatewaySessionLostError,
    MxGatewayTimeoutError,
    MxGatewayTlsError,
    MxGatewayUnavailableError,
    write_may_have_run,
)
from mxgateway.generated import mxaccess_gateway_pb2 as pb
from mxgateway.options import USE_CLIENT_DEFAULT, ClientOptions, Timeout

if TYPE_CHECKING:
    from mxgateway._events.pump import EventPump
    from mxgateway._model.events import WriteComplete
    from mxgateway._session.subscription import Subscription

__all__ = ["TagAccess"]

#: Extra deadline beyond a read's own MXAccess timeout.
_READ_DEADLINE_MARGIN_S = 5.0

TagBinding = Binding[TagTables]
#: States in which a stream brings every outcome the gateway sends.
_HEALTHY = (ConnectionState.CONNECTED, ConnectionState.RECOVERED)


class TagAccess(MxAccessCommands):
    """Read, write and subscribe by tag name on top of the session's commands."""

    _client_session_name: str
    _closed: bool
    _pump: EventPump
    _state: SessionState[TagTables]
    _setup_lock: asyncio.Lock

    # Provided by the session.
    @property
    def options(self) -> ClientOptions:
        """The options of the session's connection."""
        raise NotImplementedError

    @property
    def session_id(self) -> str:
        """The gateway's id of the session."""
        raise NotImplementedError

    def _pinned(self, binding: TagBinding) -> AbstractContextManager[None]:
        raise NotImplementedError

    def _binding(self) -> TagBinding:
        raise NotImplementedError

    async def _await_recovery(self, error: MxGatewaySessionLostError) -> None:
        raise NotImplementedError

    async def _ensure_open(self) -> None:
        raise NotImplementedError

    def _new_subscription(self, tags: list[str], supervisory: bool) -> Subscription:
        raise NotImplementedError

    # ------------------------------------------------------------------ handles

    async def _register_internal(self, client_name: str) -> int:
        # Not ``register()``: that marks the handle as the caller's own, which
        # the stale-handle check after a recovery must tell apart.
        request, command = self._request(pb.MX_COMMAND_KIND_REGISTER)
        command.register.client_name = client_name
        return (await self._run(request)).register.server_handle

    async def default_server_handle(self) -> int:
        """The server handle the tag conveniences use (registered on first use)."""
        await self._ensure_open()  # a lazy session's binding names its session only once open
        return await self._server_handle_of(self._binding())

    async def _server_handle_of(self, binding: TagBinding) -> int:
        """The tag-level server handle of ``binding``'s session (registered there on first use)."""
        tables = binding.tables
        handle = tables.server_handle
        if handle is not None:
            return handle
        async with self._setup_lock:
            if tables.server_handle is None:
                name = self._client_session_name or "mxgateway-python"
                with self._pinned(binding):
                    handle = await self._register_internal(name)
                    # After a recovery the new number may equal a dead handle a caller
                    # still holds: never use a number that could be mistaken for it.
                    skipped: list[int] = []
                    for _ in range(8):
                        if handle not in self._book.stale_servers:
                            break
                        skipped.append(handle)
                        handle = await self._register_internal(name)
                    for stale in skipped:
                        await self._unregister_quietly(binding.session_id, stale)
                tables.server_handle = handle
            return tables.server_handle

    async def _item_handle(self, binding: TagBinding, tag: str) -> int:
        tables = binding.tables
        handle = tables.items.get(tag)
        if handle is not None:
            return handle
        server = await self._server_handle_of(binding)
        async with self._setup_lock:
            handle = tables.items.get(tag)
            if handle is None:
                with self._pinned(binding):
                    handle = await self.add_item(server, tag)
                tables.items[tag] = handle
            return handle

    # ------------------------------------------------------------------ reading

    @checked
    async def read(
        self, tags: Sequence[str], *, wait: float | None = None, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> display.ResultList[ReadResult]:
        """Read tags: one ``ReadResult`` per tag, in order; a tag that fails has ``ok`` False.

        ``wait`` (seconds) bounds MXAccess's own wait for values (None: the gateway's
        default); ``timeout`` is the call's deadline (by default the client's, made
        long enough for ``wait``). Transient failures are retried
        (``ClientOptions.read_retries``, paced by ``ClientOptions.reconnect``), and a
        lost session is replaced first (``ClientOptions.recover_sessions``).
        """
        tag_list = [tags] if isinstance(tags, str) else list(tags)
        timeout_ms = int(wait * 1000) if wait else 0
        deadline = timeout
        if timeout is USE_CLIENT_DEFAULT and wait:
            default = self.options.default_timeout
            deadline = None if default is None else max(default, wait + _READ_DEADLINE_MARGIN_S)
        retries = self.options.read_retries
        backoff = Backoff(self.options.reconnect)
        attempt = 0
        await self._ensure_open()
        while True:
            binding = self._binding()
            try:
                server = await self._server_handle_of(binding)
                with self._pinned(binding):
                    results = await self.read_bulk(server, tag_list, timeout_ms=timeout_ms, timeout=deadline)
                break
            except MxGatewaySessionLostError as exc:
                if attempt > retries:
                    raise
                attempt += 1
                await self._await_recovery(exc)
            except MxGatewayUnavailableError as exc:
                if attempt >= retries or self._closed or isinstance(exc, MxGatewayTlsError):
                    raise
                attempt += 1
                await asyncio.sleep(backoff.next_delay())
        data_types = binding.tables.data_types
        by_tag = {r.tag: r for r in results}
        ordered: display.ResultList[ReadResult] = display.ResultList()
        for index, tag in enumerate(tag_list):
            result = results[index] if index < len(results) and results[index].tag == tag else by_tag.get(tag)
            if result is None:
                result = ReadResult(
                    pb.BulkReadResult(tag_address=tag, error_message="no result from the gateway")
                )
            elif result.ok:
                data_types[tag] = result.data_type
            ordered.append(result)
        return ordered

    async def _data_type(self, binding: TagBinding, tag: str) -> int:
        data_type = binding.tables.data_types.get(tag)
        if data_type is None:
            server = await self._server_handle_of(binding)
            with self._pinned(binding):
                (result,) = await self.read_bulk(server, [tag])
            result.raise_for_error()
            data_type = binding.tables.data_types[tag] = result.data_type
        return data_type

    # ------------------------------------------------------------------ writing

    async def _write_target(
        self, tag: str, value: Any, *, attach: bool = False
    ) -> tuple[TagBinding, int, int, int | None]:
        """The epoch, server handle, item handle and type for writing ``tag``, all of one session."""
        await self._ensure_open()
        binding = self._state.current
        item = await self._item_handle(binding, tag)
        data_type = None if isinstance(value, pb.MxValue) else await self._data_type(binding, tag)
        server = await self._server_handle_of(binding)
        if attach and not self._pump.attached_to(binding.epoch):
            await self._pump.ensure_attached()
        return binding, server, item, data_type

    @checked
    async def write_tag(
        self, tag: str, value: Any, *, user_id: int = 0, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> None:
        """Write a tag by name, converting ``value`` to the attribute's data type.

        The item handle and the type are looked up once and cached. Returns when the
        gateway accepted the write; ``write_and_confirm`` also waits for the outcome.
        A write refused because the session was lost never ran, so it is sent again
        on the replacement session.
        """
        for attempt in range(2):
            try:
                binding, server, item, data_type = await self._write_target(tag, value)
                converted = tag_value(tag, value, data_type)
                with self._pinned(binding):
                    await self.write(
                        server, item, converted, user_id=user_id, data_type=data_type, timeout=timeout
                    )
                return
            except MxGatewaySessionLostError as exc:
                if attempt:
                    raise
                await self._await_recovery(exc)

    @checked
    async def write_and_confirm(
        self,
        tag: str,
        value: Any,
        *,
        user_id: int = 0,
        outcome_timeout: float | None = 10.0,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> WriteComplete:
        """Write a tag by name and wait for its OnWriteComplete outcome.

        Returns the ``WriteComplete``; raises ``MxAccessError`` when the write failed,
        ``MxGatewayTimeoutError`` when no outcome arrived within ``outcome_timeout``
        seconds (None: wait as long as it takes; ``timeout`` is the write call's own
        deadline) and
        ``MxGatewaySessionLostError`` when the session was lost after the write was
        sent (its outcome is then unknown, and it is not sent again).
        """
        for attempt in range(2):
            try:
                binding, server, item, data_type = await self._write_target(tag, value, attach=True)
                converted = tag_value(tag, value, data_type)
                break
            except MxGatewaySessionLostError as exc:
                if attempt:
                    raise
                await self._await_recovery(exc)
        pump = self._pump
        session_id = binding.session_id
        with self._pinned(binding):
            request = self._write_request(server, item, converted, user_id, data_type)
        waiter = pump.fanout.expect_write(session_id, server, item)
        sent = False
        # Whether the outcome may still come after we stopped waiting: yes when the
        # caller gave up, or the stream broke meanwhile (a resume replays it); no
        # when a healthy stream brought nothing in ``outcome_timeout``.
        late = True
        reconnects = pump.reconnects
        try:
            try:
                await self._run(request, timeout, watched=True)
            except MxGatewaySessionLostError as exc:
                # Refused: it never ran, so sending it again is safe.
                pump.fanout.forget_write(session_id, server, item, waiter)
                await self._await_recovery(exc)
                return await self.write_and_confirm(
                    tag, value, user_id=user_id, outcome_timeout=outcome_timeout, timeout=timeout
                )
            except BaseException as exc:
                sent = write_may_have_run(exc)
                raise
            sent = True
            if not await wait_done(waiter, outcome_timeout):
                late = pump.reconnects != reconnects or pump.state not in _HEALTHY
                raise MxGatewayTimeoutError(
                    f"no write outcome for {tag} within {outcome_timeout:g} s", method="StreamEvents"
                )
            outcome = waiter.result()
        finally:
            if sent and late:
                # Accepted: its outcome may still come (late, or replayed after a
                # reconnect), so it keeps its place in the item's line.
                pump.fanout.unwatch_write(session_id, server, item, waiter)
            else:
                pump.fanout.forget_write(session_id, server, item, waiter)
        if not outcome.ok:
            failed = "; ".join(s.readable for s in outcome.statuses if s.is_failure)
            hresult = f"hresult 0x{outcome.hresult & 0xFFFFFFFF:08X}" if outcome.hresult else ""
            reason = ", ".join(p for p in (hresult, failed) if p) or "no reason given"
            raise MxAccessError(
                f"writing {tag} failed: {reason}",
                hresult=outcome.hresult,
                statuses=outcome.statuses,
                method="Invoke",
                reply=outcome.raw,
            )
        return outcome

    # ------------------------------------------------------------------ subscribing

    @checked
    def subscribe(self, tags: Sequence[str], *, supervisory: bool = False) -> Subscription:
        """Data changes of ``tags`` only: use ``async with session.subscribe([...]) as sub``.

        Entering registers, adds and advises as needed; leaving unsubscribes.
        """
        return self._new_subscription([tags] if isinstance(tags, str) else list(tags), supervisory)
