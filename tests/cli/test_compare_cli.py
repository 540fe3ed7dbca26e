"""`assay compare sequential`: the offline replay of a live comparison, and its bad inputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from assay.cli.main import main


def _table(path: Path, n: int, acc: float, seed: int, start: float = 0.0) -> Path:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    pred = np.where(rng.random(n) < acc, y, 1 - y)
    pq.write_table(pa.table({"id": [f"r{i}" for i in range(n)], "timestamp": start + np.arange(n) * 2.0,
                             "y": y, "pred": pred, "latency": rng.gamma(2.0, 0.05, n)}), path)
    return path


def test_a_worse_candidate_is_rolled_back_in_the_replay(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    c = _table(tmp_path / "c.parquet", 6000, 0.92, 1)
    t = _table(tmp_path / "t.parquet", 6000, 0.85, 2, start=1.0)
    assert main(["compare", "sequential", str(c), str(t), "--label", "y", "--prediction", "pred", "--margin", "0.02",
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["decision"] == "rollback"
    assert out["stands"]["n_control"] < 6000 and out["stands"]["ci_high"] < 0
    assert out["first"]["rollback"]["outcomes"] % 100 == 0  # looks every 100 outcomes
    # the same tables, paired on the id column (a shadow replay): decided with fewer outcomes
    assert main(["compare", "sequential", str(c), str(t), "--label", "y", "--prediction", "pred", "--margin", "0.02",
                 "--paired", "--json"]) == 0
    paired = json.loads(capsys.readouterr().out)
    assert paired["paired"] and paired["decision"] == "rollback"
    # a value column, lower is better, printed as a table
    assert main(["compare", "sequential", str(c), str(c), "--value", "latency", "--lower-is-better",
                 "--margin-relative", "0.1", "--min-outcomes", "1000"]) == 0
    text = capsys.readouterr().out
    assert "decision: promote" in text


@pytest.mark.parametrize(("extra", "message"), [
    (["--label", "y", "--prediction", "nope", "--margin", "0.02"], "expected the column 'nope'"),
    (["--margin", "0.02"], "expected --value COLUMN, or --label and --prediction"),
    (["--label", "y", "--prediction", "pred"], "exactly one of --margin and --margin-relative"),
    (["--label", "y", "--prediction", "pred", "--margin", "0.02", "--every", "0"], "--every"),
])
def test_bad_input_exits_2_with_the_fix(tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str],
                                        message: str) -> None:
    c = _table(tmp_path / "c.parquet", 100, 0.9, 1)
    assert main(["compare", "sequential", str(c), str(c), *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
