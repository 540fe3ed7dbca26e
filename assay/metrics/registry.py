"""The one metric registry: name -> spec, per task. Everything that compares metrics reads ``higher_is_better`` here.

>>> SPECS["binary"]["log_loss"].higher_is_better
False
>>> names("ranking", k=5)[:2]
['ndcg@5', 'mrr']
"""

from __future__ import annotations

from dataclasses import dataclass

TASKS = ("binary", "multiclass", "regression", "ranking")


@dataclass(frozen=True)
class MetricSpec:
    name: str
    higher_is_better: bool
    interval: str  # how its interval is computed (documented in the README)
    needs: str = ""  # "score" when it needs a score / probabilities, "probability" when it needs probabilities


def _specs(rows: list[tuple[str, bool, str, str]]) -> dict[str, MetricSpec]:
    return {name: MetricSpec(name, hib, interval, needs) for name, hib, interval, needs in rows}


SPECS: dict[str, dict[str, MetricSpec]] = {
    "binary": _specs([
        ("accuracy", True, "wilson", ""),
        ("balanced_accuracy", True, "mover-wilson", ""),
        ("precision", True, "wilson", ""),
        ("recall", True, "wilson", ""),
        ("f1", True, "wilson-jaccard", ""),
        ("specificity", True, "wilson", ""),
        ("fpr", False, "wilson", ""),
        ("fnr", False, "wilson", ""),
        ("mcc", True, "wilson-geometric", ""),
        ("selection_rate", True, "wilson", ""),
        ("roc_auc", True, "score-newcombe", "score"),
        ("average_precision", True, "wilson-boyd", "score"),
        ("log_loss", False, "hall-skew", "probability"),
        ("brier", False, "score-bounded", "probability"),
        ("ece", False, "debiased-normal", "probability"),
        ("ece_debiased", False, "debiased-normal", "probability"),
    ]),
    "multiclass": _specs([
        ("accuracy", True, "wilson", ""),
        ("balanced_accuracy", True, "delta", ""),
        ("precision_macro", True, "delta", ""),
        ("recall_macro", True, "delta", ""),
        ("f1_macro", True, "delta", ""),
        ("precision_micro", True, "wilson", ""),
        ("recall_micro", True, "wilson", ""),
        ("f1_micro", True, "wilson", ""),
        ("precision_weighted", True, "delta", ""),
        ("recall_weighted", True, "wilson", ""),
        ("f1_weighted", True, "delta", ""),
        ("log_loss", False, "hall-skew", "probability"),
        ("roc_auc_ovr", True, "comonotone-newcombe", "probability"),
        ("ece", False, "debiased-normal", "probability"),
        ("ece_debiased", False, "debiased-normal", "probability"),
    ]),
    "regression": _specs([
        ("mae", False, "normal", ""),
        ("mse", False, "normal", ""),
        ("rmse", False, "delta", ""),
        ("r2", True, "delta", ""),
        ("mape", False, "normal", ""),
        ("median_absolute_error", False, "order-statistic", ""),
        ("max_error", False, "none", ""),
    ]),
    "ranking": _specs([
        ("ndcg", True, "normal", ""),
        ("mrr", True, "normal", ""),
        ("map", True, "normal", ""),
        ("precision", True, "normal", ""),
        ("recall", True, "normal", ""),
    ]),
}

PRIMARY = {"binary": "roc_auc", "multiclass": "accuracy", "regression": "mae", "ranking": "ndcg"}
_AT_K = {"ndcg", "map", "precision", "recall"}


def names(task: str, *, k: int = 10) -> list[str]:
    """The JSON keys of a task's metrics (ranking metrics carry their cut-off: ``ndcg@10``)."""
    return [f"{n}@{k}" if task == "ranking" and n in _AT_K else n for n in SPECS[task]]


def spec(task: str, name: str) -> MetricSpec:
    """The spec of a metric key (``ndcg@10`` finds ``ndcg``)."""
    base = name.split("@", 1)[0] if task == "ranking" else name
    return SPECS[task][base]


def higher_is_better(task: str, name: str) -> bool:
    return spec(task, name).higher_is_better
