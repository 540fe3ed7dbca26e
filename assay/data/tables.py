"""Open a table from a file or an in-memory frame, then read it whole or stream it in record batches.

>>> source = open_table({"id": [1, 2, 3], "y": [0.5, 1.0, 0.0]}, chunk_rows=2)
>>> source
TableSource('<dict of columns>', columns=['id', 'y'], num_rows=3)
>>> [batch.num_rows for batch in source.batches()]
[2, 1]
>>> source.read(["y"]).column("y").to_pylist()
[0.5, 1.0, 0.0]

Sources: a path to CSV (``.csv``, ``.csv.gz``), Parquet (``.parquet``, ``.pq``), JSON Lines (``.jsonl``,
``.ndjson``) or Arrow IPC (``.arrow``, ``.feather``, ``.ipc``; file or stream format); a pandas or polars
DataFrame; a pyarrow Table or RecordBatch; a dict of equal-length columns. pandas and polars are never imported
here: a frame is recognised by its type's module and converted with its own method.

Files are streamed, never loaded whole by :meth:`TableSource.batches`: Parquet by row batches, Arrow IPC from a
memory map, CSV and JSON Lines block by block (16 MiB blocks). CSV and JSON Lines store no types, so pyarrow infers
each column's type from the first block; a value further on that does not fit (an integer column that turns
decimal, a column empty throughout the first block that then holds text) stops the stream with a
:class:`~assay.errors.ReadError` naming the column. Every error pyarrow raises, on opening or mid-stream, comes out
as a ``ReadError`` naming the file; a zero-row table is not an error.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from assay.errors import ColumnError, ConfigError, ReadError, message

__all__ = ["SUPPORTED_EXTENSIONS", "TableSource", "open_table"]

_BLOCK_BYTES = 16 << 20
"""Bytes per CSV / JSON Lines block: the unit of streaming and the sample that column types are inferred from."""

_FORMATS: dict[str, str] = {
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
_LABELS = {"csv": "CSV", "ipc": "Arrow IPC", "jsonl": "JSON Lines", "parquet": "Parquet"}

SUPPORTED_EXTENSIONS: tuple[str, ...] = tuple(sorted(_FORMATS))
"""File name endings :func:`open_table` reads (matched case-insensitively)."""

_ARROW_ERRORS = (pa.ArrowException, OSError, EOFError)
_READ_ROWS = 1 << 20  # batch size when a streamed file is read whole; any size gives the same table
_MAX_LISTED = 30


class TableSource:
    """A table to evaluate: its columns and schema up front, its rows read whole or in batches.

    Made by :func:`open_table`. ``name`` is the file path as given (or ``'<pandas DataFrame>'`` and the like),
    ``chunk_rows`` the most rows a batch holds, ``size_bytes`` the file size (compressed, for ``.csv.gz``) or the
    in-memory Arrow size, and ``in_memory`` whether the rows are already in memory.
    """

    def __init__(self, reader: _Reader, *, name: str, chunk_rows: int, size_bytes: int, in_memory: bool) -> None:
        self._reader = reader
        self.name = name
        self.chunk_rows = chunk_rows
        self.size_bytes = size_bytes
        self.in_memory = in_memory

    def __repr__(self) -> str:
        return f"TableSource({self.name!r}, columns={self.columns!r}, num_rows={self.num_rows!r})"

    @property
    def schema(self) -> pa.Schema:
        """Column names and Arrow types (for CSV and JSON Lines, as inferred from the first block)."""
        return self._reader.schema

    @property
    def columns(self) -> list[str]:
        """Column names, in table order."""
        return list(self._reader.schema.names)

    @property
    def num_rows(self) -> int | None:
        """Row count: known for in-memory tables, Parquet and Arrow IPC files; ``None`` for CSV, JSON Lines and
        Arrow IPC streams, whose rows are only counted by reading them."""
        return self._reader.num_rows

    def batches(self, columns: list[str] | None = None) -> Iterator[pa.RecordBatch]:
        """Record batches of at most ``chunk_rows`` rows holding ``columns`` (all by default), in that order.

        Columns are checked before anything is read; zero-row batches are skipped, so an empty table yields
        none. Only the requested columns are read from Parquet and Arrow IPC files.

        >>> source = open_table({"a": [1, 2, 3], "b": ["x", "y", "z"]}, chunk_rows=2)
        >>> [batch.column_names for batch in source.batches(["b"])]
        [['b'], ['b']]
        """
        names = self._check(columns)
        return self._rechunk(self._reader.batches(names, self.chunk_rows), names)

    def read(self, columns: list[str] | None = None) -> pa.Table:
        """The whole table (or only ``columns``, in that order) in memory.

        >>> open_table({"a": [1, 2], "b": [3, 4]}).read(["b", "a"]).column_names
        ['b', 'a']
        """
        names = self._check(columns)
        table = self._reader.read(names)
        if names is not None and table.column_names != names:
            table = table.select(names)
        return table

    def _rechunk(self, batches: Iterable[pa.RecordBatch], names: list[str] | None) -> Iterator[pa.RecordBatch]:
        size = self.chunk_rows
        for batch in batches:
            if names is not None and batch.schema.names != names:
                batch = batch.select(names)
            for start in range(0, batch.num_rows, size):
                yield batch if batch.num_rows <= size else batch.slice(start, size)

    def _check(self, columns: list[str] | None) -> list[str] | None:
        """``None`` (all columns) or the requested names, each present once in the schema."""
        if columns is None:
            return None
        if isinstance(columns, str):
            raise ConfigError(
                message(
                    where=f"columns of {self.name}",
                    expected="a list of column names",
                    found=f"the string {columns!r}",
                    fix=f"pass [{columns!r}]",
                )
            )
        names = list(columns)
        existing = self.columns
        for column in names:
            count = existing.count(column)
            if count == 0:
                raise ColumnError(_missing_column(column, self.name, existing))
            if count > 1:
                raise ColumnError(
                    message(
                        where=f"column {column!r} of {self.name}",
                        expected="one column of that name",
                        found=f"{count} columns named {column!r}",
                        fix="give the columns distinct names in the data",
                    )
                )
            if names.count(column) > 1:
                raise ColumnError(
                    message(
                        where=f"column {column!r} of {self.name}",
                        expected="each column requested once",
                        found=f"{column!r} requested {names.count(column)} times",
                        fix="request each column once",
                    )
                )
        return names


def open_table(source: Any, *, chunk_rows: int = 1_000_000, name: str | None = None) -> TableSource:
    """Open ``source`` as a :class:`TableSource`; files are checked and their schema read, their rows are not.

    ``source`` is a path (``str`` or :class:`pathlib.Path`) with one of :data:`SUPPORTED_EXTENSIONS`, a pandas
    or polars DataFrame, a pyarrow Table or RecordBatch, or a dict of equal-length lists or NumPy arrays.
    ``chunk_rows`` caps the rows per batch; ``name`` replaces the name used in messages and ``.name``.

    >>> open_table({"y": [1, 0]}, name="scores").name
    'scores'
    >>> open_table("missing.csv")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    assay.errors.ReadError: missing.csv: expected an existing file, found no file at this path. Fix: ...
    """
    if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int | np.integer) or chunk_rows < 1:
        raise ConfigError(
            message(
                where="chunk_rows",
                expected="a positive integer",
                found=repr(chunk_rows),
                fix="pass chunk_rows=1_000_000 or another count of rows per batch",
            )
        )
    chunk_rows = int(chunk_rows)
    if isinstance(source, str | os.PathLike):
        label = name if name is not None else os.fspath(source)
        path = Path(source)
        reader = _open_file(path, label)
        return TableSource(reader, name=label, chunk_rows=chunk_rows, size_bytes=path.stat().st_size, in_memory=False)
    table, default_name = _to_arrow(source, name)
    return TableSource(
        _MemoryReader(table),
        name=name if name is not None else default_name,
        chunk_rows=chunk_rows,
        size_bytes=table.nbytes,
        in_memory=True,
    )


# ----------------------------------------------------------------------------------------------------- readers


class _Reader:
    """One format's way to the rows; ``columns=None`` means all columns."""

    schema: pa.Schema
    num_rows: int | None

    def batches(self, columns: list[str] | None, chunk_rows: int) -> Iterator[pa.RecordBatch]:
        raise NotImplementedError

    def read(self, columns: list[str] | None) -> pa.Table:
        schema = self.schema if columns is None else pa.schema([self.schema.field(c) for c in columns])
        return pa.Table.from_batches(list(self.batches(columns, _READ_ROWS)), schema=schema)


class _MemoryReader(_Reader):
    def __init__(self, table: pa.Table) -> None:
        self.table = table
        self.schema = table.schema
        self.num_rows = table.num_rows

    def batches(self, columns: list[str] | None, chunk_rows: int) -> Iterator[pa.RecordBatch]:
        return iter(self.read(columns).to_batches(max_chunksize=chunk_rows))

    def read(self, columns: list[str] | None) -> pa.Table:
        return self.table if columns is None else self.table.select(columns)


class _FileReader(_Reader):
    kind = ""

    def __init__(self, path: Path, name: str) -> None:
        self.path = path
        self.name = name

    def _fail(self, exc: BaseException, rows_before: int = 0) -> ReadError:
        schema = getattr(self, "schema", None)
        return ReadError(_read_error_text(exc, name=self.name, kind=self.kind, schema=schema, rows_before=rows_before))

    def _guard(self, make: Callable[[], Iterable[pa.RecordBatch]]) -> Iterator[pa.RecordBatch]:
        """Run ``make()`` and iterate it, turning any pyarrow error into a ``ReadError`` naming the file."""
        rows = 0
        try:
            for batch in make():
                rows += batch.num_rows
                yield batch
        except _ARROW_ERRORS as exc:
            raise self._fail(exc, rows) from exc


class _ParquetReader(_FileReader):
    kind = "parquet"

    def __init__(self, path: Path, name: str) -> None:
        super().__init__(path, name)
        try:
            with self._file() as file:
                self.schema = file.schema_arrow
                self.num_rows = file.metadata.num_rows
        except _ARROW_ERRORS as exc:
            raise self._fail(exc) from exc

    def _file(self) -> Any:
        import pyarrow.parquet as pq

        return pq.ParquetFile(self.path)

    def batches(self, columns: list[str] | None, chunk_rows: int) -> Iterator[pa.RecordBatch]:
        def make() -> Iterator[pa.RecordBatch]:
            with self._file() as file:
                yield from file.iter_batches(batch_size=chunk_rows, columns=columns)

        return self._guard(make)

    def read(self, columns: list[str] | None) -> pa.Table:
        try:
            with self._file() as file:
                return file.read(columns=columns)
        except _ARROW_ERRORS as exc:
            raise self._fail(exc) from exc


class _IpcReader(_FileReader):
    kind = "ipc"

    def __init__(self, path: Path, name: str) -> None:
        super().__init__(path, name)
        try:
            with open(path, "rb") as file:
                magic = file.read(6)
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
        except _ARROW_ERRORS as exc:
            raise self._fail(exc) from exc

    def _open(self, columns: list[str] | None) -> Any:
        import pyarrow.ipc as ipc

        options = None
        if columns is not None:
            options = ipc.IpcReadOptions(included_fields=sorted(self.schema.get_field_index(c) for c in columns))
        source = pa.memory_map(str(self.path))
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


class _CsvReader(_FileReader):
    kind = "csv"

    def __init__(self, path: Path, name: str) -> None:
        super().__init__(path, name)
        self.num_rows = None
        self.empty = False
        try:
            self.schema = self._open(None).schema
        except _ARROW_ERRORS as exc:
            if "Empty CSV file" not in str(exc):
                raise self._fail(exc) from exc
            self.empty, self.schema = True, pa.schema([])

    def _open(self, columns: list[str] | None) -> Any:
        import pyarrow.csv as csv

        return csv.open_csv(
            self.path,
            # use_threads=False: pyarrow reports the row of a parse error only when reading serially
            read_options=csv.ReadOptions(block_size=_BLOCK_BYTES, use_threads=False),
            parse_options=csv.ParseOptions(newlines_in_values=True),
            convert_options=csv.ConvertOptions(include_columns=columns or []),
        )

    def batches(self, columns: list[str] | None, chunk_rows: int) -> Iterator[pa.RecordBatch]:
        if self.empty:
            return iter(())
        return self._guard(lambda: self._open(columns))


class _JsonReader(_FileReader):
    kind = "jsonl"

    def __init__(self, path: Path, name: str) -> None:
        super().__init__(path, name)
        self.num_rows = None
        self.empty = False
        try:
            self.schema = self._open(None).schema
        except _ARROW_ERRORS as exc:
            if "Empty JSON stream" not in str(exc):
                raise self._fail(exc) from exc
            self.empty, self.schema = True, pa.schema([])

    def _open(self, columns: list[str] | None) -> Any:
        import pyarrow.json as json

        if columns is None:
            parse_options = json.ParseOptions()
        else:
            # pyarrow.json has no column selection: pin the requested columns' types and skip the other fields
            projected = pa.schema([self.schema.field(c) for c in columns])
            parse_options = json.ParseOptions(explicit_schema=projected, unexpected_field_behavior="ignore")
        return json.open_json(
            self.path, read_options=json.ReadOptions(block_size=_BLOCK_BYTES), parse_options=parse_options
        )

    def batches(self, columns: list[str] | None, chunk_rows: int) -> Iterator[pa.RecordBatch]:
        if self.empty:
            return iter(())
        return self._guard(lambda: self._open(columns))


_READERS: dict[str, type[_FileReader]] = {
    "csv": _CsvReader,
    "ipc": _IpcReader,
    "jsonl": _JsonReader,
    "parquet": _ParquetReader,
}


def _open_file(path: Path, name: str) -> _FileReader:
    if not path.exists():
        raise ReadError(
            message(
                where=name,
                expected="an existing file",
                found="no file at this path",
                fix=f"check the path; a relative path is read from the current directory {os.getcwd()}",
            )
        )
    if path.is_dir():
        raise ReadError(
            message(
                where=name,
                expected="a file",
                found="a directory",
                fix="pass the path of a data file inside it",
            )
        )
    lowered = path.name.lower()
    ending = next((e for e in sorted(_FORMATS, key=len, reverse=True) if lowered.endswith(e)), None)
    if ending is None:
        raise ReadError(
            message(
                where=name,
                expected=f"a file name ending in one of {', '.join(SUPPORTED_EXTENSIONS)}",
                found=f"{path.suffix!r}" if path.suffix else "no extension",
                fix="convert the file to CSV, Parquet, JSON Lines or Arrow IPC, or rename it if it is one of those",
            )
        )
    return _READERS[_FORMATS[ending]](path, name)


# ------------------------------------------------------------------------------------------ in-memory sources


def _to_arrow(source: Any, name: str | None) -> tuple[pa.Table, str]:
    """An Arrow table of an in-memory source and the source's default name."""
    if isinstance(source, pa.Table):
        return source, "<pyarrow Table>"
    if isinstance(source, pa.RecordBatch):
        return pa.Table.from_batches([source]), "<pyarrow RecordBatch>"
    if isinstance(source, Mapping):
        label = name if name is not None else "<dict of columns>"
        return _dict_to_arrow(source, label), "<dict of columns>"
    module = type(source).__module__.split(".")[0]
    kind = type(source).__name__
    if module == "pandas" and kind == "DataFrame":
        label = name if name is not None else "<pandas DataFrame>"
        try:
            return pa.Table.from_pandas(source, preserve_index=False), "<pandas DataFrame>"
        except (*_ARROW_ERRORS, TypeError, ValueError) as exc:
            raise ColumnError(_frame_error(exc, label)) from exc
    if module == "polars" and kind == "DataFrame":
        label = name if name is not None else "<polars DataFrame>"
        try:
            return source.to_arrow(), "<polars DataFrame>"
        except (*_ARROW_ERRORS, TypeError, ValueError) as exc:
            raise ColumnError(_frame_error(exc, label)) from exc
    fix = "pass a file path, a pandas or polars DataFrame, a pyarrow Table or a dict of column arrays"
    if module == "polars" and kind == "LazyFrame":
        fix = "call .collect() on the LazyFrame first"
    raise ReadError(
        message(
            where=name if name is not None else "data source",
            expected="a file path, a pandas or polars DataFrame, a pyarrow Table or RecordBatch, or a dict of columns",
            found=f"a {type(source).__module__}.{type(source).__qualname__}",
            fix=fix,
        )
    )


def _dict_to_arrow(source: Mapping[Any, Any], label: str) -> pa.Table:
    arrays: dict[str, pa.Array | pa.ChunkedArray] = {}
    for key, value in source.items():
        where = f"column {key!r} of {label}"
        if not isinstance(key, str):
            raise ColumnError(
                message(
                    where=where,
                    expected="a string column name",
                    found=f"a {type(key).__name__}",
                    fix=f"use str({key!r}) as the key",
                )
            )
        if isinstance(value, str | bytes) or not hasattr(value, "__len__"):
            raise ColumnError(
                message(
                    where=where,
                    expected="a list or 1-D array of values",
                    found=f"a {type(value).__name__}",
                    fix="pass one value per row, as a list or NumPy array",
                )
            )
        try:
            arrays[key] = value if isinstance(value, pa.Array | pa.ChunkedArray) else pa.array(value)
        except (*_ARROW_ERRORS, TypeError, ValueError) as exc:
            raise ColumnError(
                message(
                    where=where,
                    expected="a list or 1-D array of values of one type",
                    found=str(exc),
                    fix="make every value of the column the same type (numbers, strings or booleans)",
                )
            ) from exc
    lengths = {key: len(array) for key, array in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise ColumnError(
            message(
                where=label,
                expected="columns of one length",
                found="lengths " + ", ".join(f"{key}: {length}" for key, length in lengths.items()),
                fix="pass one value per row in every column",
            )
        )
    return pa.table(arrays)


def _frame_error(exc: BaseException, label: str) -> str:
    text = " ".join(str(arg) for arg in exc.args) if exc.args else str(exc)
    column = re.search(r"Conversion failed for column (.+?) with type (\S+)", text)
    where = f"column {column[1]!r} of {label}" if column else label
    return message(
        where=where,
        expected="columns whose values share one type, convertible to Arrow",
        found=f"values pyarrow cannot convert ({text})",
        fix="give the column a single type, e.g. df[col].astype(str) or pd.to_numeric(df[col])",
    )


# -------------------------------------------------------------------------------------------------- messages


def _missing_column(column: str, name: str, existing: list[str]) -> str:
    if not existing:
        found = "no columns"
    else:
        shown = ", ".join(existing[:_MAX_LISTED])
        more = len(existing) - _MAX_LISTED
        found = "columns " + shown + (f" and {more} more" if more > 0 else "")
    close = [name for name in existing if name.lower() == column.lower()]
    close = close or difflib.get_close_matches(column, existing, n=1)
    fix = f"did you mean {close[0]!r}? Names are case-sensitive" if close else "pass one of the columns found"
    return message(where=f"column {column!r} of {name}", expected=f"a column named {column!r}", found=found, fix=fix)


def _read_error_text(
    exc: BaseException, *, name: str, kind: str, schema: pa.Schema | None, rows_before: int = 0
) -> str:
    """The house message for an error pyarrow (or the OS) raised while reading file ``name``."""
    text = " ".join(str(exc).split()).rstrip(".") or type(exc).__name__
    label = _LABELS[kind]
    column: str | None = None
    row: int | None = None
    line: int | None = None
    block = f"{_BLOCK_BYTES >> 20} MiB" if _BLOCK_BYTES >= 1 << 20 else f"{_BLOCK_BYTES >> 10} KiB"
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
            expected = _inferred(match[1], block)
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
                expected, found = "one JSON object per line", f"{_article(match[2])} {match[2]}"
                fix = "write one JSON object ({...}) per line"
            else:
                expected = _inferred(match[1], block) if match[1] == "null" else f"{match[1]} values, as above"
                found = f"{_article(match[2])} {match[2]}"
                fix = "give the field one JSON type on every line (null is allowed), or convert the file to Parquet"
        elif "unexpected field" in text:
            expected = f"only fields that appear in the first {block} of the file"
            found = "a field that first appears further on"
            fix = "add the field (as null) to the first line, or convert the file to Parquet"
        elif match := re.search(r"Failed to convert JSON to (\S+), couldn't parse:(.*)", text, re.S):
            expected = _inferred(match[1], block)
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


def _inferred(type_name: str, block: str) -> str:
    """What a column inferred as ``type_name`` from the first ``block`` of a file expects of later values."""
    if type_name == "null":
        return f"no values (the column is empty throughout the first {block} of the file, so its type is unknown)"
    return f"{type_name} values (the type inferred from the first {block} of the file)"


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"
