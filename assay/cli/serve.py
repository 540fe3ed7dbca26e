"""``assay serve``: the watch service over the store of a config (or ``--store``), on uvicorn."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from assay.errors import ConfigError


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "serve", help="run the watch service (ingest, windows, reads) over the config's store",
        description="Example: assay serve --config watch.yaml --port 8000. --workers N runs N HTTP processes; "
        "the materializer (folding events into windows) runs in one process of its own beside them, restarted "
        "should it fail (--materializer thread: on a thread of the one HTTP process instead). Any number of "
        "services may share a store: one materializes at a time (a lock). Needs the watch extra.")
    p.add_argument("--config", required=True, help="watch.yaml")
    p.add_argument("--store", help="the store URL, instead of the config's `store:` (e.g. postgresql://...)")
    p.add_argument("--host", default="127.0.0.1", help="the address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="the port (default 8000)")
    p.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--materializer", choices=["process", "thread"], default="process",
                   help="where the materializer runs: a process of its own, on the other core (default), or a "
                        "thread of the HTTP process (one process in all; slower ingest)")
    p.add_argument("--log-level", default="warning", choices=["critical", "error", "warning", "info", "debug"])
    p.set_defaults(handler=run)


def _need_extra() -> None:
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise ConfigError("assay serve: expected the service's dependencies, found them missing. Fix: pip install "
                          "'assay[watch]'") from None


def run(args: argparse.Namespace) -> int:
    _need_extra()
    import uvicorn

    from assay.watch.config import load_config
    from assay.watch.monitor import Monitor

    if args.workers < 1:
        raise ConfigError(f"--workers: expected at least 1, found {args.workers}. Fix: e.g. --workers 4")
    if args.materializer == "thread" and args.workers > 1:
        raise ConfigError("--materializer thread: expected one HTTP process, found --workers "
                          f"{args.workers}. Fix: drop --materializer thread (the default runs it in its own process)")
    config = load_config(args.config)  # validated here, so a bad config exits 2 before anything listens
    from assay.live.config import comparisons

    comparisons(config, args.config)
    from assay.slo.config import slos

    for warning in slos(config, args.config)[1]:
        print(f"assay serve: warning: {warning}", file=sys.stderr)
    from assay.slo.alerting import alerting

    alerting(config, args.config)
    monitor = Monitor(config, store_url=args.store)  # creates or migrates the store's schema
    print(f"assay serve: {len(config.models)} model(s), store {monitor.store.engine.url.render_as_string()}, "
          f"listening on http://{args.host}:{args.port}", file=sys.stderr, flush=True)
    from assay.service.worker import MaterializerProcess, tune_interpreter

    background = None
    if args.materializer == "process":
        background = MaterializerProcess(args.config, args.store)
        background.start()
    try:
        if args.workers == 1:
            from assay.service.app import create_app

            app = create_app(monitor, background=background is None)
            tune_interpreter()
            uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, access_log=False)
            return 0
        monitor.close()
        os.environ["ASSAY_CONFIG"] = os.path.abspath(args.config)
        os.environ["ASSAY_MATERIALIZER"] = args.materializer
        if args.store:
            os.environ["ASSAY_STORE"] = args.store
        uvicorn.run("assay.service.app:factory", factory=True, host=args.host, port=args.port,
                    workers=args.workers, log_level=args.log_level, access_log=False)
        return 0
    finally:
        if background is not None:
            background.close()
