"""Importers of other evaluation harnesses' results into assay run documents (``task: "suite"``).

- :func:`import_lm_eval`: lm-evaluation-harness ``results_<datetime>.json`` and its ``samples_*.jsonl``;
- :func:`import_inspect`: an Inspect AI eval log in JSON form.

Both return an :class:`~assay.evaluation.run.Run` and, given ``items=PATH``, write the item sidecar (one Parquet row
per item: ``id``, ``task``, ``group``, ``doc_id``, ``doc_hash``, ``target`` and one float column per per-item metric)
that a paired comparison of two runs joins on ``id``.
"""

from assay.suites.inspect_ai import import_inspect
from assay.suites.lm_eval import import_lm_eval

__all__ = ["import_inspect", "import_lm_eval"]
