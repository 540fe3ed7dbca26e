"""``GET /v1/alerts``, ``GET|POST /v1/silences``, ``DELETE /v1/silences/{id}``: the alerts' state and silences."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from assay.service.deps import Read, scope_any
from assay.service.wire import ERRORS
from assay.slo.alerting import parse_matchers
from assay.slo.alerts import listed
from assay.store.alerts import AlertStore

router = APIRouter(tags=["alerts"])
Admin = Annotated[str, Depends(scope_any("admin"))]


class SilenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    matchers: list[str] = Field(min_length=1, description="label=value, every one must match (e.g. model=fraud)")
    duration: str = Field("2h", description="how long, e.g. 30m, 2h, 1d")
    comment: str = Field(min_length=1, max_length=2000)
    created_by: str = Field("assay", max_length=200)


def _store(request: Request) -> AlertStore:
    return AlertStore(request.app.state.monitor.store)


@router.get("/v1/alerts", responses=ERRORS, summary="Every alert: pending, firing or resolved, and whether silenced")
async def list_alerts(request: Request, _: Read) -> dict[str, Any]:
    store, now = _store(request), request.app.state.monitor.now()
    return {"alerts": await run_in_threadpool(listed, store, now)}


@router.get("/v1/silences", responses=ERRORS, summary="Every silence, active or expired")
async def list_silences(request: Request, _: Read) -> dict[str, Any]:
    rows = await run_in_threadpool(_store(request).silences)
    now = request.app.state.monitor.now()
    return {"silences": [{**r, "active": r["starts_at"] <= now < r["ends_at"]} for r in rows]}


@router.post("/v1/silences", responses=ERRORS, summary="Silence the alerts whose labels match (admin scope)")
async def add_silence(body: SilenceIn, request: Request, _: Admin) -> dict[str, Any]:
    from assay.watch.config import parse_duration

    try:
        matchers = parse_matchers(body.matchers)
        seconds = parse_duration(body.duration, "duration")
    except Exception as exc:
        raise HTTPException(400, {"message": f"silence: {exc}"}) from None
    if seconds <= 0:
        raise HTTPException(400, {"message": f"silence: expected a positive duration, found {body.duration!r}"})
    now = request.app.state.monitor.now()
    sid = await run_in_threadpool(lambda: _store(request).add_silence(
        matchers, starts_at=now, ends_at=now + seconds, created_by=body.created_by, comment=body.comment))
    return {"id": sid, "matchers": matchers, "starts_at": now, "ends_at": now + seconds}


@router.delete("/v1/silences/{sid}", responses=ERRORS, summary="Expire a silence now (admin scope)")
async def delete_silence(sid: str, request: Request, _: Admin) -> dict[str, Any]:
    now = request.app.state.monitor.now()
    if not await run_in_threadpool(lambda: _store(request).expire_silence(sid, now=now)):
        raise HTTPException(404, {"message": f"silence {sid!r}: expected an active silence, found none"})
    return {"id": sid, "expired": True}
