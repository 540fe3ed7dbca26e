"""Grafana dashboards as code over assay's Prometheus metrics: three per model (executive, on-call, debug) and the
file-provisioning YAML for the data source and the dashboards (``assay dashboards grafana --out grafana/``).

Built with grafana-foundation-sdk's builders (the release generated for Grafana 11.6), so the JSON carries a
current ``schemaVersion``, stable ``uid``s (``assay-<model>-<view>``), ``gridPos`` for every panel, and the
templated ``model`` and ``version`` variables.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import yaml
from grafana_foundation_sdk.builders import dashboard, prometheus, stat, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import DataSourceRef, VariableOption, VariableRefresh

from assay.slo.config import SLO
from assay.watch.config import WatchConfig

DATASOURCE_UID = "assay-prometheus"
VIEWS = ("executive", "on-call", "debug")


def _uid(model: str, view: str) -> str:
    base = f"assay-{model}-{view}"
    if len(base) <= 40:  # Grafana's limit on uids
        return base
    return f"assay-{hashlib.sha256(base.encode()).hexdigest()[:16]}-{view}"


def _ds() -> DataSourceRef:
    return DataSourceRef(type_val="prometheus", uid=DATASOURCE_UID)


def _q(expr: str, legend: str = "", ref: str = "A") -> prometheus.Dataquery:
    return prometheus.Dataquery().expr(expr).legend_format(legend).ref_id(ref)


def _ts(title: str, unit: str, *queries: prometheus.Dataquery, span: int = 12) -> timeseries.Panel:
    panel = timeseries.Panel().title(title).unit(unit).datasource(_ds()).span(span).height(8)
    for q in queries:
        panel = panel.with_target(q)
    return panel


def _stat(title: str, unit: str, query: prometheus.Dataquery, span: int = 6) -> stat.Panel:
    return stat.Panel().title(title).unit(unit).datasource(_ds()).span(span).height(5).with_target(query)


def _variables(builder: dashboard.Dashboard, model: str) -> dashboard.Dashboard:
    return (builder
            .with_variable(dashboard.QueryVariable("model").label("Model").datasource(_ds())
                           .query("label_values(assay_predictions_total, model)")
                           .current(VariableOption(text=model, value=model))
                           .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED))
            .with_variable(dashboard.QueryVariable("version").label("Version").datasource(_ds())
                           .query('label_values(assay_model_metric{model="$model"}, version)')
                           .include_all(True).all_value(".*").refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)))


def build(config: WatchConfig, slos: dict[str, SLO], model: str, view: str) -> dict[str, Any]:
    """One dashboard's JSON (a dict)."""
    m = '{model="$model"}'
    mv = '{model="$model",version=~"$version"}'  # the per-version gauges (SLO panels stay per model)
    title = {"executive": "executive", "on-call": "on-call", "debug": "debug"}[view]
    b = (dashboard.Dashboard(f"assay · {model} · {title}").uid(_uid(model, view))
         .tags(["assay", "generated", model, view]).refresh("1m").time("now-24h", "now").editable())
    b = _variables(b, model)
    own = [s for s in slos.values() if s.model == model]
    if view == "executive":
        b = b.with_row(dashboard.Row("Quality"))
        b = b.with_panel(_ts("Headline metrics (realized and estimated, trailing hour)", "percentunit",
                             _q('assay_model_metric{model="$model",version=~"$version",kind="realized"}',
                                "{{metric}} realized {{version}}"),
                             _q('assay_model_metric{model="$model",version=~"$version",kind="estimated"}',
                                "{{metric}} estimated {{version}}", "B")))
        b = b.with_row(dashboard.Row("Error budgets"))
        b = b.with_panel(_ts("Error budget remaining", "percentunit",
                             _q(f"assay_slo_error_budget_remaining_ratio{m}", "{{slo}}"), span=8))
        b = b.with_panel(_stat("SLO compliance (SLI over the period)", "percentunit",
                               _q(f"assay_slo_sli_ratio{m}", "{{slo}}"), span=4))
        b = b.with_row(dashboard.Row("Traffic"))
        rate = f"rate(assay_predictions_total{m}[$__rate_interval])"
        b = b.with_panel(_ts("Predictions per second", "reqps", _q(rate, "predictions")))
    elif view == "on-call":
        b = b.with_row(dashboard.Row("Burn"))
        b = b.with_panel(_ts("Burn rate by alert window", "none", _q(f"assay_slo_burn_rate{m}", "{{slo}} {{window}}")))
        for s in own:
            if s.sli.event is not None:
                b = b.with_panel(_ts(f"{s.name}: error ratio (5m)", "percentunit", _q(
                    f'1 - rate(assay_slo_good_events_total{{slo="{s.name}"}}[5m]) / '
                    f'rate(assay_slo_events_total{{slo="{s.name}"}}[5m])', s.name), span=6))
        b = b.with_row(dashboard.Row("Health"))
        b = b.with_panel(_ts("Label coverage (trailing hour)", "percentunit",
                             _q(f"assay_label_coverage_ratio{mv}", "coverage {{version}}"), span=6))
        b = b.with_panel(_ts("Materialization lag", "s", _q("assay_materialization_lag_seconds", "lag"), span=6))
        b = b.with_panel(_ts("Service latency p95 by route", "s", _q(
            "histogram_quantile(0.95, sum by (le, route) (rate(assay_http_request_duration_seconds_bucket"
            "[$__rate_interval])))", "{{route}}")))
    else:
        b = b.with_row(dashboard.Row("Metrics"))
        b = b.with_panel(_ts("Every realized metric (trailing hour)", "none",
                             _q('assay_model_metric{model="$model",version=~"$version",kind="realized"}',
                                "{{metric}} {{version}}")))
        b = b.with_panel(_ts("Every estimated metric (trailing hour)", "none",
                             _q('assay_model_metric{model="$model",version=~"$version",kind="estimated"}',
                                "{{metric}} {{version}}")))
        b = b.with_row(dashboard.Row("Inputs"))
        b = b.with_panel(_ts("Share of the reference's columns drifting", "percentunit",
                             _q(f"assay_drift_share_ratio{mv}", "drift share {{version}}")))
        b = b.with_panel(_ts("Events behind the materializer", "none",
                             _q("assay_materialization_lag_events", "{{table}}")))
    encoded = JSONEncoder(sort_keys=True).encode(b.build())
    doc: dict[str, Any] = json.loads(encoded)
    _layout(doc)
    return doc


def _layout(doc: dict[str, Any]) -> None:
    """Give every panel a ``gridPos`` (rows full width; panels by their span, wrapping at 24 columns)."""
    x = y = 0
    row_h = 0
    for i, panel in enumerate(doc.get("panels", []), start=1):
        panel["id"] = i
        gp = panel.get("gridPos") or {}
        w = int(gp.get("w") or 24)
        h = int(gp.get("h") or (1 if panel.get("type") == "row" else 8))
        if panel.get("type") == "row":
            if x:
                y += row_h
            x, row_h = 0, 0
            panel["gridPos"] = {"x": 0, "y": y, "w": 24, "h": 1}
            y += 1
            continue
        if x + w > 24:
            x, y, row_h = 0, y + row_h, 0
        panel["gridPos"] = {"x": x, "y": y, "w": w, "h": h}
        x += w
        row_h = max(row_h, h)


def write(config: WatchConfig, slos: dict[str, SLO], out: Path, *, prometheus_url: str) -> list[Path]:
    """Write every model's dashboards and the provisioning files under ``out``; the paths written."""
    from assay.data.atomic import atomic_write

    written = []
    dash_dir = out / "dashboards"
    dash_dir.mkdir(parents=True, exist_ok=True)
    for model in config.models:
        for view in VIEWS:
            path = dash_dir / f"{_uid(model, view)}.json"
            atomic_write(path, json.dumps(build(config, slos, model, view), indent=2, sort_keys=True) + "\n")
            written.append(path)
    prov = out / "provisioning"
    (prov / "datasources").mkdir(parents=True, exist_ok=True)
    (prov / "dashboards").mkdir(parents=True, exist_ok=True)
    ds = {"apiVersion": 1, "datasources": [{"name": "assay Prometheus", "uid": DATASOURCE_UID, "type": "prometheus",
                                            "access": "proxy", "url": prometheus_url, "isDefault": False}]}
    dashboards = {"apiVersion": 1, "providers": [{"name": "assay", "folder": "assay", "type": "file",
                                                  "disableDeletion": False, "allowUiUpdates": False,
                                                  "options": {"path": str(dash_dir.resolve())}}]}
    for path, doc in ((prov / "datasources" / "assay.yaml", ds), (prov / "dashboards" / "assay.yaml", dashboards)):
        atomic_write(path, yaml.safe_dump(doc, sort_keys=False))
        written.append(path)
    return written
