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
                       "write run documents, item sidecars and HTML reports.")
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
    return tables, {"rows": len(test)}


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
    return 0
