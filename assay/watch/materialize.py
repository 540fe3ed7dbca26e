"""The materializer: folds stored events into window states exactly once, under a durable cursor.

One pass, in one transaction of the store:

1. read the predictions and labels past the cursor (on PostgreSQL only those of finished transactions);
2. new predictions: their traffic, estimation and drift states, and, for those whose label is already stored, their
   realized states (a label that came first has waited for its prediction);
3. new labels: the realized states of the predictions (every version's) stored before this pass: a late label
   updates the window of its prediction's event time, whenever it arrives;
4. windows whose label was replaced (``label_policy: last``) are rebuilt from the stored events instead;
5. each window's delta is merged into the stored state of its window and of the 1 h and 1 d windows holding it
   (rollups, so that long ranges merge few states), and the cursor moves, in the same transaction.

A crash anywhere leaves the cursor and the states as they were before the pass, so nothing is folded twice or lost.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from assay.errors import AssayError
from assay.store.watch import Cursor, EventStore, Materialization, StaleSnapshot, StoredLabel, StoredPrediction
from assay.watch.window import ModelContext, WindowState, merge_all

log = logging.getLogger("assay.watch")
ROLLUPS = (3600, 86400)
Key = tuple[str, str, int, float]  # (model, version, level, start)


def levels(window: int) -> tuple[int, ...]:
    """The window lengths states are kept at: the configured window and the rollups longer than it."""
    return (window, *(r for r in ROLLUPS if r > window))


def window_start(t: float, level: int) -> float:
    return float(math.floor(t / level) * level)


@dataclass
class PassResult:
    predictions: int = 0
    labels: int = 0
    rebuilt: int = 0
    windows: int = 0

    @property
    def events(self) -> int:
        return self.predictions + self.labels


def _row(pred: StoredPrediction, id_column: str, label: StoredLabel | None) -> dict[str, Any]:
    row: dict[str, Any] = orjson.loads(pred.payload)
    row[id_column] = pred.id
    if label is not None:
        row.update(orjson.loads(label.payload))
    return row


class Materializer:
    """Folds events of the configured models; events of models not in the config are skipped."""

    def __init__(self, store: EventStore, contexts: Mapping[str, ModelContext], window: int,
                 now: Callable[[], float]) -> None:
        self.store = store
        self.contexts = contexts
        self.window = window
        self.levels = levels(window)
        self.now = now
        self.unfoldable: dict[str, int] = {}

    def run_once(self, limit: int = 20_000) -> PassResult:
        try:
            with self.store.materializing() as m:
                return self._pass(m, limit)
        except StaleSnapshot:  # another pass moved the cursor meanwhile: fold again from where it is now
            with self.store.materializing(locked=True) as m:
                return self._pass(m, limit)

    def run_until_idle(self, limit: int = 20_000, max_passes: int = 10_000) -> PassResult:
        total = PassResult()
        for _ in range(max_passes):
            r = self.run_once(limit)
            total.predictions += r.predictions
            total.labels += r.labels
            total.rebuilt += r.rebuilt
            total.windows += r.windows
            if r.predictions < limit and r.labels < limit and not r.rebuilt:
                break
        return total

    def drain(self, limit: int = 20_000, timeout: float = 60.0) -> PassResult:
        """Passes until nothing stored is behind the cursor (on PostgreSQL, until the transactions that were
        running when it started have ended), or ``timeout`` seconds."""
        import time

        total = self.run_until_idle(limit)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            behind_p, behind_l, _ = self.store.lag()
            if not behind_p and not behind_l:
                break
            time.sleep(0.02)
            more = self.run_until_idle(limit)
            total.predictions += more.predictions
            total.labels += more.labels
            total.rebuilt += more.rebuilt
            total.windows += more.windows
        return total

    def _pass(self, m: Materialization, limit: int) -> PassResult:
        self.unfoldable.clear()
        before = m.cursor
        preds = m.new_predictions(None, limit)
        labs = m.new_labels(limit)
        rebuild = m.take_rebuilds()
        result = PassResult(len(preds), len(labs))
        if not preds and not labs and not rebuild:
            return result
        after = Cursor(
            preds[-1][1].tx if preds else before.pred_tx, preds[-1][1].seq if preds else before.pred_seq,
            labs[-1][1].tx if labs else before.label_tx, labs[-1][1].seq if labs else before.label_seq)
        deltas: dict[tuple[str, str, float], list[WindowState]] = defaultdict(list)
        rebuild_ids: dict[str, set[str]] = defaultdict(set)
        for model, id_ in rebuild:
            rebuild_ids[model].add(id_)
        # windows to rebuild: those of every version's prediction of a replaced label
        rebuilt: set[tuple[str, str, float]] = set()
        for model, ids in rebuild_ids.items():
            if model not in self.contexts:
                continue
            for p in m.predictions_for(model, sorted(ids), after):
                rebuilt.add((model, p.version, window_start(p.event_time, self.window)))
        # 2. new predictions
        by_model: dict[str, list[StoredPrediction]] = defaultdict(list)
        for model, p in preds:
            if model in self.contexts:
                by_model[model].append(p)
        for model, rows in by_model.items():
            ctx = self.contexts[model]
            found = m.labels_for(model, [p.id for p in rows], after) if ctx.labeled or ctx.model.outcomes else {}
            self._fold(ctx, rows, found, deltas, rebuilt, traffic=True)
        # 3. new labels, joined to the predictions stored before this pass
        labs_by_model: dict[str, dict[str, StoredLabel]] = defaultdict(dict)
        for model, lab in labs:
            if model in self.contexts and lab.id not in rebuild_ids.get(model, ()):
                labs_by_model[model][lab.id] = lab
        for model, found in labs_by_model.items():
            ctx = self.contexts[model]
            earlier = m.predictions_for(model, list(found), before)
            self._fold(ctx, earlier, found, deltas, rebuilt, traffic=False)
        # 4. rebuilds
        fresh: dict[Key, WindowState] = {}
        for model, version, start in sorted(rebuilt):
            ctx = self.contexts[model]
            rows = [p for p in m.predictions_between(model, start, start + self.window, after)
                    if p.version == version]
            found = m.labels_for(model, [p.id for p in rows], after)
            parts: dict[tuple[str, str, float], list[WindowState]] = defaultdict(list)
            self._fold(ctx, rows, found, parts, set(), traffic=True)
            fresh[(model, version, self.window, start)] = merge_all(parts.get((model, version, start), []))
            result.rebuilt += 1
        result.windows = self._write(m, deltas, fresh)
        for model, bad in self.unfoldable.items():
            if bad:
                m.count(model, "unfoldable", bad)
        self.unfoldable.clear()
        m.advance(after, now=self.now())
        return result

    def _fold(self, ctx: ModelContext, preds: Sequence[StoredPrediction], found: Mapping[str, StoredLabel],
              deltas: dict[tuple[str, str, float], list[WindowState]], skip: set[tuple[str, str, float]], *,
              traffic: bool) -> None:
        groups: dict[tuple[str, float], list[StoredPrediction]] = defaultdict(list)
        for p in preds:
            groups[(p.version, window_start(p.event_time, self.window))].append(p)
        id_col = ctx.model.id
        for (version, start), rows in groups.items():
            key = (ctx.name, version, start)
            if key in skip:
                continue
            parts = []
            if traffic:
                parts += self._safely(ctx.predictions_state, [_row(p, id_col, None) for p in rows], ctx.name)
            joined = [_row(p, id_col, found[p.id]) for p in rows if p.id in found]
            if joined:
                parts += self._safely(ctx.realized_state, joined, ctx.name)
            deltas[key] += parts

    def _safely(self, fold: Callable[[list[dict[str, Any]]], WindowState], rows: list[dict[str, Any]],
                model: str) -> list[WindowState]:
        """``fold(rows)``; should a row the ingest accepted still be refused by the states, it is set aside and
        counted (``unfoldable`` in the status) instead of stopping every model's windows."""
        try:
            return [fold(rows)]
        except AssayError:
            out, bad = [], 0
            for row in rows:
                try:
                    out.append(fold([row]))
                except AssayError as exc:
                    bad += 1
                    log.warning("materializer: model %s, event %r set aside: %s", model, row.get("id"), exc)
            self.unfoldable[model] = self.unfoldable.get(model, 0) + bad
            return out

    def _write(self, m: Materialization, deltas: Mapping[tuple[str, str, float], list[WindowState]],
               fresh: Mapping[Key, WindowState]) -> int:
        base = self.window
        merged: dict[Key, list[WindowState]] = defaultdict(list)
        for (model, version, start), states in deltas.items():
            delta = merge_all(states)
            for level in self.levels:
                merged[(model, version, level, window_start(start, level))].append(delta)
        keys = list(merged) + [k for k in fresh if k not in merged]
        # rollups of rebuilt windows are recomputed from their base windows below
        rollup_of_fresh = {(k[0], k[1], level, window_start(k[3], level)) for k in fresh for level in self.levels[1:]}
        stored = m.windows([k for k in keys if k not in fresh and k not in rollup_of_fresh])
        out: dict[Key, bytes] = {}
        for key in keys:
            if key in fresh:
                out[key] = fresh[key].to_bytes()
            elif key not in rollup_of_fresh:
                old = stored.get(key)
                parts = ([WindowState.from_bytes(old)] if old is not None else []) + merged[key]
                out[key] = merge_all(parts).to_bytes()
        m.put_windows(out, now=self.now())
        for model, version, level, start in sorted(rollup_of_fresh):
            m.put_windows({(model, version, level, start): self._rollup(m, model, version, level, start, base)},
                          now=self.now())
        return len(out) + len(rollup_of_fresh)

    def _rollup(self, m: Materialization, model: str, version: str, level: int, start: float, base: int) -> bytes:
        keys = [(model, version, base, start + i * base) for i in range(level // base)]
        got = m.windows(keys)
        return merge_all([WindowState.from_bytes(got[k]) for k in keys if k in got]).to_bytes()


def rebuild_window(store: EventStore, ctx: ModelContext, version: str, start: float, window: int,
                   upto: Cursor | None = None) -> WindowState:
    """A window's state folded afresh from the stored events (what the stored state must equal)."""
    upto = upto or store.cursor()
    preds = store.predictions_between(ctx.name, start, start + window, upto=upto, version=version)
    with store.materializing() as m:
        found = m.labels_for(ctx.name, [p.id for p in preds], upto)
    parts: list[WindowState] = []
    if preds:
        parts.append(ctx.predictions_state([_row(p, ctx.model.id, None) for p in preds]))
        joined = [_row(p, ctx.model.id, found[p.id]) for p in preds if p.id in found]
        if joined:
            parts.append(ctx.realized_state(joined))
    return merge_all(parts)


def stored_windows(store: EventStore, model: str, level: int) -> Iterable[tuple[str, float, WindowState]]:
    for version, start, blob in store.window_rows(model, None, level, -math.inf, math.inf):
        yield version, start, WindowState.from_bytes(blob)
