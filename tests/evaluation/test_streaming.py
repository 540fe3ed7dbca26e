"""Behaviours of this session's streaming and speed work, each checked so that it fails without it."""

from __future__ import annotations

import os
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


def _scipy_loaded_after(code: str) -> list[str]:
    """The SciPy modules loaded in a fresh interpreter after ``code`` runs."""
    script = f"import sys\n{code}\nprint(*sorted(m for m in sys.modules if m == 'scipy' or m.startswith('scipy.')))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    return out.stdout.split()


def test_importing_assay_or_evaluating_does_not_import_scipy_stats() -> None:
    """SciPy is loaded by the code paths that need it, never at import: scipy.special alone (its array-API layer)
    was about 0.24 s of every command's start-up, scipy.stats more. Evaluating loads scipy.special, not stats."""
    assert _scipy_loaded_after("import assay, assay.cli.main") == []
    assert _loaded_after(EVALUATE, "scipy.stats") == [False]


def _best_import_seconds(statement: str, env: dict[str, str], runs: int) -> float:
    script = f"import time\nstart = time.perf_counter()\n{statement}\nprint(time.perf_counter() - start)"
    times = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True,
                             env=env)
        times.append(float(out.stdout))
    return min(times)


FLOOR = "import numpy, pyarrow, pyarrow.compute"


def test_import_assay_costs_at_most_the_floor_plus_a_tenth_of_a_second(tmp_path: Path) -> None:
    """The issue's budget: ``import assay`` in a fresh interpreter takes at most the floor (NumPy and PyArrow, which
    every command needs) plus 0.1 s, measured in the same run. It took 0.35 s over a 0.15 s floor before SciPy was
    loaded lazily, 0.19 s after.

    Both are timed as the best of 5 fresh interpreters, alternated, with bytecode compiled once beforehand into a
    private cache (so that neither pays for compiling, even under PYTHONDONTWRITEBYTECODE). The bound adds 20% of
    the floor to the issue's 0.1 s: on a loaded two-core CI machine the floor itself moves by that much."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(tmp_path / "pycache")
    for statement in (FLOOR, "import assay"):  # compile once
        _best_import_seconds(statement, env, runs=1)
    floor, assay_import = float("inf"), float("inf")
    for _ in range(5):
        floor = min(floor, _best_import_seconds(FLOOR, env, runs=1))
        assay_import = min(assay_import, _best_import_seconds("import assay", env, runs=1))
    bound = floor + 0.1 + 0.2 * floor
    figures = f"import assay {assay_import:.3f} s, floor ({FLOOR}) {floor:.3f} s, bound {bound:.3f} s"
    print(figures)
    assert assay_import <= bound, figures


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
