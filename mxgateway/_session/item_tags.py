"""``ItemTags``: the tag of each item handle under one server handle, compact while handles are dense.

MXAccess numbers the items of a server handle 1, 2, 3 ... . While the handles stay
dense, a list indexed by handle holds the tags: a 10,000-item subscription then
costs one list of pointers (80 KB) instead of a dict and an int object per handle
(about 600 KB). Handles far beyond the count (a gateway that numbers otherwise)
turn it into a dict, transparently.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from operator import eq

__all__ = ["ItemTags"]

#: Handles up to this far beyond twice the item count still go in the list.
DENSE_SLACK = 4096


class ItemTags:
    """Item handle -> tag; ``get``, ``add``, ``add_all``, ``pop`` and iteration over the handles."""

    __slots__ = ("by_handle",)

    def __init__(self) -> None:
        #: A list indexed by handle (None where no item) while dense, else a dict. Read
        #: it directly only to look a handle up on a hot path (``TagTable.get`` does).
        self.by_handle: list[str | None] | dict[int, str] = []

    def __repr__(self) -> str:
        layout = "dense" if isinstance(self.by_handle, list) else "sparse"
        return f"ItemTags({len(self)} items, {layout})"

    def __len__(self) -> int:
        by_handle = self.by_handle
        if isinstance(by_handle, list):
            return len(by_handle) - by_handle.count(None)
        return len(by_handle)

    def __bool__(self) -> bool:
        return len(self) > 0

    def get(self, handle: int) -> str | None:
        """The tag of ``handle``, or None."""
        by_handle = self.by_handle
        if isinstance(by_handle, list):
            return by_handle[handle] if 0 < handle < len(by_handle) else None
        return by_handle.get(handle)

    def __contains__(self, handle: object) -> bool:
        return isinstance(handle, int) and self.get(handle) is not None

    def __iter__(self) -> Iterator[int]:
        by_handle = self.by_handle
        if isinstance(by_handle, list):
            return (handle for handle, tag in enumerate(by_handle) if tag is not None)
        return iter(list(by_handle))

    def items(self) -> Iterator[tuple[int, str]]:
        """(handle, tag) of every item, in handle order while dense."""
        by_handle = self.by_handle
        if isinstance(by_handle, list):
            return ((handle, tag) for handle, tag in enumerate(by_handle) if tag is not None)
        return iter(list(by_handle.items()))

    def add(self, handle: int, tag: str) -> None:
        """Remember one item."""
        self.add_all([handle], [tag])

    def add_all(self, handles: Sequence[int], tags: Sequence[str]) -> None:
        """Remember ``tags[i]`` as the tag of ``handles[i]`` (equal lengths)."""
        if not handles:
            return
        by_handle = self.by_handle
        if isinstance(by_handle, list):
            low, high = min(handles), max(handles)
            if low > 0 and high < 2 * (len(self) + len(handles)) + DENSE_SLACK:
                if high >= len(by_handle):
                    by_handle.extend([None] * (high + 1 - len(by_handle)))
                if high - low == len(handles) - 1 and all(map(eq, handles, range(low, high + 1))):
                    by_handle[low : high + 1] = tags  # consecutive: one C-level copy
                else:
                    deque(map(by_handle.__setitem__, handles, tags), maxlen=0)
                return
            by_handle = self.by_handle = {h: t for h, t in enumerate(by_handle) if t is not None}
        by_handle.update(zip(handles, tags, strict=True))

    def pop(self, handle: int) -> str | None:
        """Forget ``handle``; its tag, if it was known."""
        by_handle = self.by_handle
        if isinstance(by_handle, list):
            if 0 < handle < len(by_handle):
                tag = by_handle[handle]
                by_handle[handle] = None
                return tag
            return None
        return by_handle.pop(handle, None)
