"""Paging of Galaxy Repository selections: signed page tokens and a cache of recent selections.

A page token is bound to the deploy version and a hash of the request (every field
but ``page_size`` and ``page_token``) and signed with a secret of the pager, so a
token from another simulator, another request or an earlier deploy is refused.
"""

from __future__ import annotations

import base64
import binascii
import collections
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Sequence
from typing import Any

import grpc

from mxgateway.simulator.galaxy import GalaxyObject
from mxgateway.simulator.repository_query import RequestError

__all__ = ["DEFAULT_PAGE_SIZE", "MAX_PAGE_SIZE", "SELECTION_CACHE_SIZE", "Pager"]

#: Page size used when a request asks for 0.
DEFAULT_PAGE_SIZE = 500
#: Largest page the service returns, whatever the request asks for.
MAX_PAGE_SIZE = 5_000
#: Filtered selections kept for paging; each is one list of object references.
SELECTION_CACHE_SIZE = 16

_MAC_SIZE = hashlib.sha256().digest_size

Selector = Callable[[], Sequence[GalaxyObject]]


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Pager:
    """Cuts selections into pages and issues and checks the tokens that continue them."""

    def __init__(self) -> None:
        self._token_secret = secrets.token_bytes(32)
        self._selections: collections.OrderedDict[tuple[int, str], Sequence[GalaxyObject]] = (
            collections.OrderedDict()
        )

    def forget_selections(self) -> None:
        """Drop the cached selections (their deploy is gone; their tokens are stale anyway)."""
        self._selections.clear()

    def page(
        self, version: int, request_key: list[Any], page_size: int, page_token: str, select: Selector
    ) -> tuple[Sequence[GalaxyObject], str, int]:
        """The page of the selection a request asks for, the next page's token and the total."""
        if page_size < 0:
            raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, f"page_size must be >= 0, got {page_size}")
        size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        filter_hash = hashlib.sha256(json.dumps(request_key).encode()).hexdigest()[:32]
        offset = self._read_token(page_token, version, filter_hash) if page_token else 0
        selection = self._selection(version, filter_hash, select)
        if offset > len(selection):
            raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, "invalid page token: offset out of range")
        end = offset + size
        next_token = self._make_token(version, end, filter_hash) if end < len(selection) else ""
        return selection[offset:end], next_token, len(selection)

    def _selection(self, version: int, filter_hash: str, select: Selector) -> Sequence[GalaxyObject]:
        # Paging a large Galaxy would otherwise walk and filter it once per page.
        key = (version, filter_hash)
        cached = self._selections.get(key)
        if cached is not None:
            self._selections.move_to_end(key)
            return cached
        selection = select()
        self._selections[key] = selection
        while len(self._selections) > SELECTION_CACHE_SIZE:
            self._selections.popitem(last=False)
        return selection

    def _make_token(self, version: int, offset: int, filter_hash: str) -> str:
        body = json.dumps({"v": version, "o": offset, "f": filter_hash}, separators=(",", ":")).encode()
        return _b64encode(body + hmac.digest(self._token_secret, body, "sha256"))

    def _read_token(self, token: str, version: int, filter_hash: str) -> int:
        """The offset a page token points at; INVALID_ARGUMENT says why a token is refused."""
        try:
            raw = _b64decode(token)
        except (binascii.Error, ValueError):
            raw = b""
        body, mac = raw[:-_MAC_SIZE], raw[-_MAC_SIZE:]
        if len(raw) <= _MAC_SIZE or not hmac.compare_digest(
            mac, hmac.digest(self._token_secret, body, "sha256")
        ):
            raise RequestError(
                grpc.StatusCode.INVALID_ARGUMENT,
                "invalid page token: it was not issued by this server; start again without a page token",
            )
        fields = json.loads(body)
        if fields["f"] != filter_hash:
            raise RequestError(
                grpc.StatusCode.INVALID_ARGUMENT,
                "foreign page token: it was issued for a request with different filters or RPC; "
                "repeat the original request's filters or start again without a page token",
            )
        if fields["v"] != version:
            raise RequestError(
                grpc.StatusCode.INVALID_ARGUMENT,
                "stale page token: the Galaxy was redeployed after it was issued; "
                "start again without a page token",
            )
        offset: int = fields["o"]
        return offset
