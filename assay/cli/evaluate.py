"""``assay evaluate``: metrics with intervals, slices, fairness and calibration of one table of predictions."""

from __future__ import annotations

import argparse
from typing import Any

from assay.cli._progress import ReadProgress
from assay.cli._tables import TABLE_HELP, add_table_options, check_stdin
from assay.errors import ConfigError


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "evaluate",
        help="metrics with intervals, per slice, calibration and fairness",
        description="Evaluate predictions against labels. Example: assay evaluate preds.parquet --task binary "
        "--label is_fraud --score fraud_score --segment country --sensitive gender --out run.json --html report.html",
    )
    p.add_argument("data", help=f"CSV, Parquet, JSON Lines or Arrow IPC file, {TABLE_HELP}")
    add_table_options(p)
    p.add_argument("--task", required=True, choices=["binary", "multiclass", "regression", "ranking"])
    p.add_argument("--label", default="label", help="label column (default: label)")
    p.add_argument("--score", help="score column: probability of the positive class, or a margin/logit with "
                   "--score-kind margin; the relevance score for ranking")
    p.add_argument("--prediction", help="hard prediction column (binary, multiclass) or predicted value (regression)")
    p.add_argument("--proba-prefix", help="multiclass: probability columns are named PREFIX<class>")
    p.add_argument("--weight", help="sample weight column")
    p.add_argument("--weight-kind", default="analytic", choices=["analytic", "frequency"],
                   help="analytic (default): intervals use Kish's effective sample size; frequency: weights are "
                   "repeat counts")
    p.add_argument("--id", help="item id column (fingerprint of the evaluation set, item sidecar)")
    p.add_argument("--query", help="ranking: query column")
    p.add_argument("--k", type=int, default=10, help="ranking: cut-off k (default 10)")
    p.add_argument("--segment", action="append", default=[], help="slice column (repeatable)")
    p.add_argument("--sensitive", action="append", default=[], help="sensitive attribute for fairness (repeatable)")
    p.add_argument("--threshold", type=float, help="binary: predicted positive when score >= threshold "
                   "(default 0.5 for probabilities, 0 for margins)")
    p.add_argument("--pos-label", help="binary: the positive label value (default 1 / true / yes)")
    p.add_argument("--score-kind", default="probability", choices=["probability", "margin"])
    p.add_argument("--confidence", type=float, default=0.95, help="interval confidence level (default 0.95)")
    p.add_argument("--seed", type=int, default=0, help="seed of the cell resampling (ECE, fairness intervals)")
    p.add_argument("--metrics", help="comma-separated subset of metrics to report")
    p.add_argument("--missing-label", default="drop", choices=["drop", "error"],
                   help="rows without a label: drop and count them (default) or fail")
    p.add_argument("--bins", type=int, default=10, help="calibration bins (default 10)")
    p.add_argument("--max-distinct-scores", type=int, default=1 << 20,
                   help="streaming: most entries of a score table (all groups together) before its grid is "
                   "coarsened; 0 = no cap (default 1048576)")
    p.add_argument("--chunk-rows", type=int, default=1_000_000, help="rows per chunk when streaming a file")
    p.add_argument("--model-name")
    p.add_argument("--model-version")
    p.add_argument("--dataset-name")
    p.add_argument("--out", help="write the run document (JSON) here")
    p.add_argument("--html", help="write the HTML report here")
    p.add_argument("--items", help="write the per-item sidecar (Parquet) here")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from assay.cli._console import console as make_console
    from assay.evaluation import evaluate
    from assay.report.terminal import render

    check_stdin([args.data], args.format)
    for option, path in (("--out", args.out), ("--html", args.html), ("--items", args.items)):
        if path and path == args.data:
            raise ConfigError(f"option {option}: expected an output path, found the input file {path!r}. "
                              "Fix: write the output somewhere else")
    metrics = tuple(m.strip() for m in args.metrics.split(",") if m.strip()) if args.metrics else None
    options: dict[str, Any] = dict(
        score=args.score, prediction=args.prediction, proba_prefix=args.proba_prefix, weight=args.weight,
        weight_kind=args.weight_kind, id=args.id, query=args.query, k=args.k, segments=args.segment,
        sensitive=args.sensitive, threshold=args.threshold, pos_label=args.pos_label, score_kind=args.score_kind,
        confidence=args.confidence, seed=args.seed, metrics=metrics, missing_label=args.missing_label,
        bins=args.bins, max_distinct_scores=args.max_distinct_scores or None, chunk_rows=args.chunk_rows,
        model_name=args.model_name, model_version=args.model_version, dataset_name=args.dataset_name,
        items=args.items,
    )
    err = make_console(stderr=True)
    with ReadProgress(err, quiet=args.quiet) as progress:
        result = evaluate(args.data, task=args.task, label=args.label, progress=progress, encoding=args.encoding,
                          format=args.format, **options)
    doc = result.to_dict()
    html = None
    if args.html:
        from assay.report.html import render_run

        html = render_run(doc)
    if args.out:
        result.write(args.out)
    if args.html and html is not None:
        from assay.report.html import write_html

        write_html(args.html, html)
    if not args.quiet:
        console = make_console()
        render(doc, console)
        for label, path in (("run", args.out), ("report", args.html), ("items", args.items)):
            if path:
                console.print(f"[dim]{label}:[/] {path}")
    return 0
