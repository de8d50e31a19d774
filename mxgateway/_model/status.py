"""MXAccess statuses (``MXSTATUS_PROXY``) and OPC-DA qualities in Python form."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from mxgateway.generated import mxaccess_gateway_pb2 as pb

__all__ = ["MxStatus", "Quality", "is_failure_status", "statuses_of"]

_CATEGORY_PREFIX = "MX_STATUS_CATEGORY_"
_SOURCE_PREFIX = "MX_STATUS_SOURCE_"
_OK = pb.MX_STATUS_CATEGORY_OK
_UNSPECIFIED = pb.MX_STATUS_CATEGORY_UNSPECIFIED
_new_object = object.__new__


def _enum_names(enum: object, prefix: str) -> dict[int, str]:
    values: dict[str, int] = dict(enum.items())  # type: ignore[attr-defined]
    return {number: name.removeprefix(prefix) for name, number in values.items()}


# Looked up per event: plain dicts beat the enum wrapper's Name().
_CATEGORY_NAMES = _enum_names(pb.MxStatusCategory, _CATEGORY_PREFIX)
_SOURCE_NAMES = _enum_names(pb.MxStatusSource, _SOURCE_PREFIX)


def is_failure_status(status: pb.MxStatusProxy) -> bool:
    """True for a failed status: ``success == 0`` and a category other than OK.

    A status left at its proto3 defaults (success 0, category UNSPECIFIED) is not
    a failure.
    """
    return status.success == 0 and status.category not in (_OK, _UNSPECIFIED)


@dataclass(frozen=True)
class MxStatus:
    """One ``MXSTATUS_PROXY`` entry.

    ``category`` and ``detected_by`` are enum names without their prefix
    (``"CONFIGURATION_ERROR"``, ``"RESPONDING_LMX"``); ``raw`` is the message.
    """

    success: bool
    category: str
    detected_by: str
    detail: int
    diagnostic_text: str
    raw: pb.MxStatusProxy = field(repr=False)

    @classmethod
    def from_proto(cls, status: pb.MxStatusProxy) -> MxStatus:
        """Convert an ``MxStatusProxy``."""
        # Runs once per status of every event and read result: filling the instance
        # dict directly skips the frozen __init__'s six object.__setattr__ calls
        # (the same state; there is no __post_init__ to run).
        category = status.category
        source = status.detected_by
        converted = _new_object(cls)
        converted.__dict__.update(
            success=status.success != 0,
            category=_CATEGORY_NAMES.get(category) or str(category),
            detected_by=_SOURCE_NAMES.get(source) or str(source),
            detail=status.detail,
            diagnostic_text=status.diagnostic_text,
            raw=status,
        )
        return converted

    @property
    def is_failure(self) -> bool:
        """True when this status reports a failure (see ``is_failure_status``)."""
        return is_failure_status(self.raw)

    @property
    def readable(self) -> str:
        """One line for people, e.g. ``CONFIGURATION_ERROR (detail 1003, by RESPONDING_LMX): unknown tag``."""
        text = f"{self.category} (detail {self.detail}, by {self.detected_by})"
        return f"{text}: {self.diagnostic_text}" if self.diagnostic_text else text

    def __str__(self) -> str:
        return self.readable


_status_from_proto = MxStatus.from_proto


def statuses_of(statuses: Iterable[pb.MxStatusProxy]) -> tuple[MxStatus, ...]:
    """Convert a repeated ``MxStatusProxy`` field."""
    return tuple(map(_status_from_proto, statuses))


class Quality(int):
    """An OPC-DA quality code as MXAccess reports it: 192 is good.

    The quality bits (``code & 0xC0``) decide: ``0xC0`` good, ``0x40`` uncertain,
    anything else bad.
    """

    __slots__ = ()

    @property
    def is_good(self) -> bool:
        """Quality bits 11."""
        return self & 0xC0 == 0xC0

    @property
    def is_uncertain(self) -> bool:
        """Quality bits 01 (0x40 to 0x7F)."""
        return self & 0xC0 == 0x40

    @property
    def is_bad(self) -> bool:
        """Neither good nor uncertain."""
        return not (self.is_good or self.is_uncertain)

    @property
    def name(self) -> str:
        """``"good"``, ``"uncertain"`` or ``"bad"``."""
        bits = self & 0xC0
        return "good" if bits == 0xC0 else "uncertain" if bits == 0x40 else "bad"

    def __repr__(self) -> str:
        return f"Quality({int(self)}, {self.name})"
