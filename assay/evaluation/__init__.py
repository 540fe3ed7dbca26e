"""Evaluation runs: a table and column roles in, a run document out."""

from assay.evaluation.config import EvalConfig
from assay.evaluation.run import Run, evaluate

__all__ = ["EvalConfig", "Run", "evaluate"]
