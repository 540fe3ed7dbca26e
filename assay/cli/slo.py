"""``assay slo status --config watch.yaml``: every SLO's SLI, error budget, burn rates and alert conditions, read
from the store of the config (or ``--store``). Exit 0 when nothing fires, 1 when an alert condition holds (for a
cron job or a CI check), 2 on bad input."""

from __future__ import annotations

import argparse
import json
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser("slo", help="service-level objectives of models: status", description="Service-level "
                       "objectives of models. Example: assay slo status --config watch.yaml")
    commands = p.add_subparsers(dest="slo_command", metavar="COMMAND")
    s = commands.add_parser("status", help="every SLO: SLI, budget left, burn rates, alerts",
                            description="Every SLO of the config: its SLI over the period, the error budget left, "
                            "the burn rate over each alert window and which alert conditions hold. Exit 0 when none "
                            "fires, 1 when one does.")
    s.add_argument("--config", default="watch.yaml", help="the watch.yaml (default ./watch.yaml)")
    s.add_argument("--store", help="the store URL (default: the config's)")
    s.add_argument("--slo", help="only this SLO")
    s.add_argument("--json", action="store_true", help="print the assay.slo/1 documents as JSON")
    s.set_defaults(handler=run)
    r = commands.add_parser("rules", help="Prometheus recording and alerting rules of the event SLOs",
                            description="Write Prometheus recording and alerting rules (Sloth's naming) for the "
                            "event SLOs, over the counters of assay's /metrics. Example: assay slo rules --config "
                            "watch.yaml --out rules.yml")
    r.add_argument("--config", default="watch.yaml", help="the watch.yaml (default ./watch.yaml)")
    r.add_argument("--out", help="the rules file to write (default: standard output)")
    r.set_defaults(handler=run_rules)
    p.set_defaults(handler=lambda args: (p.print_help(), 2)[1])


def run_rules(args: argparse.Namespace) -> int:
    import sys

    from assay.data.atomic import atomic_write
    from assay.slo.config import slos
    from assay.slo.rules import render
    from assay.watch.config import load_config

    config = load_config(args.config)
    found, warnings = slos(config, args.config)
    for w in warnings:
        print(f"assay slo rules: warning: {w}", file=sys.stderr)
    skipped = [n for n, s in found.items() if s.sli.event is None]
    if skipped:
        print(f"assay slo rules: window SLOs {skipped} have no Prometheus counters; assay evaluates them itself",
              file=sys.stderr)
    text = render(found, config.window_seconds)
    if args.out:
        atomic_write(args.out, text)
    else:
        print(text, end="")
    return 0


def run(args: argparse.Namespace) -> int:
    from assay.cli._console import console
    from assay.slo.status import SLOs
    from assay.watch.config import load_config
    from assay.watch.monitor import Monitor

    config = load_config(args.config)
    monitor = Monitor(config, store_url=args.store)
    try:
        slos = SLOs(monitor)
        docs = [slos.status(args.slo)] if args.slo else slos.all()
    finally:
        monitor.close()
    firing = any(a["firing"] for d in docs for a in d["alerts"])
    if args.json:
        print(json.dumps({"slos": docs, "warnings": slos.warnings}, indent=2))
        return 1 if firing else 0
    from rich.table import Table

    out = console()
    table = Table(title="SLOs")
    for col in ("slo", "model", "objective", "SLI", "events", "budget left", "burn 1h | 6h | 1d | 3d", "alerts"):
        table.add_column(col)
    for d in docs:
        def pct(x: Any) -> str:
            return "—" if x is None else f"{100 * x:.2f}%"

        rates = {r["window"]: r["burn_rate"] for r in d["burn_rates"]}
        longs = [a["long_window"] for a in d["alerts"]]
        burn = " | ".join("—" if rates.get(w) is None else f"{rates[w]:.2f}" for w in longs)
        fired = [a["severity"] for a in d["alerts"] if a["firing"]]
        table.add_row(d["name"], d["model"], f"{d['objective']:g} / {d['period']}", pct(d["sli_value"]),
                      str(d["total"]), pct(d["error_budget"]["remaining"]), burn,
                      ", ".join(sorted(set(fired))) or ("no data" if d["status"] == "no_data" else "none"))
    out.print(table)
    for w in slos.warnings:
        out.print(f"warning: {w}")
    return 1 if firing else 0
