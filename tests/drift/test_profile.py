"""Profiles: grids, kinds, the merge law, order independence, the file format and its errors."""

from __future__ import annotations

import datetime as dt
import gzip
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assay.drift.binning import fine_grid, grids, quantile_edges, sorted_quantiles
from assay.drift.profile import Profile, load_profile, merge_profiles, profile
from assay.drift.states import CategoricalState, NumericState, TextState
from assay.errors import ConfigError, ReadError, StateError


def _table(n: int, seed: int = 0, shift: float = 0.0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(shift, 1.0, n)
    x[rng.random(n) < 0.05] = np.nan
    return {
        "x": x,
        "k": rng.integers(0, 5, n),
        "c": rng.choice(np.array(["a", "b", "c", "d"]), n, p=[0.4, 0.3, 0.2, 0.1]),
        "flag": rng.random(n) < 0.3,
        "t": np.array([("word " * int(m)).strip() for m in rng.integers(5, 30, n)]),
    }


def test_kinds_are_inferred_and_overridable() -> None:
    p = profile({**_table(300), "when": np.array(["2026-01-01T00:00:00"] * 300, dtype="datetime64[s]")})
    assert p.kinds == {"x": "numeric", "k": "numeric", "c": "categorical", "flag": "boolean", "t": "text",
                       "when": "datetime"}
    assert profile(_table(300), kinds={"k": "categorical"}).kinds["k"] == "categorical"
    with pytest.raises(ConfigError, match="weird"):
        profile(_table(50), kinds={"k": "weird"})
    with pytest.raises(ConfigError, match="nope"):
        profile(_table(50), kinds={"nope": "numeric"})


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=300), st.sampled_from([(20, 10),
       (200, 10), (8, 4), (3, 3)]))
def test_grids_equal_numpy_quantiles_and_nest(values: list[float], bins: tuple[int, int]) -> None:
    x = np.asarray(values)
    fine, coarse = grids(x, *bins)
    assert np.array_equal(fine, fine_grid(x, bins[0]))
    assert np.array_equal(coarse, quantile_edges(x, bins[1]))
    assert np.isin(coarse, fine).all()  # every coarse edge is a fine edge: coarse counts are sums of fine counts


def test_sorted_quantiles_match_numpy_bit_for_bit() -> None:
    rng = np.random.default_rng(3)
    for n in (1, 2, 7, 1000):
        x = np.sort(rng.normal(size=n))
        levels = np.linspace(0, 1, 41)
        assert np.array_equal(sorted_quantiles(x, levels), np.quantile(x, levels))


def test_counts_are_exact_and_coarse_counts_match_numpy() -> None:
    data = _table(5000, seed=1)
    p = profile(data)
    x = data["x"]
    state = p.columns["x"]
    assert isinstance(state, NumericState)
    assert state.missing == int(np.isnan(x).sum()) and state.rows == 5000
    present = x[~np.isnan(x)]
    coarse = quantile_edges(present, 10)
    expected = np.bincount(np.searchsorted(coarse, present, side="left"), minlength=coarse.size + 1)
    assert np.array_equal(state.coarse_counts(), expected)
    assert state.moments.mean == pytest.approx(present.mean(), rel=1e-12)
    assert state.moments.sd == pytest.approx(present.std(ddof=1), rel=1e-12)
    cat = p.columns["c"]
    assert isinstance(cat, CategoricalState)
    values, counts = np.unique(data["c"], return_counts=True)
    assert dict(cat.counts) == dict(zip(values.tolist(), counts.tolist()))
    text = p.columns["t"]
    assert isinstance(text, TextState)
    assert text.length.moments.mean == pytest.approx(np.mean([len(s) for s in data["t"]]))


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(1, 400), min_size=1, max_size=5), st.integers(0, 10_000))
def test_profile_merged_from_chunks_equals_profile_of_whole(splits: list[int], seed: int) -> None:
    ref = profile(_table(400, seed=seed))
    cur = _table(sum(splits), seed=seed + 1, shift=0.3)
    whole = profile(cur, like=ref)
    parts, start = [], 0
    for size in splits:
        parts.append(profile({k: v[start:start + size] for k, v in cur.items()}, like=ref))
        start += size
    merged = merge_profiles(parts)
    assert merged.rows == whole.rows and merged.grid_id == whole.grid_id == ref.grid_id
    for name, state in whole.columns.items():
        other = merged.columns[name]
        a, b = state.to_dict(), other.to_dict()
        moments_a = (a.get("length") or a).get("moments")
        moments_b = (b.get("length") or b).get("moments")
        if moments_a is not None:  # float sums: equal up to rounding
            for key in ("mean", "m2"):
                assert moments_b[key] == pytest.approx(moments_a[key], rel=1e-9, abs=1e-9)
            for d in (a.get("length") or a, b.get("length") or b):
                d.pop("moments")
        assert a == b  # every count exactly


def test_row_order_changes_nothing_beyond_rounding() -> None:
    data = _table(3000, seed=5)
    perm = np.random.default_rng(9).permutation(3000)
    a = profile(data)
    b = profile({k: v[perm] for k, v in data.items()})
    assert a.grid_id == b.grid_id
    for name in a.columns:
        da, db = a.columns[name].to_dict(), b.columns[name].to_dict()
        for d in (da, db):
            (d.get("length") or d).pop("moments", None)
        assert da == db


def test_save_and_load_round_trip_bit_identical(tmp_path) -> None:
    p = profile(_table(2000, seed=2))
    path = tmp_path / "ref.profile"
    p.save(path)
    q = load_profile(path)
    assert q.to_dict() == p.to_dict()
    assert path.stat().st_size < 60_000  # compact: no rows, a few kB per column
    assert isinstance(q, Profile) and q.kinds == p.kinds


def test_merging_profiles_of_different_grids_is_refused_naming_both() -> None:
    a = profile(_table(500, seed=1), name="january.parquet")
    b = profile(_table(500, seed=2), name="february.parquet")
    with pytest.raises(StateError) as err:
        a.merge(b)
    assert "january.parquet" in str(err.value) and "february.parquet" in str(err.value)
    assert a.grid_id in str(err.value) and b.grid_id in str(err.value)


def test_incompatible_or_foreign_files_are_refused(tmp_path) -> None:
    p = profile(_table(200))
    doc = p.to_dict()
    doc["version"] = 99
    bumped = tmp_path / "new.profile"
    bumped.write_bytes(gzip.compress(json.dumps(doc).encode()))
    with pytest.raises(ReadError, match="version 99"):
        load_profile(bumped)
    junk = tmp_path / "junk.profile"
    junk.write_text("x,y\n1,2\n")
    with pytest.raises(ReadError, match="assay profile"):
        load_profile(junk)
    with pytest.raises(ReadError, match="no file"):
        load_profile(tmp_path / "absent.profile")


def test_large_file_is_sampled_for_the_grid_but_counted_exactly(tmp_path) -> None:
    data = _table(20_000, seed=4)
    path = tmp_path / "big.parquet"
    pq.write_table(pa.table(data), path, row_group_size=3000)
    sampled = profile(str(path), grid_sample=5000)
    whole = profile(str(path))
    x = sampled.columns["x"]
    assert isinstance(x, NumericState)
    assert x.present + x.missing == 20_000 and x.present == whole.columns["x"].present
    # the grid differs (placed by a sample) but its deciles are close to the exact ones
    assert np.allclose(x.coarse, whole.columns["x"].coarse, atol=0.1)
    assert sampled.to_dict()["columns"]["c"] == whole.to_dict()["columns"]["c"]


def test_type_mismatch_is_a_column_state_not_a_crash() -> None:
    ref = profile({"x": np.arange(100.0), "y": np.arange(100.0)})
    cur = profile({"x": np.array(["a"] * 50), "y": np.arange(50.0)}, like=ref)
    assert cur.columns["x"].to_dict()["status"] == "type_mismatch"
    assert "text" in cur.columns["x"].to_dict()["reason"]
    assert cur.columns["y"].present == 50


def test_datetime_columns_are_seconds() -> None:
    start = dt.datetime(2026, 1, 1)
    times = pa.array([start + dt.timedelta(hours=i) for i in range(100)], type=pa.timestamp("ms"))
    p = profile(pa.table({"when": times}))
    state = p.columns["when"]
    assert isinstance(state, NumericState) and state.kind == "datetime"
    assert state.moments.max - state.moments.min == pytest.approx(99 * 3600)


def test_frequency_table_keeps_the_largest_values_and_counts_the_rest_as_other() -> None:
    values = np.array(["common"] * 500 + ["second"] * 300 + [f"rare{i}" for i in range(200)])
    state = profile({"c": values}, max_categories=10).columns["c"]
    assert isinstance(state, CategoricalState)
    assert state.truncated and len(state.counts) == 10
    assert state.counts["common"] == 500 and state.counts["second"] == 300
    assert state.other == 200 - 8 and state.present == 1000


def test_a_profile_like_a_reference_refuses_settings_the_reference_fixes() -> None:
    ref = profile(_table(300))
    with pytest.raises(ConfigError, match="kinds"):
        profile(_table(100, seed=1), like=ref, kinds={"k": "categorical"})
    with pytest.raises(ConfigError, match="bins=20"):
        profile(_table(100, seed=1), like=ref, bins=20, fine_bins=200)
    assert profile(_table(100, seed=1), like=ref, bins=10).grid_id == ref.grid_id  # the reference's own value
