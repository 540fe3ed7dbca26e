"""Wire schemas of the service (pydantic), apart from the domain objects and the store's tables.

The documents of reads (``assay.run/1``, ``assay.series/1``, ``assay.status/1``, ``assay.drift/1``) are published
as JSON Schemas in ``schemas/``; here they are typed loosely, and the tests validate real responses against them.
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response


class Events(BaseModel):
    """A batch of events: flat rows named by the model's column roles."""

    model_config = ConfigDict(json_schema_extra={"example": {"events": [
        {"id": "tx-1", "timestamp": "2026-12-01T10:00:00Z", "version": "7", "score": 0.93, "country": "DE"}]}})
    events: list[dict[str, Any]]


class Ingested(BaseModel):
    accepted: int = Field(description="events stored by this request")
    duplicates: int = Field(description="events identical to stored ones: ignored")
    conflicts: int = Field(description="events under a known key with other content: not applied")
    conflict_ids: list[str] = Field(description="the ids of the conflicting events")


class BadEvent(BaseModel):
    index: int
    id: Any = None
    field: str
    expected: str
    found: str


class ErrorDetail(BaseModel):
    message: str
    errors: list[BadEvent] = []


class Error(BaseModel):
    detail: ErrorDetail


class Health(BaseModel):
    status: str


Document = dict[str, Any]


class DocumentResponse(Response):
    """A read's document as JSON, encoded by orjson in one call (a 30-day run document or series is large: FastAPI's
    generic encoding walked it value by value)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Error, "description": "a bad query or body"},
    401: {"model": Error, "description": "no valid token"},
    403: {"model": Error, "description": "the token lacks the scope"},
    404: {"model": Error, "description": "no such model or event"},
    503: {"model": Error, "description": "the store is unavailable or the server saturated; retry after Retry-After"},
}
TRACE_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    400: {"model": Error, "description": "a bad body, or an unsupported Content-Type"},
    413: {"model": Error, "description": "the export is over the configured limits"},
}
"""Rejected spans are not an error: the 200 answer counts them (OTLP ``partialSuccess``)."""
INGEST_ERRORS: dict[int | str, dict[str, Any]] = {
    **TRACE_ERRORS,
    413: {"model": Error, "description": "the batch is over the configured limits"},
    422: {"model": Error, "description": "bad events: the whole batch is rejected, every bad event listed"},
}
