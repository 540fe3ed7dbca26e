"""``assay runs``: keep evaluation runs, list them, show their lineage, promote one per model, compare two."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assay.errors import ReadError, message

if TYPE_CHECKING:
    from assay.store import RunStore

REF_HELP = "a run id, a unique prefix of 6+ characters, @latest[:MODEL] or @promoted[:MODEL]"


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "runs",
        help="keep, list, show, promote and compare evaluation runs",
        description="The run store (SQLite in --home, else $ASSAY_HOME, else ./.assay). Example: assay runs add "
        "run.json; assay runs promote @latest:fraud --note 'ship it'; assay runs diff @promoted:fraud @latest:fraud",
    )
    p.set_defaults(handler=lambda args: _usage(p))
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--home", help="store folder (default: $ASSAY_HOME, else ./.assay)")
    commands = p.add_subparsers(dest="runs_command", metavar="COMMAND")

    add = commands.add_parser("add", parents=[common], help="add run documents (JSON) to the store",
                              description="Add run documents written by `assay evaluate --out`; prints their ids. "
                              "Adding the same document twice is harmless.")
    add.add_argument("files", nargs="+", metavar="RUN.json")
    add.set_defaults(handler=run_add)

    ls = commands.add_parser("list", parents=[common], help="list runs, newest first")
    ls.add_argument("--model", help="only runs of this model name")
    ls.add_argument("--limit", type=int, default=50, help="at most this many runs (default 50)")
    ls.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ls.set_defaults(handler=run_list)

    show = commands.add_parser("show", parents=[common], help="a run's lineage and metrics")
    show.add_argument("ref", metavar="REF", help=REF_HELP)
    show.add_argument("--json", action="store_true", help="print JSON instead of tables")
    show.set_defaults(handler=run_show)

    promote = commands.add_parser("promote", parents=[common], help="make a run the promoted run of its model",
                                  description="Make a run the promoted run of its model name; the previous one "
                                  "stays in the promotion history.")
    promote.add_argument("ref", metavar="REF", help=REF_HELP)
    promote.add_argument("--note", help="why (kept in the promotion history)")
    promote.set_defaults(handler=run_promote)

    diff = commands.add_parser("diff", parents=[common], help="compare two runs metric by metric",
                               description="Compare run B with run A metric by metric (difference = B - A). Runs "
                               "on different evaluation data are refused unless --allow-different-data.")
    diff.add_argument("ref_a", metavar="REF_A", help=REF_HELP)
    diff.add_argument("ref_b", metavar="REF_B", help=REF_HELP)
    diff.add_argument("--allow-different-data", action="store_true",
                      help="compare even when the dataset fingerprints differ")
    diff.add_argument("--json", action="store_true", help="print JSON instead of a table")
    diff.set_defaults(handler=run_diff)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _store(args: argparse.Namespace) -> RunStore:
    from assay.store import open_store

    return open_store(args.home)


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False))


def _read(path: str) -> Any:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReadError(message(where=path, expected="a run document (JSON)", found="no such file",
                                fix="check the path")) from None
    except IsADirectoryError:
        raise ReadError(message(where=path, expected="a run document (JSON)", found="a folder",
                                fix="pass the run files themselves")) from None
    except UnicodeDecodeError:
        raise ReadError(message(where=path, expected="a run document (JSON text)", found="bytes that are not UTF-8",
                                fix="pass a file written by `assay evaluate --out`")) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReadError(message(where=f"{path}, line {exc.lineno} column {exc.colno}",
                                expected="a run document (JSON)", found=f"invalid JSON ({exc.msg})",
                                fix="pass a file written by `assay evaluate --out`")) from None


def run_add(args: argparse.Namespace) -> int:
    from assay.store import check_run

    docs = [(path, check_run(_read(path), source=path)) for path in args.files]  # all checked before any is added
    store = _store(args)
    for path, doc in docs:
        print(store.add(doc, source=str(Path(path).resolve())))
    return 0


def run_list(args: argparse.Namespace) -> int:
    from rich.table import Table
    from rich.text import Text

    from assay.cli._console import console as make_console

    store = _store(args)
    runs = store.list(model=args.model, limit=args.limit)
    if args.json:
        _print_json([r.to_dict() for r in runs])
        return 0
    console = make_console()
    if not runs:
        where = f"of model {args.model!r} " if args.model else ""
        console.print(f"no runs {where}in {store.location} yet: add one with `assay runs add RUN.json`",
                      markup=False, highlight=False)
        return 0
    # no rules between columns (like `docker ps`), so that eight columns fit in 80
    table = Table(box=None, pad_edge=False, header_style="bold", caption_justify="left")
    table.add_column("★", no_wrap=True, style="green")  # first, so that a narrow terminal never crops it
    for name in ("id", "model", "version", "dataset", "fingerprint", "task", "created"):
        table.add_column(name, no_wrap=name in ("id", "fingerprint"),  # narrow terminals wrap the rest
                         overflow="fold" if name in ("model", "dataset", "task") else "ellipsis",
                         min_width={"created": 10}.get(name))
    for r in runs:
        cells = (r.run_id[:12], r.model_name, r.model_version, r.dataset_name, _fingerprint(r.fingerprint), r.task,
                 _when(r.created_at or r.added_at))
        table.add_row("★" if r.promoted else "", *(Text(c or "—") for c in cells))
    if any(r.promoted for r in runs):
        table.caption = "★ promoted: the run of its model that `@promoted:MODEL` refers to"
    console.print(table)
    return 0


def run_show(args: argparse.Namespace) -> int:
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    from assay.cli._console import console as make_console
    from assay.report.terminal import fmt, interval

    store = _store(args)
    lineage = store.lineage(args.ref)
    doc = store.get(lineage["run_id"])
    if args.json:
        _print_json({**lineage, "metrics": doc.get("metrics", {})})
        return 0
    console = make_console()
    model, dataset = lineage["model"], lineage["dataset"]
    title = model["name"] or "model without a name"
    if model["version"]:
        title += f" v{model['version']}"
    console.print(f"[bold]{escape(lineage['run_id'])}[/] · {escape(title)} · {escape(str(lineage['task']))}"
                  + (" · [green]promoted[/]" if lineage["promoted"] else ""))
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="dim", no_wrap=True)
    facts.add_column(overflow="fold")

    def fact(name: str, value: Any) -> None:
        facts.add_row(name, Text(str(value) if value not in (None, "") else "—"))  # data, never Rich markup

    rows = dataset.get("rows")
    fact("dataset", f"{dataset['name'] or '—'}" + (f", {rows:,} rows" if isinstance(rows, int) else ""))
    fact("fingerprint", dataset["fingerprint"])
    fact("created", lineage["created_at"])
    fact("added", lineage["added_at"])
    fact("git commit", lineage["git_commit"])
    fact("source", lineage["source"])
    fact("assay", lineage["assay_version"])
    config = lineage.get("config") or {}
    shown = [f"{k}={v}" for k, v in config.items() if v not in (None, [], {}, "") and k not in ("model_name",
             "model_version", "dataset_name")]
    fact("config", " ".join(shown))
    for p in lineage["promotions"]:
        text = f"promoted {p['promoted_at']}" + (f": {p['note']}" if p["note"] else "")
        if p["superseded_by"]:
            text += f" (superseded {p['superseded_at']} by {p['superseded_by'][:12]})"
        fact("promotion", text)
    console.print(facts)
    conf = config.get("confidence", 0.95) if isinstance(config, dict) else 0.95
    table = Table(show_edge=False, header_style="bold")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column(f"{conf:.0%} interval" if isinstance(conf, int | float) else "interval", justify="right")
    table.add_column("n", justify="right")
    table.add_column("note", style="dim")
    for name, e in doc.get("metrics", {}).items():
        n = e.get("n")
        table.add_row(Text(name), fmt(e.get("value")), interval(e), f"{n:,}" if isinstance(n, int) else "—",
                      Text(str(e.get("reason", ""))))
    console.print(table)
    return 0


def run_promote(args: argparse.Namespace) -> int:
    from assay.cli._console import console as make_console
    from assay.store import StoreError

    store = _store(args)
    target = store.lineage(args.ref)
    previous = None
    if target["model"]["name"] is not None:
        try:
            previous = store.get(f"@promoted:{target['model']['name']}")["run_id"]
        except StoreError:
            previous = None
    info = store.promote(target["run_id"], note=args.note)
    text = f"promoted {info.run_id[:12]} as the run of model {info.model_name!r}"
    if previous == info.run_id:
        text += " (it already was)"
    elif previous is not None:
        text += f" (previously {previous[:12]})"
    make_console().print(text, markup=False, highlight=False)
    return 0


def run_diff(args: argparse.Namespace) -> int:
    from rich.table import Table
    from rich.text import Text

    from assay.cli._console import console as make_console
    from assay.report.terminal import fmt
    from assay.store import diff

    store = _store(args)
    a, b = store.get(args.ref_a), store.get(args.ref_b)
    rows = diff(a, b, allow_different_data=args.allow_different_data)
    if args.json:
        _print_json({"a": a["run_id"], "b": b["run_id"], "same_data": _same_data(a, b), "metrics": rows})
        return 0
    console = make_console()
    for side, doc in (("a", a), ("b", b)):
        model = doc.get("model", {})
        label = (model.get("name") or "model without a name") + (f" v{model['version']}" if model.get("version")
                                                                  else "")
        console.print(f"{side}: {doc['run_id'][:12]}  {label}  {doc['dataset'].get('name') or '—'} "
                      f"({_fingerprint(doc['dataset']['fingerprint'])})", markup=False, highlight=False)
    if not _same_data(a, b):
        console.print("[yellow]note:[/] the runs were evaluated on different data; differences mix the models and "
                      "the data")
    table = Table(show_edge=False, header_style="bold")
    table.add_column("metric")
    table.add_column("a", justify="right")
    table.add_column("b", justify="right")
    table.add_column("difference (b - a)", justify="right")
    table.add_column("better", justify="center")
    colours = {"a": "yellow", "b": "green", "=": "dim"}
    for r in rows:
        better = r["better"]
        cell = f"[{colours[better]}]{better}[/]" if better else "—"
        difference = r["difference"]
        table.add_row(Text(r["metric"]), fmt(r["a"]), fmt(r["b"]),
                      "—" if difference is None else ("0" if difference == 0 else f"{difference:+.4g}"), cell)
    if not rows:
        console.print("the runs have no metric in common")
    else:
        console.print(table)
    return 0


def _same_data(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return bool(a["dataset"]["fingerprint"] == b["dataset"]["fingerprint"])


def _fingerprint(fingerprint: str) -> str:
    """The first 12 hex digits, without the ``sha256:`` prefix."""
    return fingerprint.split(":", 1)[-1][:12]


def _when(stamp: str) -> str:
    """An ISO time to the minute, in UTC: ``2025-01-31 14:05``."""
    return stamp[:16].replace("T", " ")
