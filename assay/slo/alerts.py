"""The alert evaluator and the notifier: SLO conditions become alerts with a stored state, routed to receivers.

Every ``evaluation_interval`` the process that holds the materializer's lock (so several workers never notify
twice) evaluates every SLO's alert conditions (:mod:`assay.slo.status`). A condition that holds makes its alert
*firing* (labels ``alertname``, ``model``, ``version`` where it applies, ``slo``, ``severity``; deduplicated by the
fingerprint of the labels), sent to the receivers routed for its severity and sent again every ``resend_interval``
while it fires, as Alertmanager expects; when it stops holding the alert is *resolved* and sent once more. A
silenced alert (every matcher of an active silence equals its label) is listed but notifies nobody.

Deliveries run on a thread of their own with retries and backoff, so a slow or unreachable receiver never holds up
the materializer; each attempt's outcome is kept in the delivery log.
"""

from __future__ import annotations

import hashlib
import json
import logging
import queue
import threading
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from assay.slo.alerting import Alerting, Receiver, alerting
from assay.slo.status import SLOs
from assay.store.alerts import AlertStore
from assay.watch.monitor import Monitor

log = logging.getLogger("assay.alerts")
RETRIES = 4


def fingerprint(labels: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(labels, sort_keys=True).encode()).hexdigest()[:32]


def rfc3339(t: float | None) -> str:
    if t is None:
        return "0001-01-01T00:00:00Z"
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def silenced(labels: dict[str, str], silences: list[dict[str, Any]]) -> bool:
    return any(s["matchers"] and all(labels.get(k) == v for k, v in s["matchers"].items()) for s in silences)


def payload(receiver: Receiver, alerts: list[dict[str, Any]], status: str, external_url: str) -> Any:
    """The body a receiver expects: Alertmanager's ``/api/v2/alerts`` list, webhook v4, or a Slack message."""
    if receiver.kind == "alertmanager":
        return [{"labels": a["labels"], "annotations": a["annotations"], "startsAt": rfc3339(a["starts_at"]),
                 "endsAt": rfc3339(a["ends_at"]), "generatorURL": a["annotations"].get("dashboard", external_url)}
                for a in alerts]
    if receiver.kind == "webhook":
        common = {k: v for k, v in alerts[0]["labels"].items() if all(x["labels"].get(k) == v for x in alerts)}
        common_ann = {k: v for k, v in alerts[0]["annotations"].items()
                      if all(x["annotations"].get(k) == v for x in alerts)}
        group = {"model": alerts[0]["labels"].get("model", "")}
        return {"version": "4", "groupKey": f'{{}}:{{model="{group["model"]}"}}', "truncatedAlerts": 0,
                "status": status, "receiver": receiver.name, "groupLabels": group, "commonLabels": common,
                "commonAnnotations": common_ann, "externalURL": external_url,
                "alerts": [{"status": status, "labels": a["labels"], "annotations": a["annotations"],
                            "startsAt": rfc3339(a["starts_at"]), "endsAt": rfc3339(a["ends_at"]),
                            "generatorURL": a["annotations"].get("dashboard", external_url),
                            "fingerprint": a["fingerprint"]} for a in alerts]}
    lines = [f"[{status.upper()}] {a['labels'].get('severity', '')}: {a['annotations'].get('summary', '')}"
             for a in alerts]
    return {"text": "\n".join(lines)}


class Notifier:
    """Sends notifications on a background thread, with retries and backoff, and logs every delivery."""

    def __init__(self, config: Alerting, store: AlertStore, *, base_dir: str = ".",
                 now: Callable[[], float] = time.time, backoff: float = 0.5) -> None:
        self.config = config
        self.store = store
        self.base_dir = base_dir
        self.now = now
        self.backoff = backoff
        self.queue: queue.Queue[tuple[Receiver, list[dict[str, Any]], str] | None] = queue.Queue()
        self.thread = threading.Thread(target=self._run, name="assay-notifier", daemon=True)
        self.thread.start()

    def notify(self, severity: str, alerts: list[dict[str, Any]], status: str) -> None:
        for receiver in self.config.receivers_for(severity):
            self.queue.put((receiver, alerts, status))

    def close(self, timeout: float = 5.0) -> None:
        self.queue.put(None)
        self.thread.join(timeout)

    def drain(self, timeout: float = 30.0) -> None:
        """Wait until every queued notification has been delivered or given up (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while self.queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.02)

    def _run(self) -> None:
        while True:
            item = self.queue.get()
            try:
                if item is None:
                    return
                self._deliver(*item)
            finally:
                self.queue.task_done()

    def _deliver(self, receiver: Receiver, alerts: list[dict[str, Any]], status: str) -> None:
        error: str | None = None
        attempts = 0
        for attempts in range(1, RETRIES + 1):
            try:
                url = receiver.url(self.base_dir)
                if receiver.kind == "alertmanager":
                    url = url.rstrip("/") + "/api/v2/alerts"
                body = json.dumps(payload(receiver, alerts, status, self.config.external_url)).encode()
                req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
                with urllib.request.urlopen(req, timeout=10) as resp:  # a configured http(s) URL
                    if 200 <= resp.status < 300:
                        error = None
                        break
                    error = f"HTTP {resp.status}"
            except Exception as exc:  # network, HTTP and file errors: retried, then logged
                error = f"{type(exc).__name__}: {exc}"
            time.sleep(self.backoff * 2 ** (attempts - 1))
        for a in alerts:
            self.store.log_delivery(at=self.now(), receiver=receiver.name, fingerprint=a["fingerprint"],
                                    status="failed" if error else status, attempts=attempts, error=error)
        if error:
            log.warning("alert delivery to %s failed after %d attempts: %s", receiver.shown, attempts, error)


class AlertEvaluator:
    """Evaluates every SLO's alert conditions and keeps the alerts' state (see the module's description)."""

    def __init__(self, monitor: Monitor, *, notifier: Notifier | None = None,
                 now: Callable[[], float] | None = None) -> None:
        self.monitor = monitor
        self.now = now or monitor.now
        self.slos = SLOs(monitor)
        self.config = alerting(monitor.config)
        self.store = AlertStore(monitor.store)
        self.notifier = notifier or Notifier(self.config, self.store, base_dir=monitor.config.base_dir, now=self.now)
        self._last = -float("inf")
        self._drift_at: dict[str, float] = {}  # model -> event time of its last drift evaluation
        self.drift_streak: dict[str, int] = {}  # model -> consecutive drifted evaluations

    def maybe_evaluate(self) -> list[dict[str, Any]] | None:
        """:meth:`evaluate` when ``evaluation_interval`` has passed since the last evaluation."""
        if time.monotonic() - self._last < self.config.interval_seconds:
            return None
        self._last = time.monotonic()
        return self.evaluate()

    def _links(self, slo: Any) -> dict[str, str]:
        base = self.config.external_url.rstrip("/")
        out = {"dashboard": f"{base}/ui/models/{slo.model}/on-call" if base else f"/ui/models/{slo.model}/on-call"}
        out["runbook_url"] = slo.runbook or "docs/runbooks/model-regression.md#detect"
        return out

    def evaluate(self) -> list[dict[str, Any]]:
        """One evaluation: the alerts whose state changed or that were (re)sent, each with ``event``."""
        now = self.now()
        active = {a["fingerprint"]: a for a in self.store.get_all(states=("firing",))}
        silences = self.store.silences(active_at=now)
        resend = self.config.resend_seconds
        seen: set[str] = set()
        changes: list[dict[str, Any]] = []
        for name, slo in self.slos.slos.items():
            try:
                doc = self.slos.status(name)
            except Exception as exc:  # one SLO's read must not stop the others
                log.warning("alerts: SLO %s not evaluated: %s", name, exc)
                seen |= {fp for fp, a in active.items() if a["labels"].get("slo") == name}
                continue
            for severity in ("page", "ticket"):
                holding = [a for a in doc["alerts"] if a["severity"] == severity and a["firing"]]
                if not holding:
                    continue
                labels = {"alertname": f"AssaySLOBurn{severity.capitalize()}", "model": slo.model, "slo": name,
                          "severity": severity, **({"version": slo.version} if slo.version else {})}
                fp = fingerprint(labels)
                seen.add(fp)
                rates = ", ".join(f"{a['long_window']}: {a['long_burn_rate']:.3g}, {a['short_window']}: "
                                  f"{a['short_burn_rate']:.3g}" for a in holding)
                annotations = {"summary": f"{name}: {slo.model} is burning its error budget ({severity})",
                               "description": f"SLO {name} ({slo.objective:g} over {slo.period}) burn rates {rates} "
                                              f"above {', '.join(str(a['threshold']) for a in holding)}",
                               "burn_rates": rates, **self._links(slo)}
                prev = active.get(fp)
                starts: float = float(prev["starts_at"]) if prev else now
                alert: dict[str, Any] = {"fingerprint": fp, "labels": labels, "annotations": annotations,
                                         "starts_at": starts, "ends_at": None}
                quiet = silenced(labels, silences)
                sent = prev["last_sent_at"] if prev else None
                due = sent is None or now - sent >= resend
                if due and not quiet:
                    # Alertmanager resolves an alert whose endsAt passes: keep it ahead while firing
                    self.notifier.notify(severity, [{**alert, "ends_at": now + 4 * resend}], "firing")
                    sent = now
                self.store.put(fp, labels=labels, annotations=annotations, state="firing",
                               starts_at=starts, ends_at=None, last_sent_at=sent, now=now)
                if prev is None or (due and not quiet):
                    changes.append({**alert, "event": "fired" if prev is None else "resent", "silenced": quiet})
        for model, firing, note in self._drift(now):
            labels = {"alertname": "AssayDrift", "model": model, "severity": "ticket"}
            fp = fingerprint(labels)
            prev = active.get(fp)
            if not firing:
                continue  # an active drift ticket is resolved below (not seen)
            seen.add(fp)
            annotations = {"summary": f"{model}: its inputs drift from the reference", "description": note,
                           "dashboard": f"{self.config.external_url.rstrip('/')}/ui/models/{model}/debug",
                           "runbook_url": "docs/runbooks/model-regression.md#investigate"}
            starts = float(prev["starts_at"]) if prev else now
            sent = prev["last_sent_at"] if prev else None
            quiet = silenced(labels, silences)
            due = sent is None or now - sent >= resend
            if due and not quiet:
                self.notifier.notify("ticket", [{"fingerprint": fp, "labels": labels, "annotations": annotations,
                                                 "starts_at": starts, "ends_at": now + 4 * resend}], "firing")
                sent = now
            self.store.put(fp, labels=labels, annotations=annotations, state="firing", starts_at=starts,
                           ends_at=None, last_sent_at=sent, now=now)
            if prev is None:
                changes.append({"fingerprint": fp, "labels": labels, "annotations": annotations,
                                "starts_at": starts, "ends_at": None, "event": "fired", "silenced": quiet})
        for fp, prev in active.items():
            if fp in seen:
                continue
            alert = {"fingerprint": fp, "labels": prev["labels"], "annotations": prev["annotations"],
                     "starts_at": prev["starts_at"], "ends_at": now}
            self.store.put(fp, labels=prev["labels"], annotations=prev["annotations"], state="resolved",
                           starts_at=prev["starts_at"], ends_at=now, last_sent_at=prev["last_sent_at"], now=now)
            quiet = silenced(prev["labels"], silences)
            if not quiet:
                self.notifier.notify(prev["labels"].get("severity", "ticket"), [alert], "resolved")
            changes.append({**alert, "event": "resolved", "silenced": quiet})
        return changes

    def drifted(self, model: str, start: float, end: float) -> tuple[bool, str]:
        """Whether the model's inputs over ``[start, end)`` drift from its reference, and why."""
        from assay.watch.monitor import NotFound

        try:
            doc = self.monitor.drift(model, start, end)
        except NotFound:
            return False, "no predictions in the range"
        columns = doc.get("columns") or {}
        names = sorted(name for name, c in columns.items() if isinstance(c, dict) and c.get("drifted"))
        return bool(doc.get("drifted")), f"drifted share {doc.get('drifted_share')}: {', '.join(names) or 'none'}"

    def _drift(self, now: float) -> list[tuple[str, bool, str]]:
        """Per model with a reference, evaluated once per ``drift.range`` of event time: (model, firing, note);
        ``note == "kept"`` when no new evaluation was due (the alert keeps its state)."""
        rule = self.config.drift
        span = rule.range_seconds
        out = []
        for name, ctx in self.monitor.contexts.items():
            if ctx.reference is None:
                continue
            last = self._drift_at.get(name)
            streak = self.drift_streak.get(name, 0)
            if last is not None and now - last < span:
                out.append((name, streak >= rule.consecutive, "kept"))
                continue
            self._drift_at[name] = now
            drifted, why = self.drifted(name, now - span, now)
            streak = streak + 1 if drifted else 0
            self.drift_streak[name] = streak
            out.append((name, streak >= rule.consecutive,
                        f"the trailing {rule.range} drifted at {streak} evaluations in a row ({why})"))
        return out

    def listed(self) -> list[dict[str, Any]]:
        return listed(self.store, self.now())


def listed(store: AlertStore, now: float) -> list[dict[str, Any]]:
    """Every alert, newest first, with whether an active silence covers it."""
    silences = store.silences(active_at=now)
    return [{"fingerprint": a["fingerprint"], "labels": a["labels"], "annotations": a["annotations"],
             "state": a["state"], "starts_at": rfc3339(a["starts_at"]),
             "ends_at": rfc3339(a["ends_at"]) if a["ends_at"] else None,
             "silenced": a["state"] == "firing" and silenced(a["labels"], silences)}
            for a in store.get_all()]
