"""The Monitor API: reads equal offline evaluate and drift on the same joined rows, whatever the order of arrival."""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import assay
from assay.errors import InputError
from assay.watch.config import parse_config
from assay.watch.materialize import rebuild_window, stored_windows
from assay.watch.monitor import Monitor, NotFound, UnknownModel

T0 = 1_800_000_000  # 2027-01-15T08:00:00Z, a window boundary


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def _monitor(store: str, models: str, extra: str = "", base: Path | None = None) -> Monitor:
    text = f"store: {store}\nwindow: 5m\n{extra}models:\n{models}"
    cfg = parse_config(text, base_dir=base or ".")
    return Monitor(cfg, now=Clock(T0 + 10 * 86400))


BINARY = "  fraud: {task: binary, score: s, label: y, segments: [country], sensitive: [gender]}\n"


def _binary_data(n: int, seed: int = 0, hours: int = 3) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    s = rng.random(n).round(3)
    return {"id": np.array([f"e{i}" for i in range(n)]), "t": T0 + rng.integers(0, hours * 3600, n),
            "s": s, "y": (rng.random(n) < s).astype(int), "country": rng.choice(["DE", "FR", "US"], n),
            "gender": rng.choice(["f", "m"], n)}


def _events(d: dict[str, np.ndarray], version: str | None = "7") -> list[dict[str, Any]]:
    out = []
    for i in range(len(d["id"])):
        e = {"id": str(d["id"][i]), "timestamp": int(d["t"][i]), "s": float(d["s"][i]),
             "country": str(d["country"][i]), "gender": str(d["gender"][i])}
        if version is not None:
            e["version"] = version
        out.append(e)
    return out


def _labels(d: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    return [{"id": str(d["id"][i]), "y": int(d["y"][i])} for i in range(len(d["id"]))]


def _assert_same_metrics(doc: dict[str, Any], offline: dict[str, Any], exact: tuple[str, ...] = ()) -> None:
    for name, entry in offline["metrics"].items():
        got = doc["metrics"][name]
        for key in ("value", "ci_low", "ci_high", "n"):
            a, b = got[key], entry[key]
            if a is None or b is None:
                assert a == b, (name, key)
            elif name in exact or key == "n":
                assert a == b, (name, key, a, b)
            else:
                assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12), (name, key, a, b)


def test_reads_equal_offline_evaluate(store_url: str) -> None:
    mon = _monitor(store_url, BINARY)
    d = _binary_data(1500)
    ev, lab = _events(d), _labels(d)
    mon.ingest_labels("fraud", lab[:300])  # labels that arrive before their predictions wait for them
    mon.ingest_predictions("fraud", ev[:1000])
    mon.materialize()
    mon.ingest_labels("fraud", lab[300:])  # late labels update their predictions' windows
    mon.ingest_predictions("fraud", ev[1000:])
    mon.materialize()
    doc = mon.metrics("fraud", T0, T0 + 3 * 3600)
    offline = assay.evaluate({k: d[k] for k in ("y", "s", "country", "gender", "id")}, task="binary", label="y",
                             score="s", segments=["country"], sensitive=["gender"], id="id").doc
    exact = ("accuracy", "precision", "recall", "f1", "mcc", "roc_auc", "average_precision", "balanced_accuracy")
    _assert_same_metrics(doc, offline, exact)
    for country, group in offline["slices"]["country"].items():
        _assert_same_metrics(doc["slices"]["country"][country], group, exact)
    assert doc["fairness"]["gender"] == offline["fairness"]["gender"]
    assert doc["dataset"]["fingerprint"] == offline["dataset"]["fingerprint"]
    assert doc["dataset"]["rows_used"] == 1500 and doc["label_coverage"] == 1.0
    assert doc["model"] == {"name": "fraud", "version": "7"}
    assert doc["confusion_matrix"] == offline["confusion_matrix"]
    status = mon.status("fraud")
    assert (status["events"], status["labels"], status["pending_labels"]) == (1500, 1500, 0)
    assert status["materialization_lag"]["predictions"] == 0
    mon.close()


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order=st.randoms(use_true_random=False), passes=st.integers(1, 4), resend=st.integers(0, 3))
def test_any_order_of_arrival_and_resends_give_the_same_reads(tmp_path_factory: pytest.TempPathFactory,
                                                             order: random.Random, passes: int,
                                                             resend: int) -> None:
    store = f"sqlite:///{tmp_path_factory.mktemp('w') / 'w.sqlite'}"
    mon = _monitor(store, BINARY)
    d = _binary_data(400, seed=3)
    ev, lab = _events(d), _labels(d)
    batches = [("p", ev[i:i + 50]) for i in range(0, 400, 50)] + [("l", lab[i:i + 80]) for i in range(0, 400, 80)]
    batches += [order.choice(batches) for _ in range(resend)]
    order.shuffle(batches)
    fold_at = set(order.sample(range(len(batches)), k=min(passes, len(batches))))
    for i, (kind, batch) in enumerate(batches):
        r = (mon.ingest_predictions if kind == "p" else mon.ingest_labels)("fraud", batch)
        assert r.conflicts == 0
        if i in fold_at:
            mon.materialize()
    mon.materialize()
    doc = mon.metrics("fraud", T0, T0 + 3 * 3600)
    offline = assay.evaluate({k: d[k] for k in ("y", "s", "country", "gender")}, task="binary", label="y",
                             score="s", segments=["country"], sensitive=["gender"]).doc
    _assert_same_metrics(doc, offline, ("accuracy", "f1", "roc_auc", "average_precision"))
    # every stored window equals the one rebuilt from the stored events
    ctx = mon.contexts["fraud"]
    for version, start, state in stored_windows(mon.store, "fraud", 300):
        again = rebuild_window(mon.store, ctx, version, start, 300)
        assert (again.predictions, again.labeled) == (state.predictions, state.labeled)
        assert again.fingerprint == state.fingerprint
        conf_a = again.realized[("overall", None)].confusion  # type: ignore[index]
        conf_b = state.realized[("overall", None)].confusion  # type: ignore[index]
        assert np.array_equal(conf_a.rows, conf_b.rows)
    mon.close()


def test_rollups_equal_the_merge_of_their_windows(tmp_path: Path) -> None:
    mon = _monitor(f"sqlite:///{tmp_path / 'w.sqlite'}", BINARY)
    d = _binary_data(2000, hours=30)
    mon.ingest_predictions("fraud", _events(d))
    mon.ingest_labels("fraud", _labels(d))
    mon.materialize()
    # a range read through day and hour rollups equals one read through base windows only
    via_rollups = mon.metrics("fraud", T0 + 300, T0 + 28 * 3600)
    from assay.watch.query import run_document
    from assay.watch.window import WindowState, merge_all

    base = [WindowState.from_bytes(b) for _, _, b in mon.store.window_rows("fraud", None, 300, T0 + 300,
                                                                           T0 + 28 * 3600)]
    direct = run_document(mon.contexts["fraud"], merge_all(base), versions=["7"], start=T0 + 300,
                          end=T0 + 28 * 3600, asked=(T0 + 300, T0 + 28 * 3600), now=0)
    _assert_same_metrics(via_rollups, direct, ("accuracy", "roc_auc"))
    assert via_rollups["dataset"]["rows"] == direct["dataset"]["rows"]
    # a range inside a window is widened and says so
    widened = mon.metrics("fraud", T0 + 10, T0 + 20)
    assert widened["range"]["widened"] and widened["range"]["from"] == "2027-01-15T08:00:00Z"
    assert widened["range"]["to"] == "2027-01-15T08:05:00Z"
    assert any("widened" in n for n in widened["notes"])
    # the one-pass merge of many window states is the chain of pairwise merges, state by state
    import functools

    chain = functools.reduce(lambda a, b: a.merge(b), base)
    many = merge_all(base)
    assert (many.predictions, many.labeled, many.label_values) == (chain.predictions, chain.labeled,
                                                                    chain.label_values)
    assert many.fingerprint.digest() == chain.fingerprint.digest()
    assert many.realized is not None and chain.realized is not None and set(many.realized) == set(chain.realized)
    for grouping, bundle in chain.realized.items():
        got = many.realized[grouping]
        assert got.scores is not None and bundle.scores is not None and got.scores.groups == bundle.scores.groups
        np.testing.assert_array_equal(got.scores.key, bundle.scores.key)
        np.testing.assert_array_equal(got.scores.mass, bundle.scores.mass)
        np.testing.assert_array_equal(got.confusion.rows, bundle.confusion.rows)  # type: ignore[union-attr]
    assert many.traffic is not None and chain.traffic is not None
    assert many.traffic.rows == chain.traffic.rows  # moments: a tree of merges rounds apart from a chain
    assert many.traffic.score.mean == pytest.approx(chain.traffic.score.mean, rel=1e-12)
    series = mon.series("fraud", T0, T0 + 30 * 3600, step="1h")
    assert len(series["windows"]) == 30
    assert sum(w["predictions"] for w in series["windows"]) == 2000
    assert all(w["label_coverage"] == 1.0 for w in series["windows"] if w["predictions"])
    daily = mon.series("fraud", T0, T0 + 30 * 3600, step="1d")
    assert sum(w["predictions"] for w in daily["windows"]) == 2000
    mon.close()


def test_label_policy_last_rebuilds_the_windows(store_url: str) -> None:
    models = BINARY.replace("sensitive: [gender]", "sensitive: [gender], label_policy: last")
    mon = _monitor(store_url, models)
    d = _binary_data(600)
    mon.ingest_predictions("fraud", _events(d))
    mon.ingest_labels("fraud", _labels(d))
    mon.materialize()
    flipped = dict(d)
    flipped["y"] = d["y"].copy()
    flipped["y"][:100] = 1 - flipped["y"][:100]
    r = mon.ingest_labels("fraud", _labels(flipped)[:100])
    assert (r.accepted, r.conflicts) == (100, 0)
    mon.materialize()
    doc = mon.metrics("fraud", T0, T0 + 3 * 3600)
    offline = assay.evaluate({k: flipped[k] for k in ("y", "s", "country", "gender")}, task="binary", label="y",
                             score="s", segments=["country"], sensitive=["gender"]).doc
    _assert_same_metrics(doc, offline, ("accuracy", "roc_auc"))
    hourly = mon.series("fraud", T0, T0 + 3 * 3600, step="1h")  # the rollups were rebuilt too
    assert sum(w["metrics"]["accuracy"]["n"] for w in hourly["windows"]) == 600
    mon.close()


def test_label_policy_first_keeps_the_first_label(tmp_path: Path) -> None:
    mon = _monitor(f"sqlite:///{tmp_path / 'w.sqlite'}", BINARY)
    mon.ingest_predictions("fraud", [{"id": "a", "timestamp": T0, "s": 0.9}])
    assert mon.ingest_labels("fraud", [{"id": "a", "y": 1}]).accepted == 1
    second = mon.ingest_labels("fraud", [{"id": "a", "y": 0}])
    assert (second.conflicts, second.conflict_ids) == (1, ["a"])
    mon.materialize()
    assert mon.metrics("fraud", T0, T0 + 300)["metrics"]["accuracy"]["value"] == 1.0
    assert mon.status("fraud")["conflicts"] == 1
    mon.close()


def test_versions_and_shadow_traffic(tmp_path: Path) -> None:
    mon = _monitor(f"sqlite:///{tmp_path / 'w.sqlite'}", BINARY)
    d = _binary_data(300)
    champion, challenger = _events(d, "7"), _events(d, "8")
    for e in challenger:
        e["s"] = round(1 - e["s"], 3)  # a bad challenger on the same requests
    mon.ingest_predictions("fraud", champion + challenger)
    mon.ingest_labels("fraud", _labels(d))  # one label serves both versions' predictions of an id
    mon.materialize()
    both = mon.metrics("fraud", T0, T0 + 3 * 3600)
    seven = mon.metrics("fraud", T0, T0 + 3 * 3600, version="7")
    eight = mon.metrics("fraud", T0, T0 + 3 * 3600, version="8")
    assert both["model"]["version"] is None and both["versions"] == ["7", "8"]
    assert seven["model"]["version"] == "7" and seven["dataset"]["rows_used"] == 300
    assert seven["metrics"]["roc_auc"]["value"] > 0.6 > eight["metrics"]["roc_auc"]["value"]
    assert both["dataset"]["rows_used"] == 600
    event = mon.event("fraud", "e0")
    assert [p["version"] for p in event["predictions"]] == ["7", "8"] and event["label"]["row"] == {"y": int(d["y"][0])}
    mon.close()


def test_drift_and_estimation_from_the_reference(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    n_ref = 4000
    amount = rng.normal(50, 10, n_ref)
    country = rng.choice(["DE", "FR"], n_ref)
    score = 1 / (1 + np.exp(-(amount - 50) / 10))
    y = (rng.random(n_ref) < score).astype(int)
    assay.profile({"amount": amount, "country": country}).save(tmp_path / "ref.profile")
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"y": y, "s": score}), tmp_path / "ref.parquet")
    models = ("  fraud: {task: binary, score: s, label: y, features: [amount, country],\n"
              "          reference: {profile: ref.profile, labeled: ref.parquet}}\n")
    mon = _monitor(f"sqlite:///{tmp_path / 'w.sqlite'}", models, base=tmp_path)
    cur_amount = rng.normal(58, 10, 1500)  # covariate shift
    cur_score = 1 / (1 + np.exp(-(cur_amount - 50) / 10))
    cur_country = rng.choice(["DE", "FR", "IT"], 1500, p=[0.45, 0.45, 0.1])
    events = [{"id": f"c{i}", "timestamp": T0 + i, "s": float(cur_score[i]), "amount": float(cur_amount[i]),
               "country": str(cur_country[i])} for i in range(1500)]
    mon.ingest_predictions("fraud", events)
    mon.materialize()
    doc = mon.drift("fraud", T0, T0 + 3600)
    offline = assay.drift(assay.load_profile(tmp_path / "ref.profile"),
                          assay.profile({"amount": cur_amount, "country": cur_country},
                                        like=tmp_path / "ref.profile")).to_dict()
    assert doc["schema"] == "assay.drift/1" and doc["drifted"] and offline["drifted"]
    for col in ("amount", "country"):
        assert doc["columns"][col]["drifted"] == offline["columns"][col]["drifted"]
    series = mon.series("fraud", T0, T0 + 3600, step="1h")
    w = series["windows"][0]
    assert set(w["estimated"]) == {"accuracy", "precision", "recall", "f1", "roc_auc"}
    assert w["metrics"] == {} and w["labeled"] == 0  # no labels yet: estimates only
    est = w["estimated"]["accuracy"]
    assert est["ci_low"] < est["value"] < est["ci_high"]
    ood = w["traffic"]["ood_rate"]["value"]
    assert 0.1 <= ood <= 0.2  # 'IT' is unseen (10%), plus amounts beyond the reference's range
    mon.close()


def test_llm_traffic_and_outcomes(tmp_path: Path) -> None:
    models = ("  chat: {task: llm, text: [prompt, response], latency: latency_s, status: status, cost: cost,\n"
              "         outcomes: [thumbs_up]}\n")
    mon = _monitor(f"sqlite:///{tmp_path / 'w.sqlite'}", models)
    events = [{"id": f"q{i}", "timestamp": T0 + i, "prompt": "hello " * (i % 5), "latency_s": 0.1 + i / 1000,
               "status": "error" if i % 10 == 0 else "ok", "cost": 0.01,
               "response": "I'm sorry, I can't" if i % 4 == 0 else '{"answer": 1}'} for i in range(200)]
    mon.ingest_predictions("chat", events)
    mon.ingest_labels("chat", [{"id": f"q{i}", "thumbs_up": i % 2} for i in range(100)])
    mon.materialize()
    w = mon.series("chat", T0, T0 + 3600, step="1h")["windows"][0]
    t = w["traffic"]
    assert t["predictions"]["value"] == 200
    assert t["error_rate"]["value"] == pytest.approx(0.1)
    assert t["response_refusal_rate"]["value"] == pytest.approx(0.25)
    assert t["response_json_failure_rate"]["value"] == pytest.approx(0.25)
    assert t["prompt_empty_rate"]["value"] == pytest.approx(0.2)
    assert t["cost_total"]["value"] == pytest.approx(2.0)
    lat = np.array([0.1 + i / 1000 for i in range(200)])
    assert t["latency_p50"]["value"] == pytest.approx(np.quantile(lat, 0.5, method="inverted_cdf"), rel=0.01)
    out = w["outcomes"]["outcome_thumbs_up_mean"]
    assert out["value"] == pytest.approx(0.5) and out["n"] == 100 and out["ci_low"] < 0.5 < out["ci_high"]
    with pytest.raises(InputError, match="llm"):
        mon.metrics("chat", T0, T0 + 3600)
    mon.close()


def test_other_tasks_equal_offline(tmp_path: Path) -> None:
    models = ("  reg: {task: regression, prediction: p, label: y, segments: [g]}\n"
              "  multi: {task: multiclass, proba_prefix: p_, label: y, classes: [x, y, z]}\n")
    mon = _monitor(f"sqlite:///{tmp_path / 'w.sqlite'}", models)
    rng = np.random.default_rng(2)
    n = 500
    y = rng.normal(size=n)
    p = y + rng.normal(scale=0.5, size=n)
    g = rng.choice(["a", "b"], n)
    mon.ingest_predictions("reg", [{"id": i, "timestamp": T0 + i, "p": float(p[i]), "g": str(g[i])}
                                   for i in range(n)])
    mon.ingest_labels("reg", [{"id": i, "y": float(y[i])} for i in range(n)])
    proba = rng.dirichlet([1, 1, 1], n)
    ym = np.array(["x", "y", "z"])[[rng.choice(3, p=row) for row in proba]]
    mon.ingest_predictions("multi", [{"id": i, "timestamp": T0 + i, "p_x": float(proba[i, 0]),
                                      "p_y": float(proba[i, 1]), "p_z": float(1 - proba[i, 0] - proba[i, 1])}
                                     for i in range(n)])
    mon.ingest_labels("multi", [{"id": i, "y": str(ym[i])} for i in range(n)])
    mon.materialize()
    reg = mon.metrics("reg", T0, T0 + 3600)
    off = assay.evaluate({"y": y, "p": p, "g": g}, task="regression", label="y", prediction="p", segments=["g"]).doc
    for name in ("mae", "rmse", "r2", "max_error"):
        assert reg["metrics"][name]["value"] == pytest.approx(off["metrics"][name]["value"], rel=1e-9)
    multi = mon.metrics("multi", T0, T0 + 3600)
    pz = 1 - proba[:, 0] - proba[:, 1]
    offm = assay.evaluate({"y": ym, "p_x": proba[:, 0], "p_y": proba[:, 1], "p_z": pz}, task="multiclass",
                          label="y", proba_prefix="p_").doc
    for name in ("accuracy", "f1_macro", "log_loss", "roc_auc_ovr"):
        assert multi["metrics"][name]["value"] == pytest.approx(offm["metrics"][name]["value"], rel=1e-9)
    mon.close()


def test_bad_queries(tmp_path: Path) -> None:
    mon = _monitor(f"sqlite:///{tmp_path / 'w.sqlite'}", BINARY)
    with pytest.raises(UnknownModel, match="fraud"):
        mon.metrics("nope", T0, T0 + 1)
    with pytest.raises(InputError, match="from < to"):
        mon.metrics("fraud", T0 + 10, T0)
    with pytest.raises(InputError, match="RFC 3339"):
        mon.metrics("fraud", "last tuesday", T0)
    with pytest.raises(InputError, match="multiple of the window"):
        mon.series("fraud", T0, T0 + 3600, step="7m")
    with pytest.raises(InputError, match="segment"):
        mon.series("fraud", T0, T0 + 3600, step="1h", segment="nope")
    with pytest.raises(NotFound):
        mon.event("fraud", "missing")
    with pytest.raises(InputError, match="reference"):
        mon.drift("fraud", T0, T0 + 3600)
    empty = mon.metrics("fraud", T0, T0 + 3600)  # an empty range is an empty result, not a crash
    assert empty["dataset"]["rows"] == 0 and empty["metrics"]["accuracy"]["value"] is None
    mon.close()


def test_gate_holds_a_production_range_against_an_offline_baseline(tmp_path: Path) -> None:
    from assay.errors import InputError as GateInput
    from assay.gate.decide import gate
    from assay.gate.policy import parse_policy

    d = _binary_data(3000, seed=9)
    baseline = assay.evaluate({k: d[k] for k in ("y", "s")}, task="binary", label="y", score="s").to_dict()
    mon = _monitor(f"sqlite:///{tmp_path / 'w.sqlite'}", BINARY)
    prod = _binary_data(3000, seed=10)
    broken = dict(prod)
    broken["s"] = np.where(np.arange(3000) % 2 == 0, 1 - prod["s"], prod["s"])  # half the traffic scored upside down
    mon.ingest_predictions("fraud", _events(broken))
    mon.ingest_labels("fraud", _labels(broken))
    mon.materialize()
    production = mon.metrics("fraud", T0, T0 + 3 * 3600)
    policy = "checks:\n  - {metric: roc_auc, max_drop: 0.02}\n  - {metric: accuracy, min: 0.6}\n"
    with pytest.raises(GateInput, match="allow_different_data"):
        gate(production, parse_policy(policy), baseline)
    result = gate(production, parse_policy("allow_different_data: true\n" + policy), baseline)
    assert result.decision == "fail"
    assert any("unpaired" in w for w in result.warnings)
    healthy = _monitor(f"sqlite:///{tmp_path / 'h.sqlite'}", BINARY)
    healthy.ingest_predictions("fraud", _events(prod))
    healthy.ingest_labels("fraud", _labels(prod))
    healthy.materialize()
    ok = gate(healthy.metrics("fraud", T0, T0 + 3 * 3600), parse_policy("allow_different_data: true\n" + policy),
              baseline)
    assert ok.decision in ("pass", "inconclusive") and ok.decision != "fail"
    mon.close()
    healthy.close()


def test_an_event_the_states_refuse_is_set_aside_not_blocking(tmp_path: Path) -> None:
    """A safety net behind the ingest checks: a row that the evaluation states refuse is counted, and the others
    fold."""
    mon = _monitor(f"sqlite:///{tmp_path / 'w.sqlite'}", BINARY)
    mon.ingest_predictions("fraud", [{"id": f"e{i}", "timestamp": T0 + i, "s": 0.5} for i in range(10)])
    ctx = mon.contexts["fraud"]
    original = ctx.predictions_state

    def picky(rows):  # type: ignore[no-untyped-def]
        if any(r["id"] == "e3" for r in rows):
            raise InputError("e3 is refused")
        return original(rows)

    ctx.predictions_state = picky  # type: ignore[method-assign]
    mon.materialize()
    status = mon.status("fraud")
    assert status["unfoldable"] == 1 and status["materialization_lag"]["predictions"] == 0
    assert mon.series("fraud", T0, T0 + 300, step="5m")["windows"][0]["predictions"] == 9
    mon.close()
