"""Laws of the mergeable states (confusion counts, sorted score tables, means, calibration bins), proved by property
tests: the merge of any split equals the whole, merge is commutative and associative with ``empty`` as identity,
bytes round-trip, grouped updates equal per-group updates, row order does not matter, and scikit-learn's
sample-weight invariances hold (``None`` = ones, integer weight = repetition, zero weight = removal). Then the
compaction of a sorted table: metrics of a compacted table stay within the bound they report.

The regression state has its own laws in ``test_regression.py``.
"""

from __future__ import annotations

import functools
import itertools
import subprocess
import sys
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import average_precision_score, roc_auc_score

from assay.errors import StateError
from assay.metrics._groups import OVERALL
from assay.metrics.calibration import CalibrationState
from assay.metrics.classification import binary_metrics
from assay.metrics.confusion import ConfusionState
from assay.metrics.means import MeanState
from assay.metrics.roc import rank_metrics
from assay.metrics.table import SortedTable

LAWS = settings(max_examples=25, deadline=None, derandomize=True)
Z = 1.959963984540054
KEYS: tuple[Hashable, ...] = ("a", "b", 7)  # mixed key types, as segment values can be


# --- rows ------------------------------------------------------------------------------------------------------


@dataclass
class Rows:
    y: np.ndarray  # 0/1 label
    pred: np.ndarray  # 0/1 prediction
    score: np.ndarray  # in [0, 1], edges of the calibration bins included
    value: np.ndarray  # a real per-row quantity (for means)
    weight: np.ndarray | None
    code: np.ndarray  # index into KEYS

    @property
    def n(self) -> int:
        return int(self.y.size)

    def take(self, idx: np.ndarray) -> Rows:
        return Rows(self.y[idx], self.pred[idx], self.score[idx], self.value[idx],
                    None if self.weight is None else self.weight[idx], self.code[idx])

    def weighted(self, weight: np.ndarray | None) -> Rows:
        return Rows(self.y, self.pred, self.score, self.value, weight, self.code)


scores = st.one_of(
    st.sampled_from([0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 1.0]),  # ties and bin edges
    st.floats(0.0, 1.0, allow_nan=False),
)
weights = st.one_of(st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.0]), st.floats(0.01, 10.0))


@st.composite
def rows_st(draw: Any, *, min_size: int = 0, max_size: int = 40, weighted: bool | None = None) -> Rows:
    n = draw(st.integers(min_size, max_size))
    y = draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))
    pred = draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))
    score = draw(st.lists(scores, min_size=n, max_size=n))
    value = draw(st.lists(st.floats(-100.0, 100.0), min_size=n, max_size=n))
    code = draw(st.lists(st.integers(0, len(KEYS) - 1), min_size=n, max_size=n))
    if weighted is None:
        weighted = draw(st.booleans())
    w = np.array(draw(st.lists(weights, min_size=n, max_size=n)), dtype=np.float64) if weighted else None
    return Rows(np.array(y, np.int64), np.array(pred, np.int64), np.array(score, np.float64),
                np.array(value, np.float64), w, np.array(code, np.int64))


@st.composite
def splits(draw: Any, rows: Rows, parts: int | None = None) -> list[tuple[np.ndarray, tuple[int, ...]]]:
    """A split of the rows into consecutive parts of a shuffled order, each with its own order of group keys."""
    order = np.array(draw(st.permutations(range(rows.n))), dtype=np.int64)
    k = parts if parts is not None else draw(st.integers(1, 4))
    cuts = sorted(draw(st.lists(st.integers(0, rows.n), min_size=k - 1, max_size=k - 1)))
    bounds = [0, *cuts, rows.n]
    return [(order[a:b], tuple(draw(st.permutations(range(len(KEYS)))))) for a, b in itertools.pairwise(bounds)]


# --- the states under test ---------------------------------------------------------------------------------------

Canon = dict[Any, np.ndarray]


@dataclass(frozen=True)
class Kind:
    """How to build, read and compute one kind of state from :class:`Rows`."""

    name: str
    empty: Callable[[], Any]
    add: Callable[[Any, Rows, np.ndarray | None, tuple[Hashable, ...]], Any]  # (state, rows, codes, keys)
    canon: Callable[[Any], Canon]
    compute: Callable[[Any, bool], dict[Any, np.ndarray]]  # (state, frequency) -> {group key: numbers}

    def update(self, state: Any, rows: Rows, perm: tuple[int, ...] | None = None) -> Any:
        """Add ``rows`` grouped by KEYS, listed in the order ``perm`` (codes remapped to match)."""
        perm = tuple(range(len(KEYS))) if perm is None else perm
        keys = tuple(KEYS[i] for i in perm)
        inverse = np.argsort(np.array(perm))
        return self.add(state, rows, inverse[rows.code], keys)

    def build(self, rows: Rows, perm: tuple[int, ...] | None = None) -> Any:
        return self.update(self.empty(), rows, perm)


def _confusion_canon(s: ConfusionState) -> Canon:
    return {k: np.concatenate([s.counts[i].ravel(), s.sq[i].ravel(), s.rows[i].ravel()])
            for i, k in enumerate(s.groups)}


def _confusion_compute(s: ConfusionState, frequency: bool) -> dict[Any, np.ndarray]:
    ests = binary_metrics(s, Z, frequency)
    return {k: no_interval_without_value(np.array([[e.value[i], e.se[i], e.low[i], e.high[i]] for e in ests.values()]))
            for i, k in enumerate(s.groups)}


def no_interval_without_value(table: np.ndarray) -> np.ndarray:
    """Rows of (value, se, low, high): a run shows no interval where there is no value (Estimate.entry)."""
    table[np.isnan(table[:, 0]), 1:] = np.nan
    return table


def _table_canon(s: SortedTable) -> Canon:
    out: Canon = {("sq", k): s.sq[i] for i, k in enumerate(s.groups)}
    for g, key, mass in zip(s.group, s.key, s.mass, strict=True):
        out[(s.groups[g], int(key))] = mass
    out["shift"] = np.array([s.shift])
    return out


def _table_compute(s: SortedTable, frequency: bool) -> dict[Any, np.ndarray]:
    """AUC, its DeLong se, AP, their bounds and the masses, of each group on its own: ``rank_metrics`` of a table
    of several groups lets each group's sums round with the others' (see tests/metrics/test_classification.py::
    test_rank_metrics_of_a_group_do_not_depend_on_the_other_groups)."""
    bounds = s.bounds()
    out = {}
    for i, k in enumerate(s.groups):
        lo, hi = bounds[i], bounds[i + 1]
        alone = SortedTable(s.n_mass, (k,), np.zeros(hi - lo, np.int64), s.key[lo:hi], s.mass[lo:hi], s.sq[i : i + 1],
                            s.shift, s.cap)
        r = rank_metrics(alone, frequency_weights=frequency)
        out[k] = np.array([r.auc[0], r.auc_se[0], r.average_precision[0], r.auc_bound[0], r.ap_bound[0],
                           r.positives[0], r.negatives[0]])
    return out


def _means_canon(s: MeanState) -> Canon:
    return {k: np.concatenate([[s.rows[i], s.sw[i], s.sw2[i]], s.s1[i], s.s2[i]]) for i, k in enumerate(s.groups)}


def _means_compute(s: MeanState, frequency: bool) -> dict[Any, np.ndarray]:
    ests = [s.estimate(name, Z, frequency=frequency) for name in s.names]
    return {k: no_interval_without_value(np.array([[e.value[i], e.se[i], e.low[i], e.high[i]] for e in ests]))
            for i, k in enumerate(s.groups)}


def _calibration_canon(s: CalibrationState) -> Canon:
    return {k: np.concatenate([s.rows[i], s.sw[i], s.sw2[i], s.sp[i], s.sy[i]]) for i, k in enumerate(s.groups)}


def _calibration_compute(s: CalibrationState, frequency: bool) -> dict[Any, np.ndarray]:
    """ECE and the reliability diagram. The ECE's bootstrap interval has laws of its own below: the multinomial
    draws of a weighted state move with the last bit of its float sums, so it is compared on counts only."""
    e = s.ece(Z, frequency=frequency)
    out = {}
    for i, k in enumerate(s.groups):
        bins = [[np.nan if b[f] is None else b[f] for f in ("mean_predicted", "observed", "ci_low", "ci_high",
                                                             "weight")] for b in s.diagram(i, Z, frequency=frequency)]
        out[k] = np.concatenate([[e.value[i]], np.ravel(bins)])
    return out


def _codes(codes: np.ndarray | None, keys: tuple[Hashable, ...]) -> dict[str, Any]:
    return {"codes": codes, "group_keys": keys}


KINDS = {
    "confusion": Kind(
        "confusion",
        lambda: ConfusionState.empty(2),
        lambda s, r, c, k: s.update(r.y, r.pred, r.weight, **_codes(c, k)),
        _confusion_canon,
        _confusion_compute,
    ),
    "table": Kind(
        "table",
        lambda: SortedTable.empty(2),
        lambda s, r, c, k: s.update(r.score, r.y, r.weight, **_codes(c, k)),
        _table_canon,
        _table_compute,
    ),
    "table_capped": Kind(
        "table_capped",
        lambda: SortedTable.empty(2, cap=3),
        lambda s, r, c, k: s.update(r.score, r.y, r.weight, **_codes(c, k)),
        _table_canon,
        _table_compute,
    ),
    "means": Kind(
        "means",
        lambda: MeanState.empty(("value", "score")),
        lambda s, r, c, k: s.update(np.column_stack([r.value, r.score]), r.weight, **_codes(c, k)),
        _means_canon,
        _means_compute,
    ),
    "calibration": Kind(
        "calibration",
        lambda: CalibrationState.empty(10),
        lambda s, r, c, k: s.update(r.score, r.y.astype(np.float64), r.weight, **_codes(c, k)),
        _calibration_canon,
        _calibration_compute,
    ),
}
ALL = sorted(KINDS)
COUNTING = {"confusion", "table", "table_capped"}  # unweighted, these states hold integer counts: exact


def exact_for(name: str, rows: Rows) -> bool:
    return rows.weight is None and name in COUNTING


def assert_same(a: dict[Any, np.ndarray], b: dict[Any, np.ndarray], *, exact: bool) -> None:
    """Equal by key: exactly, or to 1e-9 relative (float sums in another order). Rows of (value, se, low, high)
    compare their se and bounds to 1e-6 absolute: a variance that is 0 in exact arithmetic comes out of sums of
    squares as a rounding residue, whose square root is ~1e-7 for values of ~30."""
    assert set(a) == set(b)
    for key in a:
        x, y = np.asarray(a[key], np.float64), np.asarray(b[key], np.float64)
        if exact:
            np.testing.assert_array_equal(x, y, err_msg=str(key))
        elif x.ndim == 2 and x.shape[1:] == (4,):
            np.testing.assert_allclose(x[:, 0], y[:, 0], rtol=1e-9, atol=1e-9, err_msg=str(key))
            np.testing.assert_allclose(x[:, 1:], y[:, 1:], rtol=1e-9, atol=1e-6, err_msg=str(key))
        else:
            np.testing.assert_allclose(x, y, rtol=1e-9, atol=1e-9, err_msg=str(key))


def merged(kind: Kind, rows: Rows, split: list[tuple[np.ndarray, tuple[int, ...]]]) -> Any:
    return functools.reduce(lambda s, t: s.merge(t), (kind.build(rows.take(idx), perm) for idx, perm in split))


# --- laws ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL)
@LAWS
@given(data=st.data())
def test_merge_of_any_split_equals_the_whole(name: str, data: st.DataObject) -> None:
    kind = KINDS[name]
    rows = data.draw(rows_st())
    split = data.draw(splits(rows))
    whole, parts = kind.build(rows), merged(kind, rows, split)
    exact = exact_for(name, rows)
    assert_same(kind.canon(parts), kind.canon(whole), exact=exact)
    assert_same(kind.compute(parts, False), kind.compute(whole, False), exact=exact)
    # and a fold of updates over the parts, from empty, is the same again
    folded = functools.reduce(lambda s, part: kind.update(s, rows.take(part[0]), part[1]), split, kind.empty())
    assert_same(kind.canon(folded), kind.canon(whole), exact=exact)


@pytest.mark.parametrize("name", ALL)
@LAWS
@given(data=st.data())
def test_merge_is_commutative_and_associative(name: str, data: st.DataObject) -> None:
    kind = KINDS[name]
    rows = data.draw(rows_st())
    (ia, pa), (ib, pb), (ic, pc) = data.draw(splits(rows, parts=3))
    a, b, c = kind.build(rows.take(ia), pa), kind.build(rows.take(ib), pb), kind.build(rows.take(ic), pc)
    exact = exact_for(name, rows)
    assert_same(kind.canon(a.merge(b)), kind.canon(b.merge(a)), exact=True)
    assert_same(kind.compute(a.merge(b), False), kind.compute(b.merge(a), False), exact=True)
    assert_same(kind.canon(a.merge(b).merge(c)), kind.canon(a.merge(b.merge(c))), exact=exact)
    assert_same(kind.compute(a.merge(b).merge(c), False), kind.compute(a.merge(b.merge(c)), False), exact=exact)


@pytest.mark.parametrize("name", ALL)
@LAWS
@given(rows=rows_st())
def test_empty_is_the_identity_and_computes_to_nothing(name: str, rows: Rows) -> None:
    kind = KINDS[name]
    s, e = kind.build(rows), kind.empty()
    assert_same(kind.canon(e.merge(s)), kind.canon(s), exact=True)
    assert_same(kind.canon(s.merge(e)), kind.canon(s), exact=True)
    assert_same(kind.canon(e.merge(e)), kind.canon(e), exact=True)
    assert kind.compute(e, False) == {}  # an empty fold is an empty result, not a crash


@pytest.mark.parametrize("name", ALL)
@LAWS
@given(rows=rows_st())
def test_bytes_round_trip(name: str, rows: Rows) -> None:
    kind = KINDS[name]
    for state in (kind.empty(), kind.build(rows), kind.build(rows, (2, 0, 1))):
        back = type(state).from_bytes(state.to_bytes())
        assert back.groups == state.groups
        assert_same(kind.canon(back), kind.canon(state), exact=True)
        assert_same(kind.compute(back, False), kind.compute(state, False), exact=True)
        assert_same(kind.canon(back.merge(state)), kind.canon(state.merge(state)), exact=True)


@pytest.mark.parametrize("name", ALL)
def test_bytes_of_another_kind_or_garbage_raise_state_error(name: str) -> None:
    kind = KINDS[name]
    state = kind.build(Rows(np.array([0, 1]), np.array([1, 1]), np.array([0.2, 0.8]), np.array([1.0, 2.0]), None,
                            np.array([0, 1])))
    other = ConfusionState.empty(2) if name != "confusion" else MeanState.empty(("x",))
    with pytest.raises(StateError):
        type(state).from_bytes(other.to_bytes())
    with pytest.raises(StateError):
        type(state).from_bytes(b"not a state")


def test_truncated_state_bytes_raise_state_error() -> None:
    """A cut-off state (a partial upload, a full disk) is a StateError, like every other undecodable state."""
    rows = Rows(np.array([0, 1]), np.array([1, 1]), np.array([0.2, 0.8]), np.array([1.0, 2.0]), None, np.array([0, 1]))
    for name in ALL:
        state = KINDS[name].build(rows)
        data = state.to_bytes()
        with pytest.raises(StateError):
            type(state).from_bytes(data[: len(data) - 20])


def by_group(canon: Canon) -> dict[Any, Canon]:
    """A state's canonical arrays split by group key (score tables key entries by (group, score key))."""
    out: dict[Any, Canon] = {}
    for k, v in canon.items():
        if k == "shift":
            continue
        if isinstance(k, tuple):  # ("sq", group) or (group, score key)
            group, sub = (k[1], "sq") if k[0] == "sq" else k
        else:
            group, sub = k, "all"
        out.setdefault(group, {})[sub] = v
    return out


@pytest.mark.parametrize("name", [n for n in ALL if n != "table_capped"])  # alone, a group may need less coarsening
@LAWS
@given(rows=rows_st())
def test_grouped_update_equals_separate_updates_per_group(name: str, rows: Rows) -> None:
    kind = KINDS[name]
    grouped = kind.build(rows)
    parts, computed = by_group(kind.canon(grouped)), kind.compute(grouped, False)
    exact = exact_for(name, rows)
    for code, key in enumerate(KEYS):
        alone = kind.add(kind.empty(), rows.take(np.flatnonzero(rows.code == code)), None, OVERALL)
        assert_same(parts.get(key, {}), by_group(kind.canon(alone)).get(None, {}), exact=exact)
        assert_same({key: computed[key]}, {key: kind.compute(alone, False)[None]}, exact=exact)


@pytest.mark.parametrize("name", ALL)
@LAWS
@given(data=st.data())
def test_row_order_does_not_matter(name: str, data: st.DataObject) -> None:
    kind = KINDS[name]
    rows = data.draw(rows_st())
    order = np.array(data.draw(st.permutations(range(rows.n))), dtype=np.int64)
    exact = exact_for(name, rows)
    a, b = kind.build(rows), kind.build(rows.take(order))
    assert_same(kind.canon(a), kind.canon(b), exact=exact)
    assert_same(kind.compute(a, False), kind.compute(b, False), exact=exact)


@pytest.mark.parametrize("name", ALL)
@LAWS
@given(rows=rows_st(weighted=False))
def test_weights_none_equal_weights_one(name: str, rows: Rows) -> None:
    kind = KINDS[name]
    a, b = kind.build(rows), kind.build(rows.weighted(np.ones(rows.n)))
    assert_same(kind.canon(a), kind.canon(b), exact=True)
    for frequency in (False, True):
        assert_same(kind.compute(a, frequency), kind.compute(b, frequency), exact=True)


@pytest.mark.parametrize("name", ALL)
@LAWS
@given(rows=rows_st(weighted=False), data=st.data())
def test_integer_frequency_weights_equal_repeated_rows(name: str, rows: Rows, data: st.DataObject) -> None:
    kind = KINDS[name]
    w = np.array(data.draw(st.lists(st.integers(1, 4), min_size=rows.n, max_size=rows.n)), dtype=np.int64)
    weighted = kind.build(rows.weighted(w.astype(np.float64)))
    repeated = kind.build(rows.take(np.repeat(np.arange(rows.n), w)))
    assert_same(kind.compute(weighted, True), kind.compute(repeated, False), exact=False)


@pytest.mark.parametrize("name", [n for n in ALL if n != "table_capped"])  # see the test after this one
@LAWS
@given(rows=rows_st(weighted=True), data=st.data())
def test_zero_weight_equals_removing_the_row(name: str, rows: Rows, data: st.DataObject) -> None:
    kind = KINDS[name]
    zero = np.array(data.draw(st.lists(st.booleans(), min_size=rows.n, max_size=rows.n)), dtype=bool)
    assert rows.weight is not None
    w = np.where(zero, 0.0, rows.weight)
    kept = np.flatnonzero(~zero)
    with_zeros, removed = kind.compute(kind.build(rows.weighted(w)), False), kind.compute(
        kind.build(rows.take(kept).weighted(w[kept])), False)
    removed = {k: removed.get(k, with_zeros[k] * np.nan) for k in with_zeros}  # a group of zero-weight rows only
    assert_same(with_zeros, removed, exact=False)


def test_zero_weight_rows_take_no_room_in_a_capped_table() -> None:
    """Rows of weight 0 are rows removed: they must not push a capped table into coarsening (and a bound)."""
    s = np.array([0.1, 0.2, 0.3, 0.4, 0.5])
    y = np.array([0, 1, 0, 1, 1])
    w = np.array([1.0, 0.0, 1.0, 0.0, 1.0])
    kept = w > 0
    with_zeros = SortedTable.empty(2, cap=3).update(s, y, w)
    removed = SortedTable.empty(2, cap=3).update(s[kept], y[kept], w[kept])
    assert removed.exact
    assert with_zeros.exact
    a, b = rank_metrics(with_zeros), rank_metrics(removed)
    assert (a.auc[0], a.average_precision[0], a.auc_bound[0], a.ap_bound[0]) == (
        b.auc[0], b.average_precision[0], 0.0, 0.0)


def finishes(code: str, seconds: float = 8.0) -> subprocess.CompletedProcess[str] | None:
    """Run ``code`` in a fresh interpreter; ``None`` when it has not finished after ``seconds``."""
    try:
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=seconds,
                              check=False)
    except subprocess.TimeoutExpired:
        return None


def test_a_cap_below_two_is_met_or_rejected() -> None:
    """Dropping key bits never puts a negative and a positive score in one bucket, and no grid holds fewer than
    one entry: a cap of 1 (scores of both signs) or 0 cannot be met. The table must reject it, not hang nor
    return a table over its cap on a grid shifted by the whole key width (run in a subprocess: it used to hang).
    """
    done = finishes(
        "import numpy as np\n"
        "from assay.errors import AssayError\n"
        "from assay.metrics.table import SortedTable\n"
        "for cap, s in ((1, [-1.0, 2.0]), (0, [1.0, 2.0])):\n"
        "    try:\n"
        "        t = SortedTable.empty(2, cap=cap).update(np.array(s), np.array([0, 1]))\n"
        "        print('cap', cap, 'entries', t.key.size, 'shift', t.shift)\n"
        "    except AssayError as exc:\n"
        "        print('cap', cap, 'rejected')\n"
    )
    assert done is not None, "SortedTable(cap=1).update of scores -1.0 and 2.0 did not finish in 8 s"
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["cap 1 rejected", "cap 0 rejected"], done.stdout


def test_merging_states_of_different_configuration_raises_naming_both() -> None:
    pairs = [
        (ConfusionState.empty(2), ConfusionState.empty(3), ("2", "3")),
        (SortedTable.empty(2, cap=8), SortedTable.empty(2, cap=16), ("8", "16")),
        (SortedTable.empty(2), SortedTable.empty(1), ("2", "1")),
        (MeanState.empty(("a",)), MeanState.empty(("b",)), ("a", "b")),
        (CalibrationState.empty(10), CalibrationState.empty(15), ("10", "15")),
    ]
    for a, b, names in pairs:
        with pytest.raises(StateError) as info:
            a.merge(b)
        assert all(n in str(info.value) for n in names)


def test_table_with_tuple_group_keys_round_trips_through_bytes() -> None:
    """Multiclass one-vs-rest score tables are keyed by (group, class) tuples (evaluation/accumulate.py)."""
    keys = (("north", 0), ("north", 1), (None, 0))
    t = SortedTable.empty(2).update(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 1, 1, 0]),
                                    codes=np.array([0, 1, 2, 1]), group_keys=keys)
    back = SortedTable.from_bytes(t.to_bytes())
    assert back.groups == t.groups
    assert _table_canon(back.merge(t)).keys() == _table_canon(t.merge(t)).keys()


def _ece_intervals(s: CalibrationState, frequency: bool = False) -> dict[Any, np.ndarray]:
    e = s.ece(Z, frequency=frequency)
    return {k: np.array([e.low[i], e.high[i], e.se[i]]) for i, k in enumerate(s.groups)}


@LAWS
@given(data=st.data())
def test_ece_interval_of_unweighted_rows_is_a_function_of_each_groups_rows(data: st.DataObject) -> None:
    """Any split merged, any row order, any order of the group keys: the same interval per group."""
    kind = KINDS["calibration"]
    rows = data.draw(rows_st(weighted=False))
    split = data.draw(splits(rows))
    whole = _ece_intervals(kind.build(rows))
    assert_same(_ece_intervals(merged(kind, rows, split)), whole, exact=False)
    order = np.array(data.draw(st.permutations(range(rows.n))), dtype=np.int64)
    assert_same(_ece_intervals(kind.build(rows.take(order), (2, 1, 0))), whole, exact=False)


@LAWS
@given(rows=rows_st(weighted=False), data=st.data())
def test_ece_interval_with_frequency_weights_is_that_of_repeated_rows(rows: Rows, data: st.DataObject) -> None:
    """Integer frequency weights are rows repeated, for the interval too (so the draws may not be keyed by the
    row counts); and rows of weight 0 are rows removed."""
    kind = KINDS["calibration"]
    w = np.array(data.draw(st.lists(st.integers(0, 3), min_size=rows.n, max_size=rows.n)), dtype=np.int64)
    weighted = kind.build(rows.weighted(w.astype(np.float64)))
    repeated = kind.build(rows.take(np.repeat(np.arange(rows.n), w)))
    got, want = _ece_intervals(weighted, frequency=True), _ece_intervals(repeated)
    assert_same({k: got[k] for k in want}, want, exact=False)


def test_ece_interval_of_a_group_does_not_depend_on_the_other_groups() -> None:
    """One group's ECE interval is a function of that group's bins, as its value is: not of the
    order in which groups met the state, nor of which other groups exist."""
    rng = np.random.default_rng(0)
    conf = rng.uniform(size=300)
    outcome = (rng.uniform(size=300) < conf ** 1.5).astype(np.float64)
    code = rng.integers(0, 2, 300)
    ab = CalibrationState.empty().update(conf, outcome, codes=code, group_keys=("a", "b"))
    ba = CalibrationState.empty().update(conf, outcome, codes=1 - code, group_keys=("b", "a"))
    alone = CalibrationState.empty().update(conf[code == 1], outcome[code == 1])
    e_ab, e_ba, e_alone = (s.ece(Z) for s in (ab, ba, alone))
    assert e_ab.value[1] == pytest.approx(e_ba.value[0]) == pytest.approx(e_alone.value[0])
    # the interval is a float function of the bins' sums (no resampling since issue 14), so equal up to rounding
    assert (e_ab.low[1], e_ab.high[1]) == (pytest.approx(e_ba.low[0], rel=1e-12),
                                           pytest.approx(e_ba.high[0], rel=1e-12))  # group "b", first or second
    assert (e_ab.low[1], e_ab.high[1]) == (pytest.approx(e_alone.low[0], rel=1e-12),
                                           pytest.approx(e_alone.high[0], rel=1e-12))  # with or without "a"


# --- sorted-table compaction -------------------------------------------------------------------------------------


def _scores(seed: int, n: int = 5000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    s = 1 / (1 + np.exp(-(rng.normal(size=n) + 1.2 * y)))
    w = rng.uniform(0.2, 2.0, n)
    return y, s, w


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_compacted_table_stays_within_its_reported_bound(seed: int, weighted: bool) -> None:
    y, s, w = _scores(seed)
    w = w if weighted else None
    assert np.unique(s).size == s.size  # 5,000 distinct scores
    exact = SortedTable.empty(2).update(s, y, w)
    r_exact = rank_metrics(exact)
    assert r_exact.auc[0] == pytest.approx(roc_auc_score(y, s, sample_weight=w), abs=1e-12)
    assert r_exact.average_precision[0] == pytest.approx(average_precision_score(y, s, sample_weight=w), abs=1e-12)
    assert r_exact.auc_bound[0] == 0 and r_exact.ap_bound[0] == 0

    compact = SortedTable.empty(2, cap=64).update(s, y, w)
    assert not compact.exact and compact.key.size <= 64
    np.testing.assert_allclose(compact.totals(), exact.totals(), rtol=1e-12)
    r = rank_metrics(compact)
    assert 0 < r.auc_bound[0] < 0.5 and 0 < r.ap_bound[0] < 1
    assert abs(r.auc[0] - r_exact.auc[0]) <= r.auc_bound[0] + 1e-12
    assert abs(r.average_precision[0] - r_exact.average_precision[0]) <= r.ap_bound[0] + 1e-12

    # chunks compacted on their own, then merged, give the same table (the grid is the same on every machine)
    chunks = [SortedTable.empty(2, cap=64).update(s[i : i + 700], y[i : i + 700], None if w is None else w[i : i + 700])
              for i in range(0, s.size, 700)]
    tree = functools.reduce(lambda a, b: a.merge(b), chunks)
    assert tree.shift == compact.shift
    np.testing.assert_array_equal(tree.key, compact.key)
    np.testing.assert_allclose(tree.mass, compact.mass, rtol=1e-12)
    r_tree = rank_metrics(tree)
    assert abs(r_tree.auc[0] - r_exact.auc[0]) <= r_tree.auc_bound[0] + 1e-12
    assert abs(r_tree.average_precision[0] - r_exact.average_precision[0]) <= r_tree.ap_bound[0] + 1e-12


@settings(max_examples=60, deadline=None, derandomize=True)
@given(rows=rows_st(min_size=2, max_size=60), cap=st.integers(2, 8))  # cap 1: see the test above
def test_any_compaction_stays_within_its_bound(rows: Rows, cap: int) -> None:
    """Scores with logits of any sign and ties: the bound covers every ordering inside the shared buckets."""
    s = np.log(rows.score + 1e-3) * 7.0
    exact = rank_metrics(SortedTable.empty(2).update(s, rows.y, rows.weight))
    compact = SortedTable.empty(2, cap=cap).update(s, rows.y, rows.weight)
    r = rank_metrics(compact)
    assert compact.key.size <= cap
    if np.isfinite(exact.auc[0]):
        assert abs(r.auc[0] - exact.auc[0]) <= r.auc_bound[0] + 1e-12
    if np.isfinite(exact.average_precision[0]):
        assert abs(r.average_precision[0] - exact.average_precision[0]) <= r.ap_bound[0] + 1e-12


def test_compacted_scores_through_evaluate_report_their_bound(tmp_path: Any) -> None:
    """A file streamed in chunks keeps at most ``max_distinct_scores`` entries and reports the bound; the same
    rows in memory are exact."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    import assay

    y, s, _ = _scores(5, n=3000)
    path = tmp_path / "scores.parquet"
    pq.write_table(pa.table({"y": y, "s": s}), path)
    exact = {"roc_auc": roc_auc_score(y, s), "average_precision": average_precision_score(y, s)}
    options = {"task": "binary", "label": "y", "score": "s", "max_distinct_scores": 64, "chunk_rows": 500}
    streamed = assay.evaluate(str(path), **options).to_dict()
    in_memory = assay.evaluate({"y": y, "s": s}, **options).to_dict()
    for name, value in exact.items():
        entry = streamed["metrics"][name]
        assert entry["bound"] > 0
        assert abs(entry["value"] - value) <= entry["bound"] + 1e-12
        assert in_memory["metrics"][name]["value"] == pytest.approx(value, abs=1e-12)
        assert "bound" not in in_memory["metrics"][name]
    assert any("roc_auc" in note for note in streamed["notes"])


@settings(deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 5000), st.integers(1, 40))
def test_block_and_group_sums_are_within_a_few_ulps_of_exact(seed: int, n: int, size: int) -> None:
    import math

    from assay.metrics._groups import BlockSums, GroupSums

    rng = np.random.default_rng(seed)
    codes = rng.integers(0, size, n)
    values = rng.lognormal(0, 2, n)
    exact = np.array([math.fsum(values[codes == c]) for c in range(size)])
    for sums in (BlockSums(codes, size), GroupSums(codes, size)):
        got = sums.sum(values)
        assert np.all(np.abs(got - exact) <= 8 * np.spacing(np.maximum(np.abs(exact), 1e-300)))
        assert np.array_equal(sums.count(), np.bincount(codes, minlength=size))


@pytest.mark.parametrize("name", ALL)
@LAWS
@given(data=st.data())
def test_merge_many_equals_the_chain_of_merges(name: str, data: st.DataObject) -> None:
    """``merge_many`` (one sort of all the tables' entries for a sorted table, a balanced tree for the others)
    is the chain of pairwise merges, empty states and ``None`` anywhere in the list included."""
    from assay.metrics._groups import merge_many

    kind = KINDS[name]
    rows = data.draw(rows_st())
    split = data.draw(splits(rows, parts=data.draw(st.integers(1, 6))))
    parts = [kind.build(rows.take(idx), perm) for idx, perm in split]
    chain = functools.reduce(lambda s, t: s.merge(t), parts)
    listed: list[Any] = [*parts]
    for at in data.draw(st.lists(st.integers(0, len(listed)), max_size=3)):
        listed.insert(at, data.draw(st.sampled_from([None, kind.empty()])))
    many = merge_many(listed)
    exact = exact_for(name, rows)
    assert many.groups == chain.groups  # keys in order of first appearance, as the chain meets them
    assert_same(kind.canon(many), kind.canon(chain), exact=exact)
    assert_same(kind.compute(many, False), kind.compute(chain, False), exact=exact)
    if isinstance(chain, SortedTable):
        direct = SortedTable.merge_many([p for p in listed if p is not None])
        assert_same(kind.canon(direct), kind.canon(chain), exact=exact)


def test_merge_many_of_nothing_is_none_or_an_error() -> None:
    from assay.metrics._groups import merge_many

    assert merge_many([]) is None and merge_many([None, None]) is None
    with pytest.raises(StateError, match="at least one table"):
        SortedTable.merge_many([])
    with pytest.raises(StateError, match="caps 3 vs None"):
        SortedTable.merge_many([SortedTable.empty(2, cap=3), SortedTable.empty(2), SortedTable.empty(2)])


def test_merge_many_of_tables_in_different_key_ranges_and_many_groups() -> None:
    """Tables whose (group, key) does not pack into 63 bits (keys of both signs over the whole float range) take
    the lexsort path: still the chain of merges."""
    rng = np.random.default_rng(5)
    tables = []
    for i in range(5):
        values = rng.choice([-1e300, -2.5, -0.0, 1e-300, 3.0, 7e307], size=50)
        codes = rng.integers(0, 40, size=50)
        keys = tuple(f"g{(k * (i + 1)) % 41}" for k in range(40))
        tables.append(SortedTable.empty(2).update(values, rng.integers(0, 2, size=50), codes=codes,
                                                  group_keys=keys))
    chain = functools.reduce(lambda s, t: s.merge(t), tables)
    many = SortedTable.merge_many(tables)
    assert many.groups == chain.groups
    assert_same(_table_canon(many), _table_canon(chain), exact=True)
