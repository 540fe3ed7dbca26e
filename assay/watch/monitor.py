"""``Monitor``: the watch service as a Python API (ingest, materialize, query); the HTTP service is a thin layer.

>>> import tempfile, os
>>> from assay.watch.config import parse_config
>>> d = tempfile.mkdtemp()
>>> cfg = parse_config(f"store: sqlite:///{d}/w.sqlite\\nmodels:\\n  m: {{task: binary, score: s, label: y}}\\n")
>>> mon = Monitor(cfg, now=lambda: 1_800_000_000.0)
>>> mon.ingest_predictions("m", [{"id": "a", "timestamp": 1_800_000_000, "s": 0.9},
...                              {"id": "b", "timestamp": 1_800_000_010, "s": 0.2}]).accepted
2
>>> mon.ingest_labels("m", [{"id": "a", "y": 1}, {"id": "b", "y": 0}]).accepted
2
>>> mon.materialize().events
4
>>> mon.metrics("m", 1_800_000_000, 1_800_000_300)["metrics"]["accuracy"]["value"]
1.0
>>> mon.close()
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

from assay.errors import AssayError, ConfigError, InputError
from assay.store.watch import EventStore, Ingested, open_event_store
from assay.watch.config import WatchConfig
from assay.watch.events import BatchError, parse_time, prepare_labels, prepare_predictions
from assay.watch.materialize import Materializer, PassResult, window_start
from assay.watch.query import (
    STATUS_SCHEMA,
    cover,
    iso,
    range_info,
    range_states,
    run_document,
    series_document,
    widen,
)
from assay.watch.window import ModelContext, merge_all

MAX_STEPS = 10_000
MAX_SCAN = 50_000  # predictions read by one look for flagged events


class UnknownModel(AssayError):
    """A route named a model the config does not have (404)."""


class NotFound(AssayError):
    """Nothing stored under that id (404)."""


class TooLarge(InputError):
    """A batch over the configured limits (413)."""


class Monitor:
    """Ingest, materialize and query the models of a :class:`WatchConfig` over its store."""

    def __init__(self, config: WatchConfig, *, store: EventStore | None = None, store_url: str | None = None,
                 now: Callable[[], float] = time.time) -> None:
        self.config = config
        self.now = now
        self.store = store or open_event_store(store_url or config.store)
        self.window = config.window_seconds
        self.contexts = {name: ModelContext(name, m, config) for name, m in config.models.items()}
        self.materializer = Materializer(self.store, self.contexts, self.window, now)
        self.trace_rules: tuple[Any, ...] | None = None
        if config.traces:
            from assay.watch.otlp import parse_rules

            self.trace_rules = parse_rules(config.traces)
            unknown = [r.model for r in self.trace_rules if r.model not in config.models]
            if unknown:
                raise ConfigError(f"traces: expected models of the config, found {unknown}. "
                                  "Fix: add the model under models:, or correct the rule")

    def close(self) -> None:
        self.store.close()

    def context(self, model: str) -> ModelContext:
        ctx = self.contexts.get(model)
        if ctx is None:
            raise UnknownModel(f"model {model!r}: expected a model of the config ({', '.join(self.contexts)}), "
                               "found no such model. Fix: check the name, or add it under models: in watch.yaml")
        return ctx

    # -- ingest -----------------------------------------------------------------------------------------------------
    def _check_size(self, events: Sequence[Any]) -> None:
        limit = self.config.limits.max_events
        if len(events) > limit:
            raise TooLarge(f"batch: expected at most {limit} events, found {len(events)}. "
                           "Fix: send smaller batches (or raise limits.max_events)")

    def ingest_predictions(self, model: str, events: Sequence[Any]) -> Ingested:
        """Validate and store a batch of predictions (all or nothing); returns once the batch is durable."""
        ctx = self.context(model)
        self._check_size(events)
        now = self.now()
        rows = prepare_predictions(ctx.model, events, now=now, redaction_key=self.config.redaction_key)
        return self.store.insert_predictions(model, rows, now=now)

    def ingest_labels(self, model: str, events: Sequence[Any]) -> Ingested:
        ctx = self.context(model)
        self._check_size(events)
        if not ctx.model.labeled and not ctx.model.outcomes:
            raise InputError(f"model {model!r}: expected a model with labels or outcomes, found task "
                             f"{ctx.model.task!r} without outcomes. Fix: declare outcomes: for the model")
        rows = prepare_labels(ctx.model, events)
        return self.store.insert_labels(model, rows, policy=ctx.model.label_policy, now=self.now())

    def ingest_traces(self, body: bytes, content_type: str) -> tuple[Any, dict[str, Ingested]]:
        """OTLP/HTTP trace export -> events of the models the ``traces:`` rules map spans to."""
        from assay.watch.otlp import decode_request, spans_to_events

        request = decode_request(body, content_type)
        batch = spans_to_events(request, self.trace_rules or ())
        out: dict[str, Ingested] = {}
        for model, events in batch.events.items():
            ctx = self.context(model)
            mapped = [_trace_event(ctx, e) for e in events]
            try:
                out[model] = self.ingest_predictions(model, mapped)
            except BatchError as exc:  # spans the model's roles reject count as rejected, not as an error
                batch.rejected += len(exc.errors)
                batch.error_message = (batch.error_message + "; " if batch.error_message else "") + str(exc)
        return batch, out

    # -- the materializer -------------------------------------------------------------------------------------------
    def materialize(self, limit: int = 20_000, *, drain: bool = True, timeout: float = 60.0) -> PassResult:
        """Fold everything stored so far into the windows (the service runs this in the background).

        With ``drain``, wait until nothing is behind the cursor: on PostgreSQL the materializer reads only rows of
        transactions older than the oldest one running in the whole cluster, so a transaction elsewhere delays it.
        """
        if drain:
            return self.materializer.drain(limit, timeout)
        return self.materializer.run_until_idle(limit)

    def expire(self) -> int:
        now = self.now()
        return self.store.expire(now=now, events_before=now - self.config.event_retention,
                                 windows_before=now - self.config.window_retention, window_seconds=self.window)

    # -- reads ------------------------------------------------------------------------------------------------------
    def _range(self, start: Any, end: Any) -> tuple[float, float, tuple[float, float]]:
        a = _time(start, "from")
        b = _time(end, "to")
        if b <= a:
            raise InputError(f"query: expected from < to, found from={iso(a)} and to={iso(b)}. Fix: swap them")
        lo, hi = widen(a, b, self.window)
        return lo, hi, (a, b)

    def metrics(self, model: str, start: Any, end: Any, *, version: str | None = None) -> dict[str, Any]:
        """One ``assay.run/1`` document of the range (the realized metrics of its labeled predictions)."""
        ctx = self.context(model)
        if ctx.eval_config is None:
            raise InputError(f"model {model!r}: expected a model with labels for realized metrics, found task "
                             "'llm'. Fix: read its traffic with step=, or its drift")
        lo, hi, asked = self._range(start, end)
        per = range_states(self.store, model, _v(version), lo, hi, self.window)
        state = merge_all([s for states in per.values() for s in states])
        return run_document(ctx, state, versions=sorted(per) or ([version] if version else []), start=lo, end=hi,
                            asked=asked, now=self.now())

    def versions_between(self, model: str, start: float, end: float) -> list[str]:
        """The versions (``""``: events without one) with a window in ``[start, end)`` widened to whole windows."""
        self.context(model)
        lo, hi = widen(start, end, self.window)
        return sorted({v for level, a, b in cover(lo, hi, self.window)
                       for v, _, _ in self.store.window_rows(model, None, level, a, b)})

    def series(self, model: str, start: Any, end: Any, *, step: Any, version: str | None = None,
               segment: str | None = None) -> dict[str, Any]:
        from assay.watch.config import parse_duration

        ctx = self.context(model)
        seconds = parse_duration(step, "step")
        if seconds % self.window or seconds < self.window:
            raise InputError(f"step {step!r}: expected a whole multiple of the window ({self.config.window}), "
                             f"found {seconds:g} s. Fix: use e.g. step={self.config.window} or 1h")
        lo, hi, asked = self._range(start, end)
        hi = lo + math.ceil((hi - lo) / seconds) * seconds
        if (hi - lo) / seconds > MAX_STEPS:
            raise InputError(f"step {step!r}: expected at most {MAX_STEPS} steps in the range, found "
                             f"{(hi - lo) / seconds:.0f}. Fix: use a longer step or a shorter range")
        known = (*ctx.model.segments, *ctx.model.sensitive)
        if segment is not None and segment not in known:
            raise InputError(f"segment {segment!r}: expected a segment or sensitive column of model {model!r} "
                             f"({', '.join(known) or 'none configured'}), found another name. Fix: use one of those")
        return series_document(ctx, self.store, version=_v(version), start=lo, end=hi, step=int(seconds),
                               window=self.window, segment=segment, asked=asked)

    def drift(self, model: str, start: Any, end: Any, *, version: str | None = None) -> dict[str, Any]:
        """An ``assay.drift/1`` document of the range's features and text against the reference profile."""
        from assay.drift.run import drift

        ctx = self.context(model)
        if ctx.reference is None:
            raise InputError(f"model {model!r}: expected `reference: {{profile: ...}}` in the config for drift, "
                             "found none. Fix: profile a reference with `assay profile` and name it there")
        lo, hi, asked = self._range(start, end)
        per = range_states(self.store, model, _v(version), lo, hi, self.window, groupings=(), profile=True)
        profiles = [s.profile for states in per.values() for s in states if s.profile is not None]
        if not profiles:
            raise NotFound(f"model {model!r}: expected predictions in [{iso(lo)}, {iso(hi)}), found none. "
                           "Fix: widen the range")
        current = profiles[0]
        for p in profiles[1:]:
            current = current.merge(p)
        current = current.__class__(**{**current.__dict__, "sources": (f"watch:{model}",)})
        doc = drift(ctx.reference, current).to_dict()
        doc["range"] = range_info(lo, hi, asked)
        doc["model"] = {"name": model, "version": version}
        return doc

    def status(self, model: str) -> dict[str, Any]:
        self.context(model)
        counts = self.store.counts(model)
        behind_p, behind_l, oldest = self.store.lag()
        lag = 0.0 if oldest is None else max(self.now() - oldest, 0.0)
        return {"schema": STATUS_SCHEMA, "model": model, "events": counts["events"], "labels": counts["labels"],
                "pending_labels": counts["pending_labels"], "duplicates": counts["duplicates"],
                "conflicts": counts["conflicts"], "unfoldable": counts["unfoldable"],
                "materialization_lag": {"seconds": lag, "predictions": behind_p, "labels": behind_l},
                "newest_event_time": iso(counts["newest_event_time"]),
                "versions": [v or None for v in self.store.versions(model)], "window": self.config.window}

    def event(self, model: str, id_: str) -> dict[str, Any]:
        self.context(model)
        preds, label = self.store.event(model, id_)
        if not preds and label is None:
            raise NotFound(f"model {model!r}: expected an event with id {id_!r}, found none. Fix: check the id")
        return {"model": model, "id": id_,
                "predictions": [{"version": p.version or None, "timestamp": iso(p.event_time),
                                 "received_at": iso(p.received_at),
                                 "window_start": iso(window_start(p.event_time, self.window)),
                                 "row": {k: v for k, v in json.loads(p.payload).items() if k != "_text"}}
                                for p in preds],
                "label": None if label is None else {"received_at": iso(label.received_at),
                                                     "row": json.loads(label.payload)},
                "pending": not preds}

    def flagged(self, model: str, start: Any, end: Any, *, limit: int = 20, scan: float = 3600.0,
                version: str | None = None) -> dict[str, Any]:
        """The newest predictions of the range flagged out of distribution (their stored, redacted rows and the
        features that were out of the reference's range), looked for in the range's last ``scan`` seconds."""
        ctx = self.context(model)
        if ctx.reference is None or not ctx.model.features:
            raise InputError(f"model {model!r}: expected `features:` and `reference: {{profile: ...}}` in the config "
                             "to flag out-of-distribution inputs, found none. Fix: add them to the model")
        if not 1 <= limit <= 1000:
            raise InputError(f"limit: expected 1 to 1000 events, found {limit}. Fix: ask for fewer")
        lo, hi, asked = self._range(start, end)
        since = max(lo, hi - scan)
        stored = sorted(self.store.predictions_between(model, since, hi, version=version),
                        key=lambda p: (p.event_time, p.tx, p.seq), reverse=True)[:MAX_SCAN]
        rows = [json.loads(p.payload) for p in stored]
        per = ctx.ood_columns(rows) if rows else {}
        events = []
        for i, (p, row) in enumerate(zip(stored, rows, strict=True)):
            out = [c for c, flags in per.items() if flags[i]]
            if out:
                events.append({"id": p.id, "version": p.version or None, "timestamp": iso(p.event_time),
                               "columns": out, "row": {k: v for k, v in row.items() if k != "_text"}})
                if len(events) == limit:
                    break
        return {"model": model, "flag": "ood", "range": range_info(lo, hi, asked),
                "scanned": {"from": iso(since), "to": iso(hi), "predictions": len(stored),
                            "capped": len(stored) == MAX_SCAN},
                "events": events}

    def models(self) -> list[dict[str, Any]]:
        return [{"name": n, "task": c.model.task, "labeled": c.labeled, "segments": c.model.segments,
                 "versions": [v or None for v in self.store.versions(n)],
                 "estimation": c.calibrator is not None, "drift": c.reference is not None,
                 "ood": c.reference is not None and bool(c.model.features)}
                for n, c in self.contexts.items()]


def _v(version: str | None) -> str | None:
    return None if version is None else version


def _time(value: Any, name: str) -> float:
    if value is None:
        raise InputError(f"query: expected `{name}` (RFC 3339 or epoch seconds), found none. Fix: add {name}=")
    t = parse_time(value)
    if t is None:
        raise InputError(f"query `{name}`: expected an RFC 3339 time with an offset or epoch seconds, found "
                         f"{value!r}. Fix: e.g. {name}=2026-12-01T00:00:00Z")
    return t


def _trace_event(ctx: ModelContext, e: dict[str, Any]) -> dict[str, Any]:
    """A span's event named by the model's roles (id, timestamp, version, latency, status, text columns)."""
    m = ctx.model
    out = {m.id: e["id"], m.timestamp: e["timestamp"], m.version: e.get("version")}
    if m.latency:
        out[m.latency] = e.get("latency")
    if m.status:
        out[m.status] = e.get("status")
    if m.cost and m.cost in e:
        out[m.cost] = e[m.cost]
    texts = {"prompt": e.get("prompt"), "response": e.get("response")}
    for i, col in enumerate(m.text):
        out[col] = texts.get(col, list(texts.values())[i] if i < 2 else None)
    for k in ("operation", "provider", "request_model", "response_model", "input_tokens", "output_tokens"):
        if k in m.features or k in m.segments:
            out[k] = e.get(k)
    return out
