"""Offline replay of a live comparison: two event tables in time order, a look every ``every`` outcomes, and the
looks at which each decision would have been taken (``assay compare sequential``).

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> c, t = (rng.random(6000) < 0.90).astype(float), (rng.random(6000) < 0.84).astype(float)
>>> times = np.arange(6000.0)
>>> out = replay(c, times, t, times, higher_is_better=True, margin=0.02, min_outcomes=2000, every=100)
>>> out["decision"], out["first"]["rollback"]["n_control"] < 6000
('rollback', True)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from assay.errors import InputError
from assay.stats.sequential import Arm
from assay.watch.pairs import PairState


def replay(control: np.ndarray, control_time: np.ndarray, candidate: np.ndarray, candidate_time: np.ndarray, *,
           higher_is_better: bool, margin: float | None = None, margin_relative: float | None = None,
           alpha: float = 0.05, t_star: float = 5000, min_outcomes: int = 2000, every: int = 100,
           paired: bool = False, binary: bool | None = None) -> dict[str, Any]:
    """Replay per-outcome values of two arms (``paired``: the same requests, aligned by position) and decide at
    every look, as the service would; the first look of each decision and the decision that stands (the first
    promote or rollback, else hold)."""
    from assay.live.config import MetricSpec
    from assay.live.decide import metric_decision, paired_decision

    if (margin is None) == (margin_relative is None):
        raise InputError("compare sequential: expected exactly one of --margin and --margin-relative, found "
                         f"{'both' if margin is not None else 'neither'}. Fix: e.g. --margin 0.02")
    if every < 1:
        raise InputError(f"--every: expected at least 1 outcome between looks, found {every}")
    spec = MetricSpec.model_validate({"metric": "value", "margin": margin, "margin_relative": margin_relative})
    c = np.asarray(control, np.float64)
    t = np.asarray(candidate, np.float64)
    if paired and c.size != t.size:
        raise InputError(f"--paired: expected the same requests in both tables, found {c.size} and {t.size} rows "
                         "after the join on the id column")
    if binary is None:
        binary = bool(np.isin(c, (0.0, 1.0)).all() and np.isin(t, (0.0, 1.0)).all())
    # one stream of outcomes in time order: how many of each arm are in after each outcome
    if paired:
        n_c = n_t = np.arange(1, c.size + 1)
    else:
        times = np.concatenate([np.asarray(control_time, np.float64), np.asarray(candidate_time, np.float64)])
        arm = np.concatenate([np.zeros(c.size, bool), np.ones(t.size, bool)])
        order = np.argsort(times, kind="stable")
        is_t = arm[order]
        n_t = np.cumsum(is_t)
        n_c = np.cumsum(~is_t)
    total = n_c.size
    looks = list(range(every - 1, total, every))
    if (looks and looks[-1] != total - 1) or (not looks and total):
        looks.append(total - 1)
    cs1, cs2 = np.cumsum(c), np.cumsum(c * c)
    ts1, ts2 = np.cumsum(t), np.cumsum(t * t)
    tc = np.cumsum(t * c) if paired else None
    first: dict[str, dict[str, Any]] = {}
    stands: dict[str, Any] | None = None
    last: dict[str, Any] | None = None
    for i in looks:
        kc, kt = int(n_c[i]), int(n_t[i])

        def arm_of(k: int, s1: np.ndarray, s2: np.ndarray) -> Arm:
            if k == 0:
                return Arm(0.0, math.nan, math.nan)
            x1, x2 = float(s1[k - 1]), float(s2[k - 1])
            return Arm.proportion(x1, k) if binary else Arm.sums(k, x1, x2)

        ac, at = arm_of(kc, cs1, cs2), arm_of(kt, ts1, ts2)
        if paired and tc is not None:
            k = kc
            sums = ((float(ts1[k - 1]), float(cs1[k - 1]), float(ts2[k - 1]), float(cs2[k - 1]), float(tc[k - 1])),)
            pairs = PairState(("value",), k, 0, sums, ())
            entry = paired_decision(spec, higher_is_better, pairs, "value", alpha=alpha, t_star=t_star,
                                    min_outcomes=min_outcomes)
        else:
            entry = metric_decision(spec, higher_is_better, ac, at, alpha=alpha, t_star=t_star,
                                    min_outcomes=min_outcomes)
        look = {"outcomes": i + 1, "n_control": kc, "n_candidate": kt,
                "difference": entry["difference"], "ci_low": entry["ci_low"], "ci_high": entry["ci_high"],
                "decision": entry["decision"], "reason": entry["reason"]}
        if entry["decision"] not in first:
            first[entry["decision"]] = look
        if stands is None and entry["decision"] in ("promote", "rollback"):
            stands = look
        last = look
    return {"decision": stands["decision"] if stands else "hold", "stands": stands, "first": first,
            "last": last, "looks": len(looks), "paired": paired,
            "n_control": int(c.size), "n_candidate": int(t.size)}
