"""``assay alerts``: the alerts of a running service, and silences.

    assay alerts list --url URL --token T
    assay alerts silence --matcher model=fraud --for 2h --comment "retraining" --url URL --token ADMIN
    assay alerts unsilence SILENCE_ID --url URL --token ADMIN

Exit codes: 0 done, 2 bad input (a malformed matcher names it) or a service that refused or could not be reached.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from assay.errors import InputError


def add_parser(sub: Any) -> None:
    p = sub.add_parser("alerts", help="alerts of the watch service, and silences",
                       description="Alerts of the watch service, and silences. Example: assay alerts silence "
                       "--matcher model=fraud --for 2h --comment retraining --url http://localhost:8000 --token T")
    commands = p.add_subparsers(dest="alerts_command", metavar="COMMAND")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", help="the service's base URL (default: $ASSAY_URL)")
    common.add_argument("--token", help="API token (default: $ASSAY_TOKEN; silences need the admin scope)")
    ls = commands.add_parser("list", parents=[common], help="every alert: firing, resolved, silenced")
    ls.add_argument("--json", action="store_true", help="print the service's JSON answer")
    ls.set_defaults(handler=run)
    si = commands.add_parser("silence", parents=[common], help="silence the alerts whose labels match")
    si.add_argument("--matcher", action="append", required=True, metavar="LABEL=VALUE",
                    help="a label that must equal a value (repeatable: all must match), e.g. model=fraud")
    si.add_argument("--for", dest="duration", default="2h", help="how long (default 2h), e.g. 30m, 1d")
    si.add_argument("--comment", required=True, help="why (kept with the silence)")
    si.add_argument("--author", default="assay-cli", help="who (default assay-cli)")
    si.set_defaults(handler=run)
    un = commands.add_parser("unsilence", parents=[common], help="expire a silence now")
    un.add_argument("id", help="the silence's id")
    un.set_defaults(handler=run)
    sl = commands.add_parser("silences", parents=[common], help="every silence")
    sl.set_defaults(handler=run)
    p.set_defaults(handler=lambda args: (p.print_help(), 2)[1])


def run(args: argparse.Namespace) -> int:
    from assay.cli.compare import _request_json
    from assay.slo.alerting import parse_matchers

    cmd = args.alerts_command
    if cmd == "silence":
        try:
            parse_matchers(args.matcher)
        except ValueError as exc:
            raise InputError(f"--matcher: {exc}") from None
        doc = _request_json(args, "POST", "/v1/silences", {"matchers": args.matcher, "duration": args.duration,
                                                           "comment": args.comment, "created_by": args.author})
        print(f"silence {doc['id']}: {doc['matchers']} until {doc['ends_at']:.0f}")
        return 0
    if cmd == "unsilence":
        _request_json(args, "DELETE", f"/v1/silences/{args.id}", None)
        print(f"silence {args.id} expired")
        return 0
    if cmd == "silences":
        print(json.dumps(_request_json(args, "GET", "/v1/silences", None), indent=2))
        return 0
    doc = _request_json(args, "GET", "/v1/alerts", None)
    if args.json:
        print(json.dumps(doc, indent=2))
        return 0
    from rich.table import Table

    from assay.cli._console import console

    table = Table(title="alerts")
    for col in ("alert", "severity", "model", "slo", "state", "since", "silenced"):
        table.add_column(col)
    for a in doc["alerts"]:
        lab = a["labels"]
        table.add_row(lab.get("alertname", ""), lab.get("severity", ""), lab.get("model", ""), lab.get("slo", ""),
                      a["state"], a["starts_at"], "yes" if a["silenced"] else "")
    console().print(table)
    return 0
