"""Python values to and from MxValue: the mapping table, its refusals and round trips."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mxgateway import MxGatewayArgumentError, from_mx_value, to_mx_value
from mxgateway._model.values import check_value
from mxgateway.generated import mxaccess_gateway_pb2 as pb

INT32 = st.integers(min_value=-(2**31), max_value=2**31 - 1)
WIDE = st.one_of(
    st.integers(min_value=2**31, max_value=2**63 - 1), st.integers(min_value=-(2**63), max_value=-(2**31) - 1)
)
FINITE = st.floats(allow_nan=False, allow_infinity=False)
FLOAT32 = st.floats(allow_nan=False, allow_infinity=False, width=32)
AWARE = st.datetimes(
    min_value=dt.datetime(1, 1, 2),
    max_value=dt.datetime(9999, 12, 30),
    timezones=st.sampled_from([dt.timezone.utc, dt.timezone(dt.timedelta(hours=-5, minutes=-30))]),
)
DURATIONS = st.timedeltas(min_value=dt.timedelta(days=-3_000_000), max_value=dt.timedelta(days=3_000_000))


def roundtrip(value: object, data_type: int | None = None) -> object:
    mx = to_mx_value(value, data_type)
    # Through the wire form, as the gateway would see it.
    return from_mx_value(pb.MxValue.FromString(mx.SerializeToString()))


@given(st.booleans())
def test_bool(value: bool) -> None:
    mx = to_mx_value(value)
    assert (mx.WhichOneof("value"), mx.data_type, mx.variant_type) == (
        "bool_value",
        pb.MX_DATA_TYPE_BOOLEAN,
        pb.VT_BOOL,
    )
    assert roundtrip(value) is value


@given(INT32)
def test_int32(value: int) -> None:
    mx = to_mx_value(value)
    assert (mx.WhichOneof("value"), mx.variant_type) == ("int32_value", pb.VT_I4)
    assert roundtrip(value) == value
    assert roundtrip(value, pb.MX_DATA_TYPE_INTEGER) == value


@given(WIDE)
def test_int64_by_range(value: int) -> None:
    mx = to_mx_value(value)
    assert (mx.WhichOneof("value"), mx.variant_type) == ("int64_value", pb.VT_I8)
    assert roundtrip(value) == value
    with pytest.raises(ValueError, match="int32 range"):
        to_mx_value(value, pb.MX_DATA_TYPE_INTEGER)


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, 10**30])
def test_int_beyond_int64(value: int) -> None:
    with pytest.raises(ValueError, match="out of the int64 range"):
        to_mx_value(value)


@given(FINITE)
def test_double(value: float) -> None:
    mx = to_mx_value(value)
    assert (mx.WhichOneof("value"), mx.data_type) == ("double_value", pb.MX_DATA_TYPE_DOUBLE)
    assert roundtrip(value) == value


@given(FLOAT32)
def test_float32_when_requested(value: float) -> None:
    mx = to_mx_value(value, pb.MX_DATA_TYPE_FLOAT)
    assert (mx.WhichOneof("value"), mx.variant_type) == ("float_value", pb.VT_R4)
    assert roundtrip(value, pb.MX_DATA_TYPE_FLOAT) == value


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("data_type", [None, pb.MX_DATA_TYPE_FLOAT, pb.MX_DATA_TYPE_DOUBLE])
def test_non_finite_rejected(value: float, data_type: int | None) -> None:
    with pytest.raises(ValueError, match="finite"):
        to_mx_value(value, data_type)
    with pytest.raises(ValueError, match="finite"):
        to_mx_value([1.0, value], data_type)


def test_float32_overflow_rejected() -> None:
    with pytest.raises(ValueError, match="FLOAT"):
        to_mx_value(1e39, pb.MX_DATA_TYPE_FLOAT)


def test_int_widens_to_requested_float_types() -> None:
    assert to_mx_value(3, pb.MX_DATA_TYPE_DOUBLE).double_value == 3.0
    assert to_mx_value(3, pb.MX_DATA_TYPE_FLOAT).float_value == 3.0
    assert from_mx_value(to_mx_value([1, 2.5], pb.MX_DATA_TYPE_DOUBLE)) == [1.0, 2.5]


@given(st.text())
def test_string(value: str) -> None:
    assert to_mx_value(value).variant_type == pb.VT_BSTR
    assert roundtrip(value) == value
    assert to_mx_value(value, pb.MX_DATA_TYPE_BIG_STRING).data_type == pb.MX_DATA_TYPE_BIG_STRING


@given(AWARE)
def test_aware_datetime(value: dt.datetime) -> None:
    mx = to_mx_value(value)
    assert (mx.data_type, mx.variant_type) == (pb.MX_DATA_TYPE_TIME, pb.VT_DATE)
    back = roundtrip(value)
    assert isinstance(back, dt.datetime)
    assert back == value
    assert back.tzinfo == dt.timezone.utc


def test_naive_datetime_rejected() -> None:
    with pytest.raises(ValueError, match="naive"):
        to_mx_value(dt.datetime(2026, 1, 1))


@given(DURATIONS)
def test_timedelta(value: dt.timedelta) -> None:
    assert to_mx_value(value).data_type == pb.MX_DATA_TYPE_ELAPSED_TIME
    assert roundtrip(value) == value


@given(st.binary())
def test_bytes_are_opaque_records(value: bytes) -> None:
    mx = to_mx_value(value)
    assert (mx.WhichOneof("value"), mx.variant_type) == ("bytes_value", pb.VT_RECORD)
    assert roundtrip(value) == value
    assert roundtrip(value, pb.MX_DATA_TYPE_QUALIFIED_STRUCT) == value


def test_none_is_null() -> None:
    mx = to_mx_value(None)
    assert mx.is_null
    assert mx.variant_type == pb.VT_NULL
    assert from_mx_value(mx) is None
    assert to_mx_value(None, pb.MX_DATA_TYPE_DOUBLE).data_type == pb.MX_DATA_TYPE_DOUBLE
    assert from_mx_value(pb.MxValue()) is None
    assert to_mx_value(None, pb.MX_DATA_TYPE_NO_DATA).is_null


ARRAYS = st.one_of(
    st.lists(st.booleans()),
    st.lists(INT32),
    st.lists(st.integers(min_value=-(2**63), max_value=2**63 - 1)),
    st.lists(FINITE),
    st.lists(st.text(max_size=5)),
    st.lists(AWARE, max_size=5),
    st.lists(DURATIONS, max_size=5),
    st.lists(st.binary(max_size=5), max_size=5),
)


@given(ARRAYS, st.booleans())
def test_homogeneous_arrays(values: list[object], as_tuple: bool) -> None:
    value = tuple(values) if as_tuple else values
    mx = to_mx_value(value)
    assert mx.WhichOneof("value") == "array_value"
    assert mx.variant_type == pb.VT_ARRAY
    assert len({e.WhichOneof("value") for e in mx.array_value.elements}) <= 1
    if values:
        assert mx.array_value.element_data_type == mx.data_type == mx.array_value.elements[0].data_type
    assert roundtrip(value) == values


def test_array_of_doubles_keeps_the_attribute_type() -> None:
    mx = to_mx_value([40.0, 42.5], pb.MX_DATA_TYPE_DOUBLE)
    assert mx.array_value.element_variant_type == pb.VT_R8
    assert [e.double_value for e in mx.array_value.elements] == [40.0, 42.5]


@pytest.mark.parametrize(
    "value",
    [[1, "a"], [1, 2.5], [True, 1], [b"x", "x"], [[1], [2]], [None, 1], (1.0, "x")],
)
def test_mixed_or_nested_arrays_are_type_errors(value: object) -> None:
    with pytest.raises(TypeError):
        to_mx_value(value)


@pytest.mark.parametrize(
    ("value", "data_type"),
    [
        (True, pb.MX_DATA_TYPE_INTEGER),
        (1, pb.MX_DATA_TYPE_BOOLEAN),
        (1.5, pb.MX_DATA_TYPE_INTEGER),
        ("x", pb.MX_DATA_TYPE_DOUBLE),
        (b"x", pb.MX_DATA_TYPE_STRING),
        (dt.timedelta(1), pb.MX_DATA_TYPE_TIME),
        (dt.datetime.now(dt.timezone.utc), pb.MX_DATA_TYPE_ELAPSED_TIME),
        (1, pb.MX_DATA_TYPE_NO_DATA),
        ({"a": 1}, None),
        (object(), None),
        ({1, 2}, None),
    ],
)
def test_types_that_do_not_fit(value: object, data_type: int | None) -> None:
    with pytest.raises(TypeError):
        to_mx_value(value, data_type)


def test_enum_like_integers() -> None:
    mx = to_mx_value(192, pb.MX_DATA_TYPE_DATA_QUALITY)
    assert (mx.data_type, mx.int32_value) == (pb.MX_DATA_TYPE_DATA_QUALITY, 192)


# ------------------------------------------------- refusals are typed and agree

#: Every data type a value may be written as (None: as the value itself says).
WRITABLE_TYPES = [None, *(t for t in pb.MxDataType.values() if t != pb.MX_DATA_TYPE_UNSPECIFIED)]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([2**63, -(2**63) - 1, 2**64, 10**400]),
    st.floats(),
    st.text(max_size=5),
    st.sampled_from(["\ud800", "a\udfffb"]),
    st.datetimes(timezones=st.none() | st.timezones()),
    st.timedeltas(),
    st.binary(max_size=4),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
    st.builds(object),
    st.sets(st.integers(), max_size=2),
    st.dates(),
)
VALUES = st.one_of(
    SCALARS, st.lists(SCALARS, max_size=4), st.lists(st.lists(SCALARS, max_size=2), max_size=2)
)


def _refusal(convert: Callable[[], object]) -> MxGatewayArgumentError | None:
    """The typed error ``convert`` raised, None when it took the value (any other error propagates)."""
    try:
        convert()
    except MxGatewayArgumentError as error:
        return error
    return None


@given(value=VALUES)
def test_every_refusal_is_a_typed_error_naming_value_and_check_value_agrees(value: object) -> None:
    refused = _refusal(lambda: check_value("value", value))
    taken_as = []
    for data_type in WRITABLE_TYPES:
        error = _refusal(lambda data_type=data_type: to_mx_value(value, data_type))
        if error is None:
            taken_as.append(data_type)
            continue
        assert error.argument == "value"
        assert str(error).startswith("value ")
    if refused is not None:
        assert refused.argument == "value"
        # What check_value refuses, no attribute of any type takes.
        assert taken_as == [], (value, taken_as)
