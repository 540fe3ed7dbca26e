"""The FastAPI application: routers, error mapping, and the background worker (materializer and retention).

Errors map to status codes once, here: bad events 422 (every bad event listed), bad queries and bodies 400, unknown
models and ids 404, oversized batches 413, a store that is down or a saturated server 503 with ``Retry-After`` (and
no acknowledgement). The background worker runs in the one process that holds the materializer lock (a PostgreSQL
advisory lock, or a file lock beside the SQLite file); the others only ingest and read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException  # FastAPI's own subclasses it; body errors raise the base

from assay._version import __version__
from assay.errors import AssayError, InputError
from assay.live.compare import LiveComparisons
from assay.service.auth import Authenticator
from assay.service.deps import scope_any
from assay.service.exposition import CONTENT_TYPE as EXPOSITION_TYPE
from assay.service.exposition import Exposition, route_of
from assay.service.routes import alerts, compare, ingest, read, slo, traces, ui
from assay.service.wire import ERRORS, Health
from assay.service.worker import Worker, tune_interpreter
from assay.slo.status import SLOs
from assay.store.watch import StoreUnavailable
from assay.watch.events import BatchError
from assay.watch.monitor import Monitor, NotFound, TooLarge, UnknownModel

log = logging.getLogger("assay.service")


def _error(status: int, message: str, errors: list[Any] | None = None,
           headers: dict[str, str] | None = None) -> JSONResponse:
    detail: dict[str, Any] = {"message": message}
    if errors is not None:
        detail["errors"] = errors
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def create_app(monitor: Monitor, *, background: bool = True) -> FastAPI:
    """The service over ``monitor``; with ``background`` the lifespan starts the materializer worker."""
    worker = Worker(monitor) if background else None

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.pending = asyncio.Semaphore(monitor.config.limits.max_pending)
        if worker is not None:
            worker.start()
        try:
            yield
        finally:
            if worker is not None:
                worker.close()
            monitor.close()

    app = FastAPI(title="assay watch", version=__version__, lifespan=lifespan,
                  description="Production predictions, late labels, windowed metrics, label-free estimates and "
                              "drift. Every data route needs `Authorization: Bearer <token>`.")
    app.state.monitor = monitor
    app.state.auth = Authenticator(monitor.store, monitor.config.admin_token)
    app.state.worker = worker
    app.state.wake = (worker.wake.set if worker is not None else (lambda: None))
    app.state.pending = asyncio.Semaphore(monitor.config.limits.max_pending)
    app.include_router(ingest.router)
    app.include_router(traces.router)
    app.include_router(read.router)
    app.state.live = LiveComparisons(monitor)
    app.include_router(compare.router)
    app.state.slos = SLOs(monitor)
    app.include_router(slo.router)
    app.include_router(alerts.router)
    app.include_router(ui.router)
    exposition = Exposition(monitor, app.state.slos)
    app.state.exposition = exposition

    @app.middleware("http")
    async def _timed(request: Request, call_next: Any) -> Any:
        t0 = time.perf_counter()
        response = await call_next(request)
        exposition.observe(route_of(request.scope), request.method, time.perf_counter() - t0)
        return response

    @app.get("/metrics", tags=["metrics"], summary="Prometheus text format (scope metrics or read)",
             response_class=Response, responses={200: {"content": {"text/plain": {}}}, **ERRORS})
    async def metrics_route(_: Annotated[str, Depends(scope_any("metrics", "read"))]) -> Response:
        return Response(await asyncio.to_thread(exposition.render), media_type=EXPOSITION_TYPE)

    @app.get("/healthz", response_model=Health, tags=["health"], summary="The process is up")
    async def healthz() -> Health:
        return Health(status="ok")

    @app.get("/readyz", response_model=Health, tags=["health"], responses={503: {"model": Health}},
             summary="The store answers")
    async def readyz() -> Any:
        ok = await asyncio.to_thread(monitor.store.healthy)
        return Health(status="ok") if ok else JSONResponse({"status": "store unavailable"}, status_code=503)

    @app.exception_handler(BatchError)
    async def _batch(_: Request, exc: BatchError) -> JSONResponse:
        return _error(422, str(exc), exc.errors)

    @app.exception_handler(TooLarge)
    async def _large(_: Request, exc: TooLarge) -> JSONResponse:
        return _error(413, str(exc))

    @app.exception_handler(UnknownModel)
    async def _unknown(_: Request, exc: UnknownModel) -> JSONResponse:
        return _error(404, str(exc))

    @app.exception_handler(NotFound)
    async def _missing(_: Request, exc: NotFound) -> JSONResponse:
        return _error(404, str(exc))

    @app.exception_handler(InputError)
    async def _input(_: Request, exc: InputError) -> JSONResponse:
        return _error(400, str(exc))

    @app.exception_handler(AssayError)
    async def _assay(_: Request, exc: AssayError) -> JSONResponse:
        return _error(400, str(exc))

    @app.exception_handler(StoreUnavailable)
    async def _store(request: Request, exc: StoreUnavailable) -> JSONResponse:
        log.warning("store unavailable: %s", exc)
        stored = "; nothing was stored" if request.method == "POST" else ""
        return _error(503, f"store: expected a reachable database, found it unavailable{stored}. "
                           "Fix: retry after the Retry-After seconds", headers={"Retry-After": "1"})

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: DBAPIError) -> JSONResponse:
        # reads and token look-ups reach the database outside the store's ingest transactions: a lost or refused
        # connection there is the store being unavailable too (503), anything else a bug (500)
        if not (isinstance(exc, (OperationalError, InterfaceError)) or exc.connection_invalidated):
            raise exc
        return await _store(request, StoreUnavailable(str(exc.orig) if exc.orig is not None else str(exc)))

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, dict) else {"message": str(exc.detail)}
        if detail.get("message") == "There was an error parsing the body":  # FastAPI's words for undecodable bytes
            detail = {"message": "request body: expected JSON in UTF-8, found bytes that do not decode. Fix: send a "
                                 "JSON object (see /openapi.json)"}
        return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        return _error(400, f"request: expected valid parameters, found {problems}. Fix: see /openapi.json")

    def openapi() -> dict[str, Any]:
        # invalid parameters are answered 400 (above), never FastAPI's default 422 "Validation Error": drop that
        # one from the document (the ingest routes' own 422, bad events, stays)
        if app.openapi_schema is None:
            schema = FastAPI.openapi(app)
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    responses = operation.get("responses", {})
                    if responses.get("422", {}).get("description") == "Validation Error":
                        del responses["422"]
            for name in ("HTTPValidationError", "ValidationError"):
                schema.get("components", {}).get("schemas", {}).pop(name, None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def factory() -> FastAPI:
    """The app of ``$ASSAY_CONFIG`` (and ``$ASSAY_STORE``): what ``assay serve --workers N`` runs in each worker
    (with ``$ASSAY_MATERIALIZER=process`` the materializer runs in a process of its own, not on a thread here)."""
    from assay.watch.config import load_config

    config = load_config(os.environ["ASSAY_CONFIG"])
    app = create_app(Monitor(config, store_url=os.environ.get("ASSAY_STORE") or None),
                     background=os.environ.get("ASSAY_MATERIALIZER", "thread") == "thread")
    tune_interpreter()
    return app
