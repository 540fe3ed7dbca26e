"""``assay tokens create|list|revoke``: API tokens of the watch service (stored hashed; shown once)."""

from __future__ import annotations

import argparse
import time
from typing import Any

from assay.errors import ConfigError


def add_parser(sub: Any) -> None:
    p = sub.add_parser("tokens", help="create, list and revoke the watch service's API tokens",
                       description="Example: assay tokens create ci-bot --scope ingest --scope read --config "
                       "watch.yaml (the token is printed once, alone on the last line).")
    tsub = p.add_subparsers(dest="tokens_command", metavar="ACTION")
    c = tsub.add_parser("create", help="create a token (printed once, on the last line)")
    c.add_argument("name")
    c.add_argument("--scope", action="append", required=True, choices=["ingest", "read", "metrics", "admin"],
                   help="repeatable")
    lst = tsub.add_parser("list", help="names, scopes, creation and revocation times (never the tokens)")
    r = tsub.add_parser("revoke", help="revoke a token by name")
    r.add_argument("name")
    for q in (c, lst, r):
        q.add_argument("--config", required=True, help="watch.yaml")
        q.add_argument("--store", help="the store URL instead of the config's")
        q.set_defaults(handler=run)
    p.set_defaults(handler=lambda args: (p.print_help(), 2)[1])


def run(args: argparse.Namespace) -> int:
    from assay.service.auth import new_token, token_digest
    from assay.store.watch import open_event_store
    from assay.watch.config import load_config

    config = load_config(args.config)
    store = open_event_store(args.store or config.store)
    try:
        if args.tokens_command == "create":
            if not args.name or len(args.name) > 100:
                raise ConfigError(f"token name: expected 1 to 100 characters, found {args.name!r}. Fix: shorten it")
            token = new_token()
            store.add_token(args.name, token_digest(token), args.scope, now=time.time())
            print(f"created token {args.name!r} with scopes {', '.join(sorted(set(args.scope)))}; it is shown "
                  "once, keep it secret:")
            print(token)
        elif args.tokens_command == "list":
            rows = store.list_tokens()
            if not rows:
                print("no tokens")
            for row in rows:
                state = "revoked" if row["revoked_at"] else "active"
                created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(row["created_at"]))
                print(f"{row['name']}\t{','.join(row['scopes'])}\t{state}\tcreated {created}")
        else:
            if not store.revoke_token(args.name, now=time.time()):
                raise ConfigError(f"token {args.name!r}: expected an active token of that name, found none. "
                                  "Fix: see `assay tokens list`")
            print(f"revoked token {args.name!r}")
    finally:
        store.close()
    return 0
