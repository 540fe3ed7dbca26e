"""``assay demo watch``: start the monitoring service on a temporary store, replay a day with a regression, and show
where to look (the logic is :mod:`assay.watch.demo`)."""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any


def run_watch(args: argparse.Namespace) -> int:
    import httpx
    from rich.table import Table

    from assay.cli._console import console as make_console
    from assay.cli._progress import ReadProgress
    from assay.errors import InputError
    from assay.watch.client import Client
    from assay.watch.config import load_config
    from assay.watch.demo import DAY, DemoService, replay_day, wait_for, write_inputs

    if args.per_minute < 1 or args.per_minute > 2000:
        raise InputError(f"--per-minute: expected 1 to 2000 events a minute, found {args.per_minute}")
    if args.serve_for is not None and args.serve_for < 0:
        raise InputError(f"--serve-for: expected seconds >= 0, found {args.serve_for}")
    console = make_console(quiet=args.quiet)
    folder = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="assay-demo-watch-"))
    if (folder / "watch.sqlite").exists():
        raise InputError(f"assay demo watch: {folder / 'watch.sqlite'} exists already. Fix: give a new --out "
                         "folder (or none: a temporary one)")
    config = write_inputs(folder, seed=args.seed)
    service = DemoService(config, port=args.port)
    service.start()
    try:
        token = service.token()
        h = {"Authorization": f"Bearer {token}"}
        end = time.time()
        console.print(f"assay serve is up on {service.url} (store {folder / 'watch.sqlite'}); replaying a day of "
                      f"traffic onto the last 24 hours, {args.per_minute} events a minute ...")
        with ReadProgress(console, quiet=args.quiet, label="replaying") as update, \
                Client(service.url, token=token) as client:
            total = int(DAY // 60) * args.per_minute
            sent = replay_day(client, load_config(config).models["fraud"], end=end, per_minute=args.per_minute,
                              seed=args.seed, progress=(lambda n: update(n, total)) if update else (lambda _: None))

        def caught_up() -> bool:
            lag = httpx.get(f"{service.url}/v1/models/fraud/status", headers=h, timeout=30).json()
            return bool(lag["materialization_lag"]["predictions"] == 0 and lag["materialization_lag"]["labels"] == 0)

        wait_for(caught_up, 300, "the materializer to fold every event")

        def fired() -> list[dict[str, Any]]:
            alerts = httpx.get(f"{service.url}/v1/alerts", headers=h, timeout=30).json()["alerts"]
            firing = [a for a in alerts if a["state"] == "firing"]
            return firing if any(a["labels"]["alertname"] == "AssaySLOBurnPage" for a in firing) else []

        try:
            firing = wait_for(fired, 90, "the regression's page")
        except InputError:  # show what there is rather than nothing
            firing = [a for a in httpx.get(f"{service.url}/v1/alerts", headers=h, timeout=30).json()["alerts"]
                      if a["state"] == "firing"]
        console.print(f"replayed {sent['predictions']:,} predictions and their labels; the regression began 2 hours "
                      "ago, the input shift 3 hours ago")
        t = Table(title="alerts firing now", header_style="bold", show_edge=False)
        for col in ("alert", "severity", "SLO", "summary"):
            t.add_column(col)
        for a in firing:
            t.add_row(a["labels"]["alertname"], a["labels"]["severity"], a["labels"].get("slo", "—"),
                      (a.get("annotations") or {}).get("summary", ""))
        console.print(t if firing else "no alert fired (see the service's log: " + str(service.log) + ")")
        drift = httpx.get(f"{service.url}/v1/models/fraud/drift", params={"from": end - 3600, "to": end}, headers=h,
                          timeout=60).json()
        shifted = sorted(c for c, e in (drift.get("columns") or {}).items() if isinstance(e, dict) and e.get("drifted"))
        console.print(f"inputs of the last hour against the reference: drifted in {', '.join(shifted) or 'none'} "
                      "(a drift ticket needs 3 drifted evaluations of the trailing hour in a row: it fires after 3 "
                      "hours of live traffic; the debug view shows the distributions now)")
        console.print(f"dashboard: {service.url}/ui/models/fraud/executive  (sign in with the token below)")
        console.print(f"token (scopes ingest, read, admin): {token}")
        console.print(f"try: assay slo status --config {config}   |   curl -H 'Authorization: Bearer TOKEN' "
                      f"{service.url}/metrics")
        if args.serve_for is None:
            console.print("serving until Ctrl-C ...")
            try:
                while service.proc is not None and service.proc.poll() is None:
                    time.sleep(1)
            except KeyboardInterrupt:
                pass
        elif args.serve_for > 0:
            time.sleep(args.serve_for)
    finally:
        service.stop()
    return 0
