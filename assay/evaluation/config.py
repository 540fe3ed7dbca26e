"""What an evaluation is asked to do: the task, the column roles and the options, validated once."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from assay.errors import ConfigError
from assay.metrics import registry

DEFAULT_MAX_DISTINCT = 1 << 20


@dataclass(frozen=True)
class EvalConfig:
    """Options of one evaluation (the CLI flags and the keyword arguments of :func:`assay.evaluate`)."""

    task: str
    label: str = "label"
    score: str | None = None
    prediction: str | None = None
    proba_prefix: str | None = None
    weight: str | None = None
    weight_kind: str = "analytic"
    id: str | None = None
    query: str | None = None
    k: int = 10
    segments: tuple[str, ...] = ()
    sensitive: tuple[str, ...] = ()
    threshold: float | None = None
    pos_label: Any = None
    score_kind: str = "probability"
    confidence: float = 0.95
    seed: int = 0
    metrics: tuple[str, ...] | None = None
    missing_label: str = "drop"
    bins: int = 10
    max_distinct_scores: int | None = DEFAULT_MAX_DISTINCT
    chunk_rows: int = 1_000_000
    model_name: str | None = None
    model_version: str | None = None
    dataset_name: str | None = None
    items: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        def bad(option: str, expected: str, found: object, fix: str) -> ConfigError:
            return ConfigError(f"option {option}: expected {expected}, found {found!r}. Fix: {fix}")

        if self.task not in registry.TASKS:
            raise bad("--task", "one of " + ", ".join(registry.TASKS), self.task, "pick one of those tasks")
        if not 0.5 <= self.confidence < 1:
            raise bad("--confidence", "a level in [0.5, 1)", self.confidence, "use e.g. 0.95")
        if self.weight_kind not in ("analytic", "frequency"):
            raise bad("--weight-kind", "'analytic' or 'frequency'", self.weight_kind, "use one of those")
        if self.missing_label not in ("drop", "error"):
            raise bad("--missing-label", "'drop' or 'error'", self.missing_label, "use one of those")
        if self.score_kind not in ("probability", "margin"):
            raise bad("--score-kind", "'probability' or 'margin'", self.score_kind, "use one of those")
        if self.k < 1:
            raise bad("--k", "a positive integer", self.k, "use e.g. --k 10")
        if self.max_distinct_scores is not None and self.max_distinct_scores < 2:
            raise bad("--max-distinct-scores", "at least 2 (or 0 for no cap)", self.max_distinct_scores,
                      "use the default 1048576, or 0 to keep every distinct score")
        if self.bins < 1:
            raise bad("--bins", "a positive integer", self.bins, "use e.g. 10")
        if self.task == "binary" and self.score is None and self.prediction is None:
            raise bad("--score/--prediction", "a score column or a prediction column for the binary task", None,
                      "pass --score COLUMN (probabilities or margins) or --prediction COLUMN")
        if self.task == "multiclass" and self.proba_prefix is None and self.prediction is None:
            raise bad("--proba-prefix/--prediction", "probability columns or a prediction column", None,
                      "pass --proba-prefix proba_ for columns proba_<class>, or --prediction COLUMN")
        if self.task == "regression" and self.prediction is None:
            raise bad("--prediction", "the column of predicted values for the regression task", None,
                      "pass --prediction COLUMN")
        if self.task == "ranking":
            if self.query is None or self.score is None:
                raise bad("--query/--score", "a query column and a score column for the ranking task", None,
                          "pass --query COLUMN --score COLUMN")
            if self.weight is not None:
                raise bad("--weight", "no weights for the ranking task (every query counts once)", self.weight,
                          "drop --weight")
        if self.threshold is not None and self.task != "binary":
            raise bad("--threshold", "a threshold only for the binary task", self.threshold, "drop --threshold")
        if self.sensitive and self.task != "binary":
            raise bad("--sensitive", "fairness (--sensitive) for the binary task", self.task,
                      "use --segment for per-group metrics of this task")
        if self.metrics is not None:
            known = registry.names(self.task, k=self.k)
            unknown = [m for m in self.metrics if m not in known]
            if unknown:
                raise bad("--metrics", f"metric names of the {self.task} task ({', '.join(known)})",
                          ", ".join(unknown), "use names from that list")

    @property
    def effective_threshold(self) -> float:
        if self.threshold is not None:
            return self.threshold
        return 0.5 if self.score_kind == "probability" else 0.0

    def recorded(self) -> dict[str, Any]:
        """The configuration as recorded in the run document."""
        out = asdict(self)
        out.pop("extra")
        out["threshold"] = self.effective_threshold if self.task == "binary" else None
        out["segments"] = list(self.segments)
        out["sensitive"] = list(self.sensitive)
        out["metrics"] = None if self.metrics is None else list(self.metrics)
        return out
