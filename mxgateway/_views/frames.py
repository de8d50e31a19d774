"""Wide tables: a recording as one column per tag over a time index, ready for ``resample``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from mxgateway._views.markers import is_recording_marker
from mxgateway.errors import MxGatewayArgumentError

if TYPE_CHECKING:
    import pandas

__all__ = ["import_pandas", "wide_frame"]


def import_pandas() -> Any:
    """pandas, or an ``ImportError`` that says how to install it."""
    try:
        import pandas
    except ImportError:
        raise ImportError("to_pandas() needs pandas: pip install 'mxgateway[pandas]'") from None
    return pandas


def _value_items(items: Iterable[object]) -> tuple[list[Any], list[Any]]:
    values: list[Any] = []
    markers: list[Any] = []
    for item in items:
        if is_recording_marker(item):
            markers.append(item)
        elif all(hasattr(item, name) for name in ("tag", "value", "source_timestamp")):
            if getattr(item, "ok", True):
                values.append(item)
        else:
            raise MxGatewayArgumentError(
                f"to_pandas(wide=True) needs values with a tag and a source time, not {type(item).__name__}"
                " (use to_pandas() for one row per item)",
                argument="wide",
            )
    return values, markers


def _typed(pandas: Any, column: Any) -> Any:
    """A column of only booleans or only strings as pandas' nullable dtype (``ffill`` keeps it)."""
    present = column.dropna()
    if len(present) and all(isinstance(v, bool) for v in present):
        return column.astype("boolean")
    if len(present) and all(isinstance(v, str) for v in present):
        return column.astype("string")
    return column


def wide_frame(items: Iterable[object]) -> pandas.DataFrame:
    """One row per source time (UTC, timezone-aware index), one column per tag, in order of appearance.

    A cell is empty (NaN) where its tag did not change at that time: ``ffill()``
    carries values forward. When a tag changed twice at one time the later change
    wins. Values without a source time are indexed NaT. The recording's markers are
    in ``frame.attrs["markers"]``.
    """
    pandas = import_pandas()
    values, markers = _value_items(items)
    tags = list(dict.fromkeys(str(v.tag) for v in values))
    long = pandas.DataFrame(
        {
            "source_timestamp": pandas.to_datetime([v.source_timestamp for v in values], utc=True),
            "tag": [str(v.tag) for v in values],
            "value": pandas.Series([v.value for v in values], dtype=object),
        }
    )
    wide = (
        long.groupby(["source_timestamp", "tag"], sort=False, dropna=False)["value"]
        .last()
        .unstack("tag")
        .reindex(columns=tags)
        .sort_index()
        .infer_objects()
    )
    for column in wide.columns:
        if wide[column].dtype == object:
            wide[column] = _typed(pandas, wide[column])
    wide.columns.name = None
    wide.index.name = "source_timestamp"
    if not isinstance(wide.index, pandas.DatetimeIndex):
        wide.index = pandas.DatetimeIndex(wide.index, tz="UTC", name="source_timestamp")
    wide.attrs["markers"] = markers
    return wide
