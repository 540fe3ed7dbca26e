"""Typed dependencies: the monitor, and the scope a route needs, so routes read like declarations."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from assay.service.auth import Authenticator, allowed
from assay.watch.monitor import Monitor

_bearer = HTTPBearer(auto_error=False, description="an assay token: `assay tokens create NAME --scope S`")


def get_monitor(request: Request) -> Monitor:
    monitor: Monitor = request.app.state.monitor
    return monitor


def check_token(request: Request, token: str | None, *needed: str, hint: str = "") -> str:
    """401 without a valid token, 403 without one of the ``needed`` scopes (``admin`` holds them all); the scope
    granted. The one check behind every route's dependency, and Flagger's token in a body."""
    auth: Authenticator = request.app.state.auth
    scopes = auth.scopes(token)
    if scopes is None:
        raise HTTPException(401, {"message": f"expected `Authorization: Bearer <token>`{hint} with a valid token, "
                                             "found none or an unknown one. Fix: create one with `assay tokens "
                                             f"create NAME --scope {needed[0]}`"},
                            headers={"WWW-Authenticate": "Bearer"})
    if not any(allowed(scopes, n) for n in needed):
        wanted = f"the {needed[0]!r} scope" if len(needed) == 1 else f"one of the scopes {list(needed)}"
        raise HTTPException(403, {"message": f"expected a token with {wanted}, found scopes {sorted(scopes)}. "
                                             f"Fix: use a token created with --scope {needed[0]}"})
    return needed[0]


def scope_any(*needed: str) -> Any:
    """A dependency admitting a token with any of ``needed`` (``/metrics``: a scraper's ``metrics`` or ``read``)."""
    def check(request: Request,
              credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> str:
        return check_token(request, credentials.credentials if credentials is not None else None, *needed)

    return check


_scope = scope_any


MonitorDep = Annotated[Monitor, Depends(get_monitor)]
Ingest = Annotated[str, Depends(_scope("ingest"))]
Read = Annotated[str, Depends(_scope("read"))]
