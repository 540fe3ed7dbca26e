"""The latency quantile sketch: its relative-error bound against NumPy's inverted-CDF quantiles, its merge laws
(exact: the state is integer counts), the bucket cap, bytes, and the bad paths."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from assay.errors import ConfigError, InputError, StateError
from assay.watch.sketch import MIN_VALUE, QuantileSketch

ROUNDING = 1e-12  # slack for the floating-point logarithm at bucket edges, relative


def true_quantile(x: np.ndarray, q: float) -> float:
    return float(np.quantile(x, q, method="inverted_cdf"))


def assert_within(sketch: QuantileSketch, x: np.ndarray, q: float) -> None:
    est = sketch.quantile(q)
    true = true_quantile(x, q)
    assert est is not None
    if true >= MIN_VALUE:
        assert abs(est - true) <= sketch.alpha * true * (1 + ROUNDING), (q, est, true)
    else:
        assert est == 0.0 and true < MIN_VALUE


positive_floats = st.floats(1e-6, 1e6, allow_nan=False, allow_infinity=False)
values_st = st.lists(st.one_of(positive_floats, st.sampled_from([0.0, 1.0, 0.5, 2.0])), min_size=1, max_size=80)
alphas = st.sampled_from([0.001, 0.01, 0.05, 0.2])


def sketch_of(values: list[float] | np.ndarray, alpha: float = 0.01, max_buckets: int = 2048) -> QuantileSketch:
    return QuantileSketch.empty(alpha, max_buckets=max_buckets).update(np.asarray(values, dtype=np.float64))


# --- accuracy --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("alpha", "max_buckets"), [(0.001, 20_000), (0.01, 2048), (0.05, 2048)])
def test_quantiles_within_the_relative_error_of_numpy(alpha: float, max_buckets: int) -> None:
    rng = np.random.default_rng(7)
    x = np.concatenate([rng.lognormal(-3.0, 1.5, 20_000), np.zeros(50), rng.uniform(0, 1e-10, 10)])
    s = sketch_of(x, alpha, max_buckets)  # at alpha=0.001, 2,048 buckets span a ratio of ~60 only: see the module
    assert s.count == x.size
    for q in [0.0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0]:
        assert_within(s, x, q)


@given(values_st, st.floats(0.0, 1.0), alphas)
def test_any_quantile_within_the_bound(values: list[float], q: float, alpha: float) -> None:
    x = np.array(values)
    assert_within(sketch_of(x, alpha), x, q)


def test_values_at_bucket_edges_keep_the_bound() -> None:
    s0 = QuantileSketch.empty(0.01)
    x = s0.gamma ** np.arange(-200, 200, dtype=np.float64)
    s = s0.update(x)
    for q in np.linspace(0, 1, 101):
        assert_within(s, x, float(q))


def test_values_below_the_minimum_count_as_zero() -> None:
    x = np.array([0.0, 1e-12, 5e-10, 2.0])
    s = sketch_of(x)
    assert s.zero_count == 3 and s.count == 4
    assert s.quantile(0.5) == 0.0 and s.quantile(0.75) == 0.0
    assert abs(s.quantile(1.0) - 2.0) <= 0.02  # type: ignore[operator]


def test_nan_is_ignored() -> None:
    s = sketch_of([np.nan, 1.0, np.nan])
    assert s.count == 1
    assert sketch_of([np.nan]).quantile(0.5) is None


def test_empty_sketch_answers_none() -> None:
    s = QuantileSketch.empty()
    assert s.count == 0 and s.quantile(0.99) is None
    assert s.update(np.zeros(0)) == s


# --- merge laws (exact) ----------------------------------------------------------------------------------------


@given(values_st, st.lists(st.integers(0, 80), max_size=4), alphas)
def test_merge_of_any_split_equals_the_whole(values: list[float], cuts: list[int], alpha: float) -> None:
    x = np.array(values)
    whole = sketch_of(x, alpha)
    parts = np.split(x, sorted(min(c, x.size) for c in cuts))
    merged = QuantileSketch.empty(alpha)
    for part in parts:
        merged = merged.merge(sketch_of(part, alpha))
    assert merged == whole
    sequential = QuantileSketch.empty(alpha)
    for part in parts:
        sequential = sequential.update(part)
    assert sequential == whole


@given(values_st, values_st, values_st)
def test_merge_is_commutative_associative_with_empty_as_identity(a: list[float], b: list[float],
                                                                 c: list[float]) -> None:
    sa, sb, sc = sketch_of(a), sketch_of(b), sketch_of(c)
    assert sa.merge(sb) == sb.merge(sa)
    assert sa.merge(sb).merge(sc) == sa.merge(sb.merge(sc))
    empty = QuantileSketch.empty()
    assert empty.merge(sa) == sa and sa.merge(empty) == sa


@given(values_st)
def test_row_order_does_not_matter(values: list[float]) -> None:
    x = np.array(values)
    assert sketch_of(x[::-1]) == sketch_of(x)


# --- the bucket cap --------------------------------------------------------------------------------------------


def test_cap_collapses_the_lowest_buckets_and_keeps_high_quantiles() -> None:
    rng = np.random.default_rng(3)
    x = 10.0 ** rng.uniform(-6, 3, 5_000)  # spans ~1,000 buckets at alpha=0.01
    s = sketch_of(x, 0.01, max_buckets=64)
    assert s.index.size <= 64 and s.count == x.size
    for q in [0.99, 0.999, 1.0]:
        assert_within(s, x, q)
    low = s.quantile(0.01)
    assert low is not None and low > true_quantile(x, 0.01)  # collapsed mass is over-estimated


@given(st.lists(st.floats(1e-6, 1e6), min_size=1, max_size=60), st.lists(st.integers(0, 60), max_size=3))
def test_capped_merge_is_still_exact(values: list[float], cuts: list[int]) -> None:
    x = np.array(values)
    whole = sketch_of(x, 0.05, max_buckets=5)
    parts = np.split(x, sorted(min(c, x.size) for c in cuts))
    merged = QuantileSketch.empty(0.05, max_buckets=5)
    for part in reversed(parts):
        merged = sketch_of(part, 0.05, max_buckets=5).merge(merged)
    assert merged == whole
    assert whole.index.size <= 5 and whole.count == x.size


# --- value semantics and bytes ---------------------------------------------------------------------------------


@given(values_st, alphas)
def test_bytes_round_trip(values: list[float], alpha: float) -> None:
    s = sketch_of(values, alpha, max_buckets=100)
    back = QuantileSketch.from_bytes(s.to_bytes())
    assert back == s and hash(back) == hash(s)
    assert back.quantile(0.5) == s.quantile(0.5)


def test_sketch_is_immutable() -> None:
    s = sketch_of([1.0, 2.0])
    with pytest.raises(ValueError):
        s.counts[0] = 5
    t = s.update(np.array([3.0]))
    assert s.count == 2 and t.count == 3


def test_bad_bytes_raise_state_error() -> None:
    with pytest.raises(StateError, match="quantile_sketch"):
        QuantileSketch.from_bytes(b"not a state")
    from assay.metrics import _serial

    other = _serial.dump("means", 1, {}, {})
    with pytest.raises(StateError, match="quantile_sketch"):
        QuantileSketch.from_bytes(other)


# --- bad paths -------------------------------------------------------------------------------------------------


def test_negative_values_raise_input_error_naming_them() -> None:
    with pytest.raises(InputError, match=r"latency: expected non-negative.*-0\.5"):
        QuantileSketch.empty().update(np.array([1.0, -0.5]), name="latency")
    with pytest.raises(InputError, match="sketch values"):
        QuantileSketch.empty().update(np.array([math.inf]))
    with pytest.raises(InputError, match="numbers"):
        QuantileSketch.empty().update(np.array(["a"]))


def test_merge_of_different_alpha_names_both() -> None:
    with pytest.raises(StateError, match=r"alpha=0\.01.*alpha=0\.02"):
        QuantileSketch.empty(0.01).merge(QuantileSketch.empty(0.02))
    with pytest.raises(StateError, match=r"max_buckets=2048.*max_buckets=10"):
        QuantileSketch.empty(0.01).merge(QuantileSketch.empty(0.01, max_buckets=10))


@pytest.mark.parametrize("alpha", [0.0, 1.0, -0.1, True, "0.01"])
def test_bad_alpha_is_rejected(alpha: object) -> None:
    with pytest.raises(ConfigError, match="alpha"):
        QuantileSketch.empty(alpha)  # type: ignore[arg-type]


@pytest.mark.parametrize("q", [-0.1, 1.5, math.nan])
def test_bad_q_is_rejected(q: float) -> None:
    with pytest.raises(ConfigError, match="quantile q"):
        sketch_of([1.0]).quantile(q)
