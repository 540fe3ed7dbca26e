"""Shadow comparisons online: each pair (two versions' predictions of a request and its label) is counted once,
whatever order the three events arrive in and however the materializer's passes cut them; the decision is paired."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from assay.live.compare import LiveComparisons
from assay.watch.config import parse_config
from assay.watch.materialize import rebuild_window, stored_windows
from assay.watch.monitor import Monitor
from assay.watch.window import merge_all

T0 = 1_800_000_000


def _monitor(tmp_path: Path, policy: str = "first", min_outcomes: int = 200) -> Monitor:
    text = (f"store: sqlite:///{tmp_path / 'w.sqlite'}\nwindow: 5m\nretention: {{events: 3650d, windows: 3650d}}\n"
            f"models:\n  fraud: {{task: binary, score: s, label: y, label_policy: {policy}}}\n"
            "comparisons:\n  - {name: sh, model: fraud, mode: shadow, control: {version: a}, candidate: {version: b},"
            f" min_outcomes: {min_outcomes}, metrics: [{{metric: accuracy, margin: 0.02}}, "
            "{metric: log_loss, margin_relative: 0.1}]}\n")
    return Monitor(parse_config(text), now=lambda: T0 + 30 * 86400)


def _requests(n: int, seed: int, acc_a: float = 0.9, acc_b: float = 0.9) -> list[dict[str, object]]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        y = int(rng.integers(0, 2))
        sa = 0.8 if (rng.random() < acc_a) == (y == 1) else 0.2
        sb = sa if rng.random() < 0.85 else (0.8 if (rng.random() < acc_b) == (y == 1) else 0.2)
        out.append({"id": f"r{i}", "t": T0 + i * 13, "y": y, "a": sa, "b": sb})
    return out


def _expected(reqs: list[dict[str, object]], ids: set[str]) -> tuple[int, int, float, float]:
    """Pairs, agreements and the two accuracies over the requests whose three events are all in."""
    got = [r for r in reqs if r["id"] in ids]
    correct = lambda s, y: float((s >= 0.5) == (y == 1))  # noqa: E731
    return (len(got), sum((r["a"] >= 0.5) == (r["b"] >= 0.5) for r in got),  # type: ignore[operator]
            sum(correct(r["b"], r["y"]) for r in got), sum(correct(r["a"], r["y"]) for r in got))  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", range(6))
def test_each_pair_is_counted_once_whatever_the_order_of_arrival(tmp_path: Path, seed: int) -> None:
    mon = _monitor(tmp_path)
    reqs = _requests(120, seed)
    rnd = random.Random(seed)
    events = [(kind, r) for r in reqs for kind in ("a", "b", "label")]
    rnd.shuffle(events)
    # some events never arrive: pairs without them must not count
    dropped = set(rnd.sample(range(len(events)), 25))
    sent: dict[str, set[str]] = {}
    for i, (kind, r) in enumerate(events):
        if i in dropped:
            continue
        if kind == "label":
            mon.ingest_labels("fraud", [{"id": r["id"], "y": r["y"]}])
        else:
            mon.ingest_predictions("fraud", [{"id": r["id"], "timestamp": r["t"], "version": kind, "s": r[kind]}])
        sent.setdefault(str(r["id"]), set()).add(kind)
        if rnd.random() < 0.15:
            mon.materialize()
    mon.materialize()
    complete = {i for i, kinds in sent.items() if kinds == {"a", "b", "label"}}
    states = [s for v, _, s in stored_windows(mon.store, "fraud", 300) if v == "b"]
    pairs = merge_all(states).pairs
    n, agree, correct_b, correct_a = _expected(reqs, complete)
    assert pairs is not None and set(pairs) == {"a"}
    p = pairs["a"]
    assert (p.n, p.agree) == (n, agree)
    assert p.sums[p.names.index("correct")][:2] == (correct_b, correct_a)
    # the stored pairs equal the windows folded afresh, and the hourly rollups hold the same
    fresh = merge_all([rebuild_window(mon.store, mon.contexts["fraud"], "b", start, 300)
                       for v, start, _ in stored_windows(mon.store, "fraud", 300) if v == "b"])
    assert fresh.pairs is not None and fresh.pairs["a"].n == n and fresh.pairs["a"].agree == agree
    np.testing.assert_allclose(np.array(fresh.pairs["a"].sums), np.array(p.sums), rtol=1e-12)  # sums in another order
    hours = merge_all([s for v, _, s in stored_windows(mon.store, "fraud", 3600) if v == "b"])
    assert hours.pairs is not None and hours.pairs["a"].n == n


def test_a_replaced_label_rebuilds_the_pairs(tmp_path: Path) -> None:
    mon = _monitor(tmp_path, policy="last")
    reqs = _requests(50, 7)
    mon.ingest_predictions("fraud", [{"id": r["id"], "timestamp": r["t"], "version": v, "s": r[v]}
                                     for r in reqs for v in ("a", "b")])
    mon.ingest_labels("fraud", [{"id": r["id"], "y": r["y"]} for r in reqs])
    mon.materialize()
    flipped = reqs[0]
    mon.ingest_labels("fraud", [{"id": flipped["id"], "y": 1 - flipped["y"]}])  # type: ignore[operator]
    mon.materialize()
    flipped["y"] = 1 - flipped["y"]  # type: ignore[operator]
    p = merge_all([s for v, _, s in stored_windows(mon.store, "fraud", 300) if v == "b"]).pairs["a"]  # type: ignore[index]
    n, agree, correct_b, correct_a = _expected(reqs, {str(r["id"]) for r in reqs})
    assert (p.n, p.agree) == (n, agree) == (50, agree)
    assert p.sums[p.names.index("correct")][:2] == (correct_b, correct_a)


def test_the_shadow_decision_is_paired_and_reports_agreement(tmp_path: Path) -> None:
    mon = _monitor(tmp_path, min_outcomes=300)
    live = LiveComparisons(mon)
    reqs = _requests(2500, 11, acc_a=0.92, acc_b=0.75)
    mon.ingest_predictions("fraud", [{"id": r["id"], "timestamp": r["t"], "version": v, "s": r[v]}
                                     for r in reqs for v in ("a", "b")][:10_000])
    mon.ingest_labels("fraud", [{"id": r["id"], "y": r["y"]} for r in reqs])
    mon.materialize()
    doc = live.evaluate("sh")
    by = {m["metric"]: m for m in doc["metrics"]}
    assert by["accuracy"]["paired"] and by["accuracy"]["decision"] == "rollback"
    n, agree, correct_b, correct_a = _expected(reqs, {str(r["id"]) for r in reqs})
    assert by["accuracy"]["control"]["n"] == n == doc["shadow"]["pairs"]
    assert by["accuracy"]["difference"] == pytest.approx((correct_b - correct_a) / n)
    assert doc["shadow"]["agreement"] == pytest.approx(agree / n)
    assert doc["shadow"]["disagreements"] and len(doc["shadow"]["disagreements"]) <= 10
    assert by["log_loss"]["paired"] and by["log_loss"]["margin_relative"] == 0.1


def test_versions_without_shared_ids_warn(tmp_path: Path) -> None:
    mon = _monitor(tmp_path, min_outcomes=20)
    mon.ingest_predictions("fraud", [{"id": f"{v}{i}", "timestamp": T0 + i, "version": v, "s": 0.7}
                                     for v in ("a", "b") for i in range(30)])
    mon.ingest_labels("fraud", [{"id": f"{v}{i}", "y": 1} for v in ("a", "b") for i in range(30)])
    mon.materialize()
    doc = LiveComparisons(mon).evaluate("sh")
    assert doc["decision"] == "hold" and doc["shadow"]["pairs"] == 0
    assert any("share no labeled request ids" in w for w in doc["warnings"])
