"""The state of one window of one model version: the offline states, plus traffic, estimation and drift.

A :class:`WindowState` is a mergeable value like every state of assay: the window of an hour is the merge of its
5-minute windows, a query's range the merge of the windows in it. It holds

- ``realized``: the evaluation states of the labeled predictions (:class:`~assay.evaluation.accumulate.Bundle` per
  grouping: overall, each segment column, each sensitive attribute) and their fingerprint;
- ``traffic``: :class:`~assay.watch.traffic.TrafficState` of every prediction (labels or not);
- ``estimation``: :class:`~assay.watch.estimate.EstimationState` (binary models with a labeled reference);
- ``profile``: the drift profile of the features and text on the reference profile's grid;
- ``outcomes``: sums of the outcome columns carried by labels.

:class:`ModelContext` folds rows into states (:meth:`ModelContext.predictions_state` for new predictions,
:meth:`ModelContext.realized_state` for predictions joined to their labels).
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pyarrow as pa

from assay.drift.profile import Profile, _cleared, load_profile
from assay.drift.profile import profile as make_profile
from assay.drift.states import CategoricalState, NumericState, TextState
from assay.errors import ConfigError, StateError
from assay.evaluation.accumulate import Accumulator, Bundle, Grouping
from assay.evaluation.config import EvalConfig
from assay.evaluation.fingerprint import Fingerprint
from assay.evaluation.prepare import Preparer
from assay.metrics._groups import merge_many
from assay.metrics.calibration import CalibrationState
from assay.metrics.confusion import ConfusionState
from assay.metrics.means import MeanState
from assay.metrics.ranking import RankingState
from assay.metrics.regression import RegressionState
from assay.metrics.table import SortedTable
from assay.watch.config import ModelConfig, WatchConfig
from assay.watch.estimate import Calibrator, EstimationState
from assay.watch.pairs import PairState, quantities, quantity_arrays
from assay.watch.traffic import TrafficState

MAGIC = b"ASSAYWINDOW\n"
VERSION = 1
_FIELDS: dict[str, Any] = {"confusion": ConfusionState, "scores": SortedTable, "means": MeanState,
                           "calibration": CalibrationState, "regression": RegressionState, "ranking": RankingState}
ESTIMATION_GRID = 400  # score bins of a window's estimation state: ROC-AUC within about 1/800 of the exact value
_ERROR_WORDS = {"error", "failed", "failure", "fail", "exception", "timeout"}


@dataclass(frozen=True)
class WindowState:
    predictions: int = 0
    labeled: int = 0
    realized: Mapping[Grouping, Bundle] | None = None
    fingerprint: Fingerprint = field(default_factory=Fingerprint)
    traffic: TrafficState | None = None
    estimation: EstimationState | None = None
    profile: Profile | None = None
    outcomes: MeanState | None = None
    label_values: tuple[Any, ...] = ()
    pairs: Mapping[str, PairState] | None = None  # shadow pairs of this (candidate) version, by control version

    def merge(self, other: WindowState) -> WindowState:
        def m(a: Any, b: Any) -> Any:
            return b if a is None else (a if b is None else a.merge(b))

        realized = self.realized
        if realized is None:
            realized = other.realized
        elif other.realized is not None:
            realized = {g: m(realized.get(g), other.realized.get(g)) for g in {**realized, **other.realized}}
        values = tuple(sorted(set(self.label_values) | set(other.label_values), key=repr))
        return WindowState(self.predictions + other.predictions, self.labeled + other.labeled, realized,
                           self.fingerprint.merge(other.fingerprint), m(self.traffic, other.traffic),
                           m(self.estimation, other.estimation), m(self.profile, other.profile),
                           m(self.outcomes, other.outcomes), values, _merge_pairs([self.pairs, other.pairs]))

    # -- bytes -------------------------------------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        parts: dict[str, bytes] = {}
        for (kind, column), bundle in (self.realized or {}).items():
            for name in _FIELDS:
                state = getattr(bundle, name)
                if state is not None:
                    parts[json.dumps(["realized", kind, column, name])] = state.to_bytes()
        for name in ("traffic", "estimation", "profile", "outcomes"):
            state = getattr(self, name)
            if state is not None:
                parts[json.dumps([name])] = state.to_bytes()
        for control, pair in sorted((self.pairs or {}).items()):
            parts[json.dumps(["pairs", control])] = pair.to_bytes()
        fp = self.fingerprint
        head = {"version": VERSION, "predictions": self.predictions, "labeled": self.labeled,
                "fingerprint": [fp.rows, fp.lane1, fp.lane2, fp.with_ids], "label_values": list(self.label_values),
                "has_realized": self.realized is not None, "parts": [[k, len(v)] for k, v in parts.items()]}
        header = json.dumps(head, separators=(",", ":")).encode()
        return MAGIC + len(header).to_bytes(4, "little") + header + b"".join(parts.values())

    @classmethod
    def from_bytes(cls, data: bytes, *, groupings: Collection[Grouping] | None = None,
                   profile: bool = True) -> WindowState:
        """The state back from :meth:`to_bytes`; only the realized states of ``groupings`` (all when ``None``) and
        the drift profile only when asked for (reads that need neither skip decoding them)."""
        if not data.startswith(MAGIC):
            raise StateError("window state bytes: expected an assay window state, found other bytes")
        start = len(MAGIC) + 4
        size = int.from_bytes(data[len(MAGIC):start], "little")
        head = json.loads(data[start:start + size])
        if head.get("version") != VERSION:
            raise StateError(f"window state: expected version {VERSION}, found {head.get('version')}")
        offset = start + size
        realized: dict[Grouping, dict[str, Any]] = {}
        out: dict[str, Any] = {}
        for key, length in head["parts"]:
            blob = data[offset:offset + length]
            offset += length
            path = _part_path(key)
            if path[0] == "realized":
                _, kind, column, name = path
                if groupings is None or (kind, column) in groupings:
                    realized.setdefault((kind, column), {})[name] = _FIELDS[name].from_bytes(blob)
            elif path[0] == "traffic":
                out["traffic"] = TrafficState.from_bytes(blob)
            elif path[0] == "estimation":
                out["estimation"] = EstimationState.from_bytes(blob)
            elif path[0] == "profile" and profile:
                import gzip

                out["profile"] = Profile.from_dict(json.loads(gzip.decompress(blob)), where="window profile")
            elif path[0] == "outcomes":
                out["outcomes"] = MeanState.from_bytes(blob)
            elif path[0] == "pairs":
                out.setdefault("pairs", {})[path[1]] = PairState.from_bytes(blob)
        rows, lane1, lane2, with_ids = head["fingerprint"]
        bundles = {g: Bundle(**fields) for g, fields in realized.items()} if head["has_realized"] else None
        return cls(head["predictions"], head["labeled"], bundles, Fingerprint(rows, lane1, lane2, with_ids),
                   label_values=tuple(head["label_values"]), **out)


@functools.lru_cache(maxsize=1024)
def _part_path(key: str) -> tuple[Any, ...]:
    """A part's name back from its JSON (the same few names in every state of a model)."""
    return tuple(json.loads(key))


def sli_key(sli: Any) -> str | None:
    """The canonical name of an event SLI (``latency_below:0.3``, ``not_refusal:response``, ``correct``), the key
    of its counts; ``None`` for a window SLI or a malformed one."""
    if not isinstance(sli, dict) or not isinstance(sli.get("event"), str):
        return None
    event = sli["event"]
    if event == "latency_below":
        seconds = sli.get("seconds")
        return f"latency_below:{float(seconds):g}" if isinstance(seconds, int | float) else None
    if event in ("not_refusal", "json_valid"):
        return f"{event}:{sli['column']}" if isinstance(sli.get("column"), str) else None
    return event if event in ("correct", "not_error") else None


def merge_all(states: Sequence[WindowState]) -> WindowState:
    """The merge of many states in one pass per state kind (see :func:`assay.metrics._groups.merge_many`): a
    month's score tables are sorted together once instead of merged pair by pair."""
    items = list(states)
    if len(items) <= 2:
        return WindowState() if not items else items[0] if len(items) == 1 else items[0].merge(items[1])
    realized: dict[Grouping, Bundle] | None = None
    with_realized = [s.realized for s in items if s.realized is not None]
    if with_realized:
        keys = list({g: None for r in with_realized for g in r})
        realized = {g: merge_many([r.get(g) for r in with_realized]) for g in keys}
    fp = items[0].fingerprint
    for s in items[1:]:
        fp = fp.merge(s.fingerprint)
    values = tuple(sorted({v for s in items for v in s.label_values}, key=repr))
    def many(name: str) -> Any:
        return merge_many([getattr(s, name) for s in items])

    return WindowState(sum(s.predictions for s in items), sum(s.labeled for s in items), realized, fp,
                       traffic=many("traffic"), estimation=many("estimation"), profile=many("profile"),
                       outcomes=many("outcomes"), label_values=values,
                       pairs=_merge_pairs([s.pairs for s in items]))


def _merge_pairs(all_pairs: Sequence[Mapping[str, PairState] | None]) -> dict[str, PairState] | None:
    present = [p for p in all_pairs if p]
    if not present:
        return None
    out: dict[str, PairState] = {}
    for pairs in present:
        for control, state in pairs.items():
            out[control] = out[control].merge(state) if control in out else state
    return out


# -- folding rows into states ---------------------------------------------------------------------------------------

def column(values: Sequence[Any]) -> pa.Array:
    """An Arrow column of JSON values; mixed types become strings."""
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if v is None else str(v) for v in values], pa.string())


def _floats(values: Sequence[Any]) -> np.ndarray:
    return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)


def is_error(value: Any) -> bool:
    """A status that marks an error: ``"error"``, ``"failed"`` (and the like), ``false``, or a number >= 400."""
    if value is None:
        return False
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value >= 400
    return str(value).strip().lower() in _ERROR_WORDS


class ModelContext:
    """What folding a model's events needs: its roles, evaluation config, reference profile and calibrator."""

    def __init__(self, name: str, model: ModelConfig, config: WatchConfig) -> None:
        self.name = name
        self.model = model
        self.labeled = model.labeled
        self.eval_config: EvalConfig | None = None
        if model.labeled:
            self.eval_config = EvalConfig(
                task=model.task, label=model.label, score=model.score, prediction=model.prediction,
                proba_prefix=model.proba_prefix, id=model.id, segments=tuple(model.segments),
                sensitive=tuple(model.sensitive), threshold=model.threshold, pos_label=model.pos_label,
                max_distinct_scores=model.max_distinct_scores, bins=model.bins, model_name=name,
                dataset_name=f"watch:{name}")
        self.reference: Profile | None = None
        self.calibrator: Calibrator | None = None
        ref = model.reference
        if ref.profile is not None:
            path = config.path(ref.profile)
            self.reference = load_profile(path)
            missing = [c for c in (*model.features, *model.text) if c not in self.reference.columns]
            if missing:
                raise ConfigError(f"models.{name}.reference.profile ({path}): expected the features and text "
                                  f"columns of the model, found no column {missing}. Fix: profile the reference "
                                  "with those columns")
        if ref.labeled is not None and model.task == "binary" and model.score is not None:
            self.calibrator = _fit_calibrator(config.path(ref.labeled), model)
        self.classes: list[str] = list(model.classes or [])
        self.threshold = self.eval_config.effective_threshold if self.eval_config else 0.5
        self.drift_columns = [c for c in (*model.features, *model.text)
                              if self.reference is not None and c in self.reference.columns]
        # the (control, candidate) versions of the model's shadow comparisons (validated by assay.live.config)
        self.shadow_pairs: list[tuple[str, str]] = sorted({
            (str(c["control"]["version"]), str(c["candidate"]["version"])) for c in config.comparisons or []
            if isinstance(c, dict) and c.get("model") == name and c.get("mode") == "shadow"
            and isinstance(c.get("control"), dict) and isinstance(c.get("candidate"), dict)
            and "version" in c["control"] and "version" in c["candidate"]})
        self.pair_quantities = quantities(model.task, model.score is not None) if model.labeled else ()
        # the model's event SLIs (validated by assay.slo.config): the materializer counts their good and total
        # events, `correct` when the label lands, the others at the event's time
        self.event_slis = sorted({key for s in config.slos or [] if isinstance(s, dict) and s.get("model") == name
                                  and (key := sli_key(s.get("sli"))) is not None})
        self.counts_arrivals = "correct" in self.event_slis and model.task in ("binary", "multiclass")

    # -- rows --------------------------------------------------------------------------------------------------------
    def sli_events(self, rows: Sequence[Mapping[str, Any]]) -> dict[str, tuple[int, int]]:
        """(good, total) of each event SLI known at prediction time over new predictions (payloads decoded)."""
        m = self.model
        out: dict[str, tuple[int, int]] = {}
        for key in self.event_slis:
            kind, _, arg = key.partition(":")
            good = total = 0
            if kind == "latency_below" and m.latency is not None:
                bound = float(arg)
                for r in rows:
                    v = r.get(m.latency)
                    if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
                        total += 1
                        good += v <= bound
            elif kind == "not_error" and m.status is not None:
                total = len(rows)
                good = sum(not is_error(r.get(m.status)) for r in rows)
            elif kind in ("not_refusal", "json_valid"):
                for r in rows:
                    f = (r.get("_text") or {}).get(arg)
                    if f is None or f[0] < 0:  # no text (features: length, blank, valid JSON, refusal)
                        continue
                    total += 1
                    good += (not f[3]) if kind == "not_refusal" else bool(f[2])
            else:
                continue
            out[key] = (int(good), int(total))
        return out

    def _table(self, rows: Sequence[Mapping[str, Any]], names: Sequence[str]) -> pa.Table:
        return pa.table({n: column([r.get(n) for r in rows]) for n in names})

    def predictions_state(self, rows: Sequence[Mapping[str, Any]]) -> WindowState:
        """The state of new predictions (payloads decoded): traffic, estimation and drift; no labels."""
        m = self.model
        n = len(rows)
        score = _floats([r.get(m.score) for r in rows]) if m.score is not None else None
        positive = None
        if m.task == "binary":
            if m.prediction is not None:
                pos = 1 if m.pos_label is None else m.pos_label
                positive = np.array([str(r.get(m.prediction)) == str(pos) or r.get(m.prediction) is True
                                     for r in rows], dtype=bool)
            elif score is not None:
                positive = score >= self.threshold
        latency = _floats([r.get(m.latency) for r in rows]) if m.latency else None
        cost = _floats([r.get(m.cost) for r in rows]) if m.cost else None
        error = np.array([is_error(r.get(m.status)) for r in rows], dtype=bool) if m.status else None
        ood = self._ood(rows) if self.reference is not None and m.features else None
        text = {c: np.array([(r.get("_text") or {}).get(c) or [-1, 0, 0, 0] for r in rows], dtype=np.float64)
                for c in m.text}
        traffic = self.empty_traffic().update(n=n, score=score, positive=positive, latency=latency, cost=cost,
                                              error=error, ood=ood, text_features=text or None)
        estimation = None
        if self.calibrator is not None and score is not None:
            estimation = EstimationState.for_calibrator(self.calibrator, grid=ESTIMATION_GRID).update(
                self.calibrator, score)
        profile = self._profile(rows) if self.drift_columns else None
        return WindowState(predictions=n, traffic=traffic, estimation=estimation, profile=profile)

    def empty_traffic(self) -> TrafficState:
        m = self.model
        inputs = [name for name, on in (("score", m.score is not None), ("positive", m.task == "binary"),
                                         ("latency", m.latency is not None), ("cost", m.cost is not None),
                                         ("error", m.status is not None),
                                         ("ood", self.reference is not None and bool(m.features))) if on]
        return TrafficState.empty(tuple(m.text), inputs=inputs)

    def _ood(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        out = np.zeros(len(rows), dtype=bool)
        for flags in self.ood_columns(rows).values():
            out |= flags
        return out

    def ood_columns(self, rows: Sequence[Mapping[str, Any]]) -> dict[str, np.ndarray]:
        """Per feature, which rows are out of the reference's distribution: a number outside the reference's
        [min, max], or a category the reference never saw (payloads decoded; features without a usable reference
        state are left out)."""
        assert self.reference is not None
        out: dict[str, np.ndarray] = {}
        for c in self.model.features:
            state = self.reference.columns.get(c)
            values = [r.get(c) for r in rows]
            if isinstance(state, NumericState) and state.moments.count:
                x = np.array([np.nan if not isinstance(v, (int, float)) or isinstance(v, bool) else float(v)
                              for v in values])
                with np.errstate(invalid="ignore"):
                    out[c] = (x < state.moments.min) | (x > state.moments.max)
            elif isinstance(state, CategoricalState) and not state.truncated:
                known = state.counts
                out[c] = np.array([v is not None and str(v) not in known for v in values], dtype=bool)
        return out

    def _profile(self, rows: Sequence[Mapping[str, Any]]) -> Profile:
        assert self.reference is not None
        text_cols = [c for c in self.drift_columns if isinstance(self.reference.columns[c], TextState)]
        plain = [c for c in self.drift_columns if c not in text_cols]
        table = self._table(rows, plain) if plain else pa.table({"_": pa.nulls(len(rows))})
        prof = make_profile(table, like=self.reference, columns=plain, name=f"watch:{self.name}")
        columns = dict(prof.columns)
        for c in text_cols:
            feats = np.array([(r.get("_text") or {}).get(c) or [np.nan, 0, 0, 0] for r in rows], dtype=np.float64)
            state = _cleared(self.reference.columns[c])
            assert isinstance(state, TextState)
            present = ~np.isnan(feats[:, 0])
            columns[c] = state.update(feats[:, 0], int(feats[present, 1].sum()), int(feats[present, 2].sum()),
                                      int(feats[present, 3].sum()))
        return replace(prof, columns=columns, rows=len(rows), created_at="")

    def _prepared(self, rows: Sequence[Mapping[str, Any]]) -> tuple[Any, Preparer]:
        """Joined rows (payload, id and label columns) validated as the evaluation validates them: every role
        column the evaluation config names (segments and sensitive attributes included) is in the table."""
        config = self.eval_config
        assert config is not None
        m = self.model
        names = [config.label, m.id]
        names += [c for c in (m.score, m.prediction, *m.segments, *m.sensitive) if c is not None and c not in names]
        if m.proba_prefix:
            names += sorted({k for r in rows for k in r if k.startswith(m.proba_prefix)})
        table = self._table(rows, names)
        batch = table.combine_chunks().to_batches(max_chunksize=max(table.num_rows, 1))[0]
        preparer = Preparer(config, f"model {self.name}", table.column_names)
        if self.classes and not m.proba_prefix:
            preparer.set_classes(self.classes)
        prepared = preparer.prepare(batch)
        return prepared, preparer

    def pair_values(self, rows: Sequence[Mapping[str, Any]]) -> dict[str, tuple[dict[str, float], Any]]:
        """Per id of joined rows (one version's): its paired quantities and its predicted label, prepared as the
        evaluation prepares them (rows it would not count, such as a missing label, are left out)."""
        config = self.eval_config
        if config is None or not rows or not self.pair_quantities:
            return {}
        m = self.model
        prepared, _ = self._prepared(rows)
        if prepared.table is None or prepared.pred is None:
            return {}
        ids = prepared.table.column(m.id).to_pylist()
        arrays = quantity_arrays(m.task, prepared.y, prepared.pred, prepared.score if m.task == "binary" else None)
        preds = prepared.pred.tolist()
        return {str(id_): ({q: float(a[i]) for q, a in arrays.items()}, preds[i]) for i, id_ in enumerate(ids)}

    def realized_state(self, rows: Sequence[Mapping[str, Any]]) -> WindowState:
        """The state of predictions joined to their labels (each row: the prediction's payload, its id and the
        label's columns)."""
        m = self.model
        out = WindowState()
        if m.outcomes:
            raw = [_floats([r.get(c) for r in rows]) for c in m.outcomes]
            present = [~np.isnan(v) for v in raw]
            vals = [np.where(p, v, 0.0) for v, p in zip(raw, present, strict=True)]  # a missing outcome adds 0
            state = MeanState.empty(tuple(f"{c}{suffix}" for c in m.outcomes for suffix in ("", "#n")))
            cols: list[np.ndarray] = []
            for v, p in zip(vals, present, strict=True):
                cols += [v, p.astype(np.float64)]
            out = replace(out, outcomes=state.update(cols))
        if self.eval_config is None or not rows:
            return replace(out, labeled=len(rows))
        config = self.eval_config
        prepared, preparer = self._prepared(rows)
        n_classes = len(preparer.classes) if m.task == "multiclass" else 2
        acc = Accumulator(config, n_classes)
        acc.update(prepared, preparer.group_keys)
        fp = Fingerprint().update(prepared.table.column(m.id) if prepared.table is not None else None,
                                  prepared.y, None)
        values = tuple(sorted(preparer.label_values, key=repr)) if m.task == "binary" else ()
        return replace(out, labeled=len(rows), realized=acc.bundles, fingerprint=fp, label_values=values)


def _fit_calibrator(path: Any, model: ModelConfig) -> Calibrator:
    from assay.data.tables import open_table
    from assay.evaluation.prepare import _equals

    src = open_table(str(path))
    src.check_columns([model.label, model.score])  # type: ignore[list-item]
    table = src.read([model.label, model.score])  # type: ignore[list-item]
    pos = 1 if model.pos_label is None else model.pos_label
    y = _equals(table.column(model.label), pos)
    s = np.asarray(table.column(model.score).to_numpy(), dtype=np.float64)
    keep = ~np.isnan(s)
    threshold = 0.5 if model.threshold is None else model.threshold
    return Calibrator.fit(y[keep], s[keep], threshold=threshold, rng=np.random.default_rng(0))


def finite(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else x
