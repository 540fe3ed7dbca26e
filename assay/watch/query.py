"""Reads: the window states of a range merged on read, and computed into the same documents as offline.

A range ``[from, to)`` is widened to whole windows (and says so). It is covered by as few stored states as
possible: whole days from the 1 d rollup, whole hours from the 1 h rollup, the rest from the base windows.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Collection, Hashable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from typing import Any

from assay._version import __version__
from assay.evaluation.accumulate import OVERALL_GROUPING, Accumulator, Bundle, Grouping
from assay.evaluation.document import bundle_metrics, sections
from assay.evaluation.run import _jsonable
from assay.metrics import registry
from assay.metrics._groups import merge_many, stack
from assay.store.watch import EventStore
from assay.watch.materialize import levels, window_start
from assay.watch.window import ModelContext, WindowState, merge_all

RUN_SCHEMA = "assay.run/1"
SERIES_SCHEMA = "assay.series/1"
STATUS_SCHEMA = "assay.status/1"
_EMPTY_FP = "sha256:" + "0" * 64


def iso(t: float | None) -> str | None:
    return None if t is None else datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def widen(start: float, end: float, window: int) -> tuple[float, float]:
    """``[start, end)`` widened to whole windows."""
    lo = window_start(start, window)
    hi = window_start(end, window)
    if hi < end:
        hi += window
    return lo, max(hi, lo + window) if end > start else hi


def cover(start: float, end: float, window: int) -> list[tuple[int, float, float]]:
    """(level, from, to) pieces covering an aligned ``[start, end)``, longest levels first where they fit."""
    pieces: list[tuple[int, float, float]] = []
    lv = sorted(levels(window), reverse=True)

    def split(a: float, b: float, i: int) -> None:
        if a >= b:
            return
        level = lv[i]
        if i == len(lv) - 1:
            pieces.append((level, a, b))
            return
        first = math.ceil(a / level) * level
        last = math.floor(b / level) * level
        if first >= last:
            split(a, b, i + 1)
            return
        split(a, first, i + 1)
        pieces.append((level, first, last))
        split(last, b, i + 1)

    split(start, end, 0)
    return pieces


def range_states(store: EventStore, model: str, version: str | None, start: float, end: float,
                 window: int, *, groupings: Collection[Grouping] | None = None,
                 profile: bool = False) -> dict[str, list[WindowState]]:
    """The stored states covering ``[start, end)`` (aligned), per version (see :meth:`WindowState.from_bytes` for
    ``groupings`` and ``profile``)."""
    out: dict[str, list[WindowState]] = {}
    for level, a, b in cover(start, end, window):
        for v, _, blob in store.window_rows(model, version, level, a, b):
            out.setdefault(v, []).append(WindowState.from_bytes(blob, groupings=groupings, profile=profile))
    return out


def _class_labels(ctx: ModelContext, state: WindowState) -> list[Any]:
    m = ctx.model
    if m.task == "binary":
        pos = m.pos_label
        values = list(state.label_values)
        if pos is None:
            pos = 1 if set(values) <= {0, 1} or not values else next(
                (v for v in values if str(v).lower() in ("1", "true", "yes", "pos", "positive")), values[-1])
        neg = next((v for v in values if v != pos), 0 if pos == 1 else None)
        return [neg, pos]
    return list(ctx.classes)


def _classes(ctx: ModelContext, state: WindowState) -> list[str]:
    if ctx.model.task != "multiclass":
        return []
    if ctx.classes:
        return list(ctx.classes)
    bundle = (state.realized or {}).get(OVERALL_GROUPING)
    n = bundle.confusion.n_classes if bundle is not None and bundle.confusion is not None else 0
    prefix = ctx.model.proba_prefix or ""
    return [f"{prefix}{i}" for i in range(n)]


def run_document(ctx: ModelContext, state: WindowState, *, versions: Sequence[str], start: float, end: float,
                 asked: tuple[float, float], now: float) -> dict[str, Any]:
    """An ``assay.run/1`` document of the merged state of a range (realized metrics of the labeled predictions)."""
    config = ctx.eval_config
    assert config is not None
    classes = _classes(ctx, state)
    class_labels = _class_labels(ctx, state) if config.task == "binary" else classes
    acc = Accumulator(config, len(classes) if config.task == "multiclass" else 2)
    # groupings without labeled rows yet have no groups: they are left out (an empty window is an empty result)
    acc.bundles = {g: (state.realized or {}).get(g, b) for g, b in acc.bundles.items()
                   if g == OVERALL_GROUPING or g in (state.realized or {})}
    version = versions[0] if len(versions) == 1 and versions[0] != "" else None
    doc: dict[str, Any] = {
        "schema": RUN_SCHEMA,
        "run_id": uuid.uuid4().hex,
        "created_at": iso(now),
        "assay_version": __version__,
        "task": config.task,
        "model": {"name": ctx.name, "version": version},
        "dataset": {
            "name": f"watch:{ctx.name} [{iso(start)}, {iso(end)})",
            "path": None,
            "fingerprint": state.fingerprint.digest() if state.labeled else _EMPTY_FP,
            "fingerprint_basis": state.fingerprint.basis,
            "rows": state.predictions,
            "rows_used": state.labeled,
            "rows_missing_label": max(state.predictions - state.labeled, 0),
        },
        "config": {**config.recorded(), "classes": class_labels if config.task != "binary" else None,
                   "pos_label": class_labels[1] if config.task == "binary" else None,
                   "primary_metric": registry.PRIMARY[config.task] if config.score or config.task != "binary"
                   else "accuracy"},
        "range": range_info(start, end, asked),
        "versions": [v or None for v in versions],
    }
    doc.update(sections(acc, config, classes, class_labels))
    doc["label_coverage"] = state.labeled / state.predictions if state.predictions else None
    doc["estimated"] = estimated(ctx, state)
    doc["traffic"] = traffic(ctx, state)
    doc["outcomes"] = outcomes(ctx, state)
    notes = []
    if asked != (start, end):
        notes.append(f"the range was widened to whole windows: [{iso(start)}, {iso(end)})")
    if state.predictions > state.labeled:
        notes.append(f"{state.predictions - state.labeled} predictions without a label yet are not in the realized "
                     "metrics")
    for name, entry in doc["metrics"].items():
        if entry.get("bound"):
            notes.append(f"{name}: a window's distinct scores exceeded the cap ({config.max_distinct_scores}); the "
                         f"value is exact to within ±{entry['bound']:.3g}")
    if notes:
        doc["notes"] = notes
    return _jsonable(doc)


def range_info(start: float, end: float, asked: tuple[float, float]) -> dict[str, Any]:
    return {"from": iso(start), "to": iso(end), "requested_from": iso(asked[0]), "requested_to": iso(asked[1]),
            "widened": asked != (start, end)}


def _slim(entries: dict[str, Any]) -> dict[str, Any]:
    keep = ("value", "ci_low", "ci_high", "n")
    extra = ("reason", "bound", "error_bound")
    return {name: {k: e.get(k) for k in keep} | {k: e[k] for k in extra if e.get(k)} for name, e in entries.items()}


def estimated(ctx: ModelContext, state: WindowState) -> dict[str, Any]:
    if state.estimation is None or ctx.calibrator is None:
        return {}
    return _slim(state.estimation.compute(ctx.calibrator))


def traffic(ctx: ModelContext, state: WindowState) -> dict[str, Any]:
    t = state.traffic if state.traffic is not None else ctx.empty_traffic()
    return _slim(t.compute())


def outcomes(ctx: ModelContext, state: WindowState) -> dict[str, Any]:
    from assay.stats.intervals import z_value

    out: dict[str, Any] = {}
    names = ctx.model.outcomes
    if not names:
        return out
    z = z_value(0.95)
    o = state.outcomes
    for c in names:
        entry: dict[str, Any] = {"value": None, "ci_low": None, "ci_high": None, "n": 0, "reason": "no outcomes"}
        if o is not None and o.groups:
            j, jn = o.names.index(c), o.names.index(f"{c}#n")
            n = float(o.s1[0, jn])  # rows carrying this outcome
            if n > 0:
                s1, s2 = float(o.s1[0, j]), float(o.s2[0, j])
                mean = s1 / n
                var = max(s2 / n - mean * mean, 0.0) * n / (n - 1) if n > 1 else float("nan")
                se = math.sqrt(var / n) if n > 1 else None
                entry = {"value": mean, "ci_low": None if se is None else mean - z * se,
                         "ci_high": None if se is None else mean + z * se, "n": int(n)}
        out[f"outcome_{c}_mean"] = entry
    return out


SERIES_ECE_REPLICATES = 200  # a series' ECE intervals resample fewer times than a run document's (1,000)


def _rekeyed(bundle: Bundle, key: Callable[[Hashable], Hashable], *, multiclass: bool) -> Bundle:
    """The bundle with every group key ``k`` renamed ``key(k)``; score tables uncapped (each window was capped).

    A multiclass score table's keys are ``(group, class)``: those become ``(key(group), class)``."""
    def one(name: str, state: Any) -> Any:
        if state is None:
            return None
        groups: tuple[Hashable, ...]
        if name == "scores" and multiclass:
            groups = tuple((key(g), c) for g, c in state.groups)
        else:
            groups = tuple(key(k) for k in state.groups)
        out = replace(state, groups=groups)
        return replace(out, cap=None) if hasattr(out, "cap") else out

    return Bundle(*(one(f, getattr(bundle, f)) for f in bundle.__dataclass_fields__))


def _pair(t: float, k: Hashable) -> Hashable:
    return (t, k)


def _stack_field(states: list[Any]) -> Any:
    present = [s for s in states if s is not None and s.groups]
    if not present:
        return None
    stacked = stack(present)
    return stacked if stacked is not None else merge_many(present)


def _metrics_by_window(ctx: ModelContext, states: list[tuple[float, WindowState]],
                       grouping: Grouping) -> dict[Hashable, dict[str, Any]]:
    """The metrics of one grouping of every window, in one vectorised pass: each window's states become groups
    (keyed ``(window start, group)``) of one bundle."""
    if ctx.eval_config is None:
        return {}
    parts = []
    for t, state in states:
        bundle = (state.realized or {}).get(grouping)
        if bundle is not None and state.labeled:
            parts.append(_rekeyed(bundle, partial(_pair, t), multiclass=ctx.model.task == "multiclass"))
    if not parts:
        return {}
    merged = Bundle(*(_stack_field([getattr(p, f) for p in parts]) for f in Bundle.__dataclass_fields__))
    classes = _classes(ctx, next(s for _, s in states if s.labeled))
    per = bundle_metrics(merged, ctx.eval_config, classes, ece_replicates=SERIES_ECE_REPLICATES)
    return {k: _slim(v) for k, v in per.items()}


def window_entry(ctx: ModelContext, state: WindowState, start: float, end: float,
                 metrics: dict[str, Any], segments: dict[str, Any] | None) -> dict[str, Any]:
    """One window of an ``assay.series/1`` document."""
    entry: dict[str, Any] = {"start": iso(start), "end": iso(end), "predictions": state.predictions,
                             "labeled": state.labeled,
                             "label_coverage": state.labeled / state.predictions if state.predictions else None,
                             "metrics": metrics, "estimated": estimated(ctx, state), "traffic": traffic(ctx, state)}
    if segments is not None:
        entry["segments"] = segments
    if ctx.model.outcomes:
        entry["outcomes"] = outcomes(ctx, state)
    return entry


def series_document(ctx: ModelContext, store: EventStore, *, version: str | None, start: float, end: float,
                    step: int, window: int, segment: str | None, asked: tuple[float, float]) -> dict[str, Any]:
    """An ``assay.series/1`` document: one entry per ``step`` over ``[start, end)``."""
    by_start: dict[float, list[WindowState]] = {}
    wanted: set[Grouping] = {OVERALL_GROUPING}
    if segment is not None:
        wanted.add(("segment", segment) if segment in ctx.model.segments else ("sensitive", segment))
    usable = max((lv for lv in levels(window) if lv <= step and step % lv == 0), default=window)
    for level, a, b in cover(start, end, window):
        # pieces are read at the longest level that fits inside one step
        for _, t0, blob in store.window_rows(ctx.name, version, min(level, usable), a, b):
            bucket = window_start(t0 - start, step) + start
            by_start.setdefault(bucket, []).append(WindowState.from_bytes(blob, groupings=wanted, profile=False))
    starts = []
    t = start
    while t < end:
        starts.append(t)
        t += step
    states = [(t, merge_all(by_start.get(t, []))) for t in starts]
    overall = _metrics_by_window(ctx, states, OVERALL_GROUPING)
    per_segment: dict[Hashable, dict[str, Any]] = {}
    grouping: Grouping | None = None
    if segment is not None:
        grouping = ("segment", segment) if segment in ctx.model.segments else ("sensitive", segment)
        per_segment = _metrics_by_window(ctx, states, grouping)
    by_window: dict[float, dict[str, Any]] = {}
    for k, v in per_segment.items():
        if isinstance(k, tuple):
            by_window.setdefault(k[0], {})[str(k[1])] = v
    windows = [window_entry(ctx, state, t, min(t + step, end), overall.get((t, None), {}),
                            None if grouping is None else by_window.get(t, {})) for t, state in states]
    return _jsonable({"schema": SERIES_SCHEMA, "model": ctx.name, "version": version, "step": step,
                      "segment": segment, "range": range_info(start, end, asked), "windows": windows})
