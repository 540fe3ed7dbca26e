"""Reads: models, status, metrics (a run document, or a series with ``step``), drift and stored events."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.concurrency import run_in_threadpool

from assay.service.deps import MonitorDep, Read
from assay.service.wire import ERRORS, Document, DocumentResponse

router = APIRouter(prefix="/v1/models", tags=["read"])

From = Annotated[str, Query(alias="from", description="RFC 3339 or epoch seconds; widened to whole windows")]
To = Annotated[str, Query(alias="to", description="RFC 3339 or epoch seconds (exclusive)")]
# keys are text without NUL characters (PostgreSQL cannot hold them): anything else is a bad request, not a look-up
KEY = r"^[^\x00]*$"
Version = Annotated[str | None, Query(description="one model version (default: all versions merged)", pattern=KEY)]
EventId = Annotated[str, Path(description="the id of a prediction", pattern=KEY)]


@router.get("", responses=ERRORS, summary="The configured models")
async def list_models(monitor: MonitorDep, _: Read) -> dict[str, Any]:
    return {"models": await run_in_threadpool(monitor.models)}


@router.get("/{model}/status", response_model=Document, responses=ERRORS,
            summary="assay.status/1: counts, pending labels, lag")
async def status(model: str, monitor: MonitorDep, _: Read) -> DocumentResponse:
    return DocumentResponse(await run_in_threadpool(monitor.status, model))


@router.get("/{model}/metrics", response_model=Document, responses=ERRORS,
            summary="assay.run/1 of the range, or assay.series/1 with step")
async def metrics(model: str, monitor: MonitorDep, _: Read, start: From, end: To, version: Version = None,
                  segment: Annotated[str | None, Query(description="a segment column: per-group metrics in the "
                                                                   "series")] = None,
                  step: Annotated[str | None, Query(description="e.g. 1h: a series of that step")] = None,
                  ) -> DocumentResponse:
    if step is None:
        return DocumentResponse(await run_in_threadpool(lambda: monitor.metrics(model, start, end, version=version)))
    return DocumentResponse(await run_in_threadpool(lambda: monitor.series(model, start, end, step=step,
                                                                           version=version, segment=segment)))


@router.get("/{model}/drift", response_model=Document, responses=ERRORS,
            summary="assay.drift/1 of the range against the reference profile")
async def drift(model: str, monitor: MonitorDep, _: Read, start: From, end: To,
                version: Version = None) -> DocumentResponse:
    return DocumentResponse(await run_in_threadpool(lambda: monitor.drift(model, start, end, version=version)))


@router.get("/{model}/events", response_model=Document, responses=ERRORS,
            summary="The newest predictions of the range flagged out of distribution (redacted)")
async def flagged(model: str, monitor: MonitorDep, _: Read, start: From, end: To, version: Version = None,
                  flag: Annotated[Literal["ood"], Query(description="which events: ood (out of the reference's "
                                                                    "range)")] = "ood",
                  limit: Annotated[int, Query(ge=1, le=1000, description="at most this many events")] = 20,
                  ) -> DocumentResponse:
    return DocumentResponse(await run_in_threadpool(lambda: monitor.flagged(model, start, end, limit=limit,
                                                                            version=version)))


@router.get("/{model}/events/{event_id}", response_model=Document, responses=ERRORS,
            summary="The stored (redacted) predictions of an id and its label")
async def event(model: str, event_id: EventId, monitor: MonitorDep, _: Read) -> DocumentResponse:
    return DocumentResponse(await run_in_threadpool(monitor.event, model, event_id))
