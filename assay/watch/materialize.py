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
from assay.watch.pairs import PairState
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
        realized: dict[str, list[tuple[StoredPrediction, StoredLabel]]] = defaultdict(list)
        for model, rows in by_model.items():
            ctx = self.contexts[model]
            found = m.labels_for(model, [p.id for p in rows], after) if ctx.labeled or ctx.model.outcomes else {}
            self._fold(ctx, rows, found, deltas, rebuilt, traffic=True, realized=realized[model])
        # 3. new labels, joined to the predictions stored before this pass
        labs_by_model: dict[str, dict[str, StoredLabel]] = defaultdict(dict)
        for model, lab in labs:
            if model in self.contexts and lab.id not in rebuild_ids.get(model, ()):
                labs_by_model[model][lab.id] = lab
        for model, found in labs_by_model.items():
            ctx = self.contexts[model]
            earlier = m.predictions_for(model, list(found), before)
            self._fold(ctx, earlier, found, deltas, rebuilt, traffic=False, realized=realized[model])
        # 3b. shadow pairs completed by this pass's realized folds (see assay.watch.pairs for the once-only rule),
        # and label-arrival counts (a prediction joined to its label becomes known at the later of the two)
        slis: dict[tuple[str, str, str, float], tuple[int, int]] = {}
        for model, events in realized.items():
            ctx = self.contexts[model]
            try:  # rows the realized fold accepted; should one still be refused here, the pass goes on without it
                if ctx.counts_arrivals and events:
                    self._arrivals(ctx, events, slis)
                for control, candidate in ctx.shadow_pairs:
                    triples = self._completed_pairs(m, model, events, control, candidate, before, after)
                    self._fold_pairs(ctx, triples, control, candidate, deltas, rebuilt)
            except AssayError as exc:
                log.warning("materializer: model %s: label-based SLI counts and shadow pairs of this pass set "
                            "aside: %s", model, exc)
                self.unfoldable[model] = self.unfoldable.get(model, 0) + len(events)
        for model, rows in by_model.items():  # SLIs known at prediction time: at the event's time
            ctx = self.contexts[model]
            if ctx.event_slis:
                self._event_slis(ctx, rows, slis)
        # 4. rebuilds
        fresh: dict[Key, WindowState] = {}
        for model, version, start in sorted(rebuilt):
            ctx = self.contexts[model]
            rows = [p for p in m.predictions_between(model, start, start + self.window, after)
                    if p.version == version]
            found = m.labels_for(model, [p.id for p in rows], after)
            parts: dict[tuple[str, str, float], list[WindowState]] = defaultdict(list)
            self._fold(ctx, rows, found, parts, set(), traffic=True)
            for control, cand in ctx.shadow_pairs:
                if cand == version:
                    self._fold_pairs(ctx, pairs_of_window(m, model, rows, found, control, after), control, cand,
                                     parts, set())
            fresh[(model, version, self.window, start)] = merge_all(parts.get((model, version, start), []))
            result.rebuilt += 1
        m.add_sli_counts(_rolled_up(slis, self.levels))
        result.windows = self._write(m, deltas, fresh)
        folded: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for model, _ in preds:
            if model in self.contexts:
                folded[model][0] += 1
        for model, _ in labs:
            if model in self.contexts:
                folded[model][1] += 1
        for model, (n_pred, n_lab) in folded.items():  # the counters /metrics exposes
            if n_pred:
                m.count(model, "folded_predictions", n_pred)
            if n_lab:
                m.count(model, "folded_labels", n_lab)
        for model, bad in self.unfoldable.items():
            if bad:
                m.count(model, "unfoldable", bad)
        self.unfoldable.clear()
        m.advance(after, now=self.now())
        return result

    def _event_slis(self, ctx: ModelContext, rows: Sequence[StoredPrediction],
                    out: dict[tuple[str, str, str, float], tuple[int, int]]) -> None:
        for (version, start), preds in _by_window(rows, self.window).items():
            counts = ctx.sli_events([_row(p, ctx.model.id, None) for p in preds])
            for key, (g, t) in counts.items():
                if t:
                    og, ot = out.get((ctx.name, version, key, start), (0, 0))
                    out[(ctx.name, version, key, start)] = (og + g, ot + t)

    def _arrivals(self, ctx: ModelContext, events: Sequence[tuple[StoredPrediction, StoredLabel]],
                  out: dict[tuple[str, str, str, float], tuple[int, int]]) -> None:
        by_version: dict[str, list[tuple[StoredPrediction, StoredLabel]]] = defaultdict(list)
        for p, lab in events:
            by_version[p.version].append((p, lab))
        for version, pairs in by_version.items():
            values = ctx.pair_values([_row(p, ctx.model.id, lab) for p, lab in pairs])
            for p, lab in pairs:
                got = values.get(p.id)
                if got is None or "correct" not in got[0]:
                    continue
                key = (ctx.name, version, "correct", window_start(max(p.received_at, lab.received_at),
                                                                   self.window))
                g, t = out.get(key, (0, 0))
                out[key] = (g + int(got[0]["correct"]), t + 1)

    @staticmethod
    def _completed_pairs(m: Materialization, model: str, events: Sequence[tuple[StoredPrediction, StoredLabel]],
                         control: str, candidate: str, before: Cursor,
                         after: Cursor) -> list[tuple[StoredPrediction, StoredPrediction, StoredLabel]]:
        """(candidate, control, label) of the pairs this pass completes: at the candidate's realized fold when the
        control's prediction is stored by now; at the control's when the candidate's prediction and the label were
        both stored before this pass (so the candidate's fold, earlier, could not pair it)."""
        out = []
        cand = [(p, lab) for p, lab in events if p.version == candidate]
        if cand:
            controls = {p.id: p for p in m.predictions_for(model, [p.id for p, _ in cand], after)
                        if p.version == control}
            out += [(p, controls[p.id], lab) for p, lab in cand if p.id in controls]
        ctrl = [(p, lab) for p, lab in events if p.version == control]
        if ctrl:
            cands = {p.id: p for p in m.predictions_for(model, [p.id for p, _ in ctrl], before)
                     if p.version == candidate}
            old_labels = m.labels_for(model, [p.id for p, _ in ctrl if p.id in cands], before) if cands else {}
            out += [(cands[p.id], p, lab) for p, lab in ctrl if p.id in cands and p.id in old_labels]
        return out

    def _fold_pairs(self, ctx: ModelContext, triples: Sequence[tuple[StoredPrediction, StoredPrediction,
                                                                     StoredLabel]],
                    control: str, candidate: str, deltas: dict[tuple[str, str, float], list[WindowState]],
                    skip: set[tuple[str, str, float]]) -> None:
        """Add the pairs to the candidate's windows (of the candidate prediction's event time)."""
        if not triples:
            return
        id_col = ctx.model.id
        t_vals = ctx.pair_values([_row(t, id_col, lab) for t, _, lab in triples])
        c_vals = ctx.pair_values([_row(c, id_col, lab) for _, c, lab in triples])
        by_window: dict[float, PairState] = {}
        for t, _, _ in triples:
            if t.id not in t_vals or t.id not in c_vals:
                continue
            start = window_start(t.event_time, self.window)
            if (ctx.name, candidate, start) in skip:
                continue
            (tv, tp), (cv, cp) = t_vals[t.id], c_vals[t.id]
            if any(q not in tv or q not in cv for q in ctx.pair_quantities):
                continue
            state = by_window.get(start) or PairState.empty(ctx.pair_quantities)
            by_window[start] = state.add({q: (tv[q], cv[q]) for q in ctx.pair_quantities}, agree=tp == cp, id_=t.id)
        for start, state in by_window.items():
            deltas[(ctx.name, candidate, start)].append(WindowState(pairs={control: state}))

    def _fold(self, ctx: ModelContext, preds: Sequence[StoredPrediction], found: Mapping[str, StoredLabel],
              deltas: dict[tuple[str, str, float], list[WindowState]], skip: set[tuple[str, str, float]], *,
              traffic: bool, realized: list[tuple[StoredPrediction, StoredLabel]] | None = None) -> None:
        groups = _by_window(preds, self.window)
        id_col = ctx.model.id
        loads = orjson.loads
        for (version, start), rows in groups.items():
            key = (ctx.name, version, start)
            if key in skip:
                continue
            parts = []
            if traffic:
                decoded = []
                for p in rows:  # _row(p, id_col, None), inlined: this loop runs for every event folded
                    row = loads(p.payload)
                    row[id_col] = p.id
                    decoded.append(row)
                parts += self._safely(ctx.predictions_state, decoded, ctx.name)
            joined = [_row(p, id_col, found[p.id]) for p in rows if p.id in found]
            if joined:
                parts += self._safely(ctx.realized_state, joined, ctx.name)
                if realized is not None and (ctx.shadow_pairs or ctx.counts_arrivals):
                    realized += [(p, found[p.id]) for p in rows if p.id in found]
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


def _by_window(preds: Sequence[StoredPrediction], window: int) -> dict[tuple[str, float], list[StoredPrediction]]:
    """Predictions grouped by (version, window start), in their order (``window_start`` inlined)."""
    groups: dict[tuple[str, float], list[StoredPrediction]] = {}
    floor = math.floor
    for p in preds:
        key = (p.version, float(floor(p.event_time / window) * window))
        got = groups.get(key)
        if got is None:
            groups[key] = [p]
        else:
            got.append(p)
    return groups


def _rolled_up(counts: Mapping[tuple[str, str, str, float], tuple[int, int]],
               levels: Sequence[int]) -> dict[tuple[str, str, str, int, float], tuple[int, int]]:
    """Window counts added to their window and to the rollups holding it."""
    out: dict[tuple[str, str, str, int, float], tuple[int, int]] = {}
    for (model, version, key, start), (g, t) in counts.items():
        for level in levels:
            k = (model, version, key, level, window_start(start, level))
            og, ot = out.get(k, (0, 0))
            out[k] = (og + g, ot + t)
    return out


def pairs_of_window(m: Materialization, model: str, preds: Sequence[StoredPrediction],
                    found: Mapping[str, StoredLabel], control: str,
                    upto: Cursor) -> list[tuple[StoredPrediction, StoredPrediction, StoredLabel]]:
    """(candidate, control, label) of every labeled candidate prediction of ``preds`` whose control prediction is
    stored up to ``upto``: the pairs of a candidate window folded afresh."""
    labeled = [p for p in preds if p.id in found]
    if not labeled:
        return []
    controls = {p.id: p for p in m.predictions_for(model, [p.id for p in labeled], upto) if p.version == control}
    return [(p, controls[p.id], found[p.id]) for p in labeled if p.id in controls]


def rebuild_window(store: EventStore, ctx: ModelContext, version: str, start: float, window: int,
                   upto: Cursor | None = None) -> WindowState:
    """A window's state folded afresh from the stored events (what the stored state must equal)."""
    upto = upto or store.cursor()
    preds = store.predictions_between(ctx.name, start, start + window, upto=upto, version=version)
    parts: list[WindowState] = []
    with store.materializing() as m:
        found = m.labels_for(ctx.name, [p.id for p in preds], upto)
        if preds:
            parts.append(ctx.predictions_state([_row(p, ctx.model.id, None) for p in preds]))
            joined = [_row(p, ctx.model.id, found[p.id]) for p in preds if p.id in found]
            if joined:
                parts.append(ctx.realized_state(joined))
            for control, candidate in ctx.shadow_pairs:
                if candidate == version:
                    deltas: dict[tuple[str, str, float], list[WindowState]] = defaultdict(list)
                    Materializer(store, {ctx.name: ctx}, window, lambda: 0.0)._fold_pairs(
                        ctx, pairs_of_window(m, ctx.name, preds, found, control, upto), control, candidate,
                        deltas, set())
                    parts += [s for states in deltas.values() for s in states]
    return merge_all(parts)


def stored_windows(store: EventStore, model: str, level: int) -> Iterable[tuple[str, float, WindowState]]:
    for version, start, blob in store.window_rows(model, None, level, -math.inf, math.inf):
        yield version, start, WindowState.from_bytes(blob)
