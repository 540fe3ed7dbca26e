"""Live comparisons: the decision for rollout controllers (Argo Rollouts' web metric, Flagger's webhooks), the
audit log, and a reset.

``GET .../decision`` answers 200 with an ``assay.decision/1`` document whenever the service runs (a store that
cannot be read is a ``hold`` saying why): Argo Rollouts counts any other status as a measurement error. Flagger
posts its webhooks with a JSON body and no custom headers, so the ``flagger/`` routes take the token from the
body's ``metadata.token`` as well as from the ``Authorization`` header, and answer by the decision: ``check``
200 unless rollback (409), ``promote`` 200 only on promote, ``rollback`` 200 only on rollback (else 403). A
failure to decide is a hold there too: never a 5xx or a 429.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from assay.live.compare import LiveComparisons, UnknownComparison
from assay.service.deps import Read, check_token
from assay.service.wire import ERRORS, Document, DocumentResponse

log = logging.getLogger("assay.service")
router = APIRouter(prefix="/v1/comparisons", tags=["compare"])
_bearer = HTTPBearer(auto_error=False)


def get_live(request: Request) -> LiveComparisons:
    live: LiveComparisons = request.app.state.live
    return live


LiveDep = Annotated[LiveComparisons, Depends(get_live)]


def _unknown(exc: UnknownComparison) -> HTTPException:
    return HTTPException(404, {"message": str(exc)})


async def _decide(live: LiveComparisons, name: str) -> dict[str, Any]:
    """The decision, or a hold that says why none could be taken (unknown names are still a 404)."""
    live.get(name)
    try:
        return await run_in_threadpool(live.decision, name)
    except UnknownComparison:
        raise
    except Exception as exc:  # the store unavailable, a bug: a rollout must not read it as a pass or a failure
        log.exception("comparison %s: no decision", name)
        c = live.get(name)
        arm = {"predictions": 0, "labeled": 0}
        return {"schema": "assay.decision/1", "comparison": name, "model": c.model, "mode": c.mode,
                "control": {"version": c.control.version, **arm}, "candidate": {"version": c.candidate.version, **arm},
                "evaluated_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"), "decision": "hold",
                "current": "hold", "verdict": None, "score": 0.0,
                "reason": f"no decision could be taken ({type(exc).__name__}: {exc}); holding",
                "alpha": c.alpha, "alpha_per_metric": c.alpha / len(c.metrics), "t_star": c.t_star,
                "min_outcomes": c.min_outcomes, "metrics": [], "warnings": ["no decision: " + str(exc)[:200]]}


@router.get("", responses=ERRORS, summary="The configured comparisons")
async def list_comparisons(live: LiveDep, _: Read) -> dict[str, Any]:
    """Every comparison with what its outcomes say now (``current``; the stored verdict is on its decision route),
    each version's states read once."""
    current = await run_in_threadpool(live.evaluate_all)
    return {"comparisons": [{"name": c.name, "model": c.model, "mode": c.mode, "control": c.control.version,
                             "candidate": c.candidate.version, "metrics": [m.key for m in c.metrics],
                             "current": current[c.name]["current"], "score": current[c.name]["score"]}
                            for c in live.comparisons.values()]}


@router.get("/{name}/decision", response_model=Document, responses=ERRORS,
            summary="assay.decision/1: promote, hold or rollback, with the evidence per metric")
async def decision(name: str, live: LiveDep, _: Read) -> DocumentResponse:
    try:
        return DocumentResponse(await _decide(live, name))
    except UnknownComparison as exc:
        raise _unknown(exc) from None


@router.get("/{name}/history", response_model=Document, responses=ERRORS,
            summary="The audit log: every change of decision, the verdict and resets, with their evidence")
async def history(name: str, live: LiveDep, _: Read, limit: int = 100) -> DocumentResponse:
    try:
        return DocumentResponse(await run_in_threadpool(live.history, name, max(1, min(limit, 1000))))
    except UnknownComparison as exc:
        raise _unknown(exc) from None


@router.post("/{name}/reset", response_model=Document, responses=ERRORS,
             summary="Forget the stored verdict (admin scope): the next read decides afresh")
async def reset(name: str, request: Request, live: LiveDep,
                credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> DocumentResponse:
    check_token(request, credentials.credentials if credentials else None, "admin")
    try:
        return DocumentResponse(await run_in_threadpool(live.reset, name))
    except UnknownComparison as exc:
        raise _unknown(exc) from None


_ANSWER = {"check": lambda d: 409 if d == "rollback" else 200,
           "promote": lambda d: 200 if d == "promote" else 403,
           "rollback": lambda d: 200 if d == "rollback" else 403}


_FLAGGER = {**ERRORS, 409: {"description": "check: the comparison rolled back"},
            403: {"description": "promote / rollback: the decision is not that (or the token lacks the scope)"}}


@router.post("/{name}/flagger/{hook}", responses=_FLAGGER,
             summary="Flagger webhooks: check (pre-rollout, rollout), promote (confirm-promotion), rollback")
async def flagger(name: str, hook: str, request: Request, live: LiveDep,
                  credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> JSONResponse:
    if hook not in _ANSWER:
        raise HTTPException(404, {"message": f"flagger hook {hook!r}: expected check, promote or rollback"})
    token = credentials.credentials if credentials else None
    if token is None:
        try:
            body = orjson.loads(await request.body() or b"{}")
        except orjson.JSONDecodeError:
            body = {}
        meta = body.get("metadata") if isinstance(body, dict) else None
        token = meta.get("token") if isinstance(meta, dict) and isinstance(meta.get("token"), str) else None
    check_token(request, token, "read", hint=" (or, from Flagger, `metadata.token` in the body)")
    try:
        doc = await _decide(live, name)
    except UnknownComparison as exc:
        raise _unknown(exc) from None
    status = _ANSWER[hook](doc["decision"])
    return JSONResponse({"decision": doc["decision"], "reason": doc.get("reason"), "score": doc.get("score"),
                         "hook": hook}, status_code=status)
