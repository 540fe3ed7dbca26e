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


def scope_any(*needed: str) -> Any:
    """A dependency admitting a token with any of ``needed`` (``/metrics``: a scraper's ``metrics`` or ``read``)."""
    def check(request: Request,
              credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> str:
        auth: Authenticator = request.app.state.auth
        scopes = auth.scopes(credentials.credentials if credentials is not None else None)
        if scopes is None:
            raise HTTPException(401, {"message": "expected `Authorization: Bearer <token>` with a valid token, "
                                                 "found none or an unknown one. Fix: create one with `assay tokens "
                                                 f"create NAME --scope {needed[0]}`"},
                                headers={"WWW-Authenticate": "Bearer"})
        if not any(allowed(scopes, n) for n in needed):
            raise HTTPException(403, {"message": f"expected a token with one of the scopes {list(needed)}, found "
                                                 f"scopes {sorted(scopes)}. Fix: use a token created with --scope "
                                                 f"{needed[0]}"})
        return needed[0]

    return check


def _scope(needed: str) -> Any:
    def check(request: Request,
              credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> str:
        auth: Authenticator = request.app.state.auth
        scopes = auth.scopes(credentials.credentials if credentials is not None else None)
        if scopes is None:
            raise HTTPException(401, {"message": "expected `Authorization: Bearer <token>` with a valid token, "
                                                 "found none or an unknown one. Fix: create one with `assay tokens "
                                                 "create NAME --scope ...`"},
                                headers={"WWW-Authenticate": "Bearer"})
        if not allowed(scopes, needed):
            raise HTTPException(403, {"message": f"expected a token with the {needed!r} scope, found scopes "
                                                 f"{sorted(scopes)}. Fix: use a token created with --scope {needed}"})
        return needed

    return check


MonitorDep = Annotated[Monitor, Depends(get_monitor)]
Ingest = Annotated[str, Depends(_scope("ingest"))]
Read = Annotated[str, Depends(_scope("read"))]
