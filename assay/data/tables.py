"""Open a table from a file or an in-memory frame, then read it whole or stream it in record batches.

>>> source = open_table({"id": [1, 2, 3], "y": [0.5, 1.0, 0.0]}, chunk_rows=2)
>>> source
TableSource('<dict of columns>', columns=['id', 'y'], num_rows=3)
>>> [batch.num_rows for batch in source.batches()]
[2, 1]
>>> source.read(["y"]).column("y").to_pylist()
[0.5, 1.0, 0.0]

Sources: a path to CSV (``.csv``, ``.csv.gz``), Parquet (``.parquet``, ``.pq``), JSON Lines (``.jsonl``,
``.ndjson``) or Arrow IPC (``.arrow``, ``.feather``, ``.ipc``; file or stream format); a directory or a glob
(``'data/day=*/*.parquet'``) of files of one format, read as one table in sorted path order with Hive-style
``key=value`` folders as string columns (see :mod:`assay.data._many`); ``"-"``, a table piped to
standard input (read whole into memory, as bytes; the format told by ``format=`` or by content); a pandas or polars
DataFrame; a pyarrow Table or RecordBatch; a dict of equal-length columns. pandas and polars are never imported
here: a frame is recognised by its type's module and converted with its own method.

Text (CSV, JSON Lines) is read as UTF-8 unless ``encoding=`` names another encoding; a byte that is not UTF-8
stops the read with a :class:`~assay.errors.ReadError` naming the file, the column, the row and the byte, never a
column of bytes (see :mod:`assay.data._text`).

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
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from assay.data._formats import FORMATS, READERS, FileReader, MemoryReader, Origin, Reader
from assay.data._frames import to_arrow
from assay.data._many import is_many, open_many
from assay.data._text import normalize_encoding
from assay.errors import ColumnError, ConfigError, ReadError, message

__all__ = ["STDIN", "SUPPORTED_EXTENSIONS", "TABLE_FORMATS", "TableSource", "open_table"]

SUPPORTED_EXTENSIONS: tuple[str, ...] = tuple(sorted(FORMATS))
"""File name endings :func:`open_table` reads (matched case-insensitively)."""

STDIN = "-"
"""The path that stands for standard input."""

TABLE_FORMATS: dict[str, str] = {"csv": "csv", "jsonl": "jsonl", "arrow": "ipc", "parquet": "parquet"}
"""The names ``format=`` (``--format``) accepts, and the reader each one picks."""

STDIN_NAME = "<stdin>"

_MAX_LISTED = 30


class TableSource:
    """A table to evaluate: its columns and schema up front, its rows read whole or in batches.

    Made by :func:`open_table`. ``name`` is the file path as given (or ``'<pandas DataFrame>'`` and the like),
    ``chunk_rows`` the most rows a batch holds, ``size_bytes`` the file size (compressed, for ``.csv.gz``) or the
    in-memory Arrow size, and ``in_memory`` whether the rows are already in memory.
    """

    def __init__(self, reader: Reader, *, name: str, chunk_rows: int, size_bytes: int, in_memory: bool) -> None:
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
        names = self.check_columns(columns)
        return self._rechunk(self._reader.batches(names, self.chunk_rows), names)

    def read(self, columns: list[str] | None = None) -> pa.Table:
        """The whole table (or only ``columns``, in that order) in memory.

        >>> open_table({"a": [1, 2], "b": [3, 4]}).read(["b", "a"]).column_names
        ['b', 'a']
        """
        names = self.check_columns(columns)
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

    def check_columns(self, columns: list[str] | None) -> list[str] | None:
        """``None`` (all columns) or the requested names, each present once in the schema; a clear
        :class:`~assay.errors.ColumnError` naming the column and the table otherwise."""
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


def open_table(source: Any, *, chunk_rows: int = 1_000_000, name: str | None = None, encoding: str | None = None,
               format: str | None = None) -> TableSource:
    """Open ``source`` as a :class:`TableSource`; files are checked and their schema read, their rows are not.

    ``source`` is a path (``str`` or :class:`pathlib.Path`) with one of :data:`SUPPORTED_EXTENSIONS`, a directory
    or a glob (``*``, ``?``, ``[``; ``**`` for any depth) of such files of one format, read as one table, ``"-"`` for
    a table piped to standard input, a pandas or polars DataFrame, a pyarrow Table or RecordBatch, or a dict of
    equal-length lists or NumPy arrays. ``chunk_rows`` caps the rows per batch; ``name`` replaces the name used in
    messages and ``.name``.

    ``encoding`` is the text encoding of CSV and JSON Lines (default UTF-8, e.g. ``"latin-1"``); it has no effect
    on Parquet and Arrow IPC, whose text is UTF-8 by definition, nor on tables in memory. ``format`` (``"csv"``,
    ``"jsonl"``, ``"arrow"`` or ``"parquet"``) reads the file as that format whatever its extension; standard input
    is otherwise told apart by content: an Arrow IPC stream starts with the bytes ``ff ff ff ff``, an Arrow IPC
    file with ``ARROW1``, Parquet with ``PAR1``, JSON Lines with ``{``; anything else is read as CSV. Standard
    input is read whole into memory, as bytes.

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
    encoding = normalize_encoding(encoding)
    kind = _format_kind(format)
    if isinstance(source, str) and source == STDIN:
        label = name if name is not None else STDIN_NAME
        data = _read_stdin(label)
        reader = READERS[kind or _sniff(data, encoding, label)](Origin(data=data), label, encoding=encoding)
        return TableSource(reader, name=label, chunk_rows=chunk_rows, size_bytes=data.size, in_memory=False)
    if isinstance(source, str | os.PathLike):
        label = name if name is not None else os.fspath(source)
        if is_many(source):
            many, size = open_many(source, label, kind, encoding)
            return TableSource(many, name=label, chunk_rows=chunk_rows, size_bytes=size, in_memory=False)
        path = Path(source)
        reader = _open_file(path, label, kind, encoding)
        return TableSource(reader, name=label, chunk_rows=chunk_rows, size_bytes=path.stat().st_size, in_memory=False)
    if kind is not None:
        raise ConfigError(message(where=f"format {format!r}", expected="a file or standard input to read",
                                  found=f"a table in memory ({type(source).__name__})", fix="drop format="))
    table, default_name = to_arrow(source, name)
    return TableSource(
        MemoryReader(table),
        name=name if name is not None else default_name,
        chunk_rows=chunk_rows,
        size_bytes=table.nbytes,
        in_memory=True,
    )


def _format_kind(format: str | None) -> str | None:
    if format is None:
        return None
    kind = TABLE_FORMATS.get(format.strip().lower()) if isinstance(format, str) else None
    if kind is None:
        raise ConfigError(message(where="format", expected=f"one of {', '.join(TABLE_FORMATS)}", found=repr(format),
                                  fix="pass --format csv (format='csv' in Python), or leave it out"))
    return kind


def _read_stdin(name: str) -> pa.Buffer:
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None or sys.stdin.isatty():
        found = "a terminal" if stream is not None else "no standard input"
        raise ReadError(message(where=name, expected="a table piped to standard input", found=found,
                                fix="pipe the table in (e.g. `query | assay evaluate - ...`) or pass a file path"))
    data = stream.read()
    if not data:
        raise ReadError(message(
            where=name, expected="a table on standard input (CSV, JSON Lines, an Arrow IPC stream or Parquet)",
            found="no data: standard input was empty",
            fix="check the command that writes the table into the pipe, or pass a file path"))
    return pa.py_buffer(data)


def _sniff(data: pa.Buffer, encoding: str | None, name: str) -> str:
    """The format of bytes piped in, told by their start (see :func:`open_table`)."""
    head = data[:4096].to_pybytes()
    if head.startswith(b"\xff\xff\xff\xff"):  # the continuation marker that starts every IPC stream message
        return "ipc"
    if head.startswith(b"ARROW1"):
        return "ipc"
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"\x1f\x8b"):
        raise ReadError(message(where=name, expected="CSV, JSON Lines, an Arrow IPC stream or Parquet",
                                found="gzip-compressed data", fix="decompress it on the way (gunzip -c FILE | ...)"))
    text = head.decode(encoding or "utf-8", errors="ignore").lstrip("\ufeff \t\r\n")
    return "jsonl" if text.startswith("{") else "csv"


def _open_file(path: Path, name: str, kind: str | None = None, encoding: str | None = None) -> FileReader:
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
                fix="pass the path of a data file inside it, or the directory itself",
            )
        )
    if kind is not None:
        return READERS[kind](Origin(path=path), name, encoding=encoding)
    lowered = path.name.lower()
    ending = next((e for e in sorted(FORMATS, key=len, reverse=True) if lowered.endswith(e)), None)
    if ending is None:
        raise ReadError(
            message(
                where=name,
                expected=f"a file name ending in one of {', '.join(SUPPORTED_EXTENSIONS)}",
                found=f"{path.suffix!r}" if path.suffix else "no extension",
                fix="convert the file to CSV, Parquet, JSON Lines or Arrow IPC, or rename it if it is one of those",
            )
        )
    return READERS[FORMATS[ending]](Origin(path=path), name, encoding=encoding)


def _missing_column(column: str, name: str, existing: list[str]) -> str:
    if not existing:
        found = "no columns"
    else:
        shown = ", ".join(existing[:_MAX_LISTED])
        more = len(existing) - _MAX_LISTED
        found = "columns " + shown + (f" and {more} more" if more > 0 else "")
    close = [other for other in existing if other.lower() == column.lower()]
    close = close or difflib.get_close_matches(column, existing, n=1)
    fix = f"did you mean {close[0]!r}? Names are case-sensitive" if close else "pass one of the columns found"
    return message(where=f"column {column!r} of {name}", expected=f"a column named {column!r}", found=found, fix=fix)
