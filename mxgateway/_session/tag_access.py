"""Tag-level access, what MXAccess itself lacks: read, write and subscribe by tag name.

``read`` gives one result per tag, ``write_tag`` and ``write_and_confirm`` resolve
the item handle and the attribute's type once, ``subscribe`` gives the data changes
of some tags. They share one server handle registered on first use, and survive a
lost session: when the gateway loses the session they continue on a new one
(``ClientOptions.recover_sessions``), re-adding and re-advising what they need.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mxgateway._model import display
from mxgateway._model.checks import checked
from mxgateway._model.results import ReadResult
from mxgateway._model.values import tag_value
from mxgateway._session.commands import MxAccessCommands
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


class TagAccess(MxAccessCommands):
    """Read, write and subscribe by tag name on top of the session's commands."""

    _client_session_name: str
    _closed: bool
    _pump: EventPump
    _server_handle: int | None
    _handles: dict[str, int]
    _data_types: dict[str, int]
    _setup_lock: asyncio.Lock

    # Provided by the session.
    @property
    def options(self) -> ClientOptions:
        """The options of the session's connection."""
        raise NotImplementedError

    @property
    def closed(self) -> bool:
        """True once the session was closed here."""
        raise NotImplementedError

    @property
    def session_id(self) -> str:
        """The gateway's id of the session."""
        raise NotImplementedError

    async def _await_recovery(self, error: MxGatewaySessionLostError) -> None:
        raise NotImplementedError

    def _stale(self, server_handle: int) -> bool:
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
        handle = self._server_handle
        if handle is not None:
            return handle
        async with self._setup_lock:
            if self._server_handle is None:
                name = self._client_session_name or "mxgateway-python"
                handle = await self._register_internal(name)
                # After a recovery the new number may equal a dead handle a caller
                # still holds: never use a number that could be mistaken for it.
                for _ in range(8):
                    if not self._stale(handle):
                        break
                    handle = await self._register_internal(name)
                self._server_handle = handle
            return self._server_handle

    async def _item_handle(self, tag: str) -> int:
        handle = self._handles.get(tag)
        if handle is not None:
            return handle
        server = await self.default_server_handle()
        async with self._setup_lock:
            handle = self._handles.get(tag)
            if handle is None:
                handle = await self.add_item(server, tag)
                self._handles[tag] = handle
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
        (``ClientOptions.read_retries``), and a lost session is replaced first
        (``ClientOptions.recover_sessions``).
        """
        tag_list = [tags] if isinstance(tags, str) else list(tags)
        timeout_ms = int(wait * 1000) if wait else 0
        deadline = timeout
        if timeout is USE_CLIENT_DEFAULT and wait:
            default = self.options.default_timeout
            deadline = None if default is None else max(default, wait + _READ_DEADLINE_MARGIN_S)
        retries = self.options.read_retries
        attempt = 0
        while True:
            try:
                server = await self.default_server_handle()
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
                await asyncio.sleep(0.1 * 2 ** (attempt - 1))
        by_tag = {r.tag: r for r in results}
        ordered: display.ResultList[ReadResult] = display.ResultList()
        for index, tag in enumerate(tag_list):
            result = results[index] if index < len(results) and results[index].tag == tag else by_tag.get(tag)
            if result is None:
                result = ReadResult(
                    pb.BulkReadResult(tag_address=tag, error_message="no result from the gateway")
                )
            elif result.ok:
                self._data_types[tag] = result.data_type
            ordered.append(result)
        return ordered

    async def _data_type(self, tag: str) -> int:
        data_type = self._data_types.get(tag)
        if data_type is None:
            (result,) = await self.read([tag])
            result.raise_for_error()
            data_type = result.data_type
        return data_type

    # ------------------------------------------------------------------ writing

    async def _write_target(
        self, tag: str, value: Any, *, attach: bool = False
    ) -> tuple[int, int, int | None]:
        """Server handle, item handle and type for writing ``tag``, all of one session.

        Looking them up can recover a lost session half-way (the type is read); a
        handle of the lost session then names nothing, or another item, on its
        replacement, so the lookup starts again until the session held still.
        """
        for _ in range(3):
            session_id = self.session_id
            item = await self._item_handle(tag)
            data_type = None if isinstance(value, pb.MxValue) else await self._data_type(tag)
            server = await self.default_server_handle()
            if attach:
                await self._pump.ensure_attached()
            if self.session_id == session_id:
                return server, item, data_type
        raise MxGatewaySessionLostError(
            f"session {self.session_id} kept being replaced while {tag} was looked up", method="Invoke"
        )

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
                server, item, data_type = await self._write_target(tag, value)
                value = tag_value(tag, value, data_type)
                await self.write(server, item, value, user_id=user_id, data_type=data_type, timeout=timeout)
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
                server, item, data_type = await self._write_target(tag, value, attach=True)
                value = tag_value(tag, value, data_type)
                break
            except MxGatewaySessionLostError as exc:
                if attempt:
                    raise
                await self._await_recovery(exc)
        pump = self._pump
        session_id = self.session_id
        request = self._write_request(server, item, value, user_id, data_type)
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
            try:
                outcome = await asyncio.wait_for(waiter, outcome_timeout)
            except asyncio.TimeoutError:
                from mxgateway._events.state import ConnectionState

                late = pump.reconnects != reconnects or pump.state is not ConnectionState.CONNECTED
                raise MxGatewayTimeoutError(
                    f"no write outcome for {tag} within {outcome_timeout:g} s", method="StreamEvents"
                ) from None
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
