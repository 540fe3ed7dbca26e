"""Request limits: body size (413) and in-flight ingest requests (503 with Retry-After when saturated)."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import zlib
from collections.abc import AsyncIterator

from fastapi import HTTPException, Request


async def read_body(request: Request) -> bytes:
    """The request body, decompressed (gzip or deflate), refused beyond ``limits.max_bytes``."""
    limit = request.app.state.monitor.config.limits.max_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, {"message": f"body: expected at most {limit} bytes, found {declared}. "
                                             "Fix: send smaller batches"})
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, {"message": f"body: expected at most {limit} bytes, found more. "
                                                 "Fix: send smaller batches"})
        chunks.append(chunk)
    body = b"".join(chunks)
    encoding = request.headers.get("content-encoding", "").lower()
    if encoding in ("gzip", "deflate"):
        try:
            reader = gzip.decompress if encoding == "gzip" else zlib.decompress
            body = reader(body)
        except (OSError, zlib.error, EOFError) as exc:
            raise HTTPException(400, {"message": f"body: expected {encoding} data, found bytes that do not "
                                                 f"decompress ({exc}). Fix: check Content-Encoding"}) from None
        if len(body) > limit:
            raise HTTPException(413, {"message": f"body: expected at most {limit} bytes decompressed, found "
                                                 f"{len(body)}. Fix: send smaller batches"})
    return body


@contextlib.asynccontextmanager
async def saturation(request: Request) -> AsyncIterator[None]:
    """Admit the request if fewer than ``limits.max_pending`` ingest requests are in flight, else 503."""
    sem: asyncio.Semaphore = request.app.state.pending
    if sem.locked():
        raise HTTPException(503, {"message": "server: expected capacity for the request, found every ingest slot "
                                             "busy. Fix: retry after the Retry-After seconds"},
                            headers={"Retry-After": "1"})
    async with sem:
        yield
