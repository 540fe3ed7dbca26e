"""``assay import``: turn other harnesses' results into assay run documents.

``assay import lm-eval RESULTS.json [--samples DIR_OR_FILES...] --out run.json`` and
``assay import inspect LOG.json --out run.json``. With samples (always present in an Inspect log) an item sidecar
is written too: ``--items PATH``, by default the ``--out`` path with ``.json`` replaced by ``.items.parquet``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from assay.errors import ConfigError, message


def add_parser(sub: Any) -> None:
    """Register ``assay import`` and its sub-commands ``lm-eval`` and ``inspect``."""
    p = sub.add_parser(
        "import",
        help="turn lm-evaluation-harness or Inspect AI results into assay run documents",
        description="Import another harness's results as an assay run document (task 'suite'), with an item "
        "sidecar for paired comparisons. Example: assay import lm-eval out/model/results_2026-01-01T00-00-00.json "
        "--samples out/model --out run.json",
    )
    harnesses = p.add_subparsers(dest="harness", metavar="HARNESS", parser_class=type(p))
    harnesses.required = True

    lm = harnesses.add_parser("lm-eval", help="lm-evaluation-harness results_<datetime>.json (+ samples)",
                              description="Import lm-evaluation-harness results. Example: assay import lm-eval "
                              "results_2026-01-01T00-00-00.json --samples OUT_DIR --out run.json")
    lm.add_argument("results", help="lm-eval's results_<datetime>.json")
    lm.add_argument("--samples", nargs="+", metavar="DIR_OR_FILE",
                    help="samples_<task>_<datetime>.jsonl files, or the folder holding them (--log_samples output)")
    _common(lm)
    lm.set_defaults(handler=run_lm_eval)

    ins = harnesses.add_parser("inspect", help="an Inspect AI eval log (.json)",
                               description="Import an Inspect AI eval log in JSON form. Example: assay import "
                               "inspect logs/2026-01-01T00-00-00_task_ID.json --out run.json")
    ins.add_argument("log", help="the Inspect log (.json; convert a .eval log with 'inspect log convert')")
    _common(ins)
    ins.set_defaults(handler=run_inspect)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, help="write the run document (JSON) here")
    p.add_argument("--items", help="write the item sidecar (Parquet) here (default: the --out path with .json "
                   "replaced by .items.parquet)")
    p.add_argument("--model-name", help="model name (default: the one the harness recorded)")
    p.add_argument("--model-version")
    p.add_argument("--confidence", type=float, default=0.95, help="interval confidence level (default 0.95)")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")


def items_path(out: str) -> str:
    """The default sidecar path beside ``--out``.

    >>> items_path("runs/base.json"), items_path("runs/base")
    ('runs/base.items.parquet', 'runs/base.items.parquet')
    """
    return (out[: -len(".json")] if out.endswith(".json") else out) + ".items.parquet"


def _check_outputs(args: argparse.Namespace, inputs: list[str], items: str | None) -> None:
    sources = {Path(i).resolve() for i in inputs}
    outputs = [("--out", args.out)] + ([("--items", items)] if items else [])
    for option, path in outputs:
        if Path(path).resolve() in sources or Path(path).is_dir():
            raise ConfigError(message(where=f"option {option}", expected="a new output file path",
                                      found=f"{path!r}, an input or a folder", fix="write the output elsewhere"))
        if not Path(path).resolve().parent.is_dir():
            raise ConfigError(message(where=f"option {option}", expected="a path in an existing folder",
                                      found=f"{path!r}, whose folder does not exist", fix="create the folder first"))
    if items and Path(items).resolve() == Path(args.out).resolve():
        raise ConfigError(message(where="option --items", expected="a path other than --out", found=repr(items),
                                  fix="pass a different --items path"))


def run_lm_eval(args: argparse.Namespace) -> int:
    from assay.suites import import_lm_eval

    items = args.items or (items_path(args.out) if args.samples else None)
    _check_outputs(args, [args.results, *(args.samples or [])], items)
    result = import_lm_eval(args.results, args.samples, items=items, model_name=args.model_name,
                            model_version=args.model_version, confidence=args.confidence)
    return _finish(args, result)


def run_inspect(args: argparse.Namespace) -> int:
    from assay.suites import import_inspect
    from assay.suites._document import read_json

    items = args.items
    if items is None:
        log = read_json(args.log, "Inspect log")
        has_samples = isinstance(log, dict) and bool(log.get("samples"))
        items = items_path(args.out) if has_samples else None
    _check_outputs(args, [args.log], items)
    result = import_inspect(args.log, items=items, model_name=args.model_name, model_version=args.model_version,
                            confidence=args.confidence)
    return _finish(args, result)


def _finish(args: argparse.Namespace, result: Any) -> int:
    result.write(args.out)
    if not args.quiet:
        from assay.cli._console import console as make_console
        from assay.report.terminal import render

        console = make_console()
        render(result.doc, console)
        console.print(f"[dim]run:[/] {args.out}")
        if "items" in result.doc:
            console.print(f"[dim]items:[/] {result.doc['items']['path']}")
    return 0
