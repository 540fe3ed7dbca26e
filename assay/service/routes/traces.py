"""``POST /v1/traces``: OTLP/HTTP trace exports (protobuf or JSON) become events of the mapped models."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from assay.service.deps import Ingest, MonitorDep
from assay.service.limits import read_body, saturation
from assay.service.wire import TRACE_ERRORS

router = APIRouter(tags=["ingest"])

_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "application/x-protobuf": {"schema": {"type": "string", "format": "binary",
                                          "description": "an OTLP ExportTraceServiceRequest"}},
    "application/json": {"schema": {"type": "object", "description": "OTLP/JSON ExportTraceServiceRequest"}},
}}}


@router.post("/v1/traces", responses=TRACE_ERRORS, openapi_extra=_BODY,
             summary="OTLP/HTTP traces: spans with the GenAI conventions become events of the mapped models")
async def post_traces(request: Request, monitor: MonitorDep, _: Ingest) -> Response:
    from assay.watch.otlp import partial_success, response_protobuf

    body = await read_body(request)
    content_type = request.headers.get("content-type", "")
    async with saturation(request):
        batch, _done = await run_in_threadpool(monitor.ingest_traces, body, content_type)
    request.app.state.wake()
    if content_type.split(";")[0].strip().lower() == "application/x-protobuf":
        return Response(response_protobuf(batch), media_type="application/x-protobuf")
    return JSONResponse(partial_success(batch))
