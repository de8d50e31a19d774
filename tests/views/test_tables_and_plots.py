"""Wide tables and plots of recordings: a time index per source time, one column and one line per tag."""

from __future__ import annotations

import datetime as dt
import sys

import pytest

from mxgateway import DataChange, RecordingGap, ResultList, to_mx_value
from mxgateway.generated import mxaccess_gateway_pb2 as pb

T0 = dt.datetime(2026, 5, 4, 8, 0, 0, tzinfo=dt.timezone.utc)
GOOD, BAD = 192, 0


def change(tag: str, value: object, seconds: float, quality: int = GOOD, sequence: int = 1) -> DataChange:
    event = pb.MxEvent(
        family=pb.MX_EVENT_FAMILY_ON_DATA_CHANGE, worker_sequence=sequence, quality=quality, item_handle=1
    )
    event.value.CopyFrom(to_mx_value(value))
    event.source_timestamp.FromDatetime(T0 + dt.timedelta(seconds=seconds))
    return DataChange(event, tag)


def recording() -> ResultList[object]:
    return ResultList(
        [
            change("Tank_001.Level", 60.0, 0),
            change("Tank_001.Name", "Raw water tank 1", 0),
            change("Pump_001.Running", False, 0),
            change("Tank_001.Level", 61.5, 1.25),
            RecordingGap(4, T0 + dt.timedelta(seconds=2)),
            change("Tank_001.Level", 63.0, 2.5, quality=BAD, sequence=0),
            change("Pump_001.Running", True, 3),
        ]
    )


def test_the_wide_table_has_a_utc_time_index_and_a_column_per_tag() -> None:
    pandas = pytest.importorskip("pandas")
    frame = recording().to_pandas(wide=True)
    assert list(frame.columns) == ["Tank_001.Level", "Tank_001.Name", "Pump_001.Running"]
    assert isinstance(frame.index, pandas.DatetimeIndex)
    assert str(frame.index.tz) == "UTC"
    assert list(frame.index) == [pandas.Timestamp(T0 + dt.timedelta(seconds=s)) for s in (0, 1.25, 2.5, 3)]
    assert frame["Tank_001.Level"].dtype.kind == "f"
    assert str(frame["Pump_001.Running"].dtype) == "boolean"
    assert str(frame["Tank_001.Name"].dtype).startswith(("string", "str"))
    assert frame.loc[pandas.Timestamp(T0), "Tank_001.Name"] == "Raw water tank 1"
    assert [type(m) for m in frame.attrs["markers"]] == [RecordingGap]
    per_second = frame.resample("1s").last().ffill()
    assert list(per_second["Tank_001.Level"]) == [60.0, 61.5, 63.0, 63.0]
    assert list(per_second["Pump_001.Running"]) == [False, False, False, True]
    assert per_second.index.freqstr in ("s", "S")


def test_the_long_table_keeps_the_marker_as_a_row() -> None:
    pytest.importorskip("pandas")
    frame = recording().to_pandas()
    assert len(frame) == 7
    assert frame["marker"].notna().sum() == 1
    assert "4 events missed" in frame["marker"].dropna().iloc[0]


def test_a_wide_table_of_galaxy_objects_is_refused_with_a_hint() -> None:
    pytest.importorskip("pandas")
    with pytest.raises(ValueError, match=r"use to_pandas\(\) for one row per item"):
        ResultList([object()]).to_pandas(wide=True)


def test_the_plot_draws_one_step_line_per_numeric_tag_and_marks_bad_quality_and_gaps() -> None:
    pytest.importorskip("matplotlib")
    figure = recording().plot()
    axes = figure.axes
    assert len(axes) == 2  # Level and Running; the text tag is not drawn
    labels = [[line.get_label() for line in a.get_lines()] for a in axes]
    assert labels[0][0] == "Tank_001.Level"
    assert "quality not good" in labels[0]
    assert "gap (events lost)" in labels[0]
    assert labels[1][0] == "Pump_001.Running"
    level = axes[0].get_lines()[0]
    assert level.get_drawstyle() == "steps-post"
    assert list(level.get_ydata()) == [60.0, 61.5, 63.0, 63.0]  # held on to the end
    assert any("Tank_001.Name" in text.get_text() for text in figure.texts)
    from mxgateway._views.plotting import figure_png

    assert figure_png(figure).startswith(b"\x89PNG")


def test_without_matplotlib_plot_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"pip install 'mxgateway\[notebook\]'"):
        recording().plot()


def test_without_pandas_to_pandas_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r"pip install 'mxgateway\[pandas\]'"):
        recording().to_pandas(wide=True)
