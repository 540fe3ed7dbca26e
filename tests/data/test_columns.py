"""Arrow columns to NumPy: values kept, the first bad row named, codes that rebuild the column."""

from __future__ import annotations

import decimal
import itertools
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from assay.data.columns import null_mask, to_codes, to_float
from assay.errors import ColumnError


def chunked(values: list[Any], cuts: list[int], type: pa.DataType | None = None) -> pa.ChunkedArray:
    """``values`` split into chunks at the (sorted, de-duplicated) positions ``cuts``."""
    edges = [0, *sorted({c for c in cuts if 0 < c < len(values)}), len(values)]
    return pa.chunked_array([values[a:b] for a, b in itertools.pairwise(edges)], type=type)


# ---------------------------------------------------------------------------------------------------- to_float


@pytest.mark.parametrize(
    ("array", "expected"),
    [
        (pa.array([1, 2, 3], pa.int8()), [1.0, 2.0, 3.0]),
        (pa.array([1, 2**40], pa.uint64()), [1.0, 2.0**40]),
        (pa.array([0.5, -1.5], pa.float32()), [0.5, -1.5]),
        (pa.array([True, False]), [1.0, 0.0]),
        (pa.array([decimal.Decimal("1.25")]), [1.25]),
        (pa.array([3, 1, 3]).dictionary_encode(), [3.0, 1.0, 3.0]),
        (pa.chunked_array([[1.0], [], [2.0, 3.0]]), [1.0, 2.0, 3.0]),
        (pa.chunked_array([], pa.float64()), []),
    ],
)
def test_to_float_values(array: Any, expected: list[float]) -> None:
    out = to_float(array, column="s", source="a.csv")
    assert out.dtype == np.float64
    assert out.tolist() == expected


def test_to_float_returns_a_writable_array() -> None:
    out = to_float(pa.array([1.0, 2.0]), column="s", source="a.csv")
    out[0] = 5.0
    assert out.tolist() == [5.0, 2.0]


@pytest.mark.parametrize(("bad", "shown"), [(float("inf"), "inf"), (float("-inf"), "-inf"), (float("nan"), "nan")])
def test_to_float_rejects_non_finite_values_naming_the_row(bad: float, shown: str) -> None:
    values = pa.array([0.1, 0.2, bad, bad])
    expected = rf"column 's' of data\.csv: expected finite numbers, found {shown} at row 17\. Fix: "
    with pytest.raises(ColumnError, match=expected):
        to_float(values, column="s", source="data.csv", row_offset=15)


def test_to_float_rejects_nulls_unless_allowed() -> None:
    values = pa.array([1.0, None, 3.0])
    with pytest.raises(ColumnError, match=r"column 'w' of b\.parquet: expected finite numbers, found null at row 1\."):
        to_float(values, column="w", source="b.parquet")
    out = to_float(values, column="w", source="b.parquet", allow_null=True)
    assert np.isnan(out[1]) and out[[0, 2]].tolist() == [1.0, 3.0]


def test_to_float_with_nulls_allowed_still_rejects_nan() -> None:
    values = pa.array([None, float("nan")])
    with pytest.raises(ColumnError, match="expected finite numbers or nulls, found nan at row 1"):
        to_float(values, column="s", source="a.csv", allow_null=True)


def test_to_float_all_null_column() -> None:
    assert np.isnan(to_float(pa.nulls(3), column="s", source="a.csv", allow_null=True)).all()
    with pytest.raises(ColumnError, match="found null at row 0"):
        to_float(pa.nulls(3), column="s", source="a.csv")


def test_to_float_names_the_type_and_first_non_number() -> None:
    values = pa.array(["0.5", "1e3", None, "n/a", "x"])
    expected = r"column 's' of a\.csv: expected numbers, found values of type string, e\.g\. 'n/a' at row 13\. Fix"
    with pytest.raises(ColumnError, match=expected):
        to_float(values, column="s", source="a.csv", row_offset=10)


def test_to_float_names_the_type_of_other_columns() -> None:
    with pytest.raises(ColumnError, match=r"found values of type list<item: int64>, e\.g\. \[1\] at row 1"):
        to_float(pa.array([None, [1]]), column="s", source="a.csv")
    with pytest.raises(ColumnError, match=r"found values of type large_string, e\.g\. '1' at row 0"):
        to_float(pa.array(["1"], pa.large_string()), column="s", source="a.csv")


@given(
    values=st.lists(st.floats(allow_nan=False, allow_infinity=False, width=64), max_size=30),
    cuts=st.lists(st.integers(0, 30), max_size=4),
)
def test_to_float_matches_numpy_for_any_chunking(values: list[float], cuts: list[int]) -> None:
    out = to_float(chunked(values, cuts, pa.float64()), column="s", source="a.csv")
    np.testing.assert_array_equal(out, np.asarray(values, dtype=np.float64))


@given(
    size=st.integers(1, 30),
    data=st.data(),
    offset=st.integers(0, 10**9),
    bad=st.sampled_from([float("nan"), float("inf"), None]),
)
def test_to_float_reports_the_first_bad_row_plus_offset(size: int, data: st.DataObject, offset: int, bad: Any) -> None:
    positions = data.draw(st.sets(st.integers(0, size - 1), min_size=1))
    values: list[Any] = [1.0] * size
    for i in positions:
        values[i] = bad
    with pytest.raises(ColumnError, match=f" at row {offset + min(positions)}\\. Fix"):
        to_float(pa.array(values, pa.float64()), column="s", source="a.csv", row_offset=offset)


# --------------------------------------------------------------------------------------------------- null_mask


def test_null_mask() -> None:
    assert null_mask(pa.array([1.0, None, float("nan")])).tolist() == [False, True, False]
    assert null_mask(pa.chunked_array([["a", None], [None]])).tolist() == [False, True, True]
    assert null_mask(pa.chunked_array([], pa.int64())).dtype == bool
    assert null_mask(pa.nulls(2)).tolist() == [True, True]


# ---------------------------------------------------------------------------------------------------- to_codes


@pytest.mark.parametrize(
    ("array", "codes", "values"),
    [
        (pa.array(["b", "a", "b", None, "a"]), [0, 1, 0, 2, 1], ["b", "a", None]),
        (pa.array([3, 1, 3]), [0, 1, 0], [3, 1]),
        (pa.array([True, None, False, True]), [0, 1, 2, 0], [True, None, False]),
        (pa.array([1.0, float("nan"), float("nan")]), [0, 1, 1], [1.0, pytest.approx(float("nan"), nan_ok=True)]),
        (pa.array(["x", "y", None, "x"]).dictionary_encode(), [0, 1, 2, 0], ["x", "y", None]),
        (pa.nulls(2), [0, 0], [None]),
        (pa.array([], pa.string()), [], []),
        (pa.chunked_array([], pa.string()), [], []),
        (pa.chunked_array([["a", "b"], [], [None, "c", "a"]]), [0, 1, 2, 3, 0], ["a", "b", None, "c"]),
    ],
)
def test_to_codes(array: Any, codes: list[int], values: list[Any]) -> None:
    got_codes, got_values = to_codes(array, column="g", source="a.csv")
    assert got_codes.dtype == np.int64
    assert got_codes.tolist() == codes
    assert got_values == values


def test_to_codes_rejects_nested_values() -> None:
    with pytest.raises(ColumnError, match=r"column 'g' of a\.csv: expected values that can be grouped .*list<item"):
        to_codes(pa.array([[1], [2]]), column="g", source="a.csv")


@given(
    values=st.lists(st.one_of(st.none(), st.integers(-3, 3)), max_size=40),
    cuts=st.lists(st.integers(0, 40), max_size=5),
)
def test_to_codes_rebuild_the_column_for_any_chunking(values: list[int | None], cuts: list[int]) -> None:
    codes, distinct = to_codes(chunked(values, cuts, pa.int64()), column="g", source="a.csv")
    assert [distinct[c] for c in codes] == values
    assert distinct == list(dict.fromkeys(values))  # distinct, in order of first appearance
