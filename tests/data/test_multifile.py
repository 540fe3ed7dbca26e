"""Datasets of many files: a directory or a glob of files of one format is one table, Hive partitions as columns."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest

import assay
from assay.data import open_table
from assay.errors import ReadError

COUNTRIES = ("DE", "FR", "IT")


def _part(seed: int, n: int = 120) -> pa.Table:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    s = np.round(np.clip(0.3 + 0.4 * y + rng.normal(0, 0.2, n), 0, 1), 3)
    return pa.table({"id": np.arange(n) + 1000 * seed, "y": y, "s": s, "w": rng.integers(1, 4, n)})


def _hive(root: Path) -> pa.Table:
    """Two files in each of three country=XX folders, plus files to skip; the concatenated table with country."""
    pieces = []
    for i, country in enumerate(COUNTRIES):
        folder = root / f"country={country}"
        folder.mkdir(parents=True)
        for j in range(2):
            part = _part(10 * i + j)
            pq.write_table(part, folder / f"part-{j}.parquet")
            pieces.append(part.append_column("country", pa.array([country] * part.num_rows)))
    (root / "_SUCCESS").write_text("")
    (root / "_metadata").write_bytes(b"not a table")
    (root / ".hidden.parquet").write_bytes(b"not a table")
    (root / "country=DE" / ".part-9.parquet.crc").write_bytes(b"x")
    return pa.concat_tables(pieces)


def _metrics(data: Any, **options: Any) -> dict[str, Any]:
    doc = assay.evaluate(data, task="binary", label="y", score="s", **options).to_dict()
    return {key: doc[key] for key in ("metrics", "confusion_matrix", "slices")}


def test_directory_streams_files_in_order_with_partition_columns(tmp_path: Path) -> None:
    whole = _hive(tmp_path / "data")
    source = open_table(tmp_path / "data", chunk_rows=50)
    assert source.columns == ["id", "y", "s", "w", "country"]
    assert source.num_rows == whole.num_rows  # summed from the Parquet footers
    assert all(b.num_rows <= 50 for b in source.batches())
    assert source.read().equals(whole)
    assert source.read(["country", "y"]).equals(whole.select(["country", "y"]))
    assert next(b.column_names for b in source.batches(["country"])) == ["country"]
    assert source.name == str(tmp_path / "data")


def test_directory_and_glob_evaluate_as_the_concatenated_table(tmp_path: Path) -> None:
    whole = _hive(tmp_path / "data")
    single = tmp_path / "whole.parquet"
    pq.write_table(whole, single)
    # the files' rows are cut into chunks across file boundaries as the single table's are (100 rows: not a
    # multiple of a file's), so the sums run in the same order: equal bit for bit, in any chunk size
    for chunk_rows in (100, 1_000_000):
        expected = _metrics(single, segments=["country"], chunk_rows=chunk_rows)
        assert _metrics(tmp_path / "data", segments=["country"], chunk_rows=chunk_rows) == expected
        assert _metrics(str(tmp_path / "data" / "country=*" / "*.parquet"), segments=["country"],
                        chunk_rows=chunk_rows) == expected
        assert _metrics(str(tmp_path / "data" / "**" / "*.parquet"), segments=["country"],
                        chunk_rows=chunk_rows) == expected


def test_batches_cross_file_boundaries(tmp_path: Path) -> None:
    whole = _hive(tmp_path / "data")
    source = open_table(tmp_path / "data", chunk_rows=100)
    sizes = [b.num_rows for b in source.batches(["y", "country"])]
    assert sizes == [100] * (whole.num_rows // 100) + ([whole.num_rows % 100] if whole.num_rows % 100 else [])
    assert source.read(["y", "country"]).equals(whole.select(["y", "country"]))


def test_partition_column_is_a_segment(tmp_path: Path) -> None:
    whole = _hive(tmp_path / "data")
    doc = assay.evaluate(tmp_path / "data", task="binary", label="y", score="s", segments=["country"]).to_dict()
    assert doc["dataset"]["rows"] == whole.num_rows
    slices = doc["slices"]["country"]
    assert sorted(slices) == list(COUNTRIES)
    assert [slices[c]["n"] for c in COUNTRIES] == [240, 240, 240]


def test_glob_name_is_the_pattern(tmp_path: Path) -> None:
    _hive(tmp_path / "data")
    pattern = str(tmp_path / "data" / "country=*" / "*.parquet")
    doc = assay.evaluate(pattern, task="binary", label="y", score="s").to_dict()
    assert doc["dataset"]["name"] == pattern
    assert open_table(pattern).name == pattern


def test_csv_glob(tmp_path: Path) -> None:
    pieces = [_part(i) for i in range(3)]
    for i, part in enumerate(pieces):
        pcsv.write_csv(part, tmp_path / f"day-{i}.csv")
    whole = pa.concat_tables(pieces)
    (tmp_path / "notes.txt").write_text("not matched by the pattern")
    source = open_table(str(tmp_path / "day-*.csv"), chunk_rows=100)
    assert source.num_rows is None
    assert source.read().equals(whole)
    single = tmp_path / "single"
    single.mkdir()
    pcsv.write_csv(whole, single / "whole.csv")
    assert _metrics(str(tmp_path / "day-*.csv"), chunk_rows=120) == _metrics(single / "whole.csv", chunk_rows=120)


def test_csv_types_promoted_across_files(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("y,s\n1,1\n0,0\n")
    (tmp_path / "b.csv").write_text("y,s\n1,0.5\n0,0.25\n")
    table = open_table(tmp_path).read()
    assert table.schema.field("s").type == pa.float64()
    assert table.column("s").to_pylist() == [1.0, 0.0, 0.5, 0.25]


def test_empty_glob_names_the_pattern(tmp_path: Path) -> None:
    pattern = str(tmp_path / "nothing-*.parquet")
    with pytest.raises(ReadError, match=r"nothing-\*.parquet.*expected at least one file matching it"):
        open_table(pattern)


def test_directory_without_table_files(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "_SUCCESS").write_text("")
    (tmp_path / "empty" / "notes.txt").write_text("hi")
    with pytest.raises(ReadError, match=r"empty: expected a directory holding table files"):
        open_table(tmp_path / "empty")


def test_mixed_formats_name_two_files(tmp_path: Path) -> None:
    pq.write_table(_part(0), tmp_path / "a.parquet")
    pcsv.write_csv(_part(1), tmp_path / "b.csv")
    with pytest.raises(ReadError, match=r"files of one format.*a.parquet \(Parquet\) and .*b.csv \(CSV\)"):
        open_table(tmp_path)


def test_glob_matching_a_file_of_no_known_format(tmp_path: Path) -> None:
    pq.write_table(_part(0), tmp_path / "a.parquet")
    (tmp_path / "b.txt").write_text("y\n1\n")
    with pytest.raises(ReadError, match=r"b.txt: expected a file name ending in one of"):
        open_table(str(tmp_path / "*"))


def test_missing_column_names_the_file_and_column(tmp_path: Path) -> None:
    pq.write_table(_part(0), tmp_path / "a.parquet")
    pq.write_table(_part(1).drop_columns(["w"]), tmp_path / "b.parquet")
    with pytest.raises(ReadError, match=r"column 'w' of .*b.parquet: expected the columns of .*a.parquet"):
        open_table(tmp_path)


def test_extra_column_names_the_file_and_column(tmp_path: Path) -> None:
    pq.write_table(_part(0), tmp_path / "a.parquet")
    pq.write_table(_part(1).append_column("extra", pa.array([1] * 120)), tmp_path / "b.parquet")
    with pytest.raises(ReadError, match=r"column 'extra' of .*b.parquet: .*found an extra column 'extra'"):
        open_table(tmp_path)


def test_incompatible_types_name_the_file_and_column(tmp_path: Path) -> None:
    pq.write_table(_part(0), tmp_path / "a.parquet")
    part = _part(1)
    pq.write_table(part.set_column(2, "s", pa.array(["x"] * part.num_rows)), tmp_path / "b.parquet")
    with pytest.raises(ReadError, match=r"column 's' of .*b.parquet: expected double values, as in .*a.parquet, "
                       r"found string values"):
        open_table(tmp_path)


def test_different_partition_folders_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "country=DE").mkdir()
    pq.write_table(_part(0), tmp_path / "country=DE" / "a.parquet")
    pq.write_table(_part(1), tmp_path / "b.parquet")
    with pytest.raises(ReadError, match=r"a.parquet: expected the partition folders of .*b.parquet \(none\), "
                       r"found partition folders country"):
        open_table(tmp_path)


def test_partition_key_that_is_also_a_column(tmp_path: Path) -> None:
    (tmp_path / "y=1").mkdir()
    pq.write_table(_part(0), tmp_path / "y=1" / "a.parquet")
    with pytest.raises(ReadError, match=r"partition folder y="):
        open_table(tmp_path)


def test_profile_and_drift_of_a_directory(tmp_path: Path) -> None:
    whole = _hive(tmp_path / "data")
    single = tmp_path / "whole.parquet"
    pq.write_table(whole, single)
    result = assay.drift(single, tmp_path / "data")
    assert not result.drifted


def test_cli_directory_with_segment(tmp_path: Path) -> None:
    _hive(tmp_path / "data")
    out = tmp_path / "run.json"
    proc = subprocess.run(
        [sys.executable, "-m", "assay.cli.main", "evaluate", str(tmp_path / "data"), "--task", "binary", "--label", "y",
         "--score", "s", "--segment", "country", "--out", str(out), "--quiet"],
        capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert out.exists()


def test_cli_empty_glob_exits_2_without_traceback(tmp_path: Path) -> None:
    pattern = str(tmp_path / "day=*" / "*.parquet")
    proc = subprocess.run(
        [sys.executable, "-m", "assay.cli.main", "evaluate", pattern, "--task", "binary", "--label", "y",
         "--score", "s"],
        capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert pattern in proc.stderr.replace("\n", "")


def test_directory_name_in_the_run_document(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _hive(tmp_path / "data")
    monkeypatch.chdir(tmp_path / "data")
    doc = assay.evaluate(".", task="binary", label="y", score="s").to_dict()
    assert doc["dataset"]["name"] == "data"
    monkeypatch.chdir(tmp_path)
    assert assay.evaluate("data/", task="binary", label="y", score="s").to_dict()["dataset"]["name"] == "data"


def test_arrow_and_json_lines_directories(tmp_path: Path) -> None:
    import pyarrow.feather as feather

    pieces = [_part(i, n=30) for i in range(2)]
    (tmp_path / "ipc").mkdir()
    (tmp_path / "jsonl").mkdir()
    for i, part in enumerate(pieces):
        feather.write_feather(part, tmp_path / "ipc" / f"{i}.arrow")
        lines = [json.dumps(row) for row in part.to_pylist()]
        (tmp_path / "jsonl" / f"{i}.jsonl").write_text("\n".join(lines) + "\n")
    whole = pa.concat_tables(pieces)
    ipc = open_table(tmp_path / "ipc")
    assert ipc.num_rows == 60
    assert ipc.read().equals(whole)
    assert open_table(tmp_path / "jsonl").read().equals(whole)
