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
        description="Example: assay serve --config watch.yaml --port 8000. With PostgreSQL, --workers N runs N "
        "processes; exactly one of them materializes (an advisory lock). Needs the watch extra.")
    p.add_argument("--config", required=True, help="watch.yaml")
    p.add_argument("--store", help="the store URL, instead of the config's `store:` (e.g. postgresql://...)")
    p.add_argument("--host", default="127.0.0.1", help="the address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="the port (default 8000)")
    p.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
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
    config = load_config(args.config)  # validated here, so a bad config exits 2 before anything listens
    monitor = Monitor(config, store_url=args.store)  # creates or migrates the store's schema
    print(f"assay serve: {len(config.models)} model(s), store {monitor.store.engine.url.render_as_string()}, "
          f"listening on http://{args.host}:{args.port}", file=sys.stderr, flush=True)
    if args.workers == 1:
        from assay.service.app import create_app, tune_gc

        app = create_app(monitor)
        tune_gc()
        uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level,
                    access_log=False)
        return 0
    monitor.close()
    os.environ["ASSAY_CONFIG"] = os.path.abspath(args.config)
    if args.store:
        os.environ["ASSAY_STORE"] = args.store
    uvicorn.run("assay.service.app:factory", factory=True, host=args.host, port=args.port, workers=args.workers,
                log_level=args.log_level, access_log=False)
    return 0
