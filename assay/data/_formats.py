"""The file formats behind :func:`assay.data.open_table`: one reader per format, and pyarrow errors in house words.

A reader knows its file's schema (and row count, where the format stores it) after opening, and yields record
batches of the requested columns; every error pyarrow or the OS raises, at opening or mid-stream, leaves as a
:class:`~assay.errors.ReadError` naming the file and, where pyarrow tells, the column and the row. A reader's bytes
come from an :class:`Origin`: a file, or bytes already in memory (a table piped to standard input). Text formats
take an ``encoding`` (``None``: UTF-8, checked batch by batch; see :mod:`assay.data._text`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from assay.data._text import decode_error_text, first_invalid_line, invalid_utf8, not_utf8_text
from assay.errors import ReadError, message

BLOCK_BYTES = 16 << 20
"""Bytes per CSV / JSON Lines block: the unit of streaming and the sample that column types are inferred from."""

FORMATS: dict[str, str] = {
    ".arrow": "ipc",
    ".csv": "csv",
    ".csv.gz": "csv",
    ".feather": "ipc",
    ".ipc": "ipc",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}
LABELS = {"csv": "CSV", "ipc": "Arrow IPC", "jsonl": "JSON Lines", "parquet": "Parquet"}

ARROW_ERRORS = (pa.ArrowException, OSError, EOFError, UnicodeDecodeError)
READ_ROWS = 1 << 20  # batch size when a streamed file is read whole; any size gives the same table


class Reader:
    """One format's way to the rows; ``columns=None`` means all columns."""

    schema: pa.Schema
    num_rows: int | None

    def batches(self, columns: list[str] | None, chunk_rows: int) -> Iterator[pa.RecordBatch]:
        raise NotImplementedError

    def read(self, columns: list[str] | None) -> pa.Table:
        schema = self.schema if columns is None else pa.schema([self.schema.field(c) for c in columns])
        return pa.Table.from_batches(list(self.batches(columns, READ_ROWS)), schema=schema)


class MemoryReader(Reader):
    def __init__(self, table: pa.Table) -> None:
        self.table = table
        self.schema = table.schema
        self.num_rows = table.num_rows

    def batches(self, columns: list[str] | None, chunk_rows: int) -> Iterator[pa.RecordBatch]:
        return iter(self.read(columns).to_batches(max_chunksize=chunk_rows))

    def read(self, columns: list[str] | None) -> pa.Table:
        return self.table if columns is None else self.table.select(columns)


@dataclass(frozen=True)
class Origin:
    """Where a reader's bytes are: a file at ``path``, or ``data`` in memory (what was piped to standard input)."""

    path: Path | None = None
    data: pa.Buffer | None = None

    def source(self) -> Any:
        """What pyarrow's readers open: the path (decompressed by its extension, ``.csv.gz``) or the bytes."""
        return str(self.path) if self.path is not None else pa.BufferReader(self.data)

    def stream(self) -> pa.NativeFile:
        """A fresh stream of the (decompressed) bytes."""
        return pa.input_stream(str(self.path)) if self.path is not None else pa.BufferReader(self.data)

    def head(self, size: int) -> bytes:
        """The first ``size`` bytes as stored (not decompressed)."""
        if self.path is None:
            assert self.data is not None
            return self.data[:size].to_pybytes()
        with open(self.path, "rb") as file:
            return file.read(size)


class FileReader(Reader):
    kind = ""

    def __init__(self, origin: Origin, name: str, *, encoding: str | None = None) -> None:
        self.origin = origin
        self.name = name
        self.encoding = encoding

    def _fail(self, exc: BaseException, rows_before: int = 0) -> ReadError:
        if isinstance(exc, UnicodeDecodeError):
            if self.encoding is not None:
                return ReadError(decode_error_text(exc, name=self.name, encoding=self.encoding))
            return ReadError(self._not_utf8(exc))
        schema = getattr(self, "schema", None)
        return ReadError(read_error_text(exc, name=self.name, kind=self.kind, schema=schema, rows_before=rows_before))

    def _not_utf8(self, exc: UnicodeDecodeError) -> str:
        """Bytes that are not UTF-8 where pyarrow decodes them itself (column names): the line they are on."""
        try:
            hit = first_invalid_line(self.origin.stream())
        except ARROW_ERRORS:
            hit = None
        if hit is None:
            raw = exc.object if isinstance(exc.object, bytes) else bytes(exc.object)
            return not_utf8_text(self.name, raw)
        line, text = hit
        header = self.kind == "csv" and line == 1
        where = f"the header of {self.name} (line 1)" if header else f"{self.name}, line {line}"
        return not_utf8_text(where, text)

    def _guard(self, make: Callable[[], Iterable[pa.RecordBatch]]) -> Iterator[pa.RecordBatch]:
        """Run ``make()`` and iterate it, turning any pyarrow error into a ``ReadError`` naming the file."""
        rows = 0
        try:
            for batch in make():
                rows += batch.num_rows
                yield batch
        except ARROW_ERRORS as exc:
            raise self._fail(exc, rows) from exc


class ParquetReader(FileReader):
    kind = "parquet"

    def __init__(self, origin: Origin, name: str, *, encoding: str | None = None) -> None:
        super().__init__(origin, name, encoding=encoding)
        try:
            with self._file() as file:
                self.schema = file.schema_arrow
                self.num_rows = file.metadata.num_rows
        except ARROW_ERRORS as exc:
            raise self._fail(exc) from exc

    def _file(self) -> Any:
        import pyarrow.parquet as pq

        # pre_buffer=False: with pre-buffering, pyarrow keeps every row group it has read resident while the file
        # is open, so streaming a 100M-row file grew to the file's size (about 9 bytes a row) instead of one chunk
        return pq.ParquetFile(self.origin.source(), pre_buffer=False)

    def batches(self, columns: list[str] | None, chunk_rows: int) -> Iterator[pa.RecordBatch]:
        def make() -> Iterator[pa.RecordBatch]:
            with self._file() as file:
                yield from file.iter_batches(batch_size=chunk_rows, columns=columns)

        return self._guard(make)

    def read(self, columns: list[str] | None) -> pa.Table:
        try:
            with self._file() as file:
                return file.read(columns=columns)
        except ARROW_ERRORS as exc:
            raise self._fail(exc) from exc


class IpcReader(FileReader):
    kind = "ipc"

    def __init__(self, origin: Origin, name: str, *, encoding: str | None = None) -> None:
        super().__init__(origin, name, encoding=encoding)
        try:
            magic = origin.head(6)
        except OSError as exc:
            raise self._fail(exc) from exc
        if magic[:4] == b"FEA1":
            raise ReadError(
                message(
                    where=name,
                    expected="an Arrow IPC file (Feather version 2)",
                    found="a Feather version 1 file, a format pyarrow has deprecated",
                    fix="re-save it with pyarrow.feather.write_feather(table, path) (version 2 is the default)",
                )
            )
        self.file_format = magic == b"ARROW1"
        try:
            reader = self._open(None)
            self.schema = reader.schema
            self.num_rows = reader.count_rows() if self.file_format else None
        except ARROW_ERRORS as exc:
            raise self._fail(exc) from exc

    def _open(self, columns: list[str] | None) -> Any:
        import pyarrow.ipc as ipc

        options = None
        if columns is not None:
            options = ipc.IpcReadOptions(included_fields=sorted(self.schema.get_field_index(c) for c in columns))
        path = self.origin.path
        source = pa.memory_map(str(path)) if path is not None else pa.BufferReader(self.origin.data)
        if self.file_format:
            return ipc.open_file(source, options=options)
        return ipc.open_stream(source, options=options)

    def batches(self, columns: list[str] | None, chunk_rows: int) -> Iterator[pa.RecordBatch]:
        def make() -> Iterator[pa.RecordBatch]:
            reader = self._open(columns)
            stream = (reader.get_batch(i) for i in range(reader.num_record_batches)) if self.file_format else reader
            for batch in stream:  # IPC gives the included fields in file order
                yield batch if columns is None else batch.select(columns)

        return self._guard(make)


class StreamReader(FileReader):
    """A text format read as a stream (CSV, JSON Lines): the row count is unknown, and an empty file, which pyarrow
    reports as an error (``empty_error``), is a table of no rows and no columns. Read without an ``encoding``, every
    batch is checked for bytes that are not UTF-8 (pyarrow does not stop at them)."""

    empty_error = ""

    def __init__(self, origin: Origin, name: str, *, encoding: str | None = None) -> None:
        super().__init__(origin, name, encoding=encoding)
        self.num_rows = None
        self.empty = False
        try:
            self.schema = self._open(None).schema
            self.schema.names  # noqa: B018 - pyarrow decodes the names here: bytes that are not UTF-8 raise
        except ARROW_ERRORS as exc:
            if isinstance(exc, UnicodeDecodeError) or self.empty_error not in str(exc):
                raise self._fail(exc) from exc
            self.empty, self.schema = True, pa.schema([])

    def _open(self, columns: list[str] | None) -> Any:
        raise NotImplementedError

    def batches(self, columns: list[str] | None, chunk_rows: int) -> Iterator[pa.RecordBatch]:
        if self.empty:
            return iter(())
        batches = self._guard(lambda: self._open(columns))
        return batches if self.encoding is not None else self._checked(batches)

    def _checked(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        rows = 0
        for batch in batches:
            hit = invalid_utf8(batch)
            if hit is not None:
                column, row, value = hit
                row += rows
                line = row + (2 if self.kind == "csv" else 1)  # as in pyarrow's messages: the header is line 1
                raise ReadError(not_utf8_text(f"column {column!r} of {self.name}, row {row} (line {line})", value))
            rows += batch.num_rows
            yield batch


class CsvReader(StreamReader):
    kind = "csv"
    empty_error = "Empty CSV file"

    def _open(self, columns: list[str] | None) -> Any:
        import pyarrow.csv as csv

        return csv.open_csv(
            self.origin.source(),
            # use_threads=False: pyarrow reports the row of a parse error only when reading serially
            read_options=csv.ReadOptions(block_size=BLOCK_BYTES, use_threads=False, encoding=self.encoding or "utf8"),
            parse_options=csv.ParseOptions(newlines_in_values=True),
            # check_utf8=False: pyarrow would make a column with a byte that is not UTF-8 a binary column; the
            # batches are checked instead (StreamReader._checked), so that the error names the row and the byte
            convert_options=csv.ConvertOptions(include_columns=columns or [], check_utf8=False),
        )

    def batches(self, columns: list[str] | None, chunk_rows: int) -> Iterator[pa.RecordBatch]:
        if columns == [] and not self.empty:  # an empty include_columns means all columns to pyarrow: keep none
            return (batch.select([]) for batch in super().batches(self.schema.names[:1], chunk_rows))
        return super().batches(columns, chunk_rows)


class JsonReader(StreamReader):
    kind = "jsonl"
    empty_error = "Empty JSON stream"

    def _open(self, columns: list[str] | None) -> Any:
        import pyarrow.json as json

        if columns is None:
            parse_options = json.ParseOptions()
        else:
            # pyarrow.json has no column selection: pin the requested columns' types and skip the other fields
            projected = pa.schema([self.schema.field(c) for c in columns])
            parse_options = json.ParseOptions(explicit_schema=projected, unexpected_field_behavior="ignore")
        if self.encoding is None:
            source = self.origin.source()
        else:  # pyarrow.json reads UTF-8 only: decode to it on the way, block by block
            source = pa.transcoding_input_stream(self.origin.stream(), self.encoding, "utf-8")
        return json.open_json(source, read_options=json.ReadOptions(block_size=BLOCK_BYTES),
                              parse_options=parse_options)


READERS: dict[str, type[FileReader]] = {
    "csv": CsvReader,
    "ipc": IpcReader,
    "jsonl": JsonReader,
    "parquet": ParquetReader,
}


def read_error_text(exc: BaseException, *, name: str, kind: str, schema: pa.Schema | None, rows_before: int = 0) -> str:
    """The house message for an error pyarrow (or the OS) raised while reading file ``name``."""
    text = " ".join(str(exc).split()).rstrip(".") or type(exc).__name__
    label = LABELS[kind]
    column: str | None = None
    row: int | None = None
    line: int | None = None
    block = f"{BLOCK_BYTES >> 20} MiB" if BLOCK_BYTES >= 1 << 20 else f"{BLOCK_BYTES >> 10} KiB"
    expected = f"a complete, readable {label} file"
    found = f"an error from pyarrow: {text}"
    fix = f"check that the file is {label} and complete (not cut short while written or copied), then re-export it"
    if isinstance(exc, OSError) and exc.strerror:
        found = exc.strerror
        fix = "check the file's permissions and that it is reachable"
    if kind == "csv":
        if match := re.search(r"Row #(\d+)", text):
            line = int(match[1])
            row = line - 2  # pyarrow counts CSV rows from 1, the header included
        if (match := re.search(r"In CSV column #(\d+)", text)) and schema is not None:
            index = int(match[1])
            column = schema.names[index] if index < len(schema.names) else None
        if match := re.search(r"Expected (\d+) columns, got (\d+)(?:: (.*))?", text, re.S):
            expected = f"{match[1]} fields on every row, as in the header"
            found = f"{match[2]} fields" + (f": {match[3]!r}" if match[3] else "")
            fix = "remove the extra or missing separators on that row, or quote values that contain the separator"
        elif match := re.search(r"conversion error to (\S+): invalid value '(.*)'", text, re.S):
            expected = inferred(match[1], block)
            found = repr(match[2])
            fix = (
                "keep one type per column from the first row on (write 1.0, not 1, in a decimal column; leave no "
                "column empty throughout the first rows), or convert the file to Parquet, which stores types"
            )
    elif kind == "jsonl":
        if match := re.search(r" in row (\d+)", text):
            row = rows_before + int(match[1])  # pyarrow counts rows from 0 within each block
            line = row + 1
        if match := re.search(r"Column\(/([^)]*)\)", text):
            column = match[1].replace("/", ".") or None
        if match := re.search(r"changed from (\w+) to (\w+)", text):
            if column is None:
                expected, found = "one JSON object per line", f"{article(match[2])} {match[2]}"
                fix = "write one JSON object ({...}) per line"
            else:
                expected = inferred(match[1], block) if match[1] == "null" else f"{match[1]} values, as above"
                found = f"{article(match[2])} {match[2]}"
                fix = "give the field one JSON type on every line (null is allowed), or convert the file to Parquet"
        elif "unexpected field" in text:
            expected = f"only fields that appear in the first {block} of the file"
            found = "a field that first appears further on"
            fix = "add the field (as null) to the first line, or convert the file to Parquet"
        elif match := re.search(r"Failed to convert JSON to (\S+), couldn't parse:(.*)", text, re.S):
            expected = inferred(match[1], block)
            found = repr(match[2])
            fix = "give the field one JSON type on every line (write 1.0, not 1, if any value is decimal)"
        elif match := re.search(r"JSON parse error: (.*?)(?: in row \d+)?$", text, re.S):
            expected = "one valid JSON object per line"
            found = f"invalid JSON ({match[1].rstrip('.')})"
            fix = "fix or remove that line"
    elif kind == "parquet" and "magic bytes" in text:
        found = "no Parquet footer: the file is truncated or is not Parquet"
    elif kind == "ipc" and "Not an Arrow file" in text:
        found = "no Arrow IPC footer: the file is truncated or is not Arrow IPC"
    if "Truncated compressed stream" in text:
        found = "a compressed stream that ends early: the file is truncated"
    where = name if column is None else f"column {column!r} of {name}"
    if row is not None:
        where += f", row {row}" + (f" (line {line})" if line is not None else "")
    elif rows_before:
        found += f", after {rows_before} rows read"
    return message(where=where, expected=expected, found=found, fix=fix)


def inferred(type_name: str, block: str) -> str:
    """What a column inferred as ``type_name`` from the first ``block`` of a file expects of later values."""
    if type_name == "null":
        return f"no values (the column is empty throughout the first {block} of the file, so its type is unknown)"
    return f"{type_name} values (the type inferred from the first {block} of the file)"


def article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"
