"""Live comparisons over the watch service's window states: the decision of each, its verdict and audit log.

Use::

    live = LiveComparisons(Monitor(load_config("watch.yaml")))
    live.decision("fraud-canary")["decision"]      # "promote" | "hold" | "rollback"
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import orjson

from assay.errors import AssayError
from assay.evaluation.accumulate import OVERALL_GROUPING
from assay.live.config import Comparison, comparisons
from assay.live.decide import SCHEMA, decide
from assay.live.metrics import catalogue, latency_above
from assay.stats.sequential import Arm
from assay.watch.monitor import Monitor, _time
from assay.watch.query import iso, range_states, widen
from assay.watch.window import WindowState, merge_all

log = logging.getLogger("assay.live")


class UnknownComparison(AssayError):
    """No comparison of that name in the config (404)."""


class LiveComparisons:
    """The comparisons of a config over a :class:`Monitor`'s store.

    ``decision(name)`` reads the two versions' merged window states since the comparison's ``start``, decides, and
    stores the first promote or rollback (returned from then on until :meth:`reset`); a change to rollback calls the
    comparison's ``on_rollback`` webhook once, whichever worker or poll saw it first."""

    def __init__(self, monitor: Monitor, *, now: Callable[[], float] | None = None,
                 notify: Callable[[Comparison, dict[str, Any]], None] | None = None) -> None:
        self.monitor = monitor
        self.comparisons = comparisons(monitor.config)
        self.now = now or monitor.now
        self.notify = notify or _post_webhook
        self._notifier: Any = None

    def names(self) -> list[str]:
        return list(self.comparisons)

    def get(self, name: str) -> Comparison:
        c = self.comparisons.get(name)
        if c is None:
            known = ", ".join(self.comparisons) or "none configured"
            raise UnknownComparison(f"comparison {name!r}: expected one of the config's comparisons ({known}), "
                                    "found no such name. Fix: add it under `comparisons:` in watch.yaml")
        return c

    # -- the analysis -------------------------------------------------------------------------------------------
    def _state(self, c: Comparison, version: str, end: float,
               cache: dict[tuple[Any, ...], WindowState] | None = None) -> WindowState:
        key = (c.model, version, c.start)
        if cache is not None and key in cache:
            return cache[key]
        state = self._read_state(c, version, end)
        if cache is not None:
            cache[key] = state
        return state

    def _read_state(self, c: Comparison, version: str, end: float) -> WindowState:
        store, window = self.monitor.store, self.monitor.window
        first, last = store.window_span(c.model)
        if first is None or last is None:
            return WindowState()
        start = first if c.start is None else max(first, _time(c.start, f"comparison {c.name}: start"))
        lo, hi = widen(start, max(end, last + window), window)
        per = range_states(store, c.model, version, lo, hi, window, groupings=(OVERALL_GROUPING,))
        return merge_all(per.get(version, []))

    def evaluate_all(self) -> dict[str, dict[str, Any]]:
        """:meth:`evaluate` of every comparison, reading each (model, version, start) once."""
        cache: dict[tuple[Any, ...], WindowState] = {}
        return {name: self.evaluate(name, _cache=cache) for name in self.comparisons}

    def evaluate(self, name: str, *, _cache: dict[tuple[Any, ...], WindowState] | None = None) -> dict[str, Any]:
        """The comparison's decision from the outcomes materialized so far (no verdict, nothing stored)."""
        c = self.get(name)
        now = self.now()
        states = {arm: self._state(c, getattr(c, arm).version, now, _cache) for arm in ("control", "candidate")}
        known = catalogue(self.monitor.config.models[c.model])
        arms: dict[str, tuple[Arm, Arm]] = {}
        directions: dict[str, bool] = {}
        for m in c.metrics:
            entry = known[m.metric]
            read = latency_above(m.seconds or 0.0) if m.metric == "latency_above" else entry.read
            arms[m.key] = (read(states["control"]), read(states["candidate"]))
            hib = m.higher_is_better if m.higher_is_better is not None else entry.higher_is_better
            directions[m.key] = bool(hib)
        pairs = (states["candidate"].pairs or {}).get(c.control.version) if c.mode == "shadow" else None
        out = decide(c, arms, directions, pairs)
        warnings = []
        shadow: dict[str, Any] | None = None
        if c.mode == "shadow":
            n = pairs.n if pairs is not None else 0
            shadow = {"pairs": n, "agreement": pairs.agree / n if pairs is not None and n else None,
                      "disagreements": list(pairs.examples) if pairs is not None else []}
            if n == 0 and min(states["control"].predictions, states["candidate"].predictions) >= c.min_outcomes:
                warnings.append(f"shadow: the versions share no labeled request ids after {c.min_outcomes} "
                                "predictions each: is the candidate sent the same requests, with the same ids?")
        for arm in ("control", "candidate"):
            if states[arm].predictions == 0:
                warnings.append(f"version {getattr(c, arm).version!r} ({arm}) has no predictions yet")
        doc: dict[str, Any] = {
            "schema": SCHEMA, "comparison": c.name, "model": c.model, "mode": c.mode,
            "control": {"version": c.control.version, "predictions": states["control"].predictions,
                        "labeled": states["control"].labeled},
            "candidate": {"version": c.candidate.version, "predictions": states["candidate"].predictions,
                          "labeled": states["candidate"].labeled},
            "evaluated_at": iso(now), **out, "current": out["decision"], "verdict": None, "warnings": warnings}
        if shadow is not None:
            doc["shadow"] = shadow
        if c.mode == "ab":  # the experiment's report: every metric the arms have, business KPIs included
            doc["report"] = self._report(c, states, known)
        return doc

    def _report(self, c: Comparison, states: dict[str, WindowState], known: dict[str, Any]) -> list[dict[str, Any]]:
        """Every catalogue metric of the model for both arms: values, n, the difference and its sequence interval
        at the comparison's alpha (no decision: the configured metrics decide)."""
        from assay.stats.sequential import difference_interval

        out = []
        for name, entry in known.items():
            if name == "latency_above":
                continue
            ctl, cand = entry.read(states["control"]), entry.read(states["candidate"])
            if ctl.n < 2 or cand.n < 2:
                continue
            lo, hi = difference_interval(ctl.mean, ctl.var, ctl.n, cand.mean, cand.var, cand.n, alpha=c.alpha,
                                         t_star=c.t_star)
            out.append({"metric": name, "higher_is_better": entry.higher_is_better,
                        "control": {"value": ctl.mean, "n": int(ctl.n)},
                        "candidate": {"value": cand.mean, "n": int(cand.n)},
                        "difference": cand.mean - ctl.mean, "ci_low": lo, "ci_high": hi})
        return out

    def decision(self, name: str) -> dict[str, Any]:
        """:meth:`evaluate`, with the stored verdict: the first promote or rollback stands until a reset."""
        c = self.get(name)
        doc = self.evaluate(name)
        store = self.monitor.store
        stored = store.verdict(c.name)
        now = self.now()
        if stored is None and doc["current"] in ("promote", "rollback"):
            body = orjson.dumps(doc)
            if store.set_verdict(c.name, doc["current"], at=now, document=body) and doc["current"] == "rollback":
                if c.on_rollback is not None:
                    self.notify(c, doc)
                self._page(c, doc, now)
            stored = store.verdict(c.name)
        if stored is not None:
            decision, at, _ = stored
            doc["verdict"] = {"decision": decision, "at": iso(at)}
            if decision != doc["decision"]:
                doc["reason"] = f"{decision} since {iso(at)} (kept until the comparison is reset); now: {doc['reason']}"
            doc["decision"] = decision
        elif doc["decision"] != (store.last_logged(c.name) or "hold"):
            store.log_decision(c.name, doc["decision"], at=now, document=orjson.dumps(doc))
        return doc

    def _page(self, c: Comparison, doc: dict[str, Any], now: float) -> None:
        """Tell the alert receivers routed for pages, once (the verdict is stored once), with the evidence."""
        from assay.slo.alerting import alerting
        from assay.slo.alerts import Notifier
        from assay.store.alerts import AlertStore

        config = alerting(self.monitor.config)
        if not config.receivers_for("page"):
            return
        if self._notifier is None:
            self._notifier = Notifier(config, AlertStore(self.monitor.store), base_dir=self.monitor.config.base_dir,
                                      now=self.now)
        self._notifier.notify("page", [rollback_alert(c, doc, now)], "firing")

    def history(self, name: str, limit: int = 100) -> dict[str, Any]:
        c = self.get(name)
        entries = [{"seq": seq, "at": iso(at), "decision": d, "event": ev, "evidence": json.loads(body)}
                   for seq, at, d, ev, body in self.monitor.store.decision_history(c.name, limit)]
        return {"comparison": c.name, "entries": entries}

    def reset(self, name: str) -> dict[str, Any]:
        """Forget the verdict: the analysis starts again from the outcomes so far (set ``start:`` to a later time to
        start from new outcomes only)."""
        c = self.get(name)
        doc = self.evaluate(name)
        gone = self.monitor.store.reset_verdict(c.name, at=self.now(), document=orjson.dumps(doc))
        return {"comparison": c.name, "reset": gone}


def _post_webhook(c: Comparison, doc: dict[str, Any]) -> None:
    """POST the rollback to the comparison's webhook (an Alertmanager webhook v4 payload with the evidence), in the
    background, with retries and backoff; failures are logged, never raised into a read."""
    assert c.on_rollback is not None
    url = c.on_rollback.webhook
    payload = rollback_payload(c, doc)

    def send() -> None:
        body = json.dumps(payload).encode()
        for attempt in range(5):
            try:
                req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
                with urllib.request.urlopen(req, timeout=10) as resp:
                    if 200 <= resp.status < 300:
                        log.info("comparison %s: rollback sent to %s", c.name, url)
                        return
            except Exception as exc:  # network errors, HTTP errors: retried
                log.warning("comparison %s: rollback webhook %s failed (%s), attempt %d", c.name, url, exc,
                            attempt + 1)
            time.sleep(min(2 ** attempt, 30))
        log.error("comparison %s: rollback webhook %s gave up after 5 attempts", c.name, url)

    threading.Thread(target=send, name=f"rollback-{c.name}", daemon=True).start()


def rollback_alert(c: Comparison, doc: dict[str, Any], now: float) -> dict[str, Any]:
    """The rollback as an alert (labels, annotations, fingerprint), for the webhook and the page receivers."""
    from assay.slo.alerts import fingerprint

    labels = {"alertname": "AssayComparisonRollback", "model": c.model, "version": c.candidate.version,
              "comparison": c.name, "severity": "page"}
    failing = [m for m in doc.get("metrics", []) if m.get("decision") == "rollback"]
    annotations = {"summary": f"{c.name}: roll back version {c.candidate.version} of {c.model}",
                   "description": "; ".join([doc["reason"], *(f"{m['metric']}: {m['reason']}" for m in failing)]),
                   "runbook_url": "docs/runbooks/model-regression.md#roll-back"}
    return {"fingerprint": fingerprint(labels), "labels": labels, "annotations": annotations, "starts_at": now,
            "ends_at": None}


def rollback_payload(c: Comparison, doc: dict[str, Any]) -> dict[str, Any]:
    """The ``on_rollback`` webhook's body: Alertmanager's webhook v4 payload (one firing alert of severity page),
    with the decision document as ``decision``."""
    from assay.slo.alerting import Receiver
    from assay.slo.alerts import payload

    assert c.on_rollback is not None
    alert = rollback_alert(c, doc, time.time())
    receiver = Receiver.model_validate({"name": "on_rollback", "webhook": c.on_rollback.webhook})
    body: dict[str, Any] = payload(receiver, [alert], "firing", "")
    return {**body, "decision": doc}
