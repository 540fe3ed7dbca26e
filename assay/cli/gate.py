"""``assay gate``: a candidate run against a baseline under a policy; exit 0 pass, 1 fail, 3 inconclusive."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from assay.errors import InputError


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "gate",
        help="decide a candidate run against a baseline under a policy (exit 0 pass, 1 fail, 3 inconclusive)",
        description="Example: assay gate candidate.json --baseline baseline.json --policy policy.yaml "
        "--markdown summary.md --junit gate.xml. --baseline @promoted takes the promoted run of the store.",
    )
    p.add_argument("candidate", help="the candidate's run document (JSON)")
    p.add_argument("--baseline", help="the baseline's run document, or a store reference (@promoted, a run id)")
    p.add_argument("--policy", required=True, help="the policy (YAML)")
    p.add_argument("--markdown", help="write a Markdown summary (also appended to $GITHUB_STEP_SUMMARY when set)")
    p.add_argument("--junit", help="write JUnit XML, one test case per check")
    p.add_argument("--json", dest="json_out", help="write the decisions as JSON")
    p.add_argument("--home", help="run store folder for @references (default $ASSAY_HOME or ./.assay)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(handler=run)


def read_run(path: str) -> dict[str, Any]:
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise InputError(f"run {path}: expected a readable run document, found {exc.strerror or exc}. "
                         "Fix: check the path") from None
    try:
        doc: dict[str, Any] = json.loads(text)
        return doc
    except json.JSONDecodeError as exc:
        raise InputError(f"run {path}, line {exc.lineno} column {exc.colno}: expected JSON, found {exc.msg}. "
                         "Fix: pass the run.json written by assay") from None


def _baseline(ref: str | None, home: str | None, candidate: dict[str, Any]) -> tuple[dict[str, Any] | None, Any]:
    if ref is None:
        return None, None
    if ref.startswith("@") or (not os.path.exists(ref) and not ref.endswith(".json")):
        from assay.store import open_store

        store = open_store(home)
        if ref == "@promoted" and (candidate.get("model") or {}).get("name"):
            try:
                return store.get(f"@promoted:{candidate['model']['name']}"), None
            except InputError:
                pass
        return store.get(ref), None
    return read_run(ref), ref


def run(args: argparse.Namespace) -> int:
    from assay.cli._console import console as make_console
    from assay.data.atomic import atomic_write
    from assay.gate.decide import gate
    from assay.gate.policy import load_policy
    from assay.report.gate import render_junit, render_markdown, render_terminal

    policy = load_policy(args.policy)
    candidate = read_run(args.candidate)
    baseline, baseline_path = _baseline(args.baseline, args.home, candidate)
    result = gate(candidate, policy, baseline, candidate_path=args.candidate, baseline_path=baseline_path)
    markdown = render_markdown(result)
    if args.markdown:
        atomic_write(args.markdown, markdown)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a") as f:
            f.write(markdown + "\n")
    if args.junit:
        atomic_write(args.junit, render_junit(result))
    if args.json_out:
        atomic_write(args.json_out, json.dumps(result.to_dict(), indent=2) + "\n")
    if not args.quiet:
        render_terminal(result, make_console())
    return result.exit_code
