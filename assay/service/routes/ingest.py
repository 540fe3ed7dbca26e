"""``POST /v1/models/{model}/predictions`` and ``.../labels``: a batch is acknowledged only once durable."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from assay.service.deps import Ingest, MonitorDep
from assay.service.limits import read_body, saturation
from assay.service.wire import INGEST_ERRORS, Events, Ingested
from assay.watch.events import decode_body

router = APIRouter(prefix="/v1/models", tags=["ingest"])

_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": Events.model_json_schema()},
    "application/x-ndjson": {"schema": {"type": "string", "description": "one JSON event per line"}},
    "application/vnd.apache.arrow.stream": {"schema": {"type": "string", "format": "binary"}},
}}}


async def _events(request: Request) -> list[Any]:
    body = await read_body(request)
    return decode_body(body, request.headers.get("content-type"))


@router.post("/{model}/predictions", response_model=Ingested, responses=INGEST_ERRORS, openapi_extra=_BODY,
             summary="Log predictions (JSON {events}, NDJSON or Arrow IPC)")
async def post_predictions(model: str, request: Request, monitor: MonitorDep, _: Ingest) -> Ingested:
    monitor.context(model)
    events = await _events(request)
    async with saturation(request):
        done = await run_in_threadpool(monitor.ingest_predictions, model, events)
    request.app.state.wake()
    return Ingested(**done.to_dict())


@router.post("/{model}/labels", response_model=Ingested, responses=INGEST_ERRORS, openapi_extra=_BODY,
             summary="Log labels (and outcomes): rows of the model's id and label columns")
async def post_labels(model: str, request: Request, monitor: MonitorDep, _: Ingest) -> Ingested:
    monitor.context(model)
    events = await _events(request)
    async with saturation(request):
        done = await run_in_threadpool(monitor.ingest_labels, model, events)
    request.app.state.wake()
    return Ingested(**done.to_dict())
