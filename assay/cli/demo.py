"""``assay demo``: train two models on a dataset bundled with scikit-learn, evaluate both, write runs and reports."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from assay.errors import ConfigError


def add_parser(sub: Any) -> None:
    p = sub.add_parser("demo", help="train two models on a bundled dataset and evaluate both end to end; "
                       "`assay demo watch`: a monitoring service with a day of traffic and a regression",
                       description="Train a logistic regression and a gradient-boosted model on scikit-learn's "
                       "bundled breast-cancer data, evaluate both with slices, fairness and calibration, and "
                       "write run documents, item sidecars and HTML reports; then profile the training features and "
                       "check the held-out half (no shift) and a referred subset (larger tumours) for drift; last, "
                       "replay the held-out rows through the watch service's Monitor as a day of production traffic. "
                       "`assay demo watch` instead starts `assay serve` on a temporary SQLite store, replays a day "
                       "of synthetic traffic onto the last 24 hours (a covariate shift 3 hours before now, an "
                       "accuracy regression 2 hours before now), and prints the dashboard's address, a token and the "
                       "alerts that fired.")
    p.add_argument("what", nargs="?", choices=["watch"], help="watch: the monitoring-service demo")
    p.add_argument("--out", default=None,
                   help="folder for the outputs (default: ./assay-demo; for `watch`, a new temporary folder)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true")
    w = p.add_argument_group("assay demo watch")
    w.add_argument("--port", type=int, default=0, help="port of the service on 127.0.0.1 (default: a free one)")
    w.add_argument("--serve-for", type=float, default=None, metavar="SECONDS",
                   help="keep serving this long after the replay, then stop (default: until Ctrl-C; 0: stop at "
                   "once)")
    w.add_argument("--per-minute", type=int, default=20, help="events per minute of the replayed day (20)")
    p.set_defaults(handler=run)


def build_table(seed: int = 0) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two models' predictions on the held-out half of the breast-cancer data, as tables."""
    try:
        import numpy as np
        from sklearn.datasets import load_breast_cancer
        from sklearn.ensemble import HistGradientBoostingClassifier
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import train_test_split
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
    except ImportError:  # pragma: no cover - the demo extra is missing
        raise ConfigError("assay demo: expected scikit-learn to be installed, found it missing. "
                          "Fix: pip install 'assay[demo]'") from None
    data = load_breast_cancer(as_frame=False)
    X, y = data.data, data.target  # target 1 = benign, 0 = malignant
    names = list(data.feature_names)
    radius = X[:, names.index("mean radius")]
    texture = X[:, names.index("mean texture")]
    # slices: tumour size tertiles; "sensitive": texture band (a stand-in attribute: the data has no demographics)
    size = np.where(radius < np.quantile(radius, 1 / 3), "small",
                    np.where(radius < np.quantile(radius, 2 / 3), "medium", "large"))
    band = np.where(texture < np.median(texture), "smooth", "coarse")
    idx = np.arange(len(y))
    train, test = train_test_split(idx, test_size=0.5, random_state=seed, stratify=y)
    models = {
        "logistic": make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
        "boosted": HistGradientBoostingClassifier(max_iter=60, random_state=seed),
    }
    from sklearn.model_selection import cross_val_predict

    tables = {}
    # out-of-fold scores of the training half: the labeled reference the watch leg calibrates its estimates on
    oof = cross_val_predict(models["boosted"], X[train], y[train], cv=5, method="predict_proba")[:, 1]
    for name, model in models.items():
        model.fit(X[train], y[train])
        tables[name] = {
            "id": idx[test],
            "is_benign": y[test],
            "score": model.predict_proba(X[test])[:, 1],
            "tumour_size": size[test],
            "texture_band": band[test],
        }
    features = {n.replace(" ", "_"): X[:, i] for i, n in enumerate(names)}
    split = {"train": {k: v[train] for k, v in features.items()}, "test": {k: v[test] for k, v in features.items()}}
    # a selection shift: the held-out half seen through a clinic that only refers larger tumours
    large = test[radius[test] >= np.quantile(radius[train], 0.4)]
    split["referred"] = {k: v[large] for k, v in features.items()}
    reference = {"is_benign": y[train], "score": oof}
    referred = radius[test] >= np.quantile(radius[train], 0.4)
    return tables, {"rows": len(test), "features": split, "reference": reference, "referred": referred}


def run(args: argparse.Namespace) -> int:
    from rich.table import Table

    from assay.cli._console import console as make_console
    from assay.evaluation import evaluate
    from assay.report.html import render_run, write_html

    if args.what == "watch":
        from assay.cli.demo_watch import run_watch

        return run_watch(args)
    out = Path(args.out or "assay-demo")
    out.mkdir(parents=True, exist_ok=True)
    console = make_console(quiet=args.quiet)
    tables, info = build_table(args.seed)
    docs = {}
    for name, table in tables.items():
        run_ = evaluate(table, task="binary", label="is_benign", score="score", id="id", segments=["tumour_size"],
                        sensitive=["texture_band"], model_name=name, model_version="1",
                        dataset_name="breast-cancer (held-out half)", seed=args.seed,
                        items=str(out / f"{name}.items.parquet"))
        run_.write(out / f"{name}.run.json")
        write_html(out / f"{name}.html", render_run(run_.to_dict()))
        docs[name] = run_.to_dict()
    t = Table(title=f"two models on breast-cancer, {info['rows']} held-out rows (95% intervals)",
              header_style="bold", show_edge=False)
    t.add_column("metric")
    for name in docs:
        t.add_column(name, justify="right")
    from assay.report.terminal import fmt, interval

    for metric in ("roc_auc", "average_precision", "accuracy", "f1", "log_loss", "brier", "ece"):
        t.add_row(metric, *(f"{fmt(d['metrics'][metric]['value'])} {interval(d['metrics'][metric])}"
                            for d in docs.values()))
    console.print(t)
    same = len({d["dataset"]["fingerprint"] for d in docs.values()}) == 1
    console.print(f"both runs share the evaluation-set fingerprint: {same}")
    for name in docs:
        console.print(f"[bold]{name}[/]: {out / (name + '.run.json')}  {out / (name + '.html')}  "
                      f"{out / (name + '.items.parquet')}")
    _drift(info["features"], out, console)
    _watch(tables["boosted"], info, out, console, seed=args.seed)
    return 0


def _drift(features: dict[str, dict[str, Any]], out: Path, console: Any) -> None:
    """Profile the training features, then drift the held-out half (no shift) and a referred subset against it."""
    import json

    from assay.data.atomic import atomic_write
    from assay.drift.profile import profile
    from assay.drift.run import drift
    from assay.report.drift_html import render_drift, write_html

    reference = profile(features["train"], name="breast-cancer training half")
    reference.save(out / "reference.profile")
    for name in ("test", "referred"):
        result = drift(reference, features[name])
        doc = result.to_dict()
        doc["current"]["source"] = {"test": "held-out half", "referred": "held-out, larger tumours only"}[name]
        atomic_write(out / f"drift-{name}.json", json.dumps(doc, indent=2, allow_nan=False) + "\n")
        write_html(out / f"drift-{name}.html", render_drift(doc))
        verdict = (f"[red]drift[/] in {doc['n_drifted']} of {doc['n_columns']} columns"
                   if doc["drifted"] else f"[green]no drift[/] in {doc['n_columns']} columns")
        console.print(f"drift of the {doc['current']['source']} against the training profile: {verdict}  "
                      f"{out / f'drift-{name}.json'}  {out / f'drift-{name}.html'}")


def _watch(table: dict[str, Any], info: dict[str, Any], out: Path, console: Any, *, seed: int) -> None:
    """The boosted model in production for a day: the held-out rows replayed through the watch Monitor (a SQLite
    store in the output folder), labels for the first 16 hours only, and from hour 12 the referred (larger
    tumour) traffic only: realized metrics while labels come, label-free estimates after, and drift."""
    import json

    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    from rich.table import Table

    from assay.data.atomic import atomic_write
    from assay.watch.config import parse_config
    from assay.watch.monitor import Monitor

    rng = np.random.default_rng(seed)
    pq.write_table(pa.table(info["reference"]), out / "watch-reference.parquet")
    store = out / "watch.sqlite"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{store}{suffix}").unlink(missing_ok=True)
    day = 1_796_083_200  # 2026-12-01T00:00:00Z
    config = parse_config(f"""store: sqlite:///{store}
window: 5m
models:
  boosted:
    task: binary
    score: score
    label: is_benign
    segments: [tumour_size]
    features: [mean_radius, mean_texture]
    reference: {{profile: reference.profile, labeled: watch-reference.parquet}}
""", base_dir=out)
    monitor = Monitor(config, now=lambda: day + 86400.0)
    n = len(table["id"])
    features = info["features"]["test"]
    events, labels = [], []
    for hour in range(24):
        pool = np.flatnonzero(info["referred"]) if hour >= 12 else np.arange(n)
        for k, i in enumerate(rng.choice(pool, size=120)):
            eid = f"h{hour:02d}-{k:03d}"
            events.append({"id": eid, "timestamp": day + hour * 3600 + int(rng.integers(0, 3600)),
                           "version": "1", "score": float(table["score"][i]),
                           "tumour_size": str(table["tumour_size"][i]),
                           "mean_radius": float(features["mean_radius"][i]),
                           "mean_texture": float(features["mean_texture"][i])})
            if hour < 16:
                labels.append({"id": eid, "is_benign": int(table["is_benign"][i])})
    monitor.ingest_predictions("boosted", events)
    monitor.ingest_labels("boosted", labels)
    monitor.materialize()
    series = monitor.series("boosted", day, day + 86400, step="4h")
    drift = monitor.drift("boosted", day + 12 * 3600, day + 86400)
    atomic_write(out / "watch-series.json", json.dumps(series, indent=2, allow_nan=False) + "\n")
    t = Table(title="watch: the boosted model in production for a day (labels for 16 h, larger tumours from 12 h)",
              header_style="bold", show_edge=False)
    for col in ("hours", "events", "labeled", "accuracy", "estimated", "ood"):
        t.add_column(col, justify="right", no_wrap=True)

    def cell(e: dict[str, Any] | None) -> str:
        if not e or e.get("value") is None:
            return "—"
        return f"{e['value']:.3f} [{e['ci_low']:.3f}, {e['ci_high']:.3f}]"

    for w in series["windows"]:
        real = w["metrics"].get("accuracy")
        est = w["estimated"].get("accuracy")
        start = int(w["start"][11:13])
        t.add_row(f"{start:02d}-{start + 4:02d}", str(w["predictions"]), str(w["labeled"]),
                  cell(real), cell(est), f"{w['traffic']['ood_rate']['value']:.3f}")
    console.print(t)
    verdict = f"[red]drift[/] in {drift['n_drifted']} of {drift['n_columns']} features" if drift["drifted"] else (
        "[green]no drift[/]")
    console.print(f"watch: drift of the last 12 hours against the training profile: {verdict}; series "
                  f"{out / 'watch-series.json'}, store {store}")
    monitor.close()
