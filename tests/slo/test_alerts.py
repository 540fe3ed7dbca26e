"""Alerts: state transitions, re-sends, silences and resolution by the evaluator; deliveries to a real
Alertmanager (Debian's prometheus-alertmanager, started here), to a webhook (v4 payload) and to an unreachable one
(the delivery log)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from assay.slo.alerts import AlertEvaluator, Notifier
from assay.store.alerts import AlertStore
from assay.watch.config import parse_config
from assay.watch.monitor import Monitor

NOW = 1_800_000_000.0 + 40 * 86400
ALERTMANAGER = shutil.which("prometheus-alertmanager")


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class Recorder:
    """Records the page notifications (the ticket rule fires beside the page on a burn this steep) and the
    statuses of the ticket ones."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, list[dict[str, Any]]]] = []
        self.ticket_statuses: list[str] = []

    @property
    def tickets(self) -> int:
        return len(self.ticket_statuses)

    def notify(self, severity: str, alerts: list[dict[str, Any]], status: str) -> None:
        if severity == "page":
            self.calls.append((severity, status, alerts))
        else:
            self.ticket_statuses.append(status)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _monitor(tmp_path: Path, clock: Clock, alerting: str = "") -> Monitor:
    text = (f"store: sqlite:///{tmp_path / 'w.sqlite'}\nwindow: 5m\nretention: {{events: 3650d, windows: 3650d}}\n"
            "models:\n  fraud: {task: binary, score: s, label: y, status: st}\n"
            "slos:\n  - {name: err, model: fraud, sli: {event: not_error}, objective: 0.99, min_events: 50}\n"
            f"{alerting}")
    return Monitor(parse_config(text, base_dir=tmp_path), now=clock)


def _events(mon: Monitor, start: float, n: int, bad: bool, tag: str) -> None:
    mon.ingest_predictions("fraud", [{"id": f"{tag}{i}", "timestamp": start + i * (300 / n), "s": 0.5,
                                      "st": 500 if bad else 200} for i in range(n)])
    mon.materialize()


def test_fire_resend_silence_and_resolve(tmp_path: Path) -> None:
    clock = Clock(NOW)
    mon = _monitor(tmp_path, clock, "alerting: {resend_interval: 1m}\n")
    rec = Recorder()
    ev = AlertEvaluator(mon, notifier=rec)  # type: ignore[arg-type]
    assert ev.evaluate() == [] and rec.calls == []  # a quiet model raises nothing
    _events(mon, NOW - 300, 200, True, "a")  # the last 5 minutes all errors: burn rate 100
    changes = ev.evaluate()
    assert sorted((c["labels"]["severity"], c["event"]) for c in changes) == [("page", "fired"), ("ticket", "fired")]
    assert [(s, st) for s, st, _ in rec.calls] == [("page", "firing")] and rec.tickets == 1
    labels = rec.calls[0][2][0]["labels"]
    assert labels == {"alertname": "AssaySLOBurnPage", "model": "fraud", "slo": "err", "severity": "page"}
    assert "runbook_url" in rec.calls[0][2][0]["annotations"] and "dashboard" in rec.calls[0][2][0]["annotations"]
    clock.t += 30
    ev.evaluate()
    assert len(rec.calls) == 1  # within the resend interval: not sent again
    clock.t += 40
    ev.evaluate()
    assert len(rec.calls) == 2 and rec.calls[1][1] == "firing"  # re-sent while firing
    # a silence: still listed, notifies nobody
    AlertStore(mon.store).add_silence({"model": "fraud"}, starts_at=clock.t, ends_at=clock.t + 7200,
                                      created_by="test", comment="retraining")
    clock.t += 120
    ev.evaluate()
    assert len(rec.calls) == 2
    listed = [a for a in ev.listed() if a["labels"]["severity"] == "page"]
    assert listed[0]["state"] == "firing" and listed[0]["silenced"] is True
    # recovery: a while of good traffic; the alert resolves, silenced: nobody is told
    for k in range(14):
        _events(mon, NOW + 300 * k, 400, False, f"g{k}")
    clock.t = NOW + 300 * 14
    changes = ev.evaluate()
    page = [c for c in changes if c["labels"]["severity"] == "page"]
    assert [c["event"] for c in page] == ["resolved"] and len(rec.calls) == 2
    assert {a["state"] for a in ev.listed() if a["labels"]["severity"] == "page"} == {"resolved"}
    # fires again, unsilenced (the silence expired): notified; then resolves: notified once
    for s in AlertStore(mon.store).silences():
        AlertStore(mon.store).expire_silence(s["id"], now=clock.t)
    _events(mon, clock.t, 300, True, "b")
    clock.t += 300
    assert "fired" in [c["event"] for c in ev.evaluate() if c["labels"]["severity"] == "page"]
    for k in range(14):
        _events(mon, clock.t + 300 * k, 400, False, f"h{k}")
    clock.t += 300 * 14
    assert [c["event"] for c in ev.evaluate() if c["labels"]["severity"] == "page"] == ["resolved"]
    assert [st for _, st, _ in rec.calls][-2:] == ["firing", "resolved"]
    mon.close()


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[str]:
    if ALERTMANAGER is None:
        pytest.fail("prometheus-alertmanager is not on PATH: scripts/install-debian.sh "
                    "prometheus-alertmanager:prometheus-alertmanager installs it")
    cfg = tmp_path / "am.yml"
    cfg.write_text("route: {receiver: blackhole, group_wait: 1s, group_interval: 1s}\n"
                   "receivers:\n  - name: blackhole\n")
    port = _free_port()
    proc = subprocess.Popen([ALERTMANAGER, f"--config.file={cfg}", f"--storage.path={tmp_path / 'am-data'}",
                             f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        proc.kill()
        raise AssertionError("Alertmanager did not become ready")
    yield url
    proc.terminate()
    proc.wait(10)


def test_notifications_reach_a_real_alertmanager_a_webhook_and_the_delivery_log(
        tmp_path: Path, alertmanager: str, webhook: tuple[str, list[Any]]) -> None:
    hook_url, got = webhook
    clock = Clock(time.time())
    mon = _monitor(tmp_path, clock, "alerting:\n  receivers:\n"
                   f"    - {{name: oncall, alertmanager: '{alertmanager}'}}\n"
                   f"    - {{name: hook, webhook: '{hook_url}'}}\n"
                   "    - {name: dead, webhook: 'http://127.0.0.1:9/nowhere'}\n"
                   "  routes:\n    - {severity: page, receivers: [oncall, hook, dead]}\n")
    ev = AlertEvaluator(mon)
    ev.notifier = Notifier(ev.config, ev.store, now=clock, backoff=0.01)
    _events(mon, clock.t - 300, 200, True, "a")
    assert "fired" in [c["event"] for c in ev.evaluate()]
    ev.notifier.drain()
    # Alertmanager holds it, with assay's labels
    deadline = time.monotonic() + 20
    held: list[Any] = []
    while time.monotonic() < deadline and not held:
        held = httpx.get(f"{alertmanager}/api/v2/alerts", timeout=5).json()
        time.sleep(0.2)
    assert held, "Alertmanager received no alert"
    assert held[0]["labels"] == {"alertname": "AssaySLOBurnPage", "model": "fraud", "slo": "err",
                                 "severity": "page"}
    assert held[0]["status"]["state"] == "active" and "summary" in held[0]["annotations"]
    # the webhook got Alertmanager's webhook v4 payload
    assert got and got[0]["version"] == "4" and got[0]["status"] == "firing" and got[0]["receiver"] == "hook"
    assert set(got[0]) >= {"alerts", "groupLabels", "commonLabels", "commonAnnotations", "externalURL", "groupKey"}
    # the unreachable receiver: retried, then logged as failed; the others delivered
    log = {d["receiver"]: d for d in AlertStore(mon.store).deliveries()}
    assert log["dead"]["status"] == "failed" and log["dead"]["attempts"] == 4 and log["dead"]["error"]
    assert log["oncall"]["status"] == "firing" and log["hook"]["status"] == "firing"
    ev.notifier.close()
    mon.close()


def test_drift_tickets_after_three_consecutive_drifted_ranges_and_resolve(tmp_path: Path) -> None:
    import pyarrow as pa

    import assay

    assay.profile(pa.table({"amount": [float(i % 50) for i in range(2000)]})).save(tmp_path / "ref.profile")
    clock = Clock(NOW)
    text = (f"store: sqlite:///{tmp_path / 'w.sqlite'}\nwindow: 5m\nretention: {{events: 3650d, windows: 3650d}}\n"
            "models:\n  fraud: {task: binary, score: s, label: y, features: [amount],"
            " reference: {profile: ref.profile}}\n"
            "slos:\n  - {name: s, model: fraud, sli: {event: correct}, objective: 0.99}\n")
    mon = Monitor(parse_config(text, base_dir=tmp_path), now=clock)
    rec = Recorder()
    ev = AlertEvaluator(mon, notifier=rec)  # type: ignore[arg-type]
    verdicts = iter([True, True, False, True, True, True, True, False])  # a stand-in for the drift test
    ev.drifted = lambda model, a, b: (next(verdicts), "stand-in")  # type: ignore[method-assign]
    fired_at = []
    for hour in range(8):
        clock.t = NOW + hour * 3600
        for c in ev.evaluate():
            if c["labels"]["alertname"] == "AssayDrift":
                fired_at.append((hour, c["event"]))
        clock.t += 600  # an evaluation within the same range: no new drift evaluation, the state holds
        assert all(c["labels"]["alertname"] != "AssayDrift" or c["event"] == "resent" for c in ev.evaluate())
    # two drifted ranges then a clean one: nothing; three in a row (hours 3-5): a ticket; it holds at hour 6;
    # the clean range at hour 7 resolves it
    assert fired_at == [(5, "fired"), (7, "resolved")]
    # fired at hour 5, re-sent while it fired (every resend interval), resolved once; no page
    assert rec.ticket_statuses[0] == "firing" and rec.ticket_statuses.count("resolved") == 1
    assert rec.ticket_statuses[-1] == "resolved" and not rec.calls
    # the real drift test on real windows: inputs like the reference do not drift
    mon.ingest_predictions("fraud", [{"id": f"d{i}", "timestamp": NOW + 7 * 3600 + i, "s": 0.5,
                                      "amount": float(i % 50)} for i in range(600)])
    mon.materialize()
    drifted, _ = AlertEvaluator.drifted(ev, "fraud", NOW + 7 * 3600, NOW + 8 * 3600)
    assert drifted is False
    mon.close()


@pytest.mark.parametrize(("section", "message"), [
    ("alerting:\n  receivers:\n    - {name: a, webhook: 'http://x', slack: 'http://y'}\n", "exactly one of"),
    ("alerting:\n  receivers: [{name: a, webhook: 'ftp://x'}]\n", "alerting.receivers.0.webhook"),
    ("alerting:\n  receivers: [{name: a, webhook: 'http://x'}]\n  routes: [{severity: page, receivers: [b]}]\n",
     "expected receivers of `receivers:` (a), found ['b']"),
    ("alerting:\n  evaluation_interval: soon\n", "alerting.evaluation_interval"),
])
def test_bad_alerting_is_a_config_error_naming_the_line(section: str, message: str) -> None:
    from assay.errors import ConfigError
    from assay.slo.alerting import alerting

    cfg = parse_config("store: sqlite:///x.sqlite\nmodels:\n  fraud: {task: binary, score: s, label: y}\n" + section)
    with pytest.raises(ConfigError, match=r"watch\.yaml(, line \d+)?, alerting") as err:
        alerting(cfg)
    assert message in str(err.value)
