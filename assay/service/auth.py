"""API tokens: created once, stored as their SHA-256 only, compared in constant time, never logged.

Scopes: ``ingest`` (post predictions, labels, traces), ``read`` (every GET of data), ``metrics`` (a Prometheus
scraper's ``GET /metrics``) and ``admin`` (all of them). A bootstrap admin token for deployments comes from the
config (``admin_token``, ``admin_token_file`` or ``${ENV}``) or from ``$ASSAY_ADMIN_TOKEN``.

>>> token = new_token()
>>> token.startswith("assay_") and len(token) > 40
True
>>> token_digest(token) == token_digest(token) != token_digest(token + "x")
True
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
import time

from assay.store.watch import EventStore

SCOPES = ("ingest", "read", "metrics", "admin")
CACHE_SECONDS = 5.0  # a revoked token stops working within this time


def new_token() -> str:
    return "assay_" + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Authenticator:
    """Scopes of a presented token: the bootstrap admin token, or a stored token (looked up by its digest)."""

    def __init__(self, store: EventStore, admin_token: str | None = None) -> None:
        self.store = store
        admin = admin_token or os.environ.get("ASSAY_ADMIN_TOKEN") or None
        self._admin = token_digest(admin) if admin else None
        self._cache: dict[str, tuple[float, frozenset[str] | None]] = {}
        self._lock = threading.Lock()

    def scopes(self, token: str | None) -> frozenset[str] | None:
        """The scopes of ``token``, or ``None`` when it is not a valid token."""
        if not token:
            return None
        digest = token_digest(token)
        if self._admin is not None and hmac.compare_digest(digest, self._admin):
            return frozenset(SCOPES)
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(digest)
        if hit is not None and hit[0] > now:
            return hit[1]
        found = self.store.token_scopes(digest)
        scopes = None if found is None else found[1]
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (now + CACHE_SECONDS, scopes)
        return scopes


def allowed(scopes: frozenset[str], needed: str) -> bool:
    return needed in scopes or "admin" in scopes
