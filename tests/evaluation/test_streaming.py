"""Behaviours of this session's streaming and speed work, each checked so that it fails without it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import assay
from assay.data.columns import to_codes
from assay.metrics.table import SortedTable


def test_dictionary_codes_drop_unused_entries() -> None:
    """Codes straight from a dictionary column's indices: entries no row uses give no (empty) group."""
    column = pa.DictionaryArray.from_arrays(pa.array(np.array([2, 0, 2, 2], dtype=np.int8)),
                                            pa.array(["north", "east", "south"]))
    codes, values = to_codes(pa.chunked_array([column, column]), column="region", source="t")
    assert values == ["north", "south"]
    assert [values[c] for c in codes] == ["south", "north", "south", "south"] * 2
    run = assay.evaluate({"y": np.array([0, 1, 1, 0]), "s": np.array([0.2, 0.7, 0.6, 0.1]), "region": column},
                         task="binary", label="y", score="s", segments=["region"])
    assert set(run.doc["slices"]["region"]) == {"north", "south"}


def _loaded_after(code: str, *modules: str) -> list[bool]:
    """Whether each module is loaded in a fresh interpreter after ``code`` runs."""
    script = f"import sys\n{code}\nprint(*[m in sys.modules for m in {modules!r}])"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    return [word == "True" for word in out.stdout.split()]


EVALUATE = (
    "import numpy as np, assay\n"
    "data = {'y': np.array([0, 1, 1, 0]), 's': np.array([0.1, 0.8, 0.4, 0.3]), 'g': np.array([1, 1, 2, 2])}\n"
    "assay.evaluate(data, task='binary', label='y', score='s', segments=['g'])"
)


def test_evaluating_numpy_arrays_does_not_import_pandas() -> None:
    assert _loaded_after(EVALUATE, "pandas") == [False]


def test_importing_assay_or_evaluating_does_not_import_scipy_stats() -> None:
    """scipy.stats is most of the import time of a command: only drift's tests and the gate load it."""
    assert _loaded_after("import assay, assay.cli.main", "scipy.stats") == [False]
    assert _loaded_after(EVALUATE, "scipy.stats") == [False]


def test_the_cap_bounds_the_whole_table_across_groups() -> None:
    """A state's size is bounded whatever the number of groups: the cap counts all groups' entries together."""
    rng = np.random.default_rng(0)
    n, groups = 20_000, 10
    table = SortedTable.empty(2, cap=500).update(rng.random(n), rng.integers(0, 2, n),
                                                 codes=rng.integers(0, groups, n),
                                                 group_keys=tuple(range(groups)))
    assert table.key.size <= 500
    assert not table.exact


def test_slices_from_chunks_agree_with_the_table_in_memory_to_a_few_ulps(tmp_path: Path) -> None:
    """Per-group float sums are pairwise, as the overall ones: a file read in 100 chunks gives every slice's log
    loss and Brier score to within a few ulps of the in-memory run (bincount's sequential sums were ~2,000 ulps
    apart at this size)."""
    rng = np.random.default_rng(4)
    n = 200_000
    y = (rng.random(n) < 0.3).astype(np.int8)
    data = {"y": y, "s": np.clip(0.3 + 0.35 * y + rng.normal(0, 0.2, n), 1e-6, 1 - 1e-6),
            "seg": rng.integers(0, 4, n).astype(np.int8)}
    path = tmp_path / "d.parquet"
    pq.write_table(pa.table(data), path, row_group_size=n // 100)
    whole = assay.evaluate(data, task="binary", label="y", score="s", segments=["seg"]).doc
    chunked = assay.evaluate(path, task="binary", label="y", score="s", segments=["seg"], chunk_rows=n // 100,
                             max_distinct_scores=None).doc
    for group, entry in whole["slices"]["seg"].items():
        for metric in ("log_loss", "brier"):
            a, b = entry["metrics"][metric]["value"], chunked["slices"]["seg"][group]["metrics"][metric]["value"]
            assert abs(a - b) <= 8 * np.spacing(a), (group, metric)
