"""The traffic state of a monitoring window: every series against an independent reference (NumPy, statsmodels,
plain Python for the text figures), the laws of the state (merge of any split equals the whole, commutative,
associative, empty as identity, bytes), configured-but-empty series, and the bad paths."""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from assay.drift.text import DEFAULT_REFUSAL_PHRASES
from assay.errors import ConfigError, InputError, StateError
from assay.watch.traffic import INPUTS, TrafficState

TEXT_POOL = [None, "", "  ", '{"a": 1}', " [1, 2] ", "[1, 2", "hello", "I can't do that", "I’m sorry, no",
             "as an ai model", "{bad json}", "naïve ünïcode", '"a string"', "42"]
ALL_SERIES = ["predictions", "score_mean", "score_std", "positive_rate", "latency_p50", "latency_p95", "latency_p99",
              "latency_mean", "cost_total", "error_rate", "ood_rate"]
TEXT_SUFFIXES = ["length_mean", "empty_rate", "json_failure_rate", "refusal_rate"]


@dataclass
class Batch:
    score: np.ndarray
    positive: np.ndarray
    latency: np.ndarray
    cost: np.ndarray
    error: np.ndarray
    ood: np.ndarray
    text: dict[str, list[str | None]]

    @property
    def n(self) -> int:
        return int(self.score.size)

    def take(self, lo: int, hi: int) -> Batch:
        return Batch(self.score[lo:hi], self.positive[lo:hi], self.latency[lo:hi], self.cost[lo:hi],
                     self.error[lo:hi], self.ood[lo:hi], {k: v[lo:hi] for k, v in self.text.items()})

    def update(self, state: TrafficState) -> TrafficState:
        return state.update(n=self.n, score=self.score, positive=self.positive, latency=self.latency, cost=self.cost,
                            error=self.error, ood=self.ood,
                            text={k: pa.array(v, type=pa.string()) for k, v in self.text.items()})


def random_batch(n: int, seed: int = 0) -> Batch:
    rng = np.random.default_rng(seed)
    score = rng.beta(2, 5, n)
    score[rng.random(n) < 0.05] = np.nan
    latency = rng.lognormal(-2.0, 1.0, n)
    latency[rng.random(n) < 0.05] = np.nan
    cost = rng.gamma(2.0, 0.001, n)
    cost[rng.random(n) < 0.1] = np.nan
    positive = np.nan_to_num(score, nan=0.0) >= 0.3
    pool = np.array(TEXT_POOL, dtype=object)
    text = {"response": list(rng.choice(pool, n)), "prompt": list(rng.choice(pool, n))}
    return Batch(score, positive, latency, cost, rng.random(n) < 0.02, rng.random(n) < 0.1, text)


def reference_text(values: list[str | None], phrases: tuple[str, ...]) -> dict[str, Any]:
    present = [v for v in values if v is not None]

    def is_json(v: str) -> bool:
        t = v.strip()
        if not t.startswith(("{", "[")):
            return False
        try:
            json.loads(t)
        except ValueError:
            return False
        return True

    def norm(s: str) -> str:
        return s.replace("’", "'").lower()

    return {
        "n": len(present),
        "lengths": np.array([len(v) for v in present], dtype=np.float64),
        "empty": sum(v.strip() == "" for v in present),
        "json_failures": sum(not is_json(v) for v in present),
        "refusals": sum(any(norm(p) in norm(v) for p in phrases) for v in present),
    }


def assert_rate(entry: dict[str, Any], hits: int, n: int, confidence: float = 0.95) -> None:
    assert entry["n"] == n
    assert entry["value"] == pytest.approx(hits / n, rel=1e-12)
    low, high = proportion_confint(hits, n, alpha=1 - confidence, method="wilson")
    assert entry["ci_low"] == pytest.approx(low, rel=1e-9, abs=1e-12)
    assert entry["ci_high"] == pytest.approx(high, rel=1e-9, abs=1e-12)


def assert_mean(entry: dict[str, Any], x: np.ndarray, confidence: float = 0.95, lower: float = -math.inf) -> None:
    assert entry["n"] == x.size
    assert entry["value"] == pytest.approx(np.mean(x), rel=1e-12)
    half = stats.norm.ppf(0.5 + confidence / 2) * np.std(x, ddof=1) / math.sqrt(x.size)
    assert entry["ci_low"] == pytest.approx(max(lower, np.mean(x) - half), rel=1e-9)
    assert entry["ci_high"] == pytest.approx(np.mean(x) + half, rel=1e-9)


# --- against independent references ----------------------------------------------------------------------------


@pytest.mark.parametrize("confidence", [0.9, 0.95])
def test_series_match_references(confidence: float) -> None:
    b = random_batch(3_000, seed=1)
    s = b.update(TrafficState.empty(("response", "prompt")))
    r = s.compute(confidence)
    assert list(r) == ALL_SERIES + [f"{c}_{k}" for c in ("prompt", "response") for k in TEXT_SUFFIXES]
    assert r["predictions"] == {"value": 3000.0, "ci_low": None, "ci_high": None, "n": 3000}

    score = b.score[~np.isnan(b.score)]
    assert_mean(r["score_mean"], score, confidence)
    assert r["score_std"]["value"] == pytest.approx(np.std(score, ddof=1), rel=1e-10)
    assert r["score_std"]["ci_low"] is None and r["score_std"]["n"] == score.size
    assert_rate(r["positive_rate"], int(b.positive.sum()), b.n, confidence)

    latency = b.latency[~np.isnan(b.latency)]
    for q, key in ((0.5, "latency_p50"), (0.95, "latency_p95"), (0.99, "latency_p99")):
        true = np.quantile(latency, q, method="inverted_cdf")
        assert abs(r[key]["value"] - true) <= 0.01 * true * (1 + 1e-12)
        assert r[key]["n"] == latency.size and r[key]["ci_low"] is None and r[key]["ci_high"] is None
    assert_mean(r["latency_mean"], latency, confidence, lower=0.0)

    cost = b.cost[~np.isnan(b.cost)]
    assert r["cost_total"]["value"] == pytest.approx(np.sum(cost), rel=1e-12)
    assert r["cost_total"]["n"] == cost.size and r["cost_total"]["ci_low"] is None
    assert_rate(r["error_rate"], int(b.error.sum()), b.n, confidence)
    assert_rate(r["ood_rate"], int(b.ood.sum()), b.n, confidence)

    for col, values in b.text.items():
        ref = reference_text(values, DEFAULT_REFUSAL_PHRASES)
        assert ref["refusals"] > 0 and ref["json_failures"] > 0 and ref["empty"] > 0
        assert_mean(r[f"{col}_length_mean"], ref["lengths"], confidence, lower=0.0)
        assert_rate(r[f"{col}_empty_rate"], ref["empty"], ref["n"], confidence)
        assert_rate(r[f"{col}_json_failure_rate"], ref["json_failures"], ref["n"], confidence)
        assert_rate(r[f"{col}_refusal_rate"], ref["refusals"], ref["n"], confidence)
    json.dumps(r, allow_nan=False)


def test_wilson_edges_match_statsmodels() -> None:
    s = TrafficState.empty().update(n=5, error=np.zeros(5, bool), ood=np.ones(5, np.int8))
    r = s.compute()
    assert_rate(r["error_rate"], 0, 5)
    assert_rate(r["ood_rate"], 5, 5)
    assert r["error_rate"]["ci_low"] == 0.0 and r["ood_rate"]["ci_high"] == 1.0


def test_custom_refusal_phrases() -> None:
    values = ["Nope, not doing it", "nope", "sure", None]
    s = TrafficState.empty().update(n=4, text={"out": pa.array(values)}, refusal_phrases=("nope",))
    assert s.compute()["out_refusal_rate"]["value"] == pytest.approx(2 / 3)
    assert s.refusal_phrases == ("nope",)


# --- configured series, undefined values -----------------------------------------------------------------------


def test_configured_series_of_an_empty_window_report_no_events() -> None:
    s = TrafficState.empty(("response",), inputs=INPUTS)
    r = s.compute()
    assert list(r) == ALL_SERIES + [f"response_{k}" for k in TEXT_SUFFIXES]
    assert r["predictions"] == {"value": 0.0, "ci_low": None, "ci_high": None, "n": 0}
    for key, entry in r.items():
        if key != "predictions":
            assert entry == {"value": None, "ci_low": None, "ci_high": None, "n": 0, "reason": "no events"}, key
    assert TrafficState.empty(inputs=INPUTS).update(n=0).compute() == TrafficState.empty(inputs=INPUTS).compute()


def test_series_never_given_are_omitted() -> None:
    r = TrafficState.empty().update(n=3, latency=np.array([0.1, 0.2, 0.3])).compute()
    assert list(r) == ["predictions", "latency_p50", "latency_p95", "latency_p99", "latency_mean"]
    assert list(TrafficState.empty().compute()) == ["predictions"]


def test_missing_values_are_skipped_per_series() -> None:
    nan = np.nan
    s = TrafficState.empty().update(n=3, score=np.array([0.5, nan, nan]), latency=np.array([nan, nan, nan]),
                                    cost=np.array([nan, 1.0, 2.0]), text={"t": pa.array([None, None, None],
                                                                                          pa.string())})
    r = s.compute()
    assert r["predictions"]["value"] == 3.0
    assert r["score_mean"] == {"value": 0.5, "ci_low": None, "ci_high": None, "n": 1}
    assert r["score_std"] == {"value": None, "ci_low": None, "ci_high": None, "n": 1,
                              "reason": "fewer than 2 score values"}
    for key in ("latency_p50", "latency_p99", "latency_mean"):
        assert r[key]["value"] is None and r[key]["reason"] == "no latency values" and r[key]["n"] == 0
    assert r["cost_total"] == {"value": 3.0, "ci_low": None, "ci_high": None, "n": 2}
    assert r["t_empty_rate"]["reason"] == "no non-missing t values"
    assert r["t_length_mean"]["value"] is None
    json.dumps(r, allow_nan=False)


def test_positive_and_ood_take_their_own_denominators() -> None:
    s = TrafficState.empty().update(n=2, positive=np.array([1, 0], np.int8)).update(n=3)
    assert s.compute()["positive_rate"]["n"] == 2 and s.compute()["predictions"]["n"] == 5


# --- laws ------------------------------------------------------------------------------------------------------

finite = st.floats(0.0, 1.0)
maybe = st.one_of(finite, st.just(math.nan))


@st.composite
def batches(draw: Any, max_size: int = 25) -> Batch:
    n = draw(st.integers(0, max_size))

    def floats(elements: Any) -> np.ndarray:
        return np.array(draw(st.lists(elements, min_size=n, max_size=n)), dtype=np.float64)

    def flags() -> np.ndarray:
        return np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)

    text = {c: draw(st.lists(st.sampled_from(TEXT_POOL), min_size=n, max_size=n)) for c in ("a", "b")}
    return Batch(floats(st.one_of(st.sampled_from([0.0, 0.5, 1.0, math.nan]), finite)), flags(),
                 floats(st.one_of(st.floats(0.0, 30.0), st.just(math.nan))),
                 floats(st.one_of(st.floats(-10.0, 10.0), st.just(math.nan))), flags(), flags(), text)


def assert_close(a: TrafficState, b: TrafficState) -> None:
    """Equal integer counts and sketch, floats within 1e-9 relative (1e-12 absolute near zero)."""
    assert (a.inputs, a.text_columns, a.rows, a.positives, a.positive_n) == (b.inputs, b.text_columns, b.rows,
                                                                             b.positives, b.positive_n)
    assert (a.cost_n, a.errors, a.status_n, a.ood, a.ood_n) == (b.cost_n, b.errors, b.status_n, b.ood, b.ood_n)
    assert a.latency_sketch == b.latency_sketch
    assert a.refusal_phrases == b.refusal_phrases
    assert a.cost_sum == pytest.approx(b.cost_sum, rel=1e-9, abs=1e-9)
    pairs = [(a.score, b.score), (a.latency, b.latency), *((x.length, y.length) for x, y in zip(a.text, b.text))]
    for m, k in pairs:
        assert m.count == k.count
        assert m.mean == pytest.approx(k.mean, rel=1e-9, abs=1e-12)
        assert m.m2 == pytest.approx(k.m2, rel=1e-9, abs=1e-9)
    for x, y in zip(a.text, b.text):
        assert (x.empty, x.json_failures, x.refusals) == (y.empty, y.json_failures, y.refusals)
    ra, rb = a.compute(), b.compute()
    assert list(ra) == list(rb)
    for key in ra:
        assert ra[key].keys() == rb[key].keys() and ra[key]["n"] == rb[key]["n"], key
        for field in ("value", "ci_low", "ci_high"):
            if ra[key][field] is None:
                assert rb[key][field] is None, key
            else:
                assert ra[key][field] == pytest.approx(rb[key][field], rel=1e-9, abs=1e-9), (key, field)


@given(batches(), st.lists(st.integers(0, 25), max_size=4))
def test_merge_of_any_split_equals_the_whole(b: Batch, cuts: list[int]) -> None:
    empty = TrafficState.empty()
    whole = b.update(empty)
    edges = [0, *sorted(min(c, b.n) for c in cuts), b.n]
    parts = [b.take(lo, hi) for lo, hi in itertools.pairwise(edges)]
    merged = empty
    for part in parts:
        merged = merged.merge(part.update(empty))
    assert_close(merged, whole)
    sequential = empty
    for part in parts:
        sequential = part.update(sequential)
    assert_close(sequential, whole)


@given(batches(), batches(), batches())
def test_merge_is_commutative_and_associative(a: Batch, b: Batch, c: Batch) -> None:
    empty = TrafficState.empty(("a",), inputs=("latency",))
    sa, sb, sc = a.update(empty), b.update(empty), c.update(empty)
    assert sa.merge(sb) == sb.merge(sa)  # exactly
    assert_close(sa.merge(sb).merge(sc), sa.merge(sb.merge(sc)))


@given(batches())
def test_empty_is_the_identity_and_bytes_round_trip(b: Batch) -> None:
    empty = TrafficState.empty(("a",), inputs=("latency",))
    s = b.update(empty)
    assert empty.merge(s) == s and s.merge(empty) == s
    back = TrafficState.from_bytes(s.to_bytes())
    assert back == s
    assert back.compute() == s.compute()
    assert TrafficState.from_bytes(empty.to_bytes()) == empty


def test_text_columns_and_inputs_merge_as_a_union() -> None:
    left = TrafficState.empty(("prompt",)).update(n=2, latency=np.array([0.1, 0.2]),
                                                  text={"prompt": pa.array(["x", "yy"])})
    right = TrafficState.empty(("response",), inputs=("error",)).update(n=1, text={"response": pa.array(["{}"])})
    both = left.merge(right)
    assert both.text_columns == ("prompt", "response") and both.inputs == ("latency", "error")
    assert both == right.merge(left)
    r = both.compute()
    assert r["prompt_length_mean"]["n"] == 2 and r["prompt_length_mean"]["value"] == 1.5
    # Wilson with Brown-Cai-DasGupta's Poisson end (issue 14): 0 of 1 -> upper 1 - gammaincinv(1, 0.05) = 0.9487
    # (Wilson alone: z^2 / (1 + z^2) = 0.7935)
    assert r["response_json_failure_rate"] == {"value": 0.0, "ci_low": 0.0, "ci_high": pytest.approx(0.9487067),
                                               "n": 1}
    assert r["error_rate"]["reason"] == "no status values"
    assert r["latency_mean"]["n"] == 2 and r["predictions"]["value"] == 3.0


def test_state_is_immutable() -> None:
    s = TrafficState.empty()
    t = s.update(n=2, score=np.array([0.1, 0.2]))
    assert s.rows == 0 and t.rows == 2
    with pytest.raises(AttributeError):
        t.rows = 5  # type: ignore[misc]


# --- bad paths -------------------------------------------------------------------------------------------------


def test_negative_latency_raises_input_error_naming_it() -> None:
    with pytest.raises(InputError, match=r"^latency: expected non-negative.*-0\.2"):
        TrafficState.empty().update(n=2, latency=np.array([0.1, -0.2]))


def test_merge_of_different_alpha_raises_state_error_naming_both() -> None:
    with pytest.raises(StateError, match=r"alpha=0\.01.*alpha=0\.05"):
        TrafficState.empty().merge(TrafficState.empty(alpha=0.05))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n": 3, "score": np.array([0.1, 0.2])}, r"score: expected a 1-D array of 3 values"),
        ({"n": 2, "score": np.array(["a", "b"])}, r"score: expected numbers"),
        ({"n": 2, "cost": np.array([1.0, math.inf])}, r"cost: expected finite numbers"),
        ({"n": 2, "positive": np.array([0, 2])}, r"positive: expected bool or 0/1 values, found values \[2\]"),
        ({"n": 2, "error": np.array([0.0, 1.0])}, r"error: expected bool or 0/1 values, found dtype float64"),
        ({"n": 1, "ood": np.array([[True]])}, r"ood: expected a 1-D array"),
        ({"n": -1}, r"n: expected the batch's row count"),
        ({"n": True}, r"n: expected the batch's row count"),
        ({"n": 2, "text": {"t": pa.array(["a"])}}, r"text column 't': expected an Arrow string array of 2"),
        ({"n": 1, "text": {"t": ["a"]}}, r"text column 't': expected an Arrow string array.*found a list"),
    ],
)
def test_bad_inputs_raise_input_error(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(InputError, match=match):
        TrafficState.empty().update(**kwargs)


def test_bad_configuration_raises_config_error() -> None:
    with pytest.raises(ConfigError, match=r"traffic inputs: expected names.*\['latencyy'\]"):
        TrafficState.empty(inputs=("latencyy",))
    with pytest.raises(ConfigError, match="traffic inputs"):
        TrafficState.empty(inputs="latency")
    with pytest.raises(ConfigError, match="text_columns"):
        TrafficState.empty("prompt")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="alpha"):
        TrafficState.empty(alpha=1.5)
    for confidence in (0.0, 1.0, True):
        with pytest.raises(ConfigError, match="confidence"):
            TrafficState.empty().compute(confidence)


def test_refusal_phrases_are_part_of_the_state() -> None:
    s = TrafficState.empty().update(n=1, text={"t": pa.array(["x"])})
    with pytest.raises(ConfigError, match="refusal_phrases: expected the phrases of this state's earlier"):
        s.update(n=1, text={"t": pa.array(["x"])}, refusal_phrases=("nope",))
    other = TrafficState.empty().update(n=1, text={"t": pa.array(["x"])}, refusal_phrases=("nope",))
    with pytest.raises(StateError, match="traffic merge: expected the same refusal phrases"):
        s.merge(other)
    with pytest.raises(ConfigError, match="refusal_phrases: expected a sequence"):
        TrafficState.empty().update(n=1, text={"t": pa.array(["x"])}, refusal_phrases="nope")
    assert s.update(n=1).refusal_phrases == DEFAULT_REFUSAL_PHRASES  # no text: nothing to check


def test_bad_bytes_raise_state_error() -> None:
    from assay.watch.sketch import QuantileSketch

    with pytest.raises(StateError, match="traffic"):
        TrafficState.from_bytes(QuantileSketch.empty().to_bytes())
    with pytest.raises(StateError):
        TrafficState.from_bytes(b"garbage")
