"""The Python client of the monitoring service: log predictions and labels, delivered in the background.

>>> import httpx
>>> def server(request):  # stands in for the service
...     n = len(json.loads(request.content)["events"])
...     return httpx.Response(200, json={"accepted": n, "duplicates": 0, "conflicts": 0, "conflict_ids": []})
>>> with Client("http://watch.local", "t0ken", transport=httpx.MockTransport(server)) as client:
...     ids = client.log_predictions("fraud", [{"id": "tx-1", "score": 0.93}, {"score": 0.12}])
...     client.log_labels("fraud", [{"id": "tx-1", "is_fraud": 1}])
>>> ids[0], len(ids[1])
('tx-1', 36)
>>> client.stats
Stats(accepted=3, duplicates=0, conflicts=0, rejected=0, retries=0)

Rows are queued and sent by one background thread, in batches of ``batch_size`` rows (per model and kind), at the
latest ``flush_interval`` seconds after they were queued, and at :meth:`Client.flush`, :meth:`Client.close`, the
end of a ``with`` block and a clean interpreter exit (an ``atexit`` hook).

What each answer of the server does to a batch:

=====================================  ==========================================================================
200                                    counted in ``stats`` (accepted, duplicates, conflicts); the server answers
                                       only once the batch is durable
422                                    the whole batch is rejected: the failure path, never retried
413                                    split in halves, each sent on its own, down to one event (a single event
                                       still too large goes to the failure path)
429, 502, 503, 504, network errors,    retried with exponential backoff: 0.1 s doubling, capped at 5 s per wait,
timeouts                               each wait drawn in [w/2, w]; a ``Retry-After`` header (seconds) is honoured
                                       (the wait is at least that long). Once the next wait would take the time
                                       spent past ``max_retry_time``, the batch goes to the failure path
401, 403, 404                          the failure path, and a :class:`ClientError` with the server's message is
                                       raised by the next call of ``log_*``, ``flush`` or ``close``
any other status                       the failure path, never retried
=====================================  ==========================================================================

Retrying is safe: the server keeps one copy of an event per id, so a batch whose answer was lost counts as
duplicates when it is sent again.

The failure path, in this order of preference: ``on_reject(model, kind, rows, error)`` when given; else one JSON
line ``{"model", "kind", "error", "rows"}`` appended to the file ``dead_letter``; else a :class:`DeliveryWarning`
and the batch kept in ``client.rejected`` (a list of such dicts). When ``on_reject`` raises or the dead-letter file
cannot be written, the batch falls through to the warning and ``client.rejected``: a batch is never dropped
silently. ``error`` is a dict: ``status`` (the HTTP status, or ``None`` for a network error), ``message``, and for
422 the server's ``errors`` (``index``, ``id``, ``field``, ``expected``, ``found``), after retries ``attempts``.
``on_reject`` runs on the background thread.
"""

from __future__ import annotations

import atexit
import functools
import json
import math
import os
import random
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from datetime import time as dtime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import numpy as np
import pyarrow as pa

from assay.errors import AssayError, ConfigError, InputError, message
from assay.watch.ids import uuid7

__all__ = ["Client", "ClientError", "DeliveryWarning", "Stats", "append_dead_letter"]

Rejector = Callable[[str, str, list[dict[str, Any]], dict[str, Any]], Any]

_RETRY_STATUSES = frozenset({429, 502, 503, 504})
_REFUSED_STATUSES = frozenset({401, 403, 404})
_BACKOFF_BASE, _BACKOFF_CAP = 0.1, 5.0
_KINDS = ("predictions", "labels")


class ClientError(AssayError):
    """The server refused the client itself (401 bad token, 403 not allowed, 404 no such route or model), or the
    client was used after :meth:`Client.close`."""


class DeliveryWarning(UserWarning):
    """A batch could not be delivered and no ``on_reject`` or ``dead_letter`` was given: it is in
    ``client.rejected``."""


@dataclass(frozen=True)
class Stats:
    """Events counted so far: as the server answered (accepted, duplicates, conflicts), handed to the failure path
    (rejected), and requests sent again (retries)."""

    accepted: int = 0
    duplicates: int = 0
    conflicts: int = 0
    rejected: int = 0
    retries: int = 0


class Client:
    """Send predictions and labels to the monitoring service at ``url`` (default ``$ASSAY_URL``) with ``token``
    (default ``$ASSAY_TOKEN``; no ``Authorization`` header when neither is set).

    ``batch_size`` rows per request; ``flush_interval`` seconds at most between a row being queued and its batch
    being sent; ``max_retry_time`` seconds spent retrying one request before it goes to the failure path;
    ``timeout`` seconds per request. ``on_reject`` and ``dead_letter`` are the failure path (see the module).
    ``transport`` is an :mod:`httpx` transport (``httpx.MockTransport`` in tests); ``id_column`` names the event id;
    ``sleep`` and ``clock`` (monotonic seconds) drive the retry waits, the retry budget and the flush interval.

    ``log_predictions`` and ``log_labels`` may be called from several threads.
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        batch_size: int = 1000,
        flush_interval: float = 1.0,
        max_retry_time: float = 60.0,
        timeout: float = 10.0,
        on_reject: Rejector | None = None,
        dead_letter: str | os.PathLike[str] | None = None,
        transport: httpx.BaseTransport | None = None,
        id_column: str = "id",
        sleep: Callable[[float], Any] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        url = url if url is not None else os.environ.get("ASSAY_URL")
        if not url:
            raise ConfigError(message(where="Client url", expected="the service's base URL", found="none given",
                                      fix="pass url='https://watch.example.com' or set $ASSAY_URL"))
        if not url.startswith(("http://", "https://")):
            raise ConfigError(message(where="Client url", expected="an http:// or https:// URL", found=repr(url),
                                      fix="pass the service's base URL, e.g. 'http://localhost:8000'"))
        _check_number("batch_size", batch_size, integer=True, minimum=1)
        _check_number("flush_interval", flush_interval, minimum=0, strict=True)
        _check_number("max_retry_time", max_retry_time, minimum=0)
        _check_number("timeout", timeout, minimum=0, strict=True)
        if not isinstance(id_column, str) or not id_column:
            raise ConfigError(message(where="Client id_column", expected="a column name", found=repr(id_column)))
        token = token if token is not None else os.environ.get("ASSAY_TOKEN")
        self.url = url.rstrip("/")
        self.batch_size = int(batch_size)
        self.flush_interval = float(flush_interval)
        self.max_retry_time = float(max_retry_time)
        self.id_column = id_column
        self.on_reject = on_reject
        self.dead_letter = Path(dead_letter) if dead_letter is not None else None
        self.rejected: list[dict[str, Any]] = []
        self._sleep = sleep
        self._clock = clock
        self._jitter = random.Random()
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout, transport=transport)
        self._cond = threading.Condition()
        self._file_lock = threading.Lock()
        self._pending: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._queued = 0  # rows ever queued
        self._flushed = 0  # every row queued before this count has been sent or handed to the failure path
        self._flush_wanted = False
        self._stopping = False
        self._closed = False
        self._error: ClientError | None = None
        self._counts = {name: 0 for name in Stats.__dataclass_fields__}
        self._next_due = clock() + self.flush_interval
        self._worker = threading.Thread(target=self._run, name="assay-watch-client", daemon=True)
        self._worker.start()
        self._atexit = functools.partial(_close_at_exit, weakref.ref(self))
        atexit.register(self._atexit)

    def __repr__(self) -> str:
        return f"Client({self.url!r}, batch_size={self.batch_size}, closed={self._closed})"

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    def stats(self) -> Stats:
        """A snapshot of the counters (events, except ``retries``: requests sent again)."""
        with self._cond:
            return Stats(**self._counts)

    # --- logging -------------------------------------------------------------------------------------------------

    def log_predictions(self, model: str, rows: Any) -> list[str]:
        """Queue predictions of ``model``; the ids of the rows, in row order.

        ``rows`` is a list of dicts, a pandas or polars DataFrame or a pyarrow Table / RecordBatch, one event per
        row, its fields named by the model's column roles. A row without an id (no ``id_column`` key, or ``None``)
        gets a new UUIDv7; ids are sent as strings. Datetimes are sent as RFC 3339 strings in UTC (naive ones are
        taken as UTC), NumPy scalars as Python numbers, NaN as ``null``.
        """
        records = self._prepare(model, "predictions", rows)
        ids = []
        column = self.id_column
        for row in records:
            value = row.get(column)
            row[column] = uuid7() if value is None else value if isinstance(value, str) else str(value)
            ids.append(row[column])
        self._enqueue(model, "predictions", records)
        return ids

    def log_labels(self, model: str, rows: Any) -> None:
        """Queue labels (outcomes) of ``model``: rows as for :meth:`log_predictions`, each with the id of its
        prediction; a row without one raises :class:`~assay.errors.InputError` naming it, and nothing is queued."""
        records = self._prepare(model, "labels", rows)
        column = self.id_column
        for index, row in enumerate(records):
            value = row.get(column)
            if value is None:
                raise InputError(message(
                    where=f"row {index} of the labels of model {model!r}",
                    expected=f"the id of its prediction in field {column!r}",
                    found="no such field" if column not in row else "None",
                    fix="give every label the id log_predictions returned for its prediction",
                ))
            if not isinstance(value, str):
                row[column] = str(value)
        self._enqueue(model, "labels", records)

    def flush(self) -> None:
        """Block until every row queued before this call has been sent or handed to the failure path; then raise
        the pending :class:`ClientError`, if the server refused the client meanwhile."""
        with self._cond:
            if threading.current_thread() is not self._worker:
                target = self._queued
                if self._flushed < target:
                    self._flush_wanted = True
                    self._cond.notify_all()
                    while self._flushed < target and self._worker.is_alive():
                        self._cond.wait(timeout=0.5)
            self._raise_error()

    def close(self) -> None:
        """Flush, then stop the background thread and close the connections. Calling it again does nothing."""
        if self._closed:
            return
        try:
            self.flush()
        finally:
            with self._cond:
                self._closed = self._stopping = True
                self._cond.notify_all()
            if threading.current_thread() is not self._worker:
                self._worker.join()
            self._http.close()
            atexit.unregister(self._atexit)
        with self._cond:
            self._raise_error()

    # --- internals -----------------------------------------------------------------------------------------------

    def _raise_error(self) -> None:
        error, self._error = self._error, None
        if error is not None:
            raise error

    def _prepare(self, model: str, kind: str, rows: Any) -> list[dict[str, Any]]:
        if not isinstance(model, str) or not model:
            raise ConfigError(message(where=f"log_{kind} model", expected="the model's name", found=repr(model)))
        return [_jsonable_row(row, index, kind) for index, row in enumerate(_records(rows, kind))]

    def _enqueue(self, model: str, kind: str, records: list[dict[str, Any]]) -> None:
        if not records:
            return
        with self._cond:
            if self._closed:
                raise ClientError(message(where=f"log_{kind}", expected="an open client", found="a closed client",
                                          fix="make a new Client, or log before close()"))
            self._raise_error()
            pending = self._pending.setdefault((model, kind), [])
            pending.extend(records)
            self._queued += len(records)
            if len(pending) >= self.batch_size:
                self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    now = self._clock()
                    take_all = self._flush_wanted or self._stopping or now >= self._next_due
                    if take_all or any(len(rows) >= self.batch_size for rows in self._pending.values()):
                        break
                    self._cond.wait(timeout=min(max(self._next_due - now, 0.005), self.flush_interval))
                batches = self._take(take_all)
                if take_all:
                    mark = self._queued
                    self._flush_wanted = False
                    self._next_due = self._clock() + self.flush_interval
                stop = self._stopping and take_all
            for model, kind, rows in batches:
                try:
                    self._deliver(model, kind, rows)
                except Exception as exc:  # the worker never dies: the batch goes to the failure path
                    self._fail(model, kind, rows, {"status": None, "message": f"{type(exc).__name__}: {exc}"})
            with self._cond:
                if take_all:
                    self._flushed = mark
                self._cond.notify_all()
            if stop:
                return

    def _take(self, take_all: bool) -> list[tuple[str, str, list[dict[str, Any]]]]:
        """Cut the pending rows into batches: the full ones, and the rest too when ``take_all`` (predictions of
        every model before labels)."""
        batches: list[tuple[str, str, list[dict[str, Any]]]] = []
        size = self.batch_size
        for key in sorted(self._pending, key=lambda k: _KINDS.index(k[1])):
            rows = self._pending[key]
            end = len(rows) if take_all else len(rows) - len(rows) % size
            batches.extend((key[0], key[1], rows[start:min(start + size, end)]) for start in range(0, end, size))
            del rows[:end]
            if not rows:
                del self._pending[key]
        return batches

    def _deliver(self, model: str, kind: str, rows: list[dict[str, Any]]) -> None:
        path = f"/v1/models/{quote(model, safe='')}/{kind}"
        response, error = self._post(path, rows)
        if response is None:
            self._fail(model, kind, rows, error)
            return
        status = response.status_code
        if status == 200:
            body = _json_body(response)
            body = body if isinstance(body, dict) else {}
            with self._cond:
                for name in ("accepted", "duplicates", "conflicts"):
                    value = body.get(name, len(rows) if name == "accepted" else 0)
                    self._counts[name] += value if isinstance(value, int) else 0
            return
        if status == 413 and len(rows) > 1:
            half = len(rows) // 2
            self._deliver(model, kind, rows[:half])
            self._deliver(model, kind, rows[half:])
            return
        text, errors = _server_message(response)
        error = {"status": status, "message": text}
        if status == 413:
            error["message"] = f"a single event is larger than the server accepts ({text})"
        if status == 422:
            error["errors"] = errors
        if status in _REFUSED_STATUSES:
            self._refused(model, kind, status, text)
        self._fail(model, kind, rows, error)

    def _post(self, path: str, rows: list[dict[str, Any]]) -> tuple[httpx.Response | None, dict[str, Any]]:
        """The server's answer, retried as the module says; or ``None`` and the error once retries ran out."""
        body = json.dumps({"events": rows}, allow_nan=False, separators=(",", ":")).encode()
        start = self._clock()
        waited = 0.0
        attempt = 0
        while True:
            retry_after = None
            try:
                response = self._http.post(path, content=body)
            except httpx.TransportError as exc:
                status, reason = None, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            else:
                if response.status_code not in _RETRY_STATUSES:
                    return response, {}
                status, reason = response.status_code, f"HTTP {response.status_code}: {_server_message(response)[0]}"
                retry_after = _retry_after(response.headers.get("Retry-After"))
            wait = min(_BACKOFF_CAP, _BACKOFF_BASE * 2.0**attempt) * (0.5 + 0.5 * self._jitter.random())
            if retry_after is not None:
                wait = max(wait, retry_after)
            spent = max(self._clock() - start, waited)
            if spent + wait > self.max_retry_time:
                return None, {"status": status, "attempts": attempt + 1,
                              "message": f"gave up after {attempt + 1} attempts in {spent:.1f} s "
                                         f"(max_retry_time {self.max_retry_time:g} s): {reason}"}
            with self._cond:
                self._counts["retries"] += 1
            self._sleep(wait)
            waited += wait
            attempt += 1

    def _refused(self, model: str, kind: str, status: int, text: str) -> None:
        expected, fix = {
            401: ("a token the server accepts", "pass token= or set $ASSAY_TOKEN to a valid token"),
            403: (f"a token allowed to send {kind} of model {model!r}",
                  "use a token whose scopes include this model, or ask the service's admin for one"),
            404: (f"a route for model {model!r}", "check the url and the model name (models are configured in "
                  "the service's watch.yaml)"),
        }[status]
        error = ClientError(message(where=f"POST {self.url}/v1/models/{model}/{kind}", expected=expected,
                                    found=f"HTTP {status}: {text}", fix=fix))
        with self._cond:
            if self._error is None:
                self._error = error

    def _fail(self, model: str, kind: str, rows: list[dict[str, Any]], error: dict[str, Any]) -> None:
        with self._cond:
            self._counts["rejected"] += len(rows)
        entry = {"model": model, "kind": kind, "error": error, "rows": rows}
        problem = ""
        if self.on_reject is not None:
            try:
                self.on_reject(model, kind, rows, error)
                return
            except Exception as exc:
                problem = f"on_reject raised {type(exc).__name__}: {exc}; "
        elif self.dead_letter is not None:
            try:
                with self._file_lock:
                    append_dead_letter(self.dead_letter, model, kind, rows, error)
                return
            except OSError as exc:
                problem = f"cannot append to the dead-letter file {str(self.dead_letter)!r}: {exc}; "
        with self._cond:
            self.rejected.append(entry)
        warnings.warn(f"assay.watch: {len(rows)} {kind} of model {model!r} not delivered ({error.get('message')}); "
                      f"{problem}kept in client.rejected. Pass on_reject= or dead_letter= to handle them",
                      DeliveryWarning, stacklevel=2)


def append_dead_letter(path: str | os.PathLike[str], model: str, kind: str, rows: list[dict[str, Any]],
                       error: dict[str, Any]) -> None:
    """Append one JSON line ``{"model", "kind", "error", "rows"}`` to the dead-letter file ``path`` (created if
    missing). Its rows can be sent again as they are: ``client.log_predictions(line["model"], line["rows"])``."""
    entry = {"model": model, "kind": kind, "error": error, "rows": rows}
    line = json.dumps(entry, allow_nan=False, separators=(",", ":")) + "\n"
    with open(path, "a", encoding="utf-8") as f:
        f.write(line)


def _close_at_exit(ref: weakref.ref[Client]) -> None:
    client = ref()
    if client is None:
        return
    try:
        client.close()
    except Exception as exc:  # at exit there is no caller left to raise to
        warnings.warn(f"assay.watch: closing the client at exit: {exc}", DeliveryWarning, stacklevel=1)


def _check_number(name: str, value: Any, *, integer: bool = False, minimum: float = 0, strict: bool = False) -> None:
    ok = not isinstance(value, bool) and isinstance(value, int if integer else int | float)
    ok = ok and math.isfinite(value) and (value > minimum if strict else value >= minimum)
    if not ok:
        kind = "an integer" if integer else "a number"
        bound = f"> {minimum:g}" if strict else f">= {minimum:g}"
        raise ConfigError(message(where=f"Client {name}", expected=f"{kind} {bound}", found=repr(value)))


def _records(rows: Any, kind: str) -> list[Any]:
    """The rows of a list of dicts or a frame, as a list of mappings (not yet checked)."""
    if isinstance(rows, pa.Table | pa.RecordBatch):
        return rows.to_pylist()
    module, name = type(rows).__module__.split(".")[0], type(rows).__name__
    if module in ("pandas", "polars") and name == "DataFrame":
        try:
            table = pa.Table.from_pandas(rows, preserve_index=False) if module == "pandas" else rows.to_arrow()
        except (pa.ArrowException, TypeError, ValueError) as exc:
            raise InputError(message(where=f"the {module} DataFrame of {kind}", expected="columns of one type each",
                                     found=str(exc), fix="give each column a single type")) from exc
        return table.to_pylist()
    if isinstance(rows, Mapping) or isinstance(rows, str | bytes) or not isinstance(rows, Iterable):
        found = "a single dict" if isinstance(rows, Mapping) else f"a {type(rows).__name__}"
        raise InputError(message(where=f"the rows of log_{kind}",
                                 expected="a list of dicts, a pandas or polars DataFrame or a pyarrow Table",
                                 found=found, fix="pass [row] for a single row" if isinstance(rows, Mapping) else None))
    return list(rows)


def _jsonable_row(row: Any, index: int, kind: str) -> dict[str, Any]:
    if not isinstance(row, Mapping):
        raise InputError(message(where=f"row {index} of the {kind}", expected="a dict of fields",
                                 found=f"a {type(row).__name__}"))
    out = {}
    for key, value in row.items():
        if not isinstance(key, str):
            raise InputError(message(where=f"row {index} of the {kind}", expected="string field names",
                                     found=f"the key {key!r}", fix=f"use str({key!r})"))
        try:
            out[key] = _jsonable(value)
        except TypeError as exc:
            raise InputError(message(where=f"field {key!r} of row {index} of the {kind}",
                                     expected="a number, string, boolean, datetime, None, or a list or dict of those",
                                     found=str(exc), fix="convert the value before logging it")) from None
    return out


def _jsonable(value: Any) -> Any:
    """A JSON value for ``value``: datetimes as RFC 3339 in UTC, NumPy scalars as Python, NaN and NaT as None."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime):
        if value != value:  # pandas NaT
            return None
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat() + "Z"
    if isinstance(value, date | dtime):
        return value.isoformat()
    if isinstance(value, np.datetime64):
        return None if np.isnat(value) else _jsonable(value.astype("datetime64[us]").item())
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, Decimal):
        return _jsonable(float(value))
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_jsonable(v) for v in value]
    raise TypeError(f"a {type(value).__module__}.{type(value).__qualname__}")


def _json_body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _server_message(response: httpx.Response) -> tuple[str, list[Any]]:
    """The server's message and its list of errors, from ``{"detail": {"message", "errors"}}``, FastAPI's
    ``{"detail": "..."}`` or ``{"detail": [...]}``, or the body's text."""
    body = _json_body(response)
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, dict):
        errors = detail.get("errors")
        return str(detail.get("message") or response.reason_phrase), errors if isinstance(errors, list) else []
    if isinstance(detail, str):
        return detail, []
    if isinstance(detail, list):
        return "the server rejected the request", detail
    text = response.text.strip()[:500]
    return text or response.reason_phrase or f"HTTP {response.status_code}", []


def _retry_after(value: str | None) -> float | None:
    """Seconds of a ``Retry-After`` header; ``None`` when absent or not a number (HTTP dates are not read)."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None
