"""Metric values as pysparkplug decodes them: every MXAccess type, scalars and arrays, both encoders."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mxgateway import DataType
from mxgateway.bridge.sparkplug_types import command_value, encoded_value, metric_kind, set_value
from mxgateway.generated import sparkplug_b_pb2 as spb

from .sparkplug_host import PB, psp

UTC = dt.timezone.utc
# Strings as MXAccess has them: valid Unicode (no lone surrogates); StringArray ends each with NUL.
_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)))
_element = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))
_times = st.datetimes(
    min_value=dt.datetime(1971, 1, 1), max_value=dt.datetime(2200, 1, 1), timezones=st.just(UTC)
)
CASES: list[tuple[DataType, bool, Any]] = [
    (DataType.BOOLEAN, False, st.booleans()),
    (DataType.INTEGER, False, st.integers(-(2**31), 2**31 - 1)),
    (DataType.FLOAT, False, st.floats(width=32, allow_nan=False, allow_infinity=False)),
    (DataType.DOUBLE, False, st.floats(allow_nan=False, allow_infinity=False)),
    (DataType.STRING, False, _text),
    (DataType.TIME, False, _times),
    (
        DataType.ELAPSED_TIME,
        False,
        st.timedeltas(min_value=dt.timedelta(0), max_value=dt.timedelta(days=9999)),
    ),
    (DataType.QUALIFIED_STRUCT, False, st.binary()),
    (DataType.BOOLEAN, True, st.lists(st.booleans(), max_size=20)),
    (DataType.INTEGER, True, st.lists(st.integers(-(2**31), 2**31 - 1), max_size=20)),
    (DataType.FLOAT, True, st.lists(st.floats(width=32, allow_nan=False), max_size=20)),
    (DataType.DOUBLE, True, st.lists(st.floats(allow_nan=False), max_size=20)),
    (
        DataType.STRING,
        True,
        st.lists(_element, max_size=20),
    ),
    (DataType.TIME, True, st.lists(_times, max_size=20)),
]


def expected(value: Any) -> Any:
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, dt.datetime):
        return value.replace(microsecond=value.microsecond // 1000 * 1000)
    if isinstance(value, list):
        return tuple(expected(v) for v in value)
    return value


@pytest.mark.parametrize(("data_type", "is_array", "values"), CASES, ids=lambda c: str(c)[:20])
@given(data=st.data())
def test_both_encoders_give_what_pysparkplug_decodes_as_the_value(
    data_type: DataType, is_array: bool, values: Any, data: st.DataObject
) -> None:
    value = data.draw(values)
    kind = metric_kind(data_type, is_array)
    metric = spb.Payload.Metric(alias=7, timestamp=1)
    assert set_value(metric, value, kind)
    by_protobuf = metric.SerializeToString()
    by_hand = b"\x10\x07\x18\x01" + encoded_value(value, kind)
    decoded = [
        psp.Metric.from_pb(PB.Metric.FromString(raw + PB.Metric(datatype=kind.datatype).SerializeToString()))
        for raw in (by_protobuf, by_hand)
    ]
    for one in decoded:
        got, want = one.value, expected(value)
        if isinstance(want, float) and data_type is DataType.FLOAT:
            assert math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-30) or got == want
        elif isinstance(want, tuple) and data_type is DataType.FLOAT:
            assert got == pytest.approx(want, rel=1e-6, abs=1e-30)
        elif data_type is DataType.TIME:
            # pysparkplug turns milliseconds into a datetime through a float: within a microsecond.
            pairs = zip(got, want, strict=True) if is_array else [(got, want)]
            assert all(abs(g - w) <= dt.timedelta(microseconds=1) for g, w in pairs)
        else:
            assert got == want
    # A command carrying the value decodes back to it (as a write would use it).
    if data_type not in (DataType.QUALIFIED_STRUCT,):
        back = command_value(PB_metric(by_hand, kind.datatype), kind)
        if data_type is DataType.ELAPSED_TIME and not is_array:
            assert back == dt.timedelta(seconds=expected(value))
        elif data_type is not DataType.FLOAT:
            assert (tuple(back) if isinstance(back, list) else back) == expected(value)


def PB_metric(raw: bytes, datatype: int) -> spb.Payload.Metric:
    metric = spb.Payload.Metric.FromString(raw)
    metric.datatype = datatype
    return metric


def test_a_value_of_another_type_is_null_and_the_type_stays() -> None:
    kind = metric_kind(DataType.DOUBLE, False)
    metric = spb.Payload.Metric()
    assert not set_value(metric, "not a number", kind)
    assert metric.is_null
    assert encoded_value("not a number", kind) == b"\x38\x01"
    assert encoded_value(None, kind) == b"\x38\x01"
    assert metric_kind(DataType.QUALIFIED_STRUCT, True).name == "String"
    assert metric_kind(DataType.NO_DATA, False).name == "String"


def test_a_tag_the_galaxy_did_not_describe_takes_the_type_of_its_first_value_for_good() -> None:
    from mxgateway import DataChange, to_mx_value
    from mxgateway.bridge.sparkplug import SparkplugLayout
    from mxgateway.bridge.topics import TagInfo
    from mxgateway.generated import mxaccess_gateway_pb2 as pb

    def change(tag: str, value: Any) -> DataChange:
        event = pb.MxEvent(family=pb.MX_EVENT_FAMILY_ON_DATA_CHANGE, value=to_mx_value(value), quality=192)
        return DataChange(event, tag)

    layout = SparkplugLayout("G", "E", [TagInfo.bare("Extra_1.Speed"), TagInfo.bare("Extra_1.Label")])
    layout.data_messages([change("Extra_1.Speed", 12.5)])  # before the birth: fills the value only
    births, born = layout.births(0)
    assert born == {"Extra_1"}
    dbirth = psp.DBirth.decode(births[1].payload + b"\x08\x01\x18\x01")
    types = {m.name: (m.datatype, m.value) for m in dbirth.metrics}
    assert types == {"Speed": (psp.DataType.DOUBLE, 12.5), "Label": (psp.DataType.STRING, None)}
    layout.start()
    (later,) = layout.data_messages([change("Extra_1.Label", 7)])  # a number for the String metric
    ddata = psp.DData.decode(later.payload + b"\x08\x01\x18\x02", birth=dbirth)
    assert [(m.name, m.value) for m in ddata.metrics] == [("Label", "7")]
