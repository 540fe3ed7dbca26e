"""``assay compare``: live comparisons on a running service, and their offline replay.

- ``assay compare status NAME --url URL --token T``: the decision, the score and every metric's interval;
- ``assay compare history NAME`` / ``assay compare reset NAME`` (admin token): the audit log; forget the verdict;
- ``assay compare sequential control.parquet candidate.parquet --metric accuracy --margin 0.02 [--paired]``:
  replay two event tables in time order and print when each decision would have been taken.

Exit codes: 0 answered (any decision), 2 bad input or a service that refused or could not be reached.
"""

from __future__ import annotations

import argparse
import json
import os
import urllib.error
import urllib.request
from typing import Any

from assay.errors import ColumnError, ConfigError, InputError


def add_parser(sub: Any) -> None:
    p = sub.add_parser("compare", help="live comparisons (canary, A/B, shadow) and their offline replay",
                       description="Live comparisons of two model versions with always-valid decisions. Example: "
                       "assay compare status fraud-canary --url http://localhost:8000 --token $ASSAY_TOKEN")
    commands = p.add_subparsers(dest="compare_command", metavar="COMMAND")
    for name, about in (("status", "the decision of a comparison, with every metric's interval"),
                        ("history", "the audit log of a comparison's decisions"),
                        ("reset", "forget a comparison's verdict (admin token)")):
        q = commands.add_parser(name, help=about, description=f"{about[0].upper()}{about[1:]}.")
        q.add_argument("name", help="the comparison's name in watch.yaml")
        q.add_argument("--url", help="the service's base URL (default: $ASSAY_URL)")
        q.add_argument("--token", help="API token (default: $ASSAY_TOKEN)")
        q.add_argument("--json", action="store_true", help="print the service's JSON answer")
        q.set_defaults(handler=run_remote)
    s = commands.add_parser(
        "sequential", help="replay two event tables and show when each decision would have been taken",
        description="Replay the outcomes of a control and a candidate table in time order, looking every --every "
        "outcomes with the service's confidence sequence, and print the first look of each decision. Example: "
        "assay compare sequential control.parquet candidate.parquet --metric accuracy --label y --prediction "
        "pred --margin 0.02")
    s.add_argument("control", help="the control's events (CSV, Parquet, JSON Lines or Arrow IPC)")
    s.add_argument("candidate", help="the candidate's events")
    s.add_argument("--metric", default="accuracy",
                   help="accuracy (needs --label and --prediction) or a name for --value (default accuracy)")
    s.add_argument("--value", metavar="COLUMN", help="a per-outcome value column (a 0/1 flag, a latency, ...)")
    s.add_argument("--label", metavar="COLUMN", help="label column (for accuracy)")
    s.add_argument("--prediction", metavar="COLUMN", help="predicted label column (for accuracy)")
    s.add_argument("--lower-is-better", action="store_true", help="a lower --value is better (latency, errors)")
    s.add_argument("--margin", type=float, help="non-inferiority margin, absolute (e.g. 0.02)")
    s.add_argument("--margin-relative", type=float, help="non-inferiority margin as a share of the control")
    s.add_argument("--alpha", type=float, default=0.05, help="level of the confidence sequence (default 0.05)")
    s.add_argument("--t-star", type=float, default=5000, help="outcomes per arm where it is tightest (5000)")
    s.add_argument("--min-outcomes", type=int, default=2000, help="outcomes per arm before a promotion (2000)")
    s.add_argument("--every", type=int, default=100, help="outcomes between looks (default 100)")
    s.add_argument("--paired", action="store_true", help="shadow: the same requests, joined on --id-column")
    s.add_argument("--id-column", default="id", help="id column for --paired (default id)")
    s.add_argument("--timestamp-column", default="timestamp",
                   help="time column to interleave the arms (default timestamp; row order when absent)")
    s.add_argument("--json", action="store_true", help="print the replay as JSON")
    s.set_defaults(handler=run_sequential)
    p.set_defaults(handler=lambda args: (p.print_help(), 2)[1])


def _request(args: argparse.Namespace, method: str, path: str) -> Any:
    return _request_json(args, method, path, None)


def _request_json(args: argparse.Namespace, method: str, path: str, body: Any) -> Any:
    """``method path`` on the service of ``--url`` with ``--token`` (or $ASSAY_URL, $ASSAY_TOKEN); the JSON answer,
    or :class:`InputError` saying what the service answered."""
    url = args.url or os.environ.get("ASSAY_URL")
    token = args.token or os.environ.get("ASSAY_TOKEN")
    if not url:
        raise ConfigError("assay: expected the service's URL, found neither --url nor $ASSAY_URL. "
                          "Fix: pass --url http://HOST:PORT")
    if not token:
        raise ConfigError("assay: expected a token, found neither --token nor $ASSAY_TOKEN. Fix: `assay "
                          "tokens create NAME --scope read --config watch.yaml`")
    data = json.dumps(body).encode() if body is not None else (b"" if method == "POST" else None)
    req = urllib.request.Request(url.rstrip("/") + path, method=method, data=data,
                                 headers={"Authorization": f"Bearer {token}", "Accept": "application/json",
                                          "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:  # the configured service
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        try:
            detail = json.loads(exc.read()).get("detail", {})
            text = detail.get("message", detail) if isinstance(detail, dict) else detail
        except ValueError:
            text = exc.reason
        raise InputError(f"{url}{path}: the service answered {exc.code}: {text}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise InputError(f"{url}: expected a running assay service, found it unreachable ({exc}). Fix: check "
                         "--url and that `assay serve` runs") from None


def run_remote(args: argparse.Namespace) -> int:
    from urllib.parse import quote

    from assay.cli._console import console

    name = quote(args.name, safe="")
    if args.compare_command == "status":
        doc = _request(args, "GET", f"/v1/comparisons/{name}/decision")
    elif args.compare_command == "history":
        doc = _request(args, "GET", f"/v1/comparisons/{name}/history")
    else:
        doc = _request(args, "POST", f"/v1/comparisons/{name}/reset")
    if args.json or args.compare_command == "reset":
        print(json.dumps(doc, indent=2))
        return 0
    out = console()
    if args.compare_command == "history":
        from rich.table import Table

        table = Table(title=f"{args.name}: decisions")
        for col in ("at", "event", "decision", "reason"):
            table.add_column(col)
        for e in doc.get("entries", []):
            table.add_row(e["at"], e["event"], e["decision"], str(e["evidence"].get("reason", "")))
        out.print(table)
        return 0
    print_decision(out, doc)
    return 0


def print_decision(out: Any, doc: dict[str, Any]) -> None:
    from rich.table import Table

    def num(x: Any) -> str:
        return "—" if x is None else f"{x:.4g}"

    verdict = doc.get("verdict") or {}
    since = f" since {verdict['at']}" if verdict else ""
    out.print(f"[bold]{doc.get('comparison')}[/bold] ({doc.get('mode')}, model {doc.get('model')}): "
              f"[bold]{doc.get('decision')}[/bold]{since}, score {doc.get('score')}; {doc.get('reason')}")
    table = Table()
    for col in ("metric", "control (n)", "candidate (n)", "difference", "interval", "margin", "decision", "reason"):
        table.add_column(col)
    for m in doc.get("metrics", []):
        table.add_row(m["metric"] + ("" if m.get("critical", True) else " (advisory)"),
                      f"{num(m['control']['value'])} ({m['control']['n']})",
                      f"{num(m['candidate']['value'])} ({m['candidate']['n']})", num(m["difference"]),
                      f"{num(m['ci_low'])} to {num(m['ci_high'])}", num(m["margin"]), m["decision"], m["reason"])
    out.print(table)
    for w in doc.get("warnings", []):
        out.print(f"warning: {w}")


def _values(path: str, args: argparse.Namespace, extra: list[str]) -> tuple[Any, Any, Any]:
    import numpy as np
    import pyarrow.compute as pc

    from assay.data.tables import open_table

    source = open_table(path)
    if args.value is not None:
        cols = [args.value]
    elif args.label is not None and args.prediction is not None:
        cols = [args.label, args.prediction]
    else:
        raise InputError(f"compare sequential: expected --value COLUMN, or --label and --prediction for "
                         f"{args.metric}, found neither. Fix: e.g. --label y --prediction pred")
    have_time = args.timestamp_column in source.columns
    wanted = [*cols, *extra] + ([args.timestamp_column] if have_time else [])
    missing = [c for c in wanted if c not in source.columns]
    if missing:
        raise ColumnError(f"{path}: expected the column {missing[0]!r}, found columns {source.columns}. Fix: name "
                          "the right one with --value, --label, --prediction or --id-column")
    table = source.read(list(dict.fromkeys(wanted)))
    if args.value is not None:
        col = table.column(args.value)
        try:
            values = np.asarray(pc.cast(col, "float64").to_numpy(zero_copy_only=False), np.float64)
        except Exception:
            raise ColumnError(f"{path}, column {args.value!r}: expected numbers, found {col.type}") from None
    else:
        a = table.column(args.label).to_pylist()
        b = table.column(args.prediction).to_pylist()
        values = np.array([float(str(x) == str(y)) for x, y in zip(a, b, strict=True)])
    if np.isnan(values).any():
        row = int(np.flatnonzero(np.isnan(values))[0])
        raise ColumnError(f"{path}, row {row + 1}: expected a value, found a missing one. Fix: drop the rows "
                          "without an outcome")
    if have_time:
        from assay.watch.events import parse_time

        times = np.array([parse_time(v) if not isinstance(v, (int, float)) else float(v)
                          for v in table.column(args.timestamp_column).to_pylist()], dtype=np.float64)
    else:
        times = np.arange(len(values), dtype=np.float64)
    ids = table.column(extra[0]).to_pylist() if extra else None
    return values, times, ids


def run_sequential(args: argparse.Namespace) -> int:
    import numpy as np

    from assay.cli._console import console
    from assay.live.offline import replay

    extra = [args.id_column] if args.paired else []
    c, ct, cid = _values(args.control, args, extra)
    t, tt, tid = _values(args.candidate, args, extra)
    if args.paired:
        where = {str(v): i for i, v in enumerate(cid)}
        pairs = [(where[str(v)], j) for j, v in enumerate(tid) if str(v) in where]
        if not pairs:
            raise InputError(f"--paired: expected requests in both tables under {args.id_column!r}, found no id in "
                             "common. Fix: check --id-column, or compare the tables unpaired")
        ic, it = (np.array(x) for x in zip(*sorted(pairs, key=lambda p: ct[p[0]]), strict=True))
        c, ct, t, tt = c[ic], ct[ic], t[it], ct[ic]
    hib = not args.lower_is_better
    if args.metric == "accuracy" and args.value is None:
        hib = True
    out = replay(c, ct, t, tt, higher_is_better=hib, margin=args.margin, margin_relative=args.margin_relative,
                 alpha=args.alpha, t_star=args.t_star, min_outcomes=args.min_outcomes, every=args.every,
                 paired=args.paired)
    out["metric"] = args.metric
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    from rich.table import Table

    con = console()
    con.print(f"[bold]{args.metric}[/bold]: {out['n_control']} control and {out['n_candidate']} candidate "
              f"outcomes{' (paired)' if args.paired else ''}, {out['looks']} looks every {args.every}; decision: "
              f"[bold]{out['decision']}[/bold]")
    table = Table(title="the first look of each decision")
    for col in ("decision", "outcomes", "n control", "n candidate", "difference", "interval"):
        table.add_column(col)
    for decision, look in out["first"].items():
        table.add_row(decision, str(look["outcomes"]), str(look["n_control"]), str(look["n_candidate"]),
                      "—" if look["difference"] is None else f"{look['difference']:.4g}",
                      "—" if look["ci_low"] is None else f"{look['ci_low']:.4g} to {look['ci_high']:.4g}")
    con.print(table)
    return 0
