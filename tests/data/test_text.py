"""Text that is not UTF-8: ``encoding=`` reads it (pyarrow's own option for CSV, a transcoding stream for JSON
Lines), and without it the read stops with a message naming the file, the column, the row and the byte, never a
column of bytes or a group named ``"b'caf\\xe9'"``."""

from __future__ import annotations

import gzip
import io
import json
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import assay
from assay.data import _formats, open_table
from assay.data._text import invalid_utf8, normalize_encoding
from assay.data.columns import to_codes
from assay.errors import ColumnError, ConfigError, ReadError

ROWS = [("café", 1, 0.75), ("bar", 0, 0.25), ("café", 0, 0.5), ("naïve", 1, 0.875)]


def latin1_csv(folder: Path, name: str = "latin1.csv") -> Path:
    path = folder / name
    path.write_bytes(("seg,y,s\n" + "".join(f"{g},{y},{s}\n" for g, y, s in ROWS)).encode("latin-1"))
    return path


def latin1_jsonl(folder: Path, name: str = "latin1.jsonl") -> Path:
    path = folder / name
    text = "".join(json.dumps({"seg": g, "y": y, "s": s}, ensure_ascii=False) + "\n" for g, y, s in ROWS)
    path.write_bytes(text.encode("latin-1"))
    return path


WRITERS = {"csv": latin1_csv, "jsonl": latin1_jsonl}
SEGMENTS = [g for g, _, _ in ROWS]


@pytest.mark.parametrize("kind", sorted(WRITERS))
def test_latin1_reads_with_its_encoding(kind: str, tmp_path: Path) -> None:
    path = WRITERS[kind](tmp_path)
    for encoding in ("latin-1", "ISO-8859-1", "cp1252"):
        source = open_table(path, encoding=encoding, chunk_rows=2)
        assert source.read(["seg"]).column("seg").to_pylist() == SEGMENTS
        assert [v for b in source.batches(["seg"]) for v in b.column("seg").to_pylist()] == SEGMENTS


@pytest.mark.parametrize("kind", sorted(WRITERS))
def test_latin1_without_its_encoding_names_file_column_row_and_byte(kind: str, tmp_path: Path) -> None:
    path = WRITERS[kind](tmp_path)
    line = 2 if kind == "csv" else 1
    with pytest.raises(ReadError) as caught:
        open_table(path).read()
    text = str(caught.value)
    assert text.startswith(f"column 'seg' of {path}, row 0 (line {line}): expected UTF-8 text, found byte 0xe9")
    assert r"'caf\xe9'" in text and "--encoding latin-1" in text


@pytest.mark.parametrize("kind", sorted(WRITERS))
def test_a_bad_byte_far_into_the_file_counts_the_rows_before(kind: str, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_formats, "BLOCK_BYTES", 1 << 10)
    path = tmp_path / f"late.{kind}"
    good = [("plain", i % 2, 0.5) for i in range(500)]
    if kind == "csv":
        body = "seg,y,s\n" + "".join(f"{g},{y},{s}\n" for g, y, s in [*good, ("café", 1, 0.5)])
    else:
        body = "".join(json.dumps({"seg": g, "y": y, "s": s}, ensure_ascii=False) + "\n"
                       for g, y, s in [*good, ("café", 1, 0.5)])
    path.write_bytes(body.encode("latin-1"))
    source = open_table(path, chunk_rows=100)
    batches = source.batches(["seg"])
    assert next(batches).num_rows > 0  # the first block is UTF-8
    with pytest.raises(ReadError, match=rf"column 'seg' of .*late\.{kind}, row 500 .*found byte 0xe9"):
        list(batches)


def test_only_the_columns_read_are_checked(tmp_path: Path) -> None:
    source = open_table(latin1_csv(tmp_path))
    assert source.read(["y", "s"]).num_rows == len(ROWS)


def test_csv_header_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "header.csv"
    path.write_bytes("y,prix_café\n1,2\n".encode("latin-1"))
    with pytest.raises(ReadError, match=r"the header of .*header\.csv \(line 1\): expected UTF-8 text, found byte "
                                        r"0xe9, which is not UTF-8, in 'y,prix_caf\\xe9'"):
        open_table(path)


def test_json_field_name_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "names.jsonl"
    path.write_bytes(b'{"y": 1}\n' + '{"y": 1, "séance": 2}\n'.encode("latin-1"))
    with pytest.raises(ReadError, match=r"names\.jsonl, line 2: expected UTF-8 text, found byte 0xe9"):
        open_table(path)


def test_nested_json_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "nested.jsonl"
    lines = [{"a": {"b": "ok", "tags": ["x"]}}, {"a": {"b": "ok", "tags": ["y", "café"]}}]
    path.write_bytes("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in lines).encode("latin-1"))
    with pytest.raises(ReadError, match=r"column 'a\.tags\[\]' of .*nested\.jsonl, row 1 \(line 2\)"):
        open_table(path).read()
    assert open_table(path, encoding="latin-1").read().column("a").to_pylist()[1]["tags"] == ["y", "café"]


def test_gzip_csv_with_an_encoding(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv.gz"
    path.write_bytes(gzip.compress(latin1_csv(tmp_path).read_bytes()))
    assert open_table(path, encoding="latin-1").read(["seg"]).column("seg").to_pylist() == SEGMENTS
    with pytest.raises(ReadError, match="found byte 0xe9"):
        open_table(path).read()


@pytest.mark.parametrize("kind", sorted(WRITERS))
def test_utf16(kind: str, tmp_path: Path) -> None:
    path = tmp_path / f"wide.{kind}"
    path.write_bytes(WRITERS[kind](tmp_path).read_bytes().decode("latin-1").encode("utf-16"))
    assert open_table(path, encoding="utf-16").read(["seg"]).column("seg").to_pylist() == SEGMENTS


@pytest.mark.parametrize("kind", sorted(WRITERS))
def test_bytes_the_named_encoding_cannot_decode(kind: str, tmp_path: Path) -> None:
    path = WRITERS[kind](tmp_path)
    with pytest.raises(ReadError, match=r"expected text in the encoding ascii, found byte 0xe9, which ascii cannot "
                                        r"decode"):
        open_table(path, encoding="ascii").read()


def test_utf8_named_explicitly_is_checked_as_utf8(tmp_path: Path) -> None:
    with pytest.raises(ReadError, match="expected UTF-8 text, found byte 0xe9"):
        open_table(latin1_csv(tmp_path), encoding="UTF-8").read()


@pytest.mark.parametrize(("encoding", "found"), [("klingon", "no codec of that name"), ("", "''"),
                                                 ("base64", "does not decode bytes to text")])
def test_unknown_encoding_is_refused(encoding: str, found: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=found):
        open_table(latin1_csv(tmp_path), encoding=encoding)


def test_encoding_has_no_effect_on_parquet_and_tables_in_memory(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"seg": SEGMENTS}), path)
    assert open_table(path, encoding="latin-1").read().column("seg").to_pylist() == SEGMENTS
    assert open_table({"seg": SEGMENTS}, encoding="latin-1").read().column("seg").to_pylist() == SEGMENTS


def test_standard_input_with_an_encoding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = latin1_jsonl(tmp_path).read_bytes()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    assert open_table("-", encoding="latin-1").read(["seg"]).column("seg").to_pylist() == SEGMENTS
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    with pytest.raises(ReadError, match=r"column 'seg' of <stdin>, row 0 \(line 1\).*0xe9"):
        open_table("-").read()


def test_normalize_encoding() -> None:
    assert normalize_encoding(None) is None
    assert normalize_encoding("utf_8") is None
    assert normalize_encoding("latin-1") == "latin-1"


def test_invalid_utf8_finds_the_lowest_row_across_columns() -> None:
    def text(values: list[bytes | None]) -> pa.Array:
        return pa.array(values, pa.binary()).view(pa.string())

    batch = pa.RecordBatch.from_arrays([text([b"a", b"b", b"\xff"]), text([b"a", b"\xe9t\xe9", None]),
                                        pa.array([1, 2, 3])], names=["first", "second", "n"])
    assert invalid_utf8(batch) == ("second", 1, b"\xe9t\xe9")
    assert invalid_utf8(batch.slice(2)) == ("first", 0, b"\xff")
    assert invalid_utf8(batch.slice(0, 1)) is None


# -- bytes never become group names ---------------------------------------------------------------------------------


def test_binary_group_values_are_decoded_as_text() -> None:
    column = pa.chunked_array([pa.array(["café".encode(), b"bar"]), pa.array([b"bar", None])])
    codes, values = to_codes(column, column="seg", source="t.parquet")
    assert values == ["café", "bar", None] and codes.tolist() == [0, 1, 1, 2]
    codes, values = to_codes(column.combine_chunks().dictionary_encode(), column="seg", source="t.parquet")
    assert values == ["café", "bar", None]


def test_binary_group_values_that_are_not_utf8_are_an_error() -> None:
    column = pa.chunked_array([pa.array([b"bar"]), pa.array([b"ok", b"caf\xe9"])])
    with pytest.raises(ColumnError, match=r"column 'seg' of t\.parquet, row 12: expected UTF-8 text, found byte "
                                          r"0xe9"):
        to_codes(column, column="seg", source="t.parquet", row_offset=10)


def test_a_parquet_binary_segment_is_named_by_its_text(tmp_path: Path) -> None:
    y = np.array([0, 1, 1, 0, 1, 0])
    path = tmp_path / "binary.parquet"
    pq.write_table(pa.table({"y": y, "s": np.linspace(0.1, 0.9, 6),
                             "seg": pa.array([g.encode() for g in ["café", "bar"] * 3], pa.binary())}), path)
    run = assay.evaluate(path, task="binary", label="y", score="s", segments=["seg"])
    assert set(run.doc["slices"]["seg"]) == {"café", "bar"}
