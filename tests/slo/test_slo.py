"""SLOs: config errors with lines, burn rates and budgets against a direct computation from the events, the two
clocks, and the multi-window alert conditions."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assay.errors import ConfigError
from assay.slo.budget import budget_remaining, burn_rate
from assay.slo.config import slos
from assay.slo.status import SLOs
from assay.watch.config import parse_config
from assay.watch.monitor import Monitor

NOW = 1_800_000_000.0 + 40 * 86400
MODELS = ("models:\n  fraud: {task: binary, score: s, label: y, latency: lat, status: st, text: [response]}\n"
          "  reg: {task: regression, prediction: p, label: y}\n")


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def _monitor(tmp_path: Path, slo_yaml: str, clock: Clock) -> Monitor:
    text = (f"store: sqlite:///{tmp_path / 'w.sqlite'}\nwindow: 5m\nretention: {{events: 3650d, windows: 3650d}}\n"
            f"{MODELS}slos:\n{slo_yaml}")
    return Monitor(parse_config(text), now=clock)


@pytest.mark.parametrize(("entry", "message"), [
    ("{name: a, model: nope, sli: {event: not_error}, objective: 0.99}", "expected a model of `models:`"),
    ("{name: a, model: fraud, sli: {event: not_error}, objective: 1.5}", "less than 1"),
    ("{name: a, model: fraud, sli: {event: latency_below}, objective: 0.99}", "needs `seconds:`"),
    ("{name: a, model: fraud, sli: {event: not_refusal, column: prompt}, objective: 0.99}",
     "expected a text column of model 'fraud' (response)"),
    ("{name: a, model: fraud, sli: {metric: rocauc, min: 0.8, per: 1h}, objective: 0.99}",
     "expected a windowed metric of model 'fraud'"),
    ("{name: a, model: fraud, sli: {metric: roc_auc, min: 0.8, per: 2h}, objective: 0.99, period: 1h}",
     "no longer than the period"),
    ("{name: a, model: reg, sli: {event: correct}, objective: 0.99}", "needs a classification model"),
    ("{name: a, model: fraud, sli: {event: correct, per: 1h}, objective: 0.99}", "takes no `per`"),
    ("{name: a, model: fraud, sli: {event: correct}, objective: 0.99, colour: red}", "an unknown key"),
])
def test_bad_slos_are_config_errors_naming_the_line(entry: str, message: str) -> None:
    cfg = parse_config(f"store: sqlite:///x.sqlite\n{MODELS}slos:\n  - {entry}\n")
    with pytest.raises(ConfigError, match=r"watch\.yaml, line 6") as err:
        slos(cfg)
    assert message in str(err.value)


def test_a_burn_rate_no_error_rate_can_reach_is_a_warning() -> None:
    cfg = parse_config(f"store: sqlite:///x.sqlite\n{MODELS}slos:\n"
                       "  - {name: a, model: fraud, sli: {event: not_error}, objective: 0.9}\n")
    _, warnings = slos(cfg)
    assert any("14.4 exceeds 1/(1 - objective) = 10" in w and "line 6" in w for w in warnings)


def test_alert_windows_scale_with_the_period_and_round_up_to_windows() -> None:
    cfg = parse_config(f"store: sqlite:///x.sqlite\n{MODELS}slos:\n"
                       "  - {name: a, model: fraud, sli: {event: not_error}, objective: 0.99, period: 7d}\n")
    s = slos(cfg)[0]["a"]
    windows = s.alert_windows(300)
    assert windows[0][:2] == ("page", 14.4)
    assert windows[0][2] == 900.0 and windows[0][3] == 300.0  # 1h * 7/30 = 14 min -> 15 min; 5m * 7/30 -> 5 min
    assert [w[2] for w in windows] == [900.0, 5100.0, 20400.0, 60600.0]


EVENTS = st.lists(st.tuples(st.integers(0, 3 * 86400 - 1), st.sampled_from([0.01, 0.05, 1.0, 2.5]),
                            st.sampled_from([200, 200, 200, 500, "error", None])), min_size=1, max_size=150)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=EVENTS)
def test_burn_rates_and_budget_equal_a_direct_computation_from_the_events(tmp_path_factory: Any,
                                                                         events: list[tuple[int, float, Any]]) -> None:
    tmp = tmp_path_factory.mktemp("slo")
    clock = Clock(NOW)
    mon = _monitor(tmp, "  - {name: lat, model: fraud, sli: {event: latency_below, seconds: 0.3}, objective: 0.99,"
                   " period: 3d, min_events: 1}\n  - {name: err, model: fraud, sli: {event: not_error},"
                   " objective: 0.95, period: 3d, min_events: 1}\n", clock)
    mon.ingest_predictions("fraud", [{"id": f"e{i}", "timestamp": NOW - 3 * 86400 + t, "s": 0.5, "lat": lat,
                                      **({"st": st_} if st_ is not None else {})}
                                     for i, (t, lat, st_) in enumerate(events)])
    mon.materialize()
    slo = SLOs(mon)
    for name, objective in (("lat", 0.99), ("err", 0.95)):
        doc = slo.status(name)
        for r in doc["burn_rates"]:
            lo, hi = slo._range(r["seconds"], NOW)
            inside = [e for e in events if lo <= NOW - 3 * 86400 + e[0] < hi]
            if name == "lat":
                good, total = sum(e[1] <= 0.3 for e in inside), len(inside)
            else:  # an event without a status is not an error
                good, total = sum(e[2] in (200, None) for e in inside), len(inside)
            assert r["total"] == total
            assert r["burn_rate"] == burn_rate(good=good, total=total, objective=objective)
        p_lo, p_hi = slo._range(3 * 86400, NOW)
        inside = [e for e in events if p_lo <= NOW - 3 * 86400 + e[0] < p_hi]
        if name == "lat":
            good, total = sum(e[1] <= 0.3 for e in inside), len(inside)
        else:
            good, total = sum(e[2] in (200, None) for e in inside), len(inside)
        expected = budget_remaining(good=good, total=total, objective=objective)
        got = doc["error_budget"]["remaining"]
        assert (got is None and expected is None) or got == pytest.approx(expected), (name, events, doc["total"])
    mon.close()


def test_label_based_slis_burn_when_the_label_lands(tmp_path: Path) -> None:
    clock = Clock(NOW - 2 * 86400)
    mon = _monitor(tmp_path, "  - {name: acc, model: fraud, sli: {event: correct}, objective: 0.9, period: 7d,"
                   " min_events: 10}\n", clock)
    # 200 predictions two days ago, all wrong; their labels land now (clock moved): the burn is now, not then
    mon.ingest_predictions("fraud", [{"id": f"p{i}", "timestamp": NOW - 2 * 86400, "s": 0.9} for i in range(200)])
    mon.materialize()
    clock.t = NOW - 60
    mon.ingest_labels("fraud", [{"id": f"p{i}", "y": 0} for i in range(200)])
    mon.materialize()
    clock.t = NOW
    doc = SLOs(mon).status("acc")
    assert doc["clock"] == "label arrival" and doc["total"] == 200 and doc["sli_value"] == 0.0
    rates = {r["window"]: r for r in doc["burn_rates"]}
    short = min(rates.values(), key=lambda r: r["seconds"])
    assert short["total"] == 200 and short["burn_rate"] == pytest.approx(10.0)  # all bad: 1 / (1 - 0.9)
    # the realized metrics stay on prediction time: two days ago
    run = mon.metrics("fraud", NOW - 2 * 86400, NOW - 2 * 86400 + 300)
    assert run["dataset"]["rows_used"] == 200
    series = SLOs(mon).series("acc")
    landed = datetime.fromtimestamp((NOW - 60) // 3600 * 3600, UTC).isoformat().replace("+00:00", "Z")
    assert {p["start"]: p["total"] for p in series if p["total"]} == {landed: 200}  # the hour the labels landed in
    mon.close()


def _traffic(mon: Monitor, start: float, end: float, per_hour: int, bad_share: float, tag: str) -> None:
    n = int((end - start) / 3600 * per_hour)
    step = (end - start) / n
    bad_every = math.inf if bad_share == 0 else 1 / bad_share
    events = [{"id": f"{tag}{i}", "timestamp": start + i * step, "s": 0.5, "lat": 0.05,
               "st": 500 if bad_every != math.inf and i % round(bad_every) == 0 else 200} for i in range(n)]
    for k in range(0, n, 10_000):
        mon.ingest_predictions("fraud", events[k:k + 10_000])
    mon.materialize()


def test_a_steady_burn_of_one_pages_nobody_and_a_step_pages_within_minutes(tmp_path: Path) -> None:
    clock = Clock(NOW)
    mon = _monitor(tmp_path, "  - {name: err, model: fraud, sli: {event: not_error}, objective: 0.99}\n", clock)
    # a day at burn rate 1 (1% errors), 2,000 events an hour
    _traffic(mon, NOW - 86400, NOW, 2_000, 0.01, "a")
    doc = SLOs(mon).status("err")
    assert not any(a["firing"] for a in doc["alerts"])
    assert doc["burn_rates"][0]["burn_rate"] == pytest.approx(1.0, rel=0.05)
    # then 10,000 events an hour, all errors (burn rate 100): the 14.4 page must fire within 60 * 14.4 / 100 =
    # 8.6 minutes of event time (plus an evaluation): after 10 minutes it does
    clock.t = NOW + 600
    _traffic(mon, NOW, NOW + 600, 10_000, 1.0, "b")
    doc = SLOs(mon).status("err")
    page = next(a for a in doc["alerts"] if a["severity"] == "page" and a["threshold"] == 14.4)
    assert page["firing"], page["reason"]
    assert doc["status"] == "firing"
    mon.close()


def test_a_quiet_model_raises_nothing_unless_no_data_says_so(tmp_path: Path) -> None:
    clock = Clock(NOW)
    mon = _monitor(tmp_path, "  - {name: q, model: fraud, sli: {event: not_error}, objective: 0.99}\n"
                   "  - {name: qb, model: fraud, sli: {event: not_error}, objective: 0.99, no_data: bad}\n", clock)
    s = SLOs(mon)
    quiet = s.status("q")
    assert quiet["status"] == "no_data" and quiet["sli_value"] is None
    assert quiet["error_budget"]["remaining"] is None and not any(a["firing"] for a in quiet["alerts"])
    assert any(a["firing"] for a in s.status("qb")["alerts"])
    mon.close()


def test_text_slis_count_refusals_and_invalid_json_of_their_column(tmp_path: Path) -> None:
    clock = Clock(NOW)
    mon = _monitor(tmp_path, "  - {name: ref, model: fraud, sli: {event: not_refusal, column: response},"
                   " objective: 0.9, period: 1d, min_events: 1}\n  - {name: js, model: fraud, sli: {event: json_valid,"
                   " column: response}, objective: 0.9, period: 1d, min_events: 1}\n", clock)
    texts = ['{"ok": true}', "I'm sorry, but I can't help with that.", "plain text", None, '{"a": 1}']
    mon.ingest_predictions("fraud", [{"id": f"t{i}", "timestamp": NOW - 3600 + i, "s": 0.5,
                                      **({"response": t} if t is not None else {})} for i, t in enumerate(texts)])
    mon.materialize()
    s = SLOs(mon)
    ref, js = s.status("ref"), s.status("js")
    assert (ref["good"], ref["total"]) == (3, 4)  # one refusal among the four texts (one event has none)
    assert (js["good"], js["total"]) == (2, 4)
    mon.close()


@pytest.mark.parametrize(("burn", "within_minutes"), [(173.0, 5), (28.8, 30)])
def test_a_step_to_burn_rate_b_pages_within_60_times_14_4_over_b_minutes(tmp_path: Path, burn: float,
                                                                         within_minutes: int) -> None:
    """10,000 events an hour, objective 0.999; two hours at burn rate 1, then a step to ``burn``: the 14.4 page
    holds within 60 * 14.4 / burn minutes of event time (5 at 173, 30 at 28.8), and not before the step."""
    clock = Clock(NOW)
    mon = _monitor(tmp_path, "  - {name: err, model: fraud, sli: {event: not_error}, objective: 0.999}\n", clock)
    per_minute = 10_000 / 60
    budget = 0.001
    counter = [0.0, 0]

    def minute(t0: float, share: float) -> None:
        n = int(per_minute + counter[0] % 1 + 1e-9)
        counter[0] += per_minute
        events = []
        for i in range(n):
            bad = int((counter[1] + 1) * share) > int(counter[1] * share)
            counter[1] += 1
            events.append({"id": f"m{counter[1]}", "timestamp": t0 + i * 60 / n, "s": 0.5, "st": 500 if bad else 200})
        mon.ingest_predictions("fraud", events)
        mon.materialize()

    t = NOW - 2 * 3600
    while t < NOW:
        minute(t, budget)
        t += 60
    clock.t = NOW
    slos_ = SLOs(mon)

    def paging() -> bool:
        doc = slos_.status("err")
        return next(a for a in doc["alerts"] if a["threshold"] == 14.4)["firing"]

    assert not paging()  # burn rate 1: no page
    fired_after = None
    for k in range(1, within_minutes + 1):
        minute(NOW + (k - 1) * 60, burn * budget)
        clock.t = NOW + k * 60
        if paging():
            fired_after = k
            break
    assert fired_after is not None, f"no page within {within_minutes} minutes at burn rate {burn}"
    assert fired_after <= 60 * 14.4 / burn + 1
    mon.close()


def test_label_based_slis_and_shadow_pairs_of_a_model_with_segments(tmp_path: Path) -> None:
    """The per-row correctness is prepared with every role column of the model (segments and sensitive attributes
    included): without them the materializer's pass failed and stopped folding."""
    text = (f"store: sqlite:///{tmp_path / 'w.sqlite'}\nwindow: 5m\nretention: {{events: 3650d, windows: 3650d}}\n"
            "models:\n  fraud: {task: binary, score: s, label: y, segments: [country], sensitive: [gender]}\n"
            "slos:\n  - {name: acc, model: fraud, sli: {event: correct}, objective: 0.9}\n"
            "comparisons:\n  - {name: sh, model: fraud, mode: shadow, control: {version: a}, candidate: {version: b},"
            " metrics: [{metric: accuracy, margin: 0.02}]}\n")
    mon = Monitor(parse_config(text), now=Clock(NOW))
    mon.ingest_predictions("fraud", [{"id": f"r{i}", "timestamp": NOW - 600 + i, "version": v, "s": 0.9,
                                      "country": "DE", "gender": "f"} for i in range(40) for v in ("a", "b")])
    mon.ingest_labels("fraud", [{"id": f"r{i}", "y": i % 2} for i in range(40)])
    mon.materialize()
    assert mon.status("fraud")["materialization_lag"]["predictions"] == 0
    doc = SLOs(mon).status("acc")
    assert (doc["good"], doc["total"]) == (40, 80)  # both versions' predictions, half of them right
    from assay.live.compare import LiveComparisons

    assert LiveComparisons(mon).evaluate("sh")["shadow"]["pairs"] == 40
    mon.close()


def test_a_refused_sli_count_sets_the_rows_aside_and_the_pass_goes_on(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from assay.errors import ColumnError

    mon = _monitor(tmp_path, "  - {name: acc, model: fraud, sli: {event: correct}, objective: 0.9}\n", Clock(NOW))

    def refuse(rows: Any) -> Any:
        raise ColumnError("a row the correctness check refuses")

    monkeypatch.setattr(mon.contexts["fraud"], "pair_values", refuse)
    mon.ingest_predictions("fraud", [{"id": f"p{i}", "timestamp": NOW - 60, "s": 0.9} for i in range(10)])
    mon.ingest_labels("fraud", [{"id": f"p{i}", "y": 1} for i in range(10)])
    mon.materialize()
    status = mon.status("fraud")
    assert status["materialization_lag"] == {**status["materialization_lag"], "predictions": 0, "labels": 0}
    assert status["unfoldable"] == 10
    assert mon.metrics("fraud", NOW - 300, NOW)["dataset"]["rows_used"] == 10  # the windows were still folded
    mon.close()
