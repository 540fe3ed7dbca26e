"""``GET /v1/slos`` and ``GET /v1/slos/{name}``: every SLO's SLI, error budget, burn rates and alert conditions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool

from assay.service.deps import Read
from assay.service.wire import ERRORS, Document, DocumentResponse
from assay.slo.status import SLOs

router = APIRouter(prefix="/v1/slos", tags=["slo"])


def get_slos(request: Request) -> SLOs:
    slos: SLOs = request.app.state.slos
    return slos


SLOsDep = Annotated[SLOs, Depends(get_slos)]


@router.get("", responses=ERRORS, summary="Every SLO: SLI, budget remaining, burn rates, alert conditions")
async def list_slos(slos: SLOsDep, _: Read,
                    model: Annotated[str | None, Query(description="only the SLOs of this model")] = None,
                    ) -> dict[str, Any]:
    return {"slos": await run_in_threadpool(slos.all, model), "warnings": slos.warnings}


@router.get("/{name}", response_model=Document, responses=ERRORS,
            summary="assay.slo/1 of one SLO, with its SLI series over the period")
async def one_slo(name: str, slos: SLOsDep, _: Read,
                  step: Annotated[str | None, Query(description="series step, e.g. 1h (default)")] = None,
                  ) -> DocumentResponse:
    from assay.watch.config import parse_duration

    def work() -> dict[str, Any]:
        doc = slos.status(name)
        doc["series"] = slos.series(name, parse_duration(step, "step") if step else None)
        return doc

    return DocumentResponse(await run_in_threadpool(work))
