"""The ``assay`` command: parse, call the library, render, exit.

Exit codes: 0 success, 1 a check failed, 2 bad usage or input (a clear message, never a traceback), 3 inconclusive.
Set ``ASSAY_DEBUG=1`` to see the traceback of an internal error.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence

from assay._version import __version__
from assay.errors import AssayError

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_INCONCLUSIVE = 0, 1, 2, 3


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"assay: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    from assay.cli import (
        alerts,
        compare,
        dashboards,
        demo,
        drift,
        evaluate,
        gate,
        importer,
        runs,
        serve,
        slo,
        tokens,
        watch,
    )

    parser = _Parser(prog="assay", description="Evaluate machine-learning models before and after they ship.")
    parser.add_argument("--version", action="version", version=f"assay {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    evaluate.add_parser(sub)
    demo.add_parser(sub)
    drift.add_parser(sub)
    gate.add_parser(sub)
    runs.add_parser(sub)
    importer.add_parser(sub)
    serve.add_parser(sub)
    tokens.add_parser(sub)
    watch.add_parser(sub)
    compare.add_parser(sub)
    slo.add_parser(sub)
    alerts.add_parser(sub)
    dashboards.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.handler(args))
    except AssayError as exc:
        print(f"assay: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        target = f" {exc.filename!r}" if getattr(exc, "filename", None) else ""
        print(f"assay: error: cannot read or write{target}: {exc.strerror or exc}. Fix: check the path and its "
              "permissions", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("assay: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the CLI never shows a traceback unless asked to
        if os.environ.get("ASSAY_DEBUG"):
            traceback.print_exc()
        print(f"assay: internal error: {type(exc).__name__}: {exc}. Set ASSAY_DEBUG=1 for the traceback and "
              "report it.", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
