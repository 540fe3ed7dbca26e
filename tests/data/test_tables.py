"""open_table and TableSource: every input kind reads the same table, batches re-assemble it, errors name the file."""

from __future__ import annotations

import gzip
import io
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.feather as feather
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import assay.data
from assay.data import _formats
from assay.data.tables import SUPPORTED_EXTENSIONS, open_table
from assay.errors import ColumnError, ConfigError, ReadError

ROWS = 7
EXPECTED: dict[str, list[Any]] = {
    "id": list(range(1, ROWS + 1)),
    "y": [0, 1, 1, 0, 1, 0, 0],
    "s": [0.1, 0.9, 0.4, 0.25, 0.75, 0.5, 0.125],
    "g": ["a", "b", "a", "c", "b", "a", "c"],
}
TABLE = pa.table(EXPECTED)

FILE_KINDS = ["csv", "csv.gz", "parquet", "pq", "jsonl", "ndjson", "arrow", "arrow-stream", "feather", "ipc"]
MEMORY_KINDS = ["pandas", "polars", "pyarrow", "batch", "dict", "dict-numpy"]
KINDS = FILE_KINDS + MEMORY_KINDS


def write(kind: str, table: pa.Table, folder: Path) -> Path:
    """Write ``table`` in the file format of ``kind`` and return the path."""
    if kind == "csv":
        path = folder / "data.csv"
        pcsv.write_csv(table, path)
    elif kind == "csv.gz":
        path = folder / "data.csv.gz"
        sink = pa.BufferOutputStream()
        pcsv.write_csv(table, sink)
        path.write_bytes(gzip.compress(sink.getvalue().to_pybytes()))
    elif kind in ("parquet", "pq"):
        path = folder / f"data.{kind}"
        pq.write_table(table, path, row_group_size=3)
    elif kind in ("jsonl", "ndjson"):
        path = folder / f"data.{kind}"
        path.write_text("".join(json.dumps(row) + "\n" for row in table.to_pylist()))
    elif kind in ("arrow", "ipc"):
        path = folder / f"data.{kind}"
        with ipc.new_file(path, table.schema) as writer:
            writer.write_table(table, max_chunksize=2)
    elif kind == "arrow-stream":
        path = folder / "stream.arrow"
        with ipc.new_stream(path, table.schema) as writer:
            writer.write_table(table, max_chunksize=2)
    elif kind == "feather":
        path = folder / "data.feather"
        feather.write_feather(table, path, chunksize=4)
    else:
        raise AssertionError(kind)
    return path


def make_source(kind: str, folder: Path) -> Any:
    if kind in FILE_KINDS:
        return write(kind, TABLE, folder)
    return {
        "pandas": lambda: pd.DataFrame(EXPECTED),
        "polars": lambda: pl.DataFrame(EXPECTED),
        "pyarrow": lambda: TABLE,
        "batch": lambda: TABLE.to_batches()[0],
        "dict": lambda: dict(EXPECTED),
        "dict-numpy": lambda: {k: np.asarray(v) for k, v in EXPECTED.items()},
    }[kind]()


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("tables")
    return {kind: make_source(kind, folder) for kind in KINDS}


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_reads_the_same_table(kind: str, sources: dict[str, Any]) -> None:
    source = open_table(sources[kind])
    assert source.columns == list(EXPECTED)
    assert source.schema.names == list(EXPECTED)
    assert source.read().to_pydict() == EXPECTED
    assert source.size_bytes > 0
    assert source.in_memory is (kind in MEMORY_KINDS)
    if kind in ("csv", "csv.gz", "jsonl", "ndjson", "arrow-stream"):
        assert source.num_rows is None
    else:
        assert source.num_rows == ROWS
    if kind in FILE_KINDS:
        assert source.name == str(sources[kind])
        assert source.size_bytes == Path(sources[kind]).stat().st_size


@pytest.mark.parametrize("kind", MEMORY_KINDS)
def test_in_memory_names(kind: str, sources: dict[str, Any]) -> None:
    expected = {
        "pandas": "<pandas DataFrame>",
        "polars": "<polars DataFrame>",
        "pyarrow": "<pyarrow Table>",
        "batch": "<pyarrow RecordBatch>",
        "dict": "<dict of columns>",
        "dict-numpy": "<dict of columns>",
    }[kind]
    assert open_table(sources[kind]).name == expected
    assert open_table(sources[kind], name="scores").name == "scores"


def test_path_as_string_keeps_the_name_as_given(sources: dict[str, Any]) -> None:
    path = str(sources["csv"])
    assert open_table(path).name == path


@settings(max_examples=60, deadline=None)
@given(kind=st.sampled_from(KINDS), chunk_rows=st.integers(1, ROWS + 2))
def test_batches_concatenate_to_the_whole(kind: str, chunk_rows: int, sources: dict[str, Any]) -> None:
    source = open_table(sources[kind], chunk_rows=chunk_rows)
    batches = list(source.batches())
    assert all(0 < batch.num_rows <= chunk_rows for batch in batches)
    assert len(batches) >= -(-ROWS // chunk_rows)
    whole = pa.Table.from_batches(batches, schema=source.schema)
    assert whole.equals(source.read())
    assert whole.to_pydict() == EXPECTED


@pytest.mark.parametrize("kind", KINDS)
def test_projection_keeps_the_requested_columns_in_order(kind: str, sources: dict[str, Any]) -> None:
    source = open_table(sources[kind], chunk_rows=3)
    assert source.read(["s", "id"]).to_pydict() == {"s": EXPECTED["s"], "id": EXPECTED["id"]}
    batches = list(source.batches(["g"]))
    assert len(batches) >= 3
    assert all(batch.schema.names == ["g"] for batch in batches)
    assert pa.Table.from_batches(batches).column("g").to_pylist() == EXPECTED["g"]


def test_parquet_reads_only_the_requested_columns(sources: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Any] = []
    iter_batches, read = pq.ParquetFile.iter_batches, pq.ParquetFile.read

    def spy_iter(self: pq.ParquetFile, *args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs.get("columns"))
        return iter_batches(self, *args, **kwargs)

    def spy_read(self: pq.ParquetFile, *args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs.get("columns"))
        return read(self, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "iter_batches", spy_iter)
    monkeypatch.setattr(pq.ParquetFile, "read", spy_read)
    source = open_table(sources["parquet"])
    list(source.batches(["y"]))
    source.read(["s"])
    assert seen == [["y"], ["s"]]


@pytest.mark.parametrize("kind", ["arrow", "arrow-stream"])
def test_ipc_reads_only_the_requested_columns(
    kind: str, sources: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[Any] = []
    name = "open_file" if kind == "arrow" else "open_stream"
    original = getattr(ipc, name)

    def spy(source: Any, *, options: Any = None, **kwargs: Any) -> Any:
        seen.append(None if options is None else list(options.included_fields))
        return original(source, options=options, **kwargs)

    monkeypatch.setattr(ipc, name, spy)
    source = open_table(sources[kind])
    batches = list(source.batches(["s", "y"]))
    assert seen[-1] == [1, 2]
    assert batches[0].schema.names == ["s", "y"]


def test_batches_stop_early_without_error(sources: dict[str, Any]) -> None:
    for kind in FILE_KINDS:
        iterator = open_table(sources[kind], chunk_rows=2).batches()
        assert next(iterator).num_rows <= 2
        iterator.close()  # type: ignore[attr-defined]


# ------------------------------------------------------------------------------------------------ empty tables


def test_empty_tables_are_not_errors(tmp_path: Path) -> None:
    empty = TABLE.slice(0, 0)
    header_only = tmp_path / "header.csv"
    header_only.write_text("id,y\n")
    zero_csv = tmp_path / "zero.csv"
    zero_csv.write_text("")
    zero_jsonl = tmp_path / "zero.jsonl"
    zero_jsonl.write_text("")
    cases = [
        write("parquet", empty, tmp_path),
        write("arrow", empty, tmp_path),
        write("arrow-stream", empty, tmp_path),
        header_only,
        zero_csv,
        zero_jsonl,
        empty,
        {},
        {"a": []},
        pd.DataFrame({"a": []}),
    ]
    for case in cases:
        source = open_table(case)
        assert list(source.batches()) == []
        table = source.read()
        assert table.num_rows == 0
        assert table.schema.names == source.columns
        assert source.num_rows in (0, None)
    assert open_table(header_only).columns == ["id", "y"]
    assert open_table(zero_csv).columns == []


def test_missing_column_in_an_empty_file_says_there_are_none(tmp_path: Path) -> None:
    path = tmp_path / "zero.jsonl"
    path.write_text("")
    with pytest.raises(ColumnError, match=r"column 'y' of .*zero.jsonl: expected a column named 'y', found no columns"):
        open_table(path).read(["y"])


# ------------------------------------------------------------------------------------------------------ errors


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.csv"
    with pytest.raises(ReadError, match=r"nope\.csv: expected an existing file, found no file at this path\. Fix"):
        open_table(path)


def test_directory_without_table_files(tmp_path: Path) -> None:
    # a directory is a table of many files (tests/data/test_multifile.py); one without table files is an error
    with pytest.raises(ReadError, match="expected a directory holding table files"):
        open_table(tmp_path)


def test_unknown_extension_lists_the_supported_ones(tmp_path: Path) -> None:
    path = tmp_path / "data.xlsx"
    path.write_bytes(b"PK")
    with pytest.raises(ReadError) as info:
        open_table(path)
    text = str(info.value)
    assert "data.xlsx" in text and "'.xlsx'" in text
    assert all(ending in text for ending in SUPPORTED_EXTENSIONS)


def test_extensions_match_case_insensitively(tmp_path: Path) -> None:
    path = tmp_path / "DATA.CSV"
    path.write_text("a\n1\n")
    assert open_table(path).read().to_pydict() == {"a": [1]}


def test_missing_column_lists_the_columns_found(sources: dict[str, Any]) -> None:
    path = sources["csv"]
    source = open_table(path)
    expected = (
        rf"column 'nope' of {re.escape(str(path))}: expected a column named 'nope', found columns id, y, s, g\. Fix: "
    )
    with pytest.raises(ColumnError, match=expected):
        source.read(["nope"])
    with pytest.raises(ColumnError, match="did you mean 'id'"):
        list(source.batches(["Id"]))


def test_missing_column_is_reported_before_anything_is_read(sources: dict[str, Any]) -> None:
    with pytest.raises(ColumnError):
        open_table(sources["parquet"]).batches(["y", "nope"])  # no iteration needed


def test_column_names_must_be_a_list(sources: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match=r"found the string 'y'\. Fix: pass \['y'\]"):
        open_table(sources["pyarrow"]).read("y")  # type: ignore[arg-type]


def test_a_column_requested_twice_is_rejected(sources: dict[str, Any]) -> None:
    with pytest.raises(ColumnError, match="'y' requested 2 times"):
        open_table(sources["pyarrow"]).read(["y", "y"])


def test_duplicate_column_names_in_a_file(tmp_path: Path) -> None:
    path = tmp_path / "dup.csv"
    path.write_text("a,a,b\n1,2,3\n")
    source = open_table(path)
    assert source.read().num_columns == 3
    assert source.read(["b"]).to_pydict() == {"b": [3]}
    with pytest.raises(ColumnError, match="found 2 columns named 'a'"):
        source.read(["a"])


@pytest.mark.parametrize("chunk_rows", [0, -1, 1.5, True, "10"])
def test_chunk_rows_must_be_a_positive_integer(chunk_rows: Any) -> None:
    with pytest.raises(ConfigError, match="chunk_rows: expected a positive integer"):
        open_table({"a": [1]}, chunk_rows=chunk_rows)


def test_unsupported_source_type() -> None:
    with pytest.raises(ReadError, match=r"data source: expected a file path.*found a builtins\.int"):
        open_table(42)
    with pytest.raises(ReadError, match=r"call \.collect\(\)"):
        open_table(pl.DataFrame({"a": [1]}).lazy())


def test_dict_columns_of_different_lengths() -> None:
    with pytest.raises(
        ColumnError, match="<dict of columns>: expected columns of one length, found lengths id: 3, y: 2"
    ):
        open_table({"id": [1, 2, 3], "y": [0, 1]})


@pytest.mark.parametrize(
    ("value", "found"),
    [(5, "found a int"), ("abc", "found a str"), (np.zeros((2, 2)), "1-dimensional"), ([1, "a"], "Could not convert")],
)
def test_dict_column_that_is_not_a_flat_array(value: Any, found: str) -> None:
    with pytest.raises(ColumnError, match=f"column 'bad' of <dict of columns>: expected .*{found}"):
        open_table({"ok": [1, 2], "bad": value})


def test_pandas_column_of_mixed_types_names_the_column() -> None:
    frame = pd.DataFrame({"ok": [1, 2], "mixed": [1, "a"]})
    with pytest.raises(ColumnError, match="column 'mixed' of <pandas DataFrame>"):
        open_table(frame)


def test_csv_row_with_too_many_fields_reports_row_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("id,y\n1,0\n2,1\n3,1,9\n4,0\n")
    with pytest.raises(ReadError) as info:
        open_table(path).read()
    assert str(info.value).startswith(f"{path}, row 2 (line 4): expected 2 fields on every row")
    assert "found 3 fields: '3,1,9'" in str(info.value)


def test_csv_bad_row_far_into_the_file_is_reported_mid_stream(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_formats, "BLOCK_BYTES", 1 << 10)
    path = tmp_path / "late.csv"
    path.write_text("id,y\n" + "".join(f"{i},{i % 2}\n" for i in range(1000)) + "7,1,1\n")
    source = open_table(path, chunk_rows=100)  # the first block is fine
    batches = source.batches()
    assert next(batches).num_rows == 100
    with pytest.raises(ReadError, match=r"late\.csv, row 1000 \(line 1002\): expected 2 fields"):
        list(batches)


def test_csv_type_change_after_the_first_block(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_formats, "BLOCK_BYTES", 1 << 10)
    path = tmp_path / "drift.csv"
    path.write_text("id,s\n" + "".join(f"{i},{i}\n" for i in range(500)) + "500,0.5\n")
    source = open_table(path)
    assert source.schema.field("s").type == pa.int64()
    with pytest.raises(ReadError, match=r"column 's' of .*drift\.csv, row 500 \(line 502\): expected int64 values"):
        source.read()


def test_csv_column_empty_in_the_first_block(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_formats, "BLOCK_BYTES", 1 << 10)
    path = tmp_path / "sparse.csv"
    path.write_text("id,note\n" + "".join(f"{i},\n" for i in range(500)) + "500,late\n")
    with pytest.raises(ReadError, match=r"column 'note' .*expected no values .*found 'late'"):
        open_table(path).read()


def test_small_csv_is_typed_from_all_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "small.csv"
    path.write_text("id,s,note\n" + "".join(f"{i},{i},\n" for i in range(500)) + "500,0.5,late\n")
    table = open_table(path).read()
    assert table.schema.field("s").type == pa.float64()
    assert table.column("note").to_pylist()[-1] == "late"


def test_jsonl_invalid_line_reports_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": 1}\n{"id": 2}\n{"id": 3,}\n{"id": 4}\n')
    with pytest.raises(
        ReadError, match=rf"{re.escape(str(path))}, row 2 \(line 3\): expected one valid JSON object per line"
    ):
        open_table(path).read()


def test_jsonl_invalid_line_in_a_later_block_counts_the_rows_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_formats, "BLOCK_BYTES", 1 << 10)
    path = tmp_path / "late.jsonl"
    path.write_text("".join(json.dumps({"id": i}) + "\n" for i in range(600)) + "oops\n")
    source = open_table(path, chunk_rows=50)
    batches = source.batches(["id"])
    assert next(batches).num_rows == 50
    with pytest.raises(ReadError, match=r"late\.jsonl, row 600 \(line 601\): expected one valid JSON object"):
        list(batches)


def test_jsonl_field_changing_type_names_the_column(tmp_path: Path) -> None:
    path = tmp_path / "types.jsonl"
    path.write_text('{"id": 1, "y": 0}\n{"id": 2, "y": "one"}\n')
    with pytest.raises(ReadError, match=r"column 'y' of .*types\.jsonl, row 1 \(line 2\): expected number values"):
        open_table(path)


def test_jsonl_projection_skips_other_fields(tmp_path: Path) -> None:
    path = tmp_path / "wide.jsonl"
    path.write_text('{"id": 1, "y": 0, "extra": "a"}\n{"id": 2, "y": 1, "extra": "b"}\n')
    assert open_table(path).read(["y"]).to_pydict() == {"y": [0, 1]}


def test_truncated_parquet(tmp_path: Path) -> None:
    path = write("parquet", TABLE, tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    expected = f"{re.escape(str(path))}: expected a complete, readable Parquet file, found no Parquet footer"
    with pytest.raises(ReadError, match=expected):
        open_table(path)


def test_parquet_corrupt_mid_file_fails_while_streaming(tmp_path: Path) -> None:
    path = write("parquet", TABLE, tmp_path)  # row groups of 3, 3, 1 rows
    chunk = pq.ParquetFile(path).metadata.row_group(2).column(0)
    data = bytearray(path.read_bytes())
    start, size = chunk.data_page_offset, chunk.total_compressed_size
    data[start : start + size] = b"\xff" * size
    path.write_bytes(bytes(data))
    source = open_table(path, chunk_rows=3)
    batches = source.batches()
    assert next(batches).num_rows == 3
    with pytest.raises(
        ReadError, match=rf"{re.escape(str(path))}: expected a complete, readable Parquet file, .* after 6 rows read"
    ):
        list(batches)
    with pytest.raises(ReadError, match=re.escape(str(path))):
        source.read()


def test_truncated_arrow_file(tmp_path: Path) -> None:
    path = write("arrow", TABLE, tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ReadError, match="no Arrow IPC footer: the file is truncated"):
        open_table(path)


def test_truncated_arrow_stream_fails_while_streaming(tmp_path: Path) -> None:
    path = write("arrow-stream", TABLE, tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 100])
    source = open_table(path)
    with pytest.raises(ReadError, match=rf"{re.escape(str(path))}: expected a complete, readable Arrow IPC file"):
        list(source.batches())


def test_feather_version_1_is_named(tmp_path: Path) -> None:
    path = tmp_path / "old.feather"
    path.write_bytes(b"FEA1" + b"\0" * 64)
    with pytest.raises(ReadError, match="found a Feather version 1 file"):
        open_table(path)


def test_truncated_gzip_csv(tmp_path: Path) -> None:
    path = tmp_path / "big.csv.gz"
    path.write_bytes(gzip.compress(("a,b\n" + "".join(f"{i},{i}\n" for i in range(20_000))).encode())[:5_000])
    with pytest.raises(ReadError, match=r"big\.csv\.gz: expected a complete, readable CSV file, found a compressed"):
        open_table(path).read()


def test_garbage_with_a_known_extension(tmp_path: Path) -> None:
    for ending in ["parquet", "arrow", "jsonl"]:
        path = tmp_path / f"junk.{ending}"
        path.write_bytes(b"\x00\x01 not really data \xff" * 10)
        with pytest.raises(ReadError, match=re.escape(str(path))):
            open_table(path).read()


# -------------------------------------------------------------------------------------------- public surface


def test_importing_assay_data_loads_neither_pandas_nor_polars() -> None:
    code = "import sys, assay.data; print(sorted(m for m in ('pandas', 'polars') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_public_names_are_sorted_and_complete() -> None:
    assert assay.data.__all__ == sorted(assay.data.__all__)
    public = {name for name in vars(assay.data) if not name.startswith("_")}
    modules = {"atomic", "columns", "tables"}
    assert public - modules == set(assay.data.__all__)


@pytest.mark.parametrize("kind", KINDS)
def test_no_columns_still_counts_the_rows(kind: str, sources: dict[str, Any]) -> None:
    source = open_table(sources[kind], chunk_rows=3)
    assert source.read([]).num_rows == ROWS
    assert sum(batch.num_rows for batch in source.batches([])) == ROWS


# -- standard input ------------------------------------------------------------------------------------------------

STDIN_KINDS = ["csv", "jsonl", "arrow", "arrow-stream", "parquet"]


def piped(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    """Standard input holding ``data``, as a pipe would (not a terminal)."""
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))


@pytest.mark.parametrize("kind", STDIN_KINDS)
def test_standard_input_is_told_apart_by_content(kind: str, sources: dict[str, Any],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    piped(monkeypatch, Path(sources[kind]).read_bytes())
    source = open_table("-", chunk_rows=3)
    assert source.name == "<stdin>" and not source.in_memory
    assert source.read().to_pydict() == EXPECTED
    assert pa.Table.from_batches(list(source.batches(["g", "y"]))).to_pydict() == {"g": EXPECTED["g"],
                                                                                  "y": EXPECTED["y"]}
    assert source.read(["id"]).column("id").to_pylist() == EXPECTED["id"]  # read again: the bytes stay in memory


@pytest.mark.parametrize(("kind", "fmt"), [("csv", "csv"), ("jsonl", "jsonl"), ("arrow-stream", "arrow"),
                                           ("parquet", "parquet")])
def test_format_names_the_format_of_standard_input(kind: str, fmt: str, sources: dict[str, Any],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    piped(monkeypatch, Path(sources[kind]).read_bytes())
    assert open_table("-", format=fmt, name="query").read().to_pydict() == EXPECTED


def test_format_overrides_the_content(monkeypatch: pytest.MonkeyPatch) -> None:
    piped(monkeypatch, b'{"a": 1}\n')  # JSON Lines by content; one CSV field per line as asked
    assert open_table("-", format="csv").read().column_names == ['{"a": 1}']


def test_format_overrides_the_extension(tmp_path: Path) -> None:
    path = tmp_path / "export.txt"
    path.write_text("y,s\n1,0.5\n")
    assert open_table(path, format="csv").read().to_pydict() == {"y": [1], "s": [0.5]}


@pytest.mark.parametrize("prefix", [b"\xef\xbb\xbf", b"\n  "], ids=["bom", "blank"])
def test_json_lines_on_standard_input_after_a_bom_or_blank_space(prefix: bytes,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    piped(monkeypatch, prefix + b'{"y": 1, "s": 0.5}\n')
    assert open_table("-").read().to_pydict() == {"y": [1], "s": [0.5]}


def test_empty_standard_input_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    piped(monkeypatch, b"")
    with pytest.raises(ReadError, match=r"^<stdin>: expected a table on standard input .*found no data"):
        open_table("-")


def test_standard_input_on_a_terminal_is_refused_without_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    class Terminal(io.TextIOWrapper):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stdin", Terminal(io.BytesIO(b"y\n1\n")))
    with pytest.raises(ReadError, match="expected a table piped to standard input, found a terminal"):
        open_table("-")


def test_gzip_on_standard_input_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    piped(monkeypatch, gzip.compress(b"y\n1\n"))
    with pytest.raises(ReadError, match="found gzip-compressed data"):
        open_table("-")


@pytest.mark.parametrize("fmt", ["xlsx", "CSV ", "ipc"])
def test_unknown_format_is_refused(fmt: str, tmp_path: Path) -> None:
    if fmt == "CSV ":  # names are matched ignoring case and spaces
        path = tmp_path / "a.txt"
        path.write_text("y\n1\n")
        assert open_table(path, format=fmt).read().num_rows == 1
        return
    with pytest.raises(ConfigError, match="format: expected one of csv, jsonl, arrow, parquet"):
        open_table("missing.csv", format=fmt)


def test_format_for_a_table_in_memory_is_refused() -> None:
    with pytest.raises(ConfigError, match="a table in memory"):
        open_table({"y": [1]}, format="csv")
