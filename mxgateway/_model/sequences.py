"""``ResultSequence``: the results of a bulk reply, each built from its raw message on first access.

A 10,000-tag ``read_bulk`` or ``subscribe_bulk`` answers with 10,000 raw results.
Wrapping each in its typed view up front costs the call as much again as the
gateway's reply took to receive; a ``ResultSequence`` builds the view of a result
when it is first looked at (by index, slice or iteration), keeps it, and
otherwise behaves as the list it stands for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from mxgateway._model.display import ResultList

if TYPE_CHECKING:
    import pandas
    from matplotlib.figure import Figure

__all__ = ["ResultSequence"]

T = TypeVar("T")


class ResultSequence(Sequence[T], Generic[T]):
    """An immutable sequence of typed results over a bulk reply's raw results (``raw``).

    Each result is built from its raw message when first accessed and kept, so a
    caller pays only for the results it looks at. Otherwise it behaves as the list
    it stands for: equal to a list (or another ``ResultSequence``) of equal
    results, shown and pickled as that list (it unpickles as a ``ResultList``), a
    slice is a ``ResultList``, and ``to_pandas()``, ``plot()`` and the notebook
    table are those of ``ResultList``.
    """

    __slots__ = ("_build", "_built", "_complete", "_raw")

    def __init__(self, raw: Sequence[Any], build: Callable[[Any], T]) -> None:
        self._raw = raw
        self._build = build
        #: The results built so far (None where not yet), made on the first access.
        self._built: list[T | None] | None = None
        self._complete = False

    @property
    def raw(self) -> Sequence[Any]:
        """The raw results as received, in order."""
        return self._raw

    def __len__(self) -> int:
        return len(self._raw)

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> ResultList[T]: ...

    def __getitem__(self, index: int | slice) -> T | ResultList[T]:
        if isinstance(index, slice):
            return ResultList(self._all()[index])
        built = self._built
        if built is None:
            built = self._built = [None] * len(self._raw)
        item = built[index]  # IndexError, and negative indexes, as a list has them
        if item is None:
            item = built[index] = self._build(self._raw[index if index >= 0 else index + len(built)])
        return item

    def _all(self) -> list[T]:
        """Every result, built now where not yet (in one C-level pass when none was)."""
        built = self._built
        if not self._complete:
            if built is None:
                built = self._built = list(map(self._build, self._raw))
            else:
                raw, build = self._raw, self._build
                for index, item in enumerate(built):
                    if item is None:
                        built[index] = build(raw[index])
            self._complete = True
        return built  # type: ignore[return-value]

    def __iter__(self) -> Iterator[T]:
        return iter(self._all())

    def __reversed__(self) -> Iterator[T]:
        return reversed(self._all())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ResultSequence):
            return self._all() == other._all()
        if isinstance(other, list):
            return self._all() == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(self._all())

    def __reduce__(self) -> tuple[type[ResultList[T]], tuple[list[T]]]:
        # The results themselves: the raw container belongs to a reply message.
        return ResultList, (self._all(),)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        ResultList(self._all())._repr_pretty_(printer, cycle)

    def _repr_html_(self) -> str:
        return ResultList(self._all())._repr_html_()

    def to_pandas(self, wide: bool = False) -> pandas.DataFrame:
        """The results as a ``pandas.DataFrame``, as ``ResultList.to_pandas`` gives it."""
        return ResultList(self._all()).to_pandas(wide=wide)

    def plot(self, *, title: str | None = None) -> Figure:
        """A matplotlib figure of the values, as ``ResultList.plot`` draws it."""
        return ResultList(self._all()).plot(title=title)
