"""``assay demo``: train two models on a dataset bundled with scikit-learn, evaluate both, write runs and reports."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from assay.errors import ConfigError


def add_parser(sub: Any) -> None:
    p = sub.add_parser("demo", help="train two models on a bundled dataset and evaluate both end to end",
                       description="Train a logistic regression and a gradient-boosted model on scikit-learn's "
                       "bundled breast-cancer data, evaluate both with slices, fairness and calibration, and "
                       "write run documents, item sidecars and HTML reports; then profile the training features and "
                       "check the held-out half (no shift) and a referred subset (larger tumours) for drift.")
    p.add_argument("--out", default="assay-demo", help="folder for the outputs (default: ./assay-demo)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true")
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
    tables = {}
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
    return tables, {"rows": len(test), "features": split}


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from assay.evaluation import evaluate
    from assay.report.html import render_run, write_html

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    console = Console(quiet=args.quiet)
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
