"""What MXAccess commands return, as read-only views and small records.

``ReadResult`` (one tag of a read), ``ItemResult`` (one item of a bulk add, advise,
remove or subscribe) and ``WriteResult`` (one item of a bulk write) keep the raw
message as ``raw``; ``WriteEntry`` describes one item of a bulk write.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from mxgateway._model import display
from mxgateway._model.sequences import ResultSequence
from mxgateway._model.status import MxStatus, statuses_of
from mxgateway._model.values import MxPythonValue, from_mx_value, to_mx_value
from mxgateway._model.views import ValueView, restored_view
from mxgateway.errors import MxAccessError, MxGatewayArgumentError
from mxgateway.generated import mxaccess_gateway_pb2 as pb

__all__ = [
    "ItemResult",
    "ReadResult",
    "WriteEntry",
    "WriteResult",
    "fill_time",
    "fill_value",
    "item_results",
    "write_results",
]


class ItemResult:
    """One item of a bulk add, advise, remove, unadvise, subscribe or unsubscribe.

    A read-only view of the raw ``SubscribeResult`` (``raw``); equal when the raw results are.
    """

    __slots__ = ("_raw",)

    # One plain assignment (a bulk call makes one per tag); every field is a
    # read-only property, so the view stays immutable without a frozen __setattr__.
    def __init__(self, raw: pb.SubscribeResult) -> None:
        self._raw = raw

    @property
    def raw(self) -> pb.SubscribeResult:
        """The result as received."""
        return self._raw

    @property
    def tag(self) -> str:
        """The tag (empty for the handle-based commands)."""
        return self._raw.tag_address

    @property
    def item_handle(self) -> int:
        """The item handle (0 when adding failed)."""
        return self._raw.item_handle

    @property
    def server_handle(self) -> int:
        """The server handle the item belongs to."""
        return self._raw.server_handle

    @property
    def ok(self) -> bool:
        """True when MXAccess accepted the item."""
        return self._raw.was_successful

    @property
    def error_message(self) -> str:
        """Why it failed ('' when it did not)."""
        return self._raw.error_message

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ItemResult):
            return NotImplemented
        return self._raw == other._raw

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return restored_view, (ItemResult, "SubscribeResult", self._raw.SerializeToString())

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"ItemResult(tag={self.tag!r}, item_handle={self.item_handle!r}, "
            f"server_handle={self.server_handle!r}, ok={self.ok!r}, error_message={self.error_message!r})"
        )


class ReadResult(ValueView[pb.BulkReadResult]):
    """One tag of a read: its value, or why there is none (``ok`` False).

    A view of the raw ``BulkReadResult`` (``raw``): ``value``, ``source_timestamp``
    and ``statuses`` are converted on first access and kept, so a 10,000-tag read
    pays only for the fields it uses. Immutable; equal when the raw results are.
    """

    __slots__ = ()
    __match_args__ = (
        "tag",
        "ok",
        "value",
        "quality",
        "source_timestamp",
        "statuses",
        "error_message",
        "was_cached",
        "item_handle",
    )

    def _convert_value(self) -> MxPythonValue:
        raw = self._raw
        return from_mx_value(raw.value) if raw.was_successful else None

    @property
    def tag(self) -> str:
        """The tag address as requested."""
        return self._raw.tag_address

    @property
    def ok(self) -> bool:
        """True when the tag was read."""
        return self._raw.was_successful

    @property
    def error_message(self) -> str:
        """Why the read failed ('' when it did not)."""
        return self._raw.error_message

    @property
    def was_cached(self) -> bool:
        """True when the value came from an advised item's cache."""
        return self._raw.was_cached

    @property
    def item_handle(self) -> int:
        """The item handle the gateway used (0 for a one-off snapshot)."""
        return self._raw.item_handle

    def __repr__(self) -> str:
        return display.read_result_repr(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))

    def raise_for_error(self) -> None:
        """Raise ``MxAccessError`` when this tag could not be read."""
        if not self.ok:
            raise MxAccessError(
                f"reading {self.tag} failed: {self.error_message or 'no reason given'}",
                statuses=self.statuses,
                method="Invoke",
                details=self.error_message,
            )


@dataclass(frozen=True, slots=True)
class WriteResult:
    """One item of a bulk write (the MXAccess call; the outcome comes as WriteComplete)."""

    item_handle: int
    ok: bool
    hresult: int
    statuses: tuple[MxStatus, ...]
    error_message: str
    raw: pb.BulkWriteResult = field(repr=False)


@dataclass(frozen=True)
class WriteEntry:
    """One item of a bulk write; each bulk command uses the fields its kind needs.

    ``timestamp`` is required by the ``write2`` kinds, ``current_user_id`` by the
    secured kinds. ``data_type`` converts ``value`` for that ``MxDataType``; a
    ready ``MxValue`` is sent as is.
    """

    item_handle: int
    value: Any
    timestamp: dt.datetime | None = None
    user_id: int = 0
    current_user_id: int = 0
    verifier_user_id: int = 0
    data_type: int | None = None


def fill_value(target: pb.MxValue, value: object, data_type: int | None) -> None:
    """Set ``target`` from a Python value (converted for ``data_type``) or a ready ``MxValue``."""
    if isinstance(value, pb.MxValue):
        target.CopyFrom(value)
    else:
        target.CopyFrom(to_mx_value(value, data_type))


def fill_time(target: pb.MxValue, timestamp: dt.datetime | None) -> None:
    """Set ``target`` to a write's timestamp (the write2 kinds need one)."""
    if timestamp is None:
        raise MxGatewayArgumentError("this write needs a timestamp", argument="timestamp")
    target.CopyFrom(to_mx_value(timestamp, argument="timestamp"))


def item_results(reply: pb.MxCommandReply) -> ResultSequence[ItemResult]:
    """The per-item results of a bulk add, advise, remove or subscribe reply."""
    return ResultSequence(reply.bulk_subscribe.results, ItemResult)


def write_results(reply: pb.MxCommandReply) -> list[WriteResult]:
    """The per-item results of a bulk write reply."""
    return [
        WriteResult(r.item_handle, r.was_successful, r.hresult, statuses_of(r.statuses), r.error_message, r)
        for r in reply.bulk_write.results
    ]
