"""``/metrics``: Prometheus' text format, rendered from the store (so that every worker shows the same numbers) and
cached for a few seconds, plus this process's request-latency histogram.

Metric families (``assay_`` prefix, base units, bounded labels: model, version, metric, kind, SLO, window;
never ids or free text). The per-model gauges carry ``version`` (empty for events without one: Prometheus reads
an empty label as absent), one series per version with events in the trailing hour, at most :data:`MAX_VERSIONS`
(the newest by name); an SLO's ``version`` is the one it names, or empty:

==========================================  =======  =================================================================
``assay_predictions_total``                 counter  predictions folded by the materializer, per model
``assay_labels_total``                      counter  labels folded, per model
``assay_model_metric``                      gauge    trailing hour's metrics per version (``kind="realized|estimated"``)
``assay_label_coverage_ratio``              gauge    labeled / predictions over the trailing hour, per version
``assay_drift_share_ratio``                 gauge    share of the reference's columns drifting over the trailing hour
``assay_slo_events_total``                  counter  events of each event SLO (``_good_events_total``: the good ones)
``assay_slo_sli_ratio``                     gauge    each SLO's SLI over its period
``assay_slo_error_budget_remaining_ratio``  gauge    each SLO's error budget left
``assay_slo_burn_rate``                     gauge    each SLO's burn rate per alert window
``assay_materialization_lag_seconds``       gauge    age of the oldest event the materializer has not folded
``assay_materialization_lag_events``        gauge    events behind the cursor (predictions, labels)
``assay_http_request_duration_seconds``     hist.    this process's request latency by route template and method
==========================================  =======  =================================================================
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterator, MutableMapping
from typing import Any

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from assay.slo.status import SLOs
from assay.watch.monitor import Monitor, NotFound

log = logging.getLogger("assay.service")
CACHE_SECONDS = 5.0
TRAILING = 3600.0
MAX_VERSIONS = 10
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class StoreCollector(Collector):
    """The store's numbers as metric families (one render per call)."""

    def __init__(self, monitor: Monitor, slos: SLOs) -> None:
        self.monitor = monitor
        self.slos = slos

    def collect(self) -> Iterator[Metric]:
        mon = self.monitor
        now = mon.now()
        preds = CounterMetricFamily("assay_predictions", "Predictions folded into window states", labels=["model"])
        labels = CounterMetricFamily("assay_labels", "Labels folded into window states", labels=["model"])
        metric = GaugeMetricFamily("assay_model_metric", "A model's metrics over the trailing hour",
                                   labels=["model", "version", "metric", "kind"])
        coverage = GaugeMetricFamily("assay_label_coverage_ratio", "Labeled share of the trailing hour's "
                                     "predictions", labels=["model", "version"])
        drift = GaugeMetricFamily("assay_drift_share_ratio", "Share of the reference's columns drifting over the "
                                  "trailing hour", labels=["model", "version"])
        for name in mon.contexts:
            counts = mon.store.counter_values(name)
            preds.add_metric([name], float(counts.get("folded_predictions", 0)))
            labels.add_metric([name], float(counts.get("folded_labels", 0)))
            try:
                self._model_metrics(name, now, metric, coverage, drift)
            except Exception as exc:  # one model's read must not hide the others
                log.warning("/metrics: model %s: %s", name, exc)
        yield from (preds, labels, metric, coverage, drift)
        slo_labels = ["slo", "model", "version"]
        sli = GaugeMetricFamily("assay_slo_sli_ratio", "SLI over the SLO's period", labels=slo_labels)
        budget = GaugeMetricFamily("assay_slo_error_budget_remaining_ratio", "Error budget left over the period",
                                   labels=slo_labels)
        burn = GaugeMetricFamily("assay_slo_burn_rate", "Burn rate of the error budget over an alert window",
                                 labels=[*slo_labels, "window"])
        good_events = CounterMetricFamily("assay_slo_good_events", "Good events of an event SLO (folded)",
                                          labels=slo_labels)
        all_events = CounterMetricFamily("assay_slo_events", "Events of an event SLO (folded)", labels=slo_labels)
        for name, slo in self.slos.slos.items():
            if slo.sli.event is not None:
                g, t = mon.store.sli_all_time(slo.model, slo.version, slo.key)
                good_events.add_metric([name, slo.model, slo.version or ""], float(g))
                all_events.add_metric([name, slo.model, slo.version or ""], float(t))
        yield from (good_events, all_events)
        for name, slo in self.slos.slos.items():
            try:
                doc = self.slos.status(name)
            except Exception as exc:
                log.warning("/metrics: SLO %s: %s", name, exc)
                continue
            own = [name, doc["model"], slo.version or ""]
            if doc["sli_value"] is not None:
                sli.add_metric(own, doc["sli_value"])
            if doc["error_budget"]["remaining"] is not None:
                budget.add_metric(own, doc["error_budget"]["remaining"])
            for r in doc["burn_rates"]:
                if r["burn_rate"] is not None:
                    burn.add_metric([*own, r["window"]], r["burn_rate"])
        yield from (sli, budget, burn)
        behind_p, behind_l, age = mon.store.lag()
        lag = GaugeMetricFamily("assay_materialization_lag_seconds", "Age of the oldest event not yet folded")
        lag.add_metric([], float(age or 0.0))
        events = GaugeMetricFamily("assay_materialization_lag_events", "Events behind the materializer's cursor",
                                   labels=["table"])
        events.add_metric(["predictions"], float(behind_p))
        events.add_metric(["labels"], float(behind_l))
        yield from (lag, events)

    def _model_metrics(self, name: str, now: float, metric: GaugeMetricFamily, coverage: GaugeMetricFamily,
                       drift: GaugeMetricFamily) -> None:
        mon = self.monitor
        ctx = mon.contexts[name]
        for version in mon.versions_between(name, now - TRAILING, now)[-MAX_VERSIONS:]:
            labels = [name, version]
            if ctx.eval_config is not None:
                doc = mon.metrics(name, now - TRAILING, now, version=version)
                for kind, entries in (("realized", doc.get("metrics")), ("estimated", doc.get("estimated"))):
                    for key, entry in (entries or {}).items():
                        value = entry.get("value") if isinstance(entry, dict) else None
                        if isinstance(value, int | float) and math.isfinite(value):
                            metric.add_metric([*labels, key, kind], float(value))
                cov = doc.get("label_coverage")
                if isinstance(cov, int | float):
                    coverage.add_metric(labels, float(cov))
            if ctx.reference is not None:
                try:
                    share = mon.drift(name, now - TRAILING, now, version=version).get("drifted_share")
                except NotFound:  # no predictions of this version in the trailing hour: no drift to report
                    continue
                if isinstance(share, int | float):
                    drift.add_metric(labels, float(share))


class Exposition:
    """The rendered text, refreshed every :data:`CACHE_SECONDS` on a thread of its own once scraped (a scrape reads
    the latest render and never waits for the store; the first one renders)."""

    def __init__(self, monitor: Monitor, slos: SLOs) -> None:
        self.store_registry = CollectorRegistry(auto_describe=False)
        self.store_registry.register(StoreCollector(monitor, slos))
        self.process_registry = CollectorRegistry()
        self.requests = Histogram("assay_http_request_duration_seconds", "Request latency of this process",
                                  ["route", "method"], registry=self.process_registry,
                                  buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
        self._lock = threading.Lock()
        self._text = b""
        self._at = -math.inf
        self._asked = -math.inf
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def observe(self, route: str, method: str, seconds: float) -> None:
        self.requests.labels(route, method).observe(seconds)

    def _refresh(self) -> None:
        text = generate_latest(self.store_registry)
        with self._lock:
            self._text, self._at = text, time.monotonic()

    def _refresher(self) -> None:
        while not self._stop.wait(CACHE_SECONDS):
            if time.monotonic() - self._asked > 10 * CACHE_SECONDS:
                continue  # nobody scrapes: no reads of the store
            try:
                self._refresh()
            except Exception as exc:  # the store away: the last render stays, the next refresh retries
                log.warning("/metrics: refresh failed: %s", exc)

    def render(self) -> bytes:
        self._asked = time.monotonic()
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._refresher, name="assay-metrics", daemon=True)
                    self._thread.start()
        if self._at == -math.inf or time.monotonic() - self._at > 3 * CACHE_SECONDS:
            self._refresh()  # the first scrape, or a stale render (the refresher failing): render now
        with self._lock:
            cached = self._text
        return cached + generate_latest(self.process_registry)

    def close(self) -> None:
        self._stop.set()


def route_of(scope: MutableMapping[str, Any]) -> str:
    """The route template of a request (bounded label values), or ``other``."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "other"
