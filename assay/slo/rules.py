"""Prometheus recording and alerting rules for the event SLOs, from the counters ``/metrics`` exposes, with Sloth's
naming, so that a team alerting from Prometheus gets the same multi-window, multi-burn-rate alerts as assay's own
conditions (``assay slo rules --config watch.yaml --out rules.yml``).

For each event SLO: ``slo:sli_error:ratio_rate<window>`` for every alert window and the period (labels
``sloth_id``, ``sloth_service``, ``sloth_slo``, ``sloth_window``), the metadata rules ``slo:objective:ratio``,
``slo:error_budget:ratio``, ``slo:current_burn_rate:ratio``, ``slo:period_burn_rate:ratio`` and
``slo:period_error_budget_remaining:ratio``, and two alerts (``severity: page`` and ``ticket``) whose conditions
are the alert windows of :meth:`assay.slo.config.SLO.alert_windows`, each window with ``min_events``. Label-based
SLIs (``correct``) follow label arrival here too: their counters grow when labels land.
"""

from __future__ import annotations

from typing import Any

import yaml

from assay.slo.config import SLO
from assay.slo.status import _duration


def _error_ratio(slo: SLO, window: str) -> str:
    sel = f'{{slo="{slo.name}"}}'
    total = f"sum(rate(assay_slo_events_total{sel}[{window}]))"
    good = f"sum(rate(assay_slo_good_events_total{sel}[{window}]))"
    return f"({total} - {good}) / {total}"


def rules(slos: dict[str, SLO], window: int) -> dict[str, Any]:
    """The rule file (a dict ready for YAML) of the event SLOs; window SLOs have no counters and are skipped."""
    groups = []
    for slo in slos.values():
        if slo.sli.event is None:
            continue
        labels = {"sloth_id": f"{slo.model}-{slo.name}", "sloth_service": slo.model, "sloth_slo": slo.name}
        alert_windows = slo.alert_windows(window)
        durations = sorted({s for _, _, long, short in alert_windows for s in (long, short)})
        recording = []
        for seconds in [*durations, slo.period_seconds]:
            w = _duration(seconds)
            recording.append({"record": f"slo:sli_error:ratio_rate{w}", "expr": _error_ratio(slo, w),
                              "labels": {**labels, "sloth_window": w}})
        period = _duration(slo.period_seconds)
        sel = ",".join(f'{k}="{v}"' for k, v in labels.items())
        budget = 1 - slo.objective
        shortest = _duration(durations[0])
        meta = [
            {"record": "slo:objective:ratio", "expr": f"vector({slo.objective})", "labels": labels},
            {"record": "slo:error_budget:ratio", "expr": f"vector({budget:.10g})", "labels": labels},
            {"record": "slo:time_period:days", "expr": f"vector({slo.period_seconds / 86400:g})", "labels": labels},
            {"record": "slo:current_burn_rate:ratio",
             "expr": f'slo:sli_error:ratio_rate{shortest}{{{sel}}} / on({", ".join(labels)}) group_left '
                     f"slo:error_budget:ratio{{{sel}}}", "labels": labels},
            {"record": "slo:period_burn_rate:ratio",
             "expr": f'slo:sli_error:ratio_rate{period}{{{sel}}} / on({", ".join(labels)}) group_left '
                     f"slo:error_budget:ratio{{{sel}}}", "labels": labels},
            {"record": "slo:period_error_budget_remaining:ratio",
             "expr": f"1 - slo:period_burn_rate:ratio{{{sel}}}", "labels": labels},
            {"record": "sloth_slo_info", "expr": "vector(1)",
             "labels": {**labels, "sloth_objective": f"{slo.objective * 100:g}", "sloth_mode": "assay"}},
        ]
        alerts = []
        for severity in ("page", "ticket"):
            conditions = []
            for sev, rate, long, short in alert_windows:
                if sev != severity:
                    continue
                parts = []
                for seconds in (long, short):
                    w = _duration(seconds)
                    enough = f'sum(increase(assay_slo_events_total{{slo="{slo.name}"}}[{w}])) >= {slo.min_events}'
                    parts.append(f"(max(slo:sli_error:ratio_rate{w}{{{sel}}} > ({rate:g} * {budget:.10g})) "
                                 f"without (sloth_window) and on() ({enough}))")
                conditions.append(f"({parts[0]} and {parts[1]})")
            alerts.append({
                "alert": f"AssaySLOBurn{severity.capitalize()}",
                "expr": " or ".join(conditions),
                "labels": {"severity": severity, "model": slo.model, "slo": slo.name,
                           **({"version": slo.version} if slo.version else {})},
                "annotations": {
                    "summary": f"{slo.name}: the error budget of {slo.model} is burning ({severity})",
                    "description": f"SLO {slo.name} ({slo.objective:g} over {slo.period}): burn-rate conditions "
                                   f"of the {severity} rule hold.",
                    **({"runbook_url": slo.runbook} if slo.runbook else {}),
                },
            })
        groups.append({"name": f"assay-slo-{slo.name}-sli-recordings", "rules": recording})
        groups.append({"name": f"assay-slo-{slo.name}-meta-recordings", "rules": meta})
        groups.append({"name": f"assay-slo-{slo.name}-alerts", "rules": alerts})
    return {"groups": groups}


def render(slos: dict[str, SLO], window: int) -> str:
    return "# Generated by `assay slo rules`: Prometheus recording and alerting rules (Sloth naming).\n" + \
        yaml.safe_dump(rules(slos, window), sort_keys=False, width=1000)
