"""The states of one evaluation: one bundle of mergeable states per grouping (overall, each segment column, each
sensitive attribute), updated batch by batch and merged.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import numpy as np

from assay.evaluation.config import EvalConfig
from assay.evaluation.parallel import MIN_ROWS, run_all
from assay.evaluation.prepare import Prepared
from assay.metrics._groups import OVERALL, GroupKeys, merge_many
from assay.metrics.calibration import CalibrationState
from assay.metrics.confusion import ConfusionState
from assay.metrics.derive import binary_states
from assay.metrics.means import MeanState
from assay.metrics.ranking import RankingState
from assay.metrics.regression import RegressionState
from assay.metrics.table import SortedTable, weighted_batch

Grouping = tuple[str, str | None]  # ("overall", None), ("segment", column), ("sensitive", column)
OVERALL_GROUPING: Grouping = ("overall", None)


@dataclass(frozen=True)
class Bundle:
    """The states of one grouping; absent states are ``None``."""

    confusion: ConfusionState | None = None
    scores: SortedTable | None = None
    means: MeanState | None = None
    calibration: CalibrationState | None = None
    regression: RegressionState | None = None
    ranking: RankingState | None = None

    def merge(self, other: Bundle) -> Bundle:
        def m(a: Any, b: Any) -> Any:
            return b if a is None else (a if b is None else a.merge(b))

        return Bundle(*(m(getattr(self, f), getattr(other, f)) for f in self.__dataclass_fields__))

    @classmethod
    def merge_many(cls, bundles: list[Bundle]) -> Bundle:
        """The merge of many bundles, field by field (see :func:`assay.metrics._groups.merge_many`)."""
        return Bundle(*(merge_many([getattr(b, f) for b in bundles]) for f in cls.__dataclass_fields__))


def empty_bundle(config: EvalConfig, n_classes: int) -> Bundle:
    cap = config.max_distinct_scores or None
    task = config.task
    probabilistic = config.score_kind == "probability"
    if task == "binary":
        has_score = config.score is not None
        return Bundle(
            confusion=ConfusionState.empty(2),
            scores=SortedTable.empty(2, cap=cap) if has_score else None,
            means=MeanState.empty(("log_loss", "brier")) if has_score and probabilistic else None,
            calibration=CalibrationState.empty(config.bins) if has_score and probabilistic else None,
        )
    if task == "multiclass":
        has_proba = config.proba_prefix is not None
        return Bundle(
            confusion=ConfusionState.empty(n_classes),
            scores=SortedTable.empty(2, cap=cap) if has_proba else None,
            means=MeanState.empty(("log_loss",)) if has_proba else None,
            calibration=CalibrationState.empty(config.bins) if has_proba else None,
        )
    if task == "regression":
        return Bundle(regression=RegressionState.empty(cap=cap))
    return Bundle(ranking=RankingState.empty(config.k))


def derives_from_scores(config: EvalConfig, batch: Prepared) -> bool:
    """Predictions from the score: every binary state is a function of the score table (with weights, of the table
    and each entry's row count and squared weight)."""
    return config.task == "binary" and batch.score is not None and config.prediction is None


def update_bundle(
    bundle: Bundle,
    batch: Prepared,
    config: EvalConfig,
    n_classes: int,
    codes: np.ndarray | None,
    keys: GroupKeys,
    order: np.ndarray | None,
) -> Bundle:
    """One batch into the states ``bundle`` holds (``codes`` index ``keys``; ``order`` = argsort of the binary
    score, shared by groupings)."""
    w = batch.weight
    kw: dict[str, Any] = {"codes": codes, "group_keys": keys}
    out = bundle
    if derives_from_scores(config, batch) and bundle.scores is not None:
        return _update_derived(bundle, batch, config, codes, keys, order)
    if bundle.confusion is not None:
        out = replace(out, confusion=bundle.confusion.update(batch.y, batch.pred, w, **kw))  # type: ignore[arg-type]
    if config.task == "binary" and batch.score is not None:
        s = batch.score
        if bundle.scores is not None:
            out = replace(out, scores=bundle.scores.update(s, batch.y, w, order=order, **kw))
        if bundle.means is not None:
            eps = np.finfo(np.float64).eps
            y = batch.y
            p_true = np.where(y == 1, s, 1 - s)  # scikit-learn clips each class's probability, then takes the log
            np.clip(p_true, eps, 1 - eps, out=p_true)
            loss = -np.log(p_true)
            brier = (y - s) ** 2
            out = replace(out, means=bundle.means.update([loss, brier], w, **kw))
        if bundle.calibration is not None:
            out = replace(out, calibration=bundle.calibration.update(s, batch.y.astype(np.float64), w, **kw))
    elif config.task == "multiclass" and batch.proba is not None:
        proba = batch.proba
        n = batch.n
        eps = np.finfo(np.float64).eps
        rows = np.arange(n)
        if bundle.means is not None:
            loss = -np.log(np.clip(proba[rows, batch.y], eps, 1 - eps))
            out = replace(out, means=bundle.means.update([loss], w, **kw))
        if bundle.calibration is not None:
            top = np.argmax(proba, axis=1)
            conf = proba[rows, top]
            correct = (top == batch.y).astype(np.float64)
            out = replace(out, calibration=bundle.calibration.update(conf, correct, w, **kw))
        if bundle.scores is not None:  # one-vs-rest score tables: group index = group * K + class
            g = np.zeros(n, np.int64) if codes is None else codes
            k = n_classes
            ovr_keys = tuple((key, c) for key in keys for c in range(k))
            ovr_codes = (g[:, None] * k + np.arange(k)[None, :]).ravel()
            ovr_values = proba.ravel()
            ovr_col = (batch.y[:, None] == np.arange(k)[None, :]).astype(np.int64).ravel()
            ovr_w = None if w is None else np.repeat(w, k)
            out = replace(out, scores=bundle.scores.update(
                ovr_values, ovr_col, ovr_w, codes=ovr_codes, group_keys=ovr_keys))
    elif config.task == "regression":
        assert bundle.regression is not None and batch.pred is not None
        out = replace(out, regression=bundle.regression.update(batch.y, batch.pred, w, **kw))
    elif config.task == "ranking":
        q = batch.query
        ranking = bundle.ranking.update(  # type: ignore[union-attr]
            q, batch.y, batch.score, group_codes=codes, group_keys=keys if codes is not None else (None,)
        )
        out = replace(out, ranking=ranking)
    return out


def _update_derived(
    bundle: Bundle, batch: Prepared, config: EvalConfig, codes: np.ndarray | None, keys: GroupKeys,
    order: np.ndarray | None,
) -> Bundle:
    """One exact score table of the batch, and the other states derived from it."""
    assert bundle.scores is not None and batch.score is not None
    extra = None
    if batch.weight is None:  # every entry holds a row
        table = state = SortedTable.empty(2).update(batch.score, batch.y, codes=codes, group_keys=keys)
    else:
        table, extra = weighted_batch(batch.score, batch.y, batch.weight, codes=codes, group_keys=keys, order=order)
        state = table.without_empty()
    wanted = (bundle.confusion, bundle.means, bundle.calibration)
    derived: tuple[Any, ...] = (None, None, None)
    if any(state is not None for state in wanted):
        probabilistic = config.score_kind == "probability"
        derived = binary_states(table, config.effective_threshold, bins=config.bins if probabilistic else None,
                                extra=extra)

    def merged(state: Any, new: Any) -> Any:
        return None if state is None else state.merge(new)

    return Bundle(
        confusion=merged(bundle.confusion, derived[0]),
        scores=bundle.scores.merge(replace(state, cap=bundle.scores.cap)),
        means=merged(bundle.means, derived[1]),
        calibration=merged(bundle.calibration, derived[2]),
    )


class Accumulator:
    """All groupings' bundles of one evaluation."""

    def __init__(self, config: EvalConfig, n_classes: int) -> None:
        self.config = config
        self.n_classes = n_classes
        self.groupings: list[Grouping] = [OVERALL_GROUPING]
        self.groupings += [("segment", c) for c in config.segments]
        self.groupings += [("sensitive", c) for c in config.sensitive]
        self.bundles: dict[Grouping, Bundle] = {g: empty_bundle(config, n_classes) for g in self.groupings}

    def update(self, batch: Prepared, group_keys: dict[tuple[str, str], list[Hashable]]) -> None:
        """One batch into every grouping, the groupings on threads (:mod:`assay.evaluation.parallel`).

        The groups of a grouping partition the rows, so the overall confusion, mean and calibration states are the
        first grouping's collapsed into one group, not another pass over the rows.
        """
        if batch.n == 0:
            return
        config, k = self.config, self.n_classes
        grouped = [g for g in self.groupings if g != OVERALL_GROUPING]
        order = (np.argsort(batch.score) if config.task == "binary" and batch.score is not None
                 and batch.weight is not None else None)  # weighted tables share one argsort; unweighted need none
        collapsible = bool(grouped) and config.task in ("binary", "multiclass")
        template = empty_bundle(config, k)
        overall = replace(template, confusion=None, means=None, calibration=None) if collapsible else template
        groupings = [OVERALL_GROUPING, *grouped]
        calls = [partial(self._step, OVERALL_GROUPING, overall, batch, None, OVERALL, order)]
        for grouping in grouped:
            key = (grouping[0], grouping[1])
            codes, keys = batch.codes[key], tuple(group_keys[key])  # type: ignore[index]
            calls.append(partial(self._step, grouping, template, batch, codes, keys, order))
        steps = run_all(calls, parallel=batch.n >= MIN_ROWS)
        for grouping, (_, merged) in zip(groupings, steps, strict=True):
            self.bundles[grouping] = merged
        if collapsible:
            first = steps[1][0]

            def collapsed(state: Any) -> Any:
                return None if state is None else state.collapse()

            self.bundles[OVERALL_GROUPING] = self.bundles[OVERALL_GROUPING].merge(Bundle(
                confusion=collapsed(first.confusion), means=collapsed(first.means),
                calibration=collapsed(first.calibration)))

    def _step(self, grouping: Grouping, template: Bundle, batch: Prepared, codes: np.ndarray | None,
              keys: GroupKeys, order: np.ndarray | None) -> tuple[Bundle, Bundle]:
        """One grouping's states of the batch, and those merged into its running states (one thread's piece)."""
        new = update_bundle(template, batch, self.config, self.n_classes, codes, keys, order)
        return new, self.bundles[grouping].merge(new)

    def merge(self, other: Accumulator) -> Accumulator:
        out = Accumulator(self.config, self.n_classes)
        out.bundles = {g: self.bundles[g].merge(other.bundles[g]) for g in self.groupings}
        return out
