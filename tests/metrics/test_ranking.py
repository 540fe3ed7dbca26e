"""Tests of assay.metrics.ranking: references (scikit-learn, brute force over tie orderings), merge laws, bad paths."""

from __future__ import annotations

import doctest
import functools
import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import ndcg_score

from assay.errors import ColumnError, ConfigError, StateError
from assay.metrics import ranking
from assay.metrics.ranking import RankingState, per_query

LAWS = settings(max_examples=60, deadline=None, derandomize=True)
REFERENCE = settings(max_examples=250, deadline=None, derandomize=True)
METRIC_FIELDS = ("ndcg", "mrr", "map", "precision", "recall")


# --- data ------------------------------------------------------------------------------------------------------

relevances = st.one_of(
    st.sampled_from([0.0, 0.0, 0.0, 1.0, 2.0, 3.0]),
    # graded relevance; no subnormals: a tie group's averaged gain of 5e-324 underflows to 0, which no label is
    st.floats(0.0, 5.0, allow_nan=False, allow_infinity=False, allow_subnormal=False),
)
# small integers force ties; a few real numbers (negative logits included) break them
scores = st.one_of(
    st.integers(-2, 2).map(float),
    st.floats(-50.0, 50.0, allow_nan=False, allow_infinity=False),
)


@st.composite
def datasets(draw, min_queries=0, max_queries=6, max_items=7):
    """Rows of a few queries (codes anywhere in [-50, 50]), shuffled; returns (query, relevance, score, k)."""
    codes = draw(st.lists(st.integers(-50, 50), min_size=min_queries, max_size=max_queries, unique=True))
    query, rel, score = [], [], []
    for code in codes:
        size = draw(st.integers(1, max_items))
        query += [code] * size
        rel += draw(st.lists(relevances, min_size=size, max_size=size))
        score += draw(st.lists(st.integers(0, 3).map(float) | scores, min_size=size, max_size=size))
    perm = np.array(draw(st.permutations(range(len(query)))), dtype=np.int64)
    k = draw(st.integers(1, 9))
    q = np.array(query, dtype=np.int64).reshape(-1)[perm]
    return q, np.array(rel, dtype=np.float64).reshape(-1)[perm], np.array(score, dtype=np.float64).reshape(-1)[perm], k


def rows_of(q, rel, score, code):
    mask = q == code
    return rel[mask], score[mask]


# --- references ------------------------------------------------------------------------------------------------


def brute_force(rel, score, k):
    """Every metric averaged over all orderings of tied items, each ordering scored from the definition."""
    n = len(rel)
    levels = sorted(set(score.tolist()), reverse=True)
    tie_groups = [[i for i in range(n) if score[i] == level] for level in levels]
    n_rel = sum(1 for r in rel if r > 0)
    ideal = sorted(rel.tolist(), reverse=True)
    idcg = sum(ideal[i] / math.log2(i + 2) for i in range(min(k, n)))
    sums = dict.fromkeys(METRIC_FIELDS, 0.0)
    count = 0
    for parts in itertools.product(*(itertools.permutations(g) for g in tie_groups)):
        ranked = [i for part in parts for i in part]
        gain = [float(rel[i]) for i in ranked]
        hit = [gain[i] > 0 for i in range(n)]
        count += 1
        dcg = sum(gain[i] / math.log2(i + 2) for i in range(min(k, n)))
        sums["ndcg"] += dcg / idcg if idcg > 0 else 0.0
        sums["precision"] += sum(hit[:k]) / k
        if n_rel:
            sums["mrr"] += 1.0 / (hit.index(True) + 1)
            sums["recall"] += sum(hit[:k]) / n_rel
            sums["map"] += sum(sum(hit[: i + 1]) / (i + 1) for i in range(min(k, n)) if hit[i]) / min(k, n_rel)
    out = {name: total / count for name, total in sums.items()}
    if not n_rel:
        out.update(mrr=math.nan, recall=math.nan, map=math.nan)
    return out


def assert_matches_reference(per, q, rel, score, k):
    for idx, code in enumerate(per.queries):
        r, s = rows_of(q, rel, score, code)
        expected = brute_force(r, s, k)
        for name in METRIC_FIELDS:
            got = getattr(per, name)[idx]
            np.testing.assert_allclose(got, expected[name], rtol=0, atol=1e-12, err_msg=f"{name}, query {code}")


# --- per-query values ------------------------------------------------------------------------------------------


def test_doctests_of_the_module_pass():
    result = doctest.testmod(ranking)
    assert result.attempted >= 9
    assert result.failed == 0


def test_hand_worked_ndcg_at_3():
    """rel [3, 2, 0, 1] in rank order, k = 3: DCG = 3 + 2/log2 3, IDCG = 3 + 2/log2 3 + 1/2."""
    per = per_query([1, 1, 1, 1], [3, 2, 0, 1], [0.9, 0.8, 0.7, 0.6], k=3)
    dcg = 3 + 2 / math.log2(3)
    assert per.ndcg[0] == pytest.approx(dcg / (dcg + 0.5), abs=1e-15)
    assert per.ndcg[0] == pytest.approx(0.89500, abs=5e-6)


def test_mrr_tie_example():
    """Items tied at rank 2..4 (r = 1 before), 2 of 3 relevant: P(J=1) = 2/3, P(J=2) = 1/3 -> 2/3 * 1/2 + 1/3 * 1/3."""
    per = per_query([0, 0, 0, 0], [0, 1, 1, 0], [5.0, 1.0, 1.0, 1.0], k=3)
    assert per.mrr[0] == pytest.approx(2 / 3 / 2 + 1 / 3 / 3, abs=1e-15)


@REFERENCE
@given(datasets(min_queries=1))
def test_against_brute_force_over_tie_orderings(data):
    q, rel, score, k = data
    per = per_query(q, rel, score, k=k)
    np.testing.assert_array_equal(per.queries, np.unique(q))
    np.testing.assert_array_equal(per.n_items, np.unique(q, return_counts=True)[1])
    assert_matches_reference(per, q, rel, score, k)


@REFERENCE
@given(datasets(min_queries=1, max_items=12))
def test_ndcg_matches_sklearn(data):
    q, rel, score, k = data
    per = per_query(q, rel, score, k=k)
    for idx, code in enumerate(per.queries):
        r, s = rows_of(q, rel, score, code)
        if len(r) < 2:  # scikit-learn refuses a single document
            continue
        expected = ndcg_score([r], [s], k=k)
        assert per.ndcg[idx] == pytest.approx(expected, abs=1e-12), (code, r, s, k)


@pytest.mark.parametrize(
    ("rel", "score", "k"),
    [
        ([3, 2, 0, 1], [0.9, 0.8, 0.7, 0.6], 3),
        ([3, 2, 0, 1, 2], [1.0, 1.0, 0.0, 1.0, -3.0], 2),  # ties straddling the cut-off
        ([0, 1, 2], [2.0, 2.0, 2.0], 10),  # k larger than the query, all tied
        ([0, 0, 0], [0.3, -1.0, 7.0], 2),  # no relevant item: ideal DCG 0 scores 0
        ([0.5, 4.25, 0.0, 1.5], [-2.0, 3.0, 3.0, -2.0], 1),
    ],
)
def test_ndcg_hand_picked_cases_match_sklearn(rel, score, k):
    per = per_query([4] * len(rel), rel, score, k=k)
    assert per.ndcg[0] == pytest.approx(ndcg_score([rel], [score], k=k), abs=1e-12)


def test_many_random_queries_match_sklearn_and_brute_force():
    rng = np.random.default_rng(7)
    sizes = rng.integers(1, 8, 300)
    q = np.repeat(rng.permutation(10_000)[:300], sizes)
    rel = rng.integers(0, 4, q.size) * (rng.random(q.size) < 0.4)
    score = rng.integers(-3, 3, q.size).astype(float)
    perm = rng.permutation(q.size)
    q, rel, score = q[perm], rel[perm].astype(float), score[perm]
    for k in (1, 3, 10):
        per = per_query(q, rel, score, k=k)
        assert_matches_reference(per, q, rel, score, k)
        for idx, code in enumerate(per.queries):
            r, s = rows_of(q, rel, score, code)
            if len(r) > 1:
                assert per.ndcg[idx] == pytest.approx(ndcg_score([r], [s], k=k), abs=1e-12)


@pytest.mark.parametrize(("t", "m", "before"), [(200, 1, 0), (200, 3, 5), (57, 57, 2), (1000, 40, 0), (31, 2, 100)])
def test_mrr_of_a_large_tie_group_matches_exact_rationals(t, m, before):
    exact = sum(
        Fraction(math.comb(t - j, m - 1), math.comb(t, m)) * Fraction(1, before + j) for j in range(1, t - m + 2)
    )
    rel = [0.0] * before + [1.0] * m + [0.0] * (t - m)
    score = [10.0] * before + [1.0] * t
    per = per_query(np.zeros(len(rel), dtype=np.int64), rel, score, k=5)
    assert per.mrr[0] == pytest.approx(float(exact), rel=1e-12)


@LAWS
@given(datasets(min_queries=1))
def test_strictly_increasing_transform_of_scores_changes_nothing(data):
    q, rel, score, k = data
    a = per_query(q, rel, score, k=k)
    dense_rank = np.unique(score, return_inverse=True)[1]
    b = per_query(q, rel, dense_rank * 0.37 - 2.0, k=k)  # the same order and ties, other values
    for name in METRIC_FIELDS:
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=0, atol=1e-12)


def test_empty_input_gives_empty_results():
    per = per_query(np.zeros(0, dtype=np.int64), [], [], k=3)
    assert per.queries.size == per.ndcg.size == per.mrr.size == 0
    state = RankingState.empty(3).update(np.zeros(0, dtype=np.int64), [], [])
    assert state.compute()[None]["mrr"] == {
        "value": None,
        "se": None,
        "ci_low": None,
        "ci_high": None,
        "n": 0,
        "reason": "no queries",
    }
    assert RankingState.empty(3).compute() == {}


# --- the state -------------------------------------------------------------------------------------------------

KEYS = ("a", None, 3)


@st.composite
def grouped_splits(draw):
    """A data set, a group code per query and a part (0..3) per query; rows given as whole queries per part."""
    q, rel, score, k = draw(datasets(max_queries=8))
    codes = np.unique(q)
    group_of = dict(zip(codes.tolist(), draw(st.lists(st.integers(0, 2), min_size=codes.size, max_size=codes.size))))
    part_of = dict(zip(codes.tolist(), draw(st.lists(st.integers(0, 3), min_size=codes.size, max_size=codes.size))))
    groups = np.array([group_of[c] for c in q.tolist()], dtype=np.int64)
    parts = np.array([part_of[c] for c in q.tolist()], dtype=np.int64)
    return q, rel, score, k, groups, parts


def as_dict(state):
    return {
        key: (state.count[i], state.total[i], state.total_sq[i], state.without_relevant[i])
        for i, key in enumerate(state.groups)
    }


def assert_same_state(a, b, rtol=1e-12):
    assert a.k == b.k
    da, db = as_dict(a), as_dict(b)
    assert set(da) == set(db)
    for key, (count, total, total_sq, without) in da.items():
        np.testing.assert_array_equal(count, db[key][0])
        np.testing.assert_array_equal(without, db[key][3])
        np.testing.assert_allclose(total, db[key][1], rtol=rtol, atol=0)
        np.testing.assert_allclose(total_sq, db[key][2], rtol=rtol, atol=0)


def assert_identical(a, b):
    assert a.k == b.k and a.groups == b.groups
    for name in ("count", "total", "total_sq", "without_relevant"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
        assert getattr(a, name).dtype == getattr(b, name).dtype


@LAWS
@given(grouped_splits())
def test_merge_of_any_split_of_queries_equals_the_whole(data):
    q, rel, score, k, groups, parts = data
    whole = RankingState.empty(k).update(q, rel, score, group_codes=groups, group_keys=KEYS)
    states = [
        RankingState.empty(k).update(
            q[parts == p], rel[parts == p], score[parts == p], group_codes=groups[parts == p], group_keys=KEYS
        )
        for p in range(4)
    ]
    assert_same_state(functools.reduce(RankingState.merge, states), whole)
    sequential = functools.reduce(
        lambda s, p: s.update(
            q[parts == p], rel[parts == p], score[parts == p], group_codes=groups[parts == p], group_keys=KEYS
        ),
        range(4),
        RankingState.empty(k),
    )
    assert_same_state(sequential, whole)
    a, b, c, _ = states
    assert_same_state(a.merge(b).merge(c), a.merge(b.merge(c)))  # associative
    assert_same_state(a.merge(b), b.merge(a), rtol=0)  # commutative, exactly


@LAWS
@given(grouped_splits())
def test_empty_is_the_identity_and_bytes_round_trip(data):
    q, rel, score, k, groups, _ = data
    state = RankingState.empty(k).update(q, rel, score, group_codes=groups, group_keys=KEYS)
    assert_identical(RankingState.empty(k).merge(state), state)
    assert_identical(state.merge(RankingState.empty(k)), state)
    assert_identical(RankingState.from_bytes(state.to_bytes()), state)
    assert_identical(RankingState.from_bytes(RankingState.empty(k).to_bytes()), RankingState.empty(k))


@LAWS
@given(grouped_splits())
def test_grouped_update_equals_separate_updates_per_group(data):
    q, rel, score, k, groups, _ = data
    grouped = RankingState.empty(k).update(q, rel, score, group_codes=groups, group_keys=KEYS)
    separate = [
        RankingState.empty(k).update(q[groups == g], rel[groups == g], score[groups == g], group_keys=(key,))
        for g, key in enumerate(KEYS)
    ]
    assert_same_state(functools.reduce(RankingState.merge, separate), grouped, rtol=0)
    # and each group's sums are those of its per-query values
    for g, key in enumerate(KEYS):
        per = per_query(q[groups == g], rel[groups == g], score[groups == g], k=k)
        values = np.stack([getattr(per, name) for name in RankingState.METRICS], axis=1)
        i = grouped.groups.index(key)
        np.testing.assert_array_equal(grouped.count[i], (~np.isnan(values)).sum(axis=0))
        np.testing.assert_allclose(grouped.total[i], np.nansum(values, axis=0), rtol=1e-12, atol=1e-300)
        assert grouped.without_relevant[i] == int((per.n_relevant == 0).sum())


def test_compute_gives_mean_se_and_clipped_normal_interval():
    rng = np.random.default_rng(3)
    q = np.repeat(np.arange(40), 5)
    rel = (rng.random(q.size) < 0.3).astype(float)
    score = rng.normal(size=q.size)
    state = RankingState.empty(5).update(q, rel, score)
    per = per_query(q, rel, score, k=5)
    result = state.compute(confidence=0.9)[None]
    assert list(result) == ["ndcg@5", "mrr", "map@5", "precision@5", "recall@5"]
    z = 1.6448536269514722
    for name, field in zip(result, RankingState.METRICS):
        values = getattr(per, field)
        values = values[~np.isnan(values)]
        entry = result[name]
        se = values.std(ddof=1) / math.sqrt(values.size)
        assert entry["n"] == values.size
        assert entry["value"] == pytest.approx(values.mean(), rel=1e-12)
        assert entry["se"] == pytest.approx(se, rel=1e-9)
        assert entry["ci_low"] == pytest.approx(max(0.0, values.mean() - z * se), rel=1e-9)
        assert entry["ci_high"] == pytest.approx(min(1.0, values.mean() + z * se), rel=1e-9)


def test_compute_reports_why_a_metric_has_no_value_or_no_interval():
    state = RankingState.empty(2).update([1, 1, 2], [0, 0, 1], [0.5, 0.2, 0.1], group_codes=[0, 0, 1], group_keys=KEYS)
    result = state.compute()
    assert result["a"]["mrr"]["value"] is None and result["a"]["mrr"]["reason"] == "no query has a relevant item"
    assert result["a"]["ndcg@2"]["value"] == 0.0 and result["a"]["ndcg@2"]["se"] is None
    assert result[None]["mrr"]["value"] == 1.0 and result[None]["mrr"]["reason"] == "one query: no standard error"
    assert result[3]["recall@2"] == {
        "value": None,
        "se": None,
        "ci_low": None,
        "ci_high": None,
        "n": 0,
        "reason": "no queries",
    }
    assert list(state.without_relevant) == [1, 0, 0]


def test_perfect_ranking_has_a_degenerate_interval_at_one():
    state = RankingState.empty(3).update([1, 1, 2, 2], [1, 0, 2, 0], [0.9, 0.1, 0.8, 0.2])
    entry = state.compute()[None]["ndcg@3"]
    assert (entry["value"], entry["se"], entry["ci_low"], entry["ci_high"]) == (1.0, 0.0, 1.0, 1.0)


def test_states_are_immutable():
    state = RankingState.empty(3).update([1, 1], [1, 0], [0.2, 0.1])
    with pytest.raises(ValueError):
        state.total[0, 0] = 5.0
    with pytest.raises(AttributeError):
        state.k = 4  # type: ignore[misc]


# --- bad paths -------------------------------------------------------------------------------------------------


def test_merge_of_different_k_names_both():
    with pytest.raises(StateError, match=r"k=3 and k=5"):
        RankingState.empty(3).merge(RankingState.empty(5))


def test_rows_of_one_query_with_different_group_codes_are_rejected():
    with pytest.raises(ColumnError, match=r"row 2 \(query 7\).*one group code per query"):
        RankingState.empty(3).update([7, 8, 7], [1, 0, 0], [0.3, 0.2, 0.1], group_codes=[1, 0, 0], group_keys=KEYS)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not a state",
        RankingState.empty(3).update([1], [1], [0.5]).to_bytes()[:-3],
        RankingState.empty(3).to_bytes().replace(b'"version":1', b'"version":9'),
        RankingState.empty(3).to_bytes().replace(b'"k":3', b'"k":0'),
        "a string",
    ],
)
def test_bad_bytes_raise_state_error(data):
    with pytest.raises(StateError):
        RankingState.from_bytes(data)


def test_keys_that_do_not_serialise_raise_state_error():
    state = RankingState.empty(3).update([1], [1], [0.5], group_keys=(frozenset({1}),))
    with pytest.raises(StateError, match="group keys made of"):
        state.to_bytes()


def test_group_keys_of_several_types_round_trip():
    keys = (None, "x", 2, 2.5, True, ("a", 1, (None, 0.0)))
    codes = np.arange(len(keys))
    state = RankingState.empty(1).update(
        codes, np.ones(len(keys)), np.zeros(len(keys)), group_codes=codes, group_keys=keys
    )
    back = RankingState.from_bytes(state.to_bytes())
    assert back.groups == keys and [type(key) for key in back.groups] == [type(key) for key in keys]


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"query": [1.5, 1.5]}, ColumnError, "column 'query'"),
        ({"relevance": [1.0, -1.0]}, ColumnError, r"column 'relevance', row 1"),
        ({"relevance": [1.0, np.nan]}, ColumnError, r"column 'relevance', row 1"),
        ({"score": [np.inf, 0.0]}, ColumnError, r"column 'score', row 0"),
        ({"score": [0.0]}, ColumnError, "same length"),
        ({"k": 0}, ConfigError, "argument 'k'"),
        ({"k": True}, ConfigError, "argument 'k'"),
    ],
)
def test_bad_input_is_rejected_with_a_message_naming_it(kwargs, error, pattern):
    args = {"query": [1, 1], "relevance": [1.0, 0.0], "score": [0.5, 0.1], "k": 2} | kwargs
    with pytest.raises(error, match=pattern):
        per_query(args["query"], args["relevance"], args["score"], k=args["k"])


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"group_codes": [0, 3]}, ColumnError),
        ({"group_codes": [0]}, ColumnError),
        ({"group_keys": ("a", "b")}, ConfigError),  # several keys but no codes
        ({"group_codes": [0, 0], "group_keys": ("a", "a")}, ConfigError),
        ({"group_codes": [0, 0], "group_keys": ()}, ConfigError),
    ],
)
def test_bad_groups_are_rejected(kwargs, error):
    with pytest.raises(error):
        RankingState.empty(2).update([1, 1], [1.0, 0.0], [0.5, 0.1], **kwargs)


def test_bad_confidence_is_rejected():
    with pytest.raises(ConfigError, match="confidence"):
        RankingState.empty(2).compute(confidence=95)
