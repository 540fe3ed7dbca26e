"""assay.drift: values against independent references, the verdict rule, statuses, and seeded acceptance
simulations (n at most 100k; rates asserted within a binomial margin)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from statsmodels.stats.multitest import multipletests

import assay
from assay.drift.binning import quantile_edges
from assay.errors import ConfigError, InputError, StateError


def _normal(n: int, seed: int, shift: float = 0.0, scale: float = 1.0) -> np.ndarray:
    return np.random.default_rng(seed).normal(shift, scale, n)


def _cats(n: int, seed: int, p: list[float]) -> np.ndarray:
    return np.random.default_rng(seed).choice(np.array(["a", "b", "c", "d"][: len(p)]), n, p=p)


def test_drift_of_a_table_against_itself_is_zero() -> None:
    t = {"x": _normal(2000, 1), "c": _cats(2000, 2, [0.5, 0.3, 0.2]), "b": _normal(2000, 3) > 0}
    res = assay.drift(t, t)
    assert not res.drifted and res.to_dict()["n_drifted"] == 0
    for col in res.columns.values():
        assert col["effect"] == pytest.approx(0.0, abs=1e-12)
        assert col["p_value"] == pytest.approx(1.0)


def test_psi_matches_an_independent_computation() -> None:
    ref, cur = _normal(4000, 1), _normal(3000, 2, 0.3)
    col = assay.drift({"x": ref}, {"x": cur}).columns["x"]
    edges = quantile_edges(ref, 10)
    r = np.bincount(np.searchsorted(edges, ref), minlength=edges.size + 1) + 0.5
    c = np.bincount(np.searchsorted(edges, cur), minlength=edges.size + 1) + 0.5
    p, q = r / r.sum(), c / c.sum()
    assert col["method"] == "psi"
    assert col["effect"] == pytest.approx(float(np.sum((q - p) * np.log(q / p))), rel=1e-12)
    assert col["drifted"]


def test_ks_on_raw_tables_equals_scipy_and_binned_ks_on_a_profile_is_within_its_bound() -> None:
    ref, cur = _normal(3000, 1), _normal(2500, 2, 0.15)
    exact = assay.drift({"x": ref}, {"x": cur}, methods={"x": "ks"}).columns["x"]
    expected = stats.ks_2samp(ref, cur)
    assert exact["effect"] == pytest.approx(expected.statistic, rel=1e-12)
    assert exact["p_value"] == pytest.approx(expected.pvalue, rel=1e-9)
    binned = assay.drift(assay.profile({"x": ref}), {"x": cur}, methods={"x": "ks"}).columns["x"]
    note = binned["tests"][0]["notes"][0]
    bound = float(note.split("up to ")[1].split(" ")[0])
    assert binned["effect"] <= exact["effect"] + 1e-12
    assert exact["effect"] - binned["effect"] <= bound
    assert binned["drifted"] == exact["drifted"]


def test_categorical_chi2_equals_scipy_contingency() -> None:
    ref, cur = _cats(3000, 1, [0.4, 0.3, 0.2, 0.1]), _cats(2000, 2, [0.3, 0.3, 0.3, 0.1])
    col = assay.drift({"c": ref}, {"c": cur}, methods={"c": "chi2"}).columns["c"]
    table = np.array([[np.sum(ref == k) for k in "abcd"], [np.sum(cur == k) for k in "abcd"]])
    chi2, p, _, _ = stats.chi2_contingency(table, correction=False)
    assert col["statistic"] == pytest.approx(chi2, rel=1e-10)
    assert col["p_value"] == pytest.approx(p, rel=1e-9)


def test_holm_and_bh_adjust_the_whole_family_as_statsmodels_does() -> None:
    rng = np.random.default_rng(7)
    ref = {f"x{i}": rng.normal(0, 1, 800) for i in range(6)}
    cur = {f"x{i}": rng.normal(0.05 * i, 1, 800) for i in range(6)}
    for correction, sm in (("holm", "holm"), ("bh", "fdr_bh")):
        cols = assay.drift(ref, cur, correction=correction).columns
        raw = [cols[f"x{i}"]["p_value"] for i in range(6)]
        adjusted = multipletests(raw, method=sm)[1]
        assert [cols[f"x{i}"]["p_adjusted"] for i in range(6)] == pytest.approx(adjusted, rel=1e-12)


def test_verdict_needs_significance_and_a_practical_effect() -> None:
    # a 0.05-sd shift at n = 100k: highly significant, below the PSI floor -> not drifted, and the reason says so
    col = assay.drift({"x": _normal(100_000, 1)}, {"x": _normal(100_000, 2, 0.05)}).columns["x"]
    assert col["p_adjusted"] < 1e-6 and not col["drifted"]
    assert "too small to matter" in col["reason"]
    # with a lower floor the same shift drifts
    col = assay.drift({"x": _normal(100_000, 1)}, {"x": _normal(100_000, 2, 0.05)},
                      min_effect={"psi": 0.001}).columns["x"]
    assert col["drifted"]


def test_missing_rate_jump_drifts_a_column_whose_values_did_not_move() -> None:
    ref = _normal(5000, 1)
    cur = _normal(5000, 2)
    cur[np.random.default_rng(3).random(5000) < 0.2] = np.nan
    col = assay.drift({"x": ref}, {"x": cur}).columns["x"]
    assert col["drifted"]
    tests = {t["name"]: t for t in col["tests"]}
    assert tests["missing_rate"]["drifted"] and not tests["value"]["drifted"]
    assert col["quality"]["missing_current"] == pytest.approx(np.isnan(cur).mean())


def test_statuses_do_not_stop_the_report() -> None:
    ref = {"x": _normal(500, 1), "gone": _normal(500, 2), "word": _normal(500, 3), "void": np.full(500, np.nan)}
    cur = {"x": ref["x"][::-1], "word": np.array(["w"] * 500), "void": np.full(500, np.nan),
           "extra": _normal(500, 5)}
    cols = assay.drift(ref, cur).columns
    assert cols["gone"]["status"] == "missing_in_current"
    assert cols["extra"]["status"] == "missing_in_reference"
    assert cols["word"]["status"] == "type_mismatch" and "text" in cols["word"]["reason"]
    assert cols["void"]["status"] == "all_missing"
    assert cols["void"]["quality"]["missing_reference"] == 1.0
    assert cols["x"]["status"] == "ok" and not cols["x"]["drifted"]


def test_data_quality_figures() -> None:
    ref = {"x": np.arange(1000.0), "c": np.array(["a", "b"] * 500)}
    cur = {"x": np.arange(100.0, 1100.0), "c": np.array(["a", "z", "y", "z"] * 250)}
    cols = assay.drift(ref, cur).columns
    assert cols["x"]["quality"]["above_range_current"] == pytest.approx(0.1)
    assert cols["x"]["quality"]["out_of_range_current"] == pytest.approx(0.1)
    q = cols["c"]["quality"]
    assert q["new_categories"] == ["z", "y"] and q["new_category_share"] == pytest.approx(0.75)
    assert q["gone_categories"] == ["b"] and cols["c"]["drifted"]


def test_text_columns_track_refusals_and_json_failures() -> None:
    rng = np.random.default_rng(1)
    ok = [f'{{"answer": {i}}}' for i in range(4000)]
    ref = np.where(rng.random(4000) < 0.02, "I'm sorry, I can't help with that.", ok)
    cur = np.where(rng.random(4000) < 0.30, "I'm sorry, I can't help with that.", ok)
    col = assay.drift({"out": ref}, {"out": cur}).columns["out"]
    assert col["kind"] == "text" or col["kind"] == "categorical"
    res = assay.drift({"out": ref}, {"out": cur}, kinds={"out": "text"}).columns["out"]
    tests = {t["name"]: t for t in res["tests"]}
    assert tests["refusal_share"]["drifted"] and tests["json_share"]["drifted"]
    assert res["summary"]["current"]["refusal_share"] == pytest.approx(np.mean(cur != np.asarray(ok)))


def test_roles_and_column_selection() -> None:
    t = {"a": _normal(300, 1), "b": _normal(300, 2), "score": _normal(300, 3), "y": _normal(300, 4) > 0}
    doc = assay.drift(t, t, columns="a", prediction="score", label="y").to_dict()
    assert set(doc["columns"]) == {"a", "score", "y"}
    assert doc["columns"]["score"]["role"] == "prediction" and doc["columns"]["y"]["role"] == "label"
    assert set(assay.drift(t, t, exclude=["a", "b"]).columns) == {"score", "y"}


def test_bad_input() -> None:
    t = {"x": _normal(100, 1), "c": _cats(100, 2, [0.5, 0.5])}
    with pytest.raises(InputError, match="empty"):
        assay.drift(t, {"x": np.empty(0), "c": np.empty(0, dtype=str)})
    with pytest.raises(ConfigError, match="c"):
        assay.drift(t, t, methods={"c": "ks"})
    with pytest.raises(ConfigError, match="nope"):
        assay.drift(t, t, columns=["nope"])
    with pytest.raises(ConfigError, match="alpha"):
        assay.drift(t, t, alpha=2.0)
    with pytest.raises(StateError, match="grid"):
        assay.drift(assay.profile(t), assay.profile({"x": _normal(100, 9), "c": t["c"]}))  # its own grid
    with pytest.raises(InputError, match="no column in common"):
        assay.drift({"x": _normal(10, 1)}, {"y": _normal(10, 1)})


def test_raw_reference_and_its_profile_agree_exactly_for_binned_methods() -> None:
    ref = {"x": _normal(3000, 1), "c": _cats(3000, 2, [0.6, 0.3, 0.1])}
    cur = {"x": _normal(2000, 3, 0.1), "c": _cats(2000, 4, [0.5, 0.35, 0.15])}
    a = assay.drift(ref, cur).columns
    b = assay.drift(assay.profile(ref), cur).columns
    for name in a:
        assert {k: v for k, v in a[name].items()} == {k: v for k, v in b[name].items()}


# --- statistical acceptance: seeded simulations, small n, binomial margins -----------------------------------------

def _upper(rate: float, trials: int) -> int:
    """The count a binomial(trials, rate) stays at or below with probability 0.999."""
    return int(stats.binom.ppf(0.999, trials, rate))


@pytest.mark.parametrize("n", [200, 5000, 100_000])
def test_false_alarm_rate_per_column_is_at_most_alpha(n: int) -> None:
    reps = {200: 120, 5000: 60, 100_000: 12}[n]
    rng = np.random.default_rng(n)
    flags = trials = 0
    for _ in range(reps):
        ref = {"normal": rng.normal(size=n), "skewed": rng.lognormal(size=n),
               "cat": rng.choice(np.array(["a", "b", "c"]), n, p=[0.5, 0.3, 0.2]),
               "holes": np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n))}
        cur = {"normal": rng.normal(size=n), "skewed": rng.lognormal(size=n),
               "cat": rng.choice(np.array(["a", "b", "c"]), n, p=[0.5, 0.3, 0.2]),
               "holes": np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n))}
        cols = assay.drift(ref, cur, correction="none").columns  # per-column level, uncorrected
        flags += sum(c["drifted"] for c in cols.values())
        trials += len(cols)
    assert flags <= _upper(0.05, trials)


def test_table_level_false_alarm_rate_with_25_columns_is_at_most_alpha() -> None:
    rng = np.random.default_rng(25)
    hits, reps, n = 0, 40, 1000
    for _ in range(reps):
        ref = {f"x{i}": rng.normal(size=n) for i in range(20)}
        cur = {f"x{i}": rng.normal(size=n) for i in range(20)}
        for i in range(5):
            ref[f"c{i}"] = rng.choice(np.array(["a", "b", "c"]), n)
            cur[f"c{i}"] = rng.choice(np.array(["a", "b", "c"]), n)
        hits += assay.drift(ref, cur).drifted
    assert hits <= _upper(0.05, reps)


def test_meaningful_shifts_are_detected_from_n_5000() -> None:
    rng = np.random.default_rng(11)
    reps, n = 30, 5000
    mean_hits = mix_hits = 0
    for _ in range(reps):
        res = assay.drift({"x": rng.normal(size=n), "c": rng.choice(np.array(["a", "b", "c"]), n, p=[.5, .3, .2])},
                          {"x": rng.normal(0.2, 1, n), "c": rng.choice(np.array(["a", "b", "c"]), n, p=[.4, .4, .2])})
        mean_hits += res.columns["x"]["drifted"]
        mix_hits += res.columns["c"]["drifted"]
    # at least 95% required: the count must not be implausibly low for a rate of 0.95
    assert mean_hits >= stats.binom.ppf(0.001, reps, 0.95)
    assert mix_hits >= stats.binom.ppf(0.001, reps, 0.95)


def test_negligible_shift_is_not_flagged_at_large_n() -> None:
    rng = np.random.default_rng(12)
    n = 100_000
    for _ in range(3):
        res = assay.drift({"x": rng.normal(size=n)}, {"x": rng.normal(0.01, 1, n)})
        assert not res.columns["x"]["drifted"]


def test_documents_validate_against_the_published_schema() -> None:
    import json
    from pathlib import Path

    import jsonschema

    schema = json.loads((Path(__file__).parents[2] / "schemas" / "assay.drift-1.schema.json").read_text())
    rng = np.random.default_rng(4)
    ref = {"x": rng.normal(size=800), "c": _cats(800, 1, [0.5, 0.5]), "b": rng.random(800) < 0.5,
           "t": np.array(["some words here and there"] * 800), "gone": rng.normal(size=800),
           "void": np.full(800, np.nan)}
    cur = {"x": np.where(rng.random(600) < 0.3, np.nan, rng.normal(1, 1, 600)), "c": _cats(600, 2, [0.2, 0.8]),
           "b": rng.random(600) < 0.9, "t": np.array(['{"a": 1}'] * 600), "void": np.full(600, np.nan),
           "new": rng.normal(size=600)}
    for reference in (ref, assay.profile(ref)):
        doc = assay.drift(reference, cur, kinds={"t": "text"} if reference is ref else None).to_dict()
        jsonschema.validate(doc, schema)
        json.dumps(doc, allow_nan=False)  # strict JSON: no NaN or infinity anywhere


def test_multivariate_names_the_separating_column_and_needs_rows() -> None:
    rng = np.random.default_rng(8)
    ref = {"a": rng.normal(size=1500), "b": rng.normal(size=1500), "c": _cats(1500, 1, [0.5, 0.5])}
    cur = {"a": rng.normal(size=1500), "b": rng.normal(1.0, 1, 1500), "c": _cats(1500, 2, [0.5, 0.5])}
    multi = assay.drift(ref, cur, multivariate=True, multivariate_rows=2000).to_dict()["multivariate"]
    assert multi["drifted"] and multi["top_columns"][0]["column"] == "b"
    assert multi["n_reference"] + multi["n_current"] <= 2000
    with pytest.raises(ConfigError, match="profile"):
        assay.drift(assay.profile(ref), cur, multivariate=True)


def _random_tables(seed: int, n_ref: int, n_cur: int, shift: float) -> tuple[dict, dict]:
    rng = np.random.default_rng(seed)

    def one(n: int, s: float) -> dict:
        x = rng.normal(s, 1, n)
        x[rng.random(n) < 0.1] = np.nan
        return {"x": x, "k": rng.integers(0, 4, n).astype(float), "c": rng.choice(np.array(["a", "b", "c"]), n),
                "b": rng.random(n) < 0.5 + s / 10}

    return one(n_ref, 0.0), one(n_cur, shift)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(2, 400))
def test_property_drift_of_a_table_against_itself_is_zero(seed: int, n: int) -> None:
    t, _ = _random_tables(seed, n, 2, 0.0)
    res = assay.drift(t, t)
    assert not res.drifted
    for col in res.columns.values():
        assert all(test["effect"] == pytest.approx(0.0, abs=1e-12) for test in col["tests"])


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(5, 300), st.integers(5, 300), st.floats(0, 1))
def test_property_row_order_changes_nothing_beyond_rounding(seed: int, n_ref: int, n_cur: int, shift: float) -> None:
    ref, cur = _random_tables(seed, n_ref, n_cur, shift)
    rng = np.random.default_rng(seed + 1)
    pr, pc = rng.permutation(n_ref), rng.permutation(n_cur)
    a = assay.drift(ref, cur).columns
    b = assay.drift({k: v[pr] for k, v in ref.items()}, {k: v[pc] for k, v in cur.items()}).columns
    for name in a:
        assert a[name]["drifted"] == b[name]["drifted"]
        for ta, tb in zip(a[name]["tests"], b[name]["tests"]):
            for key in ("statistic", "p_value", "p_adjusted", "effect"):
                assert tb[key] == pytest.approx(ta[key], rel=1e-9, abs=1e-12)


def test_identifier_like_columns_are_not_value_tested_unless_asked() -> None:
    rng = np.random.default_rng(3)
    ref = {"uid": np.array([f"u{i}" for i in range(1000)]), "x": rng.normal(size=1000)}
    cur_ids = np.array([f"v{i}" for i in range(800)], dtype=object)
    cur_ids[:200] = None  # the id going missing is still caught
    cur = {"uid": cur_ids, "x": rng.normal(size=800)}
    col = assay.drift(ref, cur).columns["uid"]
    assert col["status"] == "identifier" and "--kind uid=categorical" in col["reason"]
    assert [t["name"] for t in col["tests"]] == ["missing_rate"] and col["drifted"]
    asked = assay.drift(ref, cur, kinds={"uid": "categorical"}).columns["uid"]
    assert asked["status"] == "ok" and asked["method"] == "jensen_shannon"
    # a profile remembers which kinds were given
    assert assay.drift(assay.profile(ref, kinds={"uid": "categorical"}), cur).columns["uid"]["status"] == "ok"


def test_result_writes_json_and_html(tmp_path) -> None:
    import json

    res = assay.drift({"x": _normal(500, 1)}, {"x": _normal(500, 2, 1.0)})
    res.write(tmp_path / "d.json")
    res.write_html(tmp_path / "d.html")
    assert json.loads((tmp_path / "d.json").read_text()) == res.to_dict()
    assert "<svg" in (tmp_path / "d.html").read_text()


def test_pandas_polars_and_arrow_inputs_give_the_same_document() -> None:
    import pandas as pd
    import polars as pl
    import pyarrow as pa

    ref = {"x": _normal(800, 1), "c": _cats(800, 2, [0.5, 0.3, 0.2])}
    cur = {"x": _normal(600, 3, 0.3), "c": _cats(600, 4, [0.3, 0.3, 0.4])}
    base = assay.drift(ref, cur).columns
    for convert in (pd.DataFrame, pl.DataFrame, pa.table):
        cols = assay.drift(convert(ref), convert(cur)).columns
        for name in base:
            assert cols[name]["drifted"] == base[name]["drifted"]
            assert cols[name]["effect"] == pytest.approx(base[name]["effect"], rel=1e-12)


def test_psi_smoothing_is_an_option() -> None:
    ref, cur = {"x": _normal(2000, 1)}, {"x": _normal(2000, 2, 0.3)}
    raw = assay.drift(ref, cur, psi_smoothing=0.0).to_dict()
    edges = quantile_edges(ref["x"], 10)
    r = np.bincount(np.searchsorted(edges, ref["x"]), minlength=edges.size + 1) / 2000
    c = np.bincount(np.searchsorted(edges, cur["x"]), minlength=edges.size + 1) / 2000
    assert raw["columns"]["x"]["effect"] == pytest.approx(float(np.sum((c - r) * np.log(c / r))), rel=1e-12)
    assert raw["config"]["psi_smoothing"] == 0.0
    with pytest.raises(ConfigError, match="smoothing"):
        assay.drift(ref, cur, psi_smoothing=-1.0)


def test_settings_fixed_by_a_profile_are_not_silently_ignored() -> None:
    ref = assay.profile({"x": _normal(300, 1)})
    with pytest.raises(ConfigError, match="bins=20"):
        assay.drift(ref, {"x": _normal(300, 2)}, bins=20)
    with pytest.raises(ConfigError, match="refusal_phrases"):
        assay.drift(ref, {"x": _normal(300, 2)}, refusal_phrases=["nope"])
    assert not assay.drift(ref, {"x": _normal(300, 1)}).drifted


def test_without_correction_a_columns_own_tests_still_share_its_level() -> None:
    ref, cur = _normal(400, 1), _normal(400, 2)
    ref[:40] = np.nan
    cur[:60] = np.nan
    col = assay.drift({"x": ref}, {"x": cur}, correction="none").columns["x"]
    assert len(col["tests"]) == 2
    for t in col["tests"]:
        assert t["p_adjusted"] == pytest.approx(min(1.0, 2 * t["p_value"]), rel=1e-12)


def test_simulated_shifts_are_the_documented_ones() -> None:
    import pyarrow as pa

    from assay.drift.simulate import _inject

    rng = np.random.default_rng(6)
    n = 20_000
    x = rng.normal(3.0, 2.0, n)
    table = pa.table({"x": x, "c": rng.choice(np.array(["a", "b", "c"]), n, p=[0.5, 0.3, 0.2]),
                      "t": np.array(["héllo wörld"] * (n - 10) + [None] * 10, dtype=object)})
    shifted = np.asarray(_inject(table, "mean_shift_0.2sd", "x", rng).column("x"))
    assert np.allclose(shifted - x, 0.2 * x.std())
    wider = np.asarray(_inject(table, "variance_x1.5", "x", rng).column("x"))
    assert wider.var() == pytest.approx(1.5 * x.var(), rel=1e-9)
    mixed = np.asarray(_inject(table, "category_mix_10pt", "c", rng).column("c"), dtype=object)
    before = np.asarray(table.column("c"), dtype=object)
    assert np.mean(mixed == "a") == pytest.approx(np.mean(before == "a") - 0.10, abs=0.01)
    assert np.all((mixed == before) | ((before == "a") & (mixed == "b")))  # only a -> b moves
    holes = _inject(table, "missing_jump_20pct", "x", rng).column("x")
    assert holes.null_count / n == pytest.approx(0.2, abs=0.01)
    longer = _inject(table, "longer_prompts", "t", rng).column("t").to_pylist()
    assert longer[0] == "héllo wörld" + "héllo" and longer[-1] is None
