"""``assay dashboards grafana --config watch.yaml --out grafana/``: Grafana dashboards (executive, on-call, debug per
model) over assay's Prometheus metrics, with file-provisioning YAML for the data source and the dashboards."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser("dashboards", help="Grafana dashboards as code", description="Dashboards as code. "
                       "Example: assay dashboards grafana --config watch.yaml --out grafana/")
    commands = p.add_subparsers(dest="dashboards_command", metavar="COMMAND")
    g = commands.add_parser("grafana", help="Grafana dashboards and provisioning files",
                            description="Write three Grafana dashboards per model (executive, on-call, debug) over "
                            "assay's Prometheus metrics, and provisioning YAML for the data source and dashboards.")
    g.add_argument("--config", default="watch.yaml", help="the watch.yaml (default ./watch.yaml)")
    g.add_argument("--out", required=True, help="folder to write (dashboards/ and provisioning/ inside)")
    g.add_argument("--prometheus-url", default="http://prometheus:9090",
                   help="the Prometheus that scrapes assay, for the data source (default http://prometheus:9090)")
    g.set_defaults(handler=run)
    p.set_defaults(handler=lambda args: (p.print_help(), 2)[1])


def run(args: argparse.Namespace) -> int:
    from assay.slo.config import slos
    from assay.slo.grafana import write
    from assay.watch.config import load_config

    config = load_config(args.config)
    found, _ = slos(config, args.config)
    written = write(config, found, Path(args.out), prometheus_url=args.prometheus_url)
    print(f"assay dashboards: {len(written)} files under {args.out}")
    return 0
