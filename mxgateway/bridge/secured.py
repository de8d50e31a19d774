"""Secured and verified writes (MXAccess WriteSecured) with the outcome confirmed.

An attribute whose security classification is *secured write* needs a write
signed by an authenticated user, a *verified write* one by a user and a second
user, the verifier. The SDK offers the command (``write_secured``) and user
authentication; this module adds the rest for the bridge: a server handle of its
own, the users authenticated on it, item handles, and the write's outcome
(OnWriteComplete, where MXAccess reports a refusal) read from the session's events.
All of it belongs to one session: after the gateway replaced the session, it is
set up again on the new one. Writes go one at a time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from mxgateway import (
    DataType,
    EventStream,
    MxAccessError,
    MxGatewaySessionLostError,
    MxGatewayTimeoutError,
    SessionRecovered,
    WriteComplete,
    to_mx_value,
)
from mxgateway.bridge.config_reader import Secret

__all__ = ["SecuredWriter"]


class _Session(Protocol):
    """What a secured write needs of ``mxgateway.Client``."""

    @property
    def session_id(self) -> str: ...

    async def register(self, client_name: str) -> int: ...

    async def authenticate_user(self, server_handle: int, user_name: str, password: str) -> int: ...

    async def add_item(self, server_handle: int, tag: str) -> int: ...

    async def write_secured(
        self,
        server_handle: int,
        item_handle: int,
        value: Any,
        *,
        current_user_id: int,
        verifier_user_id: int = 0,
    ) -> None: ...

    def events(self, after_worker_sequence: int = 0) -> EventStream: ...


@dataclass
class _Handles:
    """The server handle, users and items of one gateway session."""

    session_id: str
    server: int
    user: int
    verifier: int
    items: dict[str, int] = field(default_factory=dict)
    #: Outcomes still to come for writes whose wait was given up, per item (they come first).
    abandoned: dict[int, int] = field(default_factory=dict)


class SecuredWriter:
    """WriteSecured by tag name, one at a time, confirmed by its OnWriteComplete."""

    def __init__(
        self,
        session: _Session,
        user: str,
        password: Secret,
        *,
        verifier_user: str | None = None,
        verifier_password: Secret | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self._session = session
        self._user = user
        self._password = password
        self._verifier_user = verifier_user
        self._verifier_password = verifier_password
        self._timeout_s = timeout_s
        self._handles: _Handles | None = None
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        verifier = f", verifier {self._verifier_user}" if self._verifier_user else ""
        return f"SecuredWriter(user {self._user}{verifier})"

    @property
    def can_verify(self) -> bool:
        """True when a verifier is configured (verified writes need one)."""
        return self._verifier_user is not None

    async def _setup(self) -> _Handles:
        session = self._session
        handles = self._handles
        if handles is not None and handles.session_id == session.session_id:
            return handles
        server = await session.register("mxgateway-bridge-secured")
        user = await session.authenticate_user(server, self._user, self._password.reveal())
        verifier = 0
        if self._verifier_user is not None and self._verifier_password is not None:
            verifier = await session.authenticate_user(
                server, self._verifier_user, self._verifier_password.reveal()
            )
        handles = self._handles = _Handles(session.session_id, server, user, verifier)
        return handles

    async def write(
        self, tag: str, value: Any, data_type: DataType | None, *, verified: bool
    ) -> WriteComplete:
        """Write ``tag`` signed by the user (and the verifier when ``verified``); raises when refused."""
        if verified and not self.can_verify:
            raise MxAccessError(
                f"{tag} is a verified write: configure [writes] verifier_user and verifier_password",
                method="Invoke",
            )
        async with self._lock:
            handles = await self._setup()
            item = handles.items.get(tag)
            if item is None:
                item = handles.items[tag] = await self._session.add_item(handles.server, tag)
            mx = to_mx_value(value, int(data_type) if data_type else None)
            # Reading starts before the write is sent: its outcome cannot come before.
            stream = self._session.events()
            try:
                await self._session.write_secured(
                    handles.server,
                    item,
                    mx,
                    current_user_id=handles.user,
                    verifier_user_id=handles.verifier if verified else 0,
                )
                try:
                    outcome = await asyncio.wait_for(self._outcome(stream, handles, item), self._timeout_s)
                except asyncio.TimeoutError:
                    handles.abandoned[item] = handles.abandoned.get(item, 0) + 1
                    raise MxGatewayTimeoutError(
                        f"no write outcome for {tag} within {self._timeout_s:g} s", method="StreamEvents"
                    ) from None
            finally:
                await stream.aclose()
        if not outcome.ok:
            reason = "; ".join(s.readable for s in outcome.statuses if s.is_failure) or "refused"
            raise MxAccessError(f"writing {tag} failed: {reason}", method="Invoke", reply=outcome.raw)
        return outcome

    @staticmethod
    async def _outcome(events: AsyncIterator[object], handles: _Handles, item: int) -> WriteComplete:
        async for event in events:
            if isinstance(event, SessionRecovered):
                raise MxGatewaySessionLostError(
                    "the gateway session was replaced before the write's outcome came", method="StreamEvents"
                )
            if isinstance(event, WriteComplete) and (event.server_handle, event.item_handle) == (
                handles.server,
                item,
            ):
                late = handles.abandoned.get(item, 0)
                if late:
                    # The outcome of an earlier write whose wait was given up: outcomes come in order.
                    handles.abandoned[item] = late - 1
                    continue
                return event
        raise MxGatewaySessionLostError("the session's events ended before the write's outcome came")
