"""The binary states derived from the score table, and the blockwise passes over tables.

- With unit weights, the confusion, mean and calibration states derived from the exact score table equal the states
  updated row by row (counts exactly, float sums to rounding), ties across labels, bin edges and the threshold
  included; and a group's derived sums are bit for bit those of the group alone.
- The block plan covers every entry once and cuts a group only on its own grid, so AUC, DeLong's error and average
  precision of a group are bit for bit those of the group alone, and agree with scikit-learn across block cuts.
- States collapsed from a grouping equal the states of the rows taken as one group.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import average_precision_score, log_loss, roc_auc_score

from assay.errors import StateError
from assay.metrics import _groups
from assay.metrics._groups import BlockCells, group_blocks, partition_sums
from assay.metrics.calibration import CalibrationState
from assay.metrics.confusion import ConfusionState
from assay.metrics.derive import binary_states
from assay.metrics.means import MeanState
from assay.metrics.roc import rank_metrics
from assay.metrics.table import SortedTable, weighted_batch

LAWS = settings(max_examples=40, deadline=None, derandomize=True)
EPS = np.finfo(np.float64).eps

scores = st.one_of(
    st.sampled_from([0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0]),  # ties across labels, bin edges, the threshold
    st.floats(0.0, 1.0, allow_nan=False),
)


@st.composite
def batches(draw: Any, max_size: int = 60) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = draw(st.integers(1, max_size))
    y = np.array(draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)), np.int64)
    s = np.array(draw(st.lists(scores, min_size=n, max_size=n)), np.float64)
    code = np.array(draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)), np.int64)
    return y, s, code


def _row_states(y: np.ndarray, s: np.ndarray, code: np.ndarray | None, keys: tuple[Any, ...],
                threshold: float, w: np.ndarray | None = None) -> tuple[ConfusionState, MeanState, CalibrationState]:
    """The states the general path builds, row by row (scikit-learn's clipping of the log)."""
    kw: dict[str, Any] = {"codes": code, "group_keys": keys}
    pred = (s >= threshold).astype(np.int64)
    p_true = np.clip(np.where(y == 1, s, 1 - s), EPS, 1 - EPS)
    confusion = ConfusionState.empty(2).update(y, pred, w, **kw)
    means = MeanState.empty(("log_loss", "brier")).update([-np.log(p_true), (y - s) ** 2], w, **kw)
    calibration = CalibrationState.empty(10).update(s, y.astype(np.float64), w, **kw)
    return confusion, means, calibration


@LAWS
@given(batch=batches(), threshold=st.sampled_from([0.5, 0.3, 0.0, 1.0, 0.55]), grouped=st.booleans())
def test_derived_states_equal_the_row_states(batch: tuple[np.ndarray, np.ndarray, np.ndarray], threshold: float,
                                             grouped: bool) -> None:
    y, s, code = batch
    keys: tuple[Any, ...] = ("a", "b", "c") if grouped else (None,)
    codes = code if grouped else None
    table = SortedTable.empty(2).update(s, y, codes=codes, group_keys=keys)
    confusion, means, calibration = binary_states(table, threshold, bins=10)
    want_c, want_m, want_cal = _row_states(y, s, codes, keys, threshold)
    assert means is not None and calibration is not None
    np.testing.assert_array_equal(confusion.counts, want_c.counts)
    np.testing.assert_array_equal(confusion.rows, want_c.rows)
    np.testing.assert_array_equal(confusion.sq, want_c.sq)
    for name in ("rows", "sw", "sw2"):
        np.testing.assert_array_equal(getattr(means, name), getattr(want_m, name))
        np.testing.assert_array_equal(getattr(calibration, name), getattr(want_cal, name))
    np.testing.assert_allclose(means.s1, want_m.s1, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(means.s2, want_m.s2, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(calibration.sp, want_cal.sp, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(calibration.sy, want_cal.sy)


weights = st.one_of(st.sampled_from([0.0, 0.5, 1.0, 2.0]), st.floats(0.01, 10.0))


@LAWS
@given(batch=batches(), data=st.data(), grouped=st.booleans(), presorted=st.booleans())
def test_weighted_derived_states_equal_the_weighted_row_states(
    batch: tuple[np.ndarray, np.ndarray, np.ndarray], data: st.DataObject, grouped: bool, presorted: bool
) -> None:
    """Rows of weight 0 included: they count in ``n`` and nowhere else, and take no room in the score table."""
    y, s, code = batch
    w = np.array(data.draw(st.lists(weights, min_size=y.size, max_size=y.size)), np.float64)
    keys: tuple[Any, ...] = ("a", "b", "c") if grouped else (None,)
    codes = code if grouped else None
    order = np.argsort(s) if presorted else None
    table, extra = weighted_batch(s, y, w, codes=codes, group_keys=keys, order=order)
    confusion, means, calibration = binary_states(table, 0.5, bins=10, extra=extra)
    want_c, want_m, want_cal = _row_states(y, s, codes, keys, 0.5, w)
    assert means is not None and calibration is not None
    np.testing.assert_array_equal(confusion.rows, want_c.rows)
    np.testing.assert_array_equal(means.rows, want_m.rows)
    np.testing.assert_array_equal(calibration.rows, want_cal.rows)
    for got, want, names in ((confusion, want_c, ("counts", "sq")), (means, want_m, ("sw", "sw2", "s1", "s2")),
                             (calibration, want_cal, ("sw", "sw2", "sp", "sy"))):
        for name in names:
            np.testing.assert_allclose(getattr(got, name), getattr(want, name), rtol=1e-12, atol=1e-12,
                                       err_msg=name)
    # the state: per group, each distinct score with its weight per label, scores of no weight left out
    state = table.without_empty()
    assert state.groups == keys
    group_codes = code if grouped else np.zeros(y.size, np.int64)
    want_group, want_value, want_mass = [], [], []
    for g in range(len(keys)):
        m = group_codes == g
        values, inverse = np.unique(s[m] + 0.0, return_inverse=True)
        mass = np.stack([np.bincount(inverse, weights=w[m] * (y[m] == c), minlength=values.size) for c in (0, 1)],
                        axis=1)
        live = mass.any(axis=1)
        want_group += [g] * int(live.sum())
        want_value += values[live].tolist()
        want_mass += mass[live].tolist()
    assert state.group.tolist() == want_group
    assert state.values().tolist() == want_value
    np.testing.assert_allclose(state.mass.reshape(-1, 2), np.reshape(want_mass, (-1, 2)), rtol=1e-12, atol=1e-12)
    want_sq = [[float(np.sum(w[(group_codes == g) & (y == c)] ** 2)) for c in (0, 1)] for g in range(len(keys))]
    np.testing.assert_allclose(state.sq, want_sq, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("weighted", [False, True])
def test_a_score_shared_across_a_group_boundary_stays_in_each_group(weighted: bool) -> None:
    """Group 0's largest score equals group 1's smallest: two entries, one per group, not one."""
    y = np.array([0, 1, 0, 1, 1])
    s = np.array([0.1, 0.5, 0.5, 0.9, 0.5])
    code = np.array([0, 0, 1, 1, 1])
    w = np.array([1.0, 2.0, 3.0, 1.0, 0.5]) if weighted else None
    if w is None:
        table = SortedTable.empty(2).update(s, y, codes=code, group_keys=("p", "q"))
        extra = None
    else:
        table, extra = weighted_batch(s, y, w, codes=code, group_keys=("p", "q"))
    assert table.group.tolist() == [0, 0, 1, 1] and table.values().tolist() == [0.1, 0.5, 0.5, 0.9]
    confusion, _, _ = binary_states(table, 0.5, bins=10, extra=extra)
    want, _, _ = _row_states(y, s, code, ("p", "q"), 0.5, w)
    np.testing.assert_array_equal(confusion.counts, want.counts)
    np.testing.assert_array_equal(confusion.rows, want.rows)


def test_margins_give_confusion_only_and_coarsened_tables_are_refused() -> None:
    y = np.array([0, 1, 1, 0])
    s = np.array([-2.5, 3.0, 0.2, 0.0])
    confusion, means, calibration = binary_states(SortedTable.empty(2).update(s, y), 0.0, bins=None)
    assert means is None and calibration is None
    assert confusion.counts[0].tolist() == [[1.0, 1.0], [0.0, 2.0]]  # 0.0 >= 0.0 counts as predicted positive
    coarse = SortedTable.empty(2, cap=2).update(np.linspace(0.01, 0.99, 50), np.arange(50) % 2)
    assert not coarse.exact
    with pytest.raises(StateError, match="exact"):
        binary_states(coarse, 0.5, bins=10)


def test_log_loss_from_the_table_matches_scikit_learn_with_clipping() -> None:
    y = np.array([0, 1, 1, 0, 1, 0])
    s = np.array([0.0, 1.0, 0.3, 0.3, 1e-300, 0.999])  # clipped at both ends, a tie across labels
    _, means, _ = binary_states(SortedTable.empty(2).update(s, y), 0.5, bins=10)
    assert means is not None
    assert means.s1[0, 0] / means.sw[0] == pytest.approx(log_loss(y, s), rel=1e-12)


# --- blocks ------------------------------------------------------------------------------------------------------


@LAWS
@given(sizes=st.lists(st.integers(0, 30), min_size=1, max_size=12), size=st.integers(1, 16))
def test_block_plan_covers_every_entry_and_cuts_a_group_only_on_its_own_grid(sizes: list[int], size: int) -> None:
    bounds = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    blocks = group_blocks(bounds, size)
    covered = [i for a, b in blocks for i in range(a, b)]
    assert covered == list(range(int(bounds[-1])))
    assert all(b > a for a, b in blocks)
    starts = set(bounds.tolist())
    for a, b in blocks:
        inside = [g for g in range(len(sizes)) if bounds[g] < b and bounds[g + 1] > a]
        whole = all(bounds[g] >= a and bounds[g + 1] <= b for g in inside)
        if whole:
            assert b - a <= size  # packed whole groups
        else:  # part of one large group, cut on that group's grid
            assert len(inside) == 1
            g = inside[0]
            assert sizes[g] > size and (a - bounds[g]) % size == 0 and (b == bounds[g + 1] or b - a == size)
        assert a in starts or any((a - bounds[g]) % size == 0 for g in inside)


def test_partition_sums_and_block_cells_sum_each_range_pairwise() -> None:
    x = np.arange(10, dtype=np.float64)
    assert partition_sums(x, np.array([0, 0, 3, 3, 10])).tolist() == [0.0, 3.0, 0.0, 42.0]
    total = np.zeros(4)
    BlockCells(np.array([1, 1, 1])).add(total, np.array([1.0, 2.0, 3.0]))
    BlockCells(np.array([1, 3, 3])).add(total, np.array([1.0, 2.0, 3.0]))
    assert total.tolist() == [0.0, 7.0, 0.0, 5.0]
    # pairwise: a long range of 0.1 sums as np.sum does, not as a running total
    x = np.full(100_000, 0.1)
    assert partition_sums(x, np.array([0, x.size]))[0] == np.sum(x)


def _scores(n: int, groups: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    code = rng.choice(groups, size=n, p=np.arange(1, groups + 1) / (groups * (groups + 1) / 2))
    y = (rng.random(n) < 0.3 + 0.1 * (code % 3)).astype(np.int64)
    s = np.round(1 / (1 + np.exp(-(rng.normal(size=n) + 1.5 * y))), 3)  # ties across labels
    w = rng.uniform(0.1, 3.0, n)
    return y, s, code, w


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("block", [7, 64, 1 << 17])
def test_blockwise_rank_metrics_agree_with_scikit_learn_per_group(monkeypatch: pytest.MonkeyPatch, block: int,
                                                                  weighted: bool) -> None:
    monkeypatch.setattr(_groups, "BLOCK", block)
    groups = 5
    y, s, code, w = _scores(3000, groups, seed=block)
    weight = w if weighted else None
    table = SortedTable.empty(2).update(s, y, weight, codes=code, group_keys=tuple(range(groups)))
    r = rank_metrics(table)
    for g in range(groups):
        m = code == g
        wg = None if weight is None else weight[m]
        assert r.auc[g] == pytest.approx(roc_auc_score(y[m], s[m], sample_weight=wg), abs=1e-12)
        assert r.average_precision[g] == pytest.approx(average_precision_score(y[m], s[m], sample_weight=wg),
                                                       abs=1e-12)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("block", [7, 100, 1 << 17])
def test_blockwise_derived_states_equal_the_row_states(monkeypatch: pytest.MonkeyPatch, block: int,
                                                       weighted: bool) -> None:
    """Many blocks, small groups packed and large ones cut, scores tied across labels in every block."""
    monkeypatch.setattr(_groups, "BLOCK", block)
    y, s, code, w = _scores(3000, 5, seed=block)
    keys = tuple(range(5))
    weight = w if weighted else None
    if weight is None:
        table, extra = SortedTable.empty(2).update(s, y, codes=code, group_keys=keys), None
    else:
        table, extra = weighted_batch(s, y, weight, codes=code, group_keys=keys)
    got = binary_states(table, 0.5, bins=10, extra=extra)
    want = _row_states(y, s, code, keys, 0.5, weight)
    for mine, theirs in zip(got, want, strict=True):
        assert mine is not None
        for name, value in vars(theirs).items():
            if isinstance(value, np.ndarray):
                np.testing.assert_allclose(getattr(mine, name), value, rtol=1e-12, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("block", [16, 1 << 17])
def test_a_groups_blockwise_results_are_those_of_the_group_alone(monkeypatch: pytest.MonkeyPatch,
                                                                block: int) -> None:
    """Bit for bit: blocks never mix a large group's entries with another group's, and a group's sums run over its
    own entries in its own order."""
    monkeypatch.setattr(_groups, "BLOCK", block)
    y, s, code, _ = _scores(2000, 4, seed=3)
    keys = ("w", "x", "y", "z")
    table = SortedTable.empty(2).update(s, y, codes=code, group_keys=keys)
    together = rank_metrics(table)
    states = binary_states(table, 0.5, bins=10)
    for g, key in enumerate(keys):
        m = code == g
        alone_table = SortedTable.empty(2).update(s[m], y[m], group_keys=(key,), codes=np.zeros(m.sum(), np.int64))
        alone = rank_metrics(alone_table)
        for field in ("auc", "auc_se", "average_precision"):
            assert getattr(together, field)[g] == getattr(alone, field)[0], (key, field)
        alone_states = binary_states(alone_table, 0.5, bins=10)
        for mine, theirs in zip(states, alone_states, strict=True):
            assert mine is not None and theirs is not None
            for name in ("s1", "s2", "sp", "sy", "counts"):
                if hasattr(mine, name):
                    np.testing.assert_array_equal(getattr(mine, name)[g], getattr(theirs, name)[0])


@LAWS
@given(batch=batches(max_size=40), weighted=st.booleans())
def test_collapsed_states_equal_the_states_of_all_rows(batch: tuple[np.ndarray, np.ndarray, np.ndarray],
                                                       weighted: bool) -> None:
    y, s, code = batch
    w = np.linspace(0.5, 2.0, y.size) if weighted else None
    keys = ("a", "b", "c")
    pred = (s >= 0.5).astype(np.int64)
    for build in (
        lambda c, k: ConfusionState.empty(2).update(y, pred, w, codes=c, group_keys=k),
        lambda c, k: MeanState.empty(("q",)).update([s * 3 - y], w, codes=c, group_keys=k),
        lambda c, k: CalibrationState.empty(10).update(s, y.astype(np.float64), w, codes=c, group_keys=k),
    ):
        collapsed, whole = build(code, keys).collapse(), build(None, (None,))
        assert collapsed.groups == whole.groups
        for name, value in vars(whole).items():
            if isinstance(value, np.ndarray):
                np.testing.assert_allclose(getattr(collapsed, name), value, rtol=1e-12, atol=1e-12, err_msg=name)


def test_merging_with_an_empty_table_is_the_identity_without_a_sort() -> None:
    y, s, code, _ = _scores(500, 3, seed=1)
    table = SortedTable.empty(2).update(s, y, codes=code, group_keys=(0, 1, 2))
    for merged in (SortedTable.empty(2).merge(table), table.merge(SortedTable.empty(2))):
        for name in ("group", "key", "mass", "sq"):
            np.testing.assert_array_equal(getattr(merged, name), getattr(table, name))
        assert merged.groups == table.groups
    capped = SortedTable.empty(2, cap=40).merge(SortedTable(**{**vars(table), "cap": 40}))
    assert capped.key.size <= 40 and not capped.exact  # the identity still honours the cap


def test_distinct_and_tied_scores_build_the_same_kind_of_table() -> None:
    """The sort paths agree with a direct count: all keys distinct (no coalescing) or tied; the group packed above
    the key (probabilities, margins of both signs) or, for keys spanning too many bits, sorted group by group."""
    rng = np.random.default_rng(5)
    wide = np.sign(rng.normal(size=1000)) * 10.0 ** rng.uniform(-300, 0.2, 1000)  # |v| < 2, keys of 64 bits
    for s in (rng.random(1000), np.round(rng.random(1000), 2), rng.normal(size=1000) * 10, wide):
        y = (rng.random(1000) < s).astype(np.int64)
        code = rng.integers(0, 3, 1000)
        table = SortedTable.empty(2).update(s, y, codes=code, group_keys=(0, 1, 2))
        for g, (a, b) in enumerate(itertools.pairwise(table.bounds().tolist())):
            m = code == g
            values, counts = np.unique(s[m], return_counts=True)
            np.testing.assert_array_equal(table.values()[a:b], values)
            np.testing.assert_array_equal(table.mass[a:b].sum(axis=1), counts)
            assert table.sq[g].tolist() == [float((y[m] == 0).sum()), float((y[m] == 1).sum())]


def _merge_by_lexsort(a: SortedTable, b: SortedTable) -> tuple[tuple[Any, ...], np.ndarray, np.ndarray, np.ndarray]:
    """The plain merge: align the keys, concatenate, lexsort, sum equal entries in order (a's before b's)."""
    groups = list(a.groups) + [k for k in b.groups if k not in a.groups]
    ga = np.array([groups.index(a.groups[g]) for g in a.group], np.int64)
    gb = np.array([groups.index(b.groups[g]) for g in b.group], np.int64)
    group, key = np.concatenate([ga, gb]), np.concatenate([a.key, b.key])
    mass = np.concatenate([a.mass, b.mass])
    order = np.lexsort((key, group))
    group, key, mass = group[order], key[order], mass[order]
    out: dict[tuple[int, int], np.ndarray] = {}
    for g, k, m in zip(group.tolist(), key.tolist(), mass, strict=True):
        out[(g, k)] = out[(g, k)] + m if (g, k) in out else m.copy()
    cells = list(out)
    return (tuple(groups), np.array([c[0] for c in cells]), np.array([c[1] for c in cells]),
            np.array([out[c] for c in cells]))


@settings(max_examples=100, deadline=None, derandomize=True)
@given(first=batches(max_size=50), second=batches(max_size=50), same_order=st.booleans(),
       weighted=st.booleans())
def test_merge_places_entries_as_a_sorted_merge_would(first: tuple[np.ndarray, np.ndarray, np.ndarray],
                                                     second: tuple[np.ndarray, np.ndarray, np.ndarray],
                                                     same_order: bool, weighted: bool) -> None:
    """Bit for bit the lexsort merge, whichever side is larger, with ties across the sides, and with the second
    side's groups met in the same or another order (the binary-search merge, or the fallback)."""
    tables = []
    for (y, s, code), keys in ((first, ("a", "b", "c")), (second, ("a", "b", "c") if same_order else ("c", "a", "b"))):
        w = np.linspace(0.5, 1.5, y.size) if weighted else None
        tables.append(SortedTable.empty(2).update(s, y, w, codes=code, group_keys=keys))
    a, b = tables
    merged = a.merge(b)
    groups, group, key, mass = _merge_by_lexsort(a, b)
    assert merged.groups == groups
    np.testing.assert_array_equal(merged.group, group)
    np.testing.assert_array_equal(merged.key, key)
    np.testing.assert_array_equal(merged.mass, mass)


@pytest.mark.parametrize("second_keys", [("a", "b", "c"), ("c", "a", "b"), ("b", "c", "a")])
def test_merge_of_tables_that_met_their_groups_in_another_order(second_keys: tuple[str, ...]) -> None:
    a = SortedTable.empty(2).update(np.array([0.1, 0.2, 0.3, 0.4]), np.array([0, 1, 0, 1]),
                                    codes=np.array([0, 1, 2, 2]), group_keys=("a", "b", "c"))
    b = SortedTable.empty(2).update(np.array([0.15, 0.2, 0.35]), np.array([0, 1, 0]), codes=np.array([0, 1, 2]),
                                    group_keys=second_keys)
    for merged, want in ((a.merge(b), _merge_by_lexsort(a, b)), (b.merge(a), _merge_by_lexsort(b, a))):
        assert merged.groups == want[0]
        np.testing.assert_array_equal(merged.group, want[1])
        np.testing.assert_array_equal(merged.key, want[2])
        np.testing.assert_array_equal(merged.mass, want[3])
