"""Datasets of many files for :func:`assay.data.open_table`: a directory or a glob of files of one format as one table.

The files are found (a directory recursively, a glob with ``**`` for any depth), hidden files and folders and those
starting with ``_`` (``_SUCCESS``, ``_metadata``, Spark's ``_temporary``) skipped, and read in sorted path order,
each streamed like a single file. Every ``key=value`` folder between the root (the directory, or the part of the
pattern before its first wildcard) and a file is a Hive-style partition: ``key`` becomes a string column holding
``value`` on every row of the file. All files must be of one format and hold the same columns; types that differ
only in width (``int32`` and ``int64``, an integer and a decimal column) are promoted to the wider one.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

from assay.data._formats import FORMATS, LABELS, READERS, FileReader, Origin, Reader
from assay.errors import ReadError, message

GLOB_CHARS = "*?["


def is_many(source: str | os.PathLike[str]) -> bool:
    """Whether a path names many files: an existing directory, or a pattern with ``*``, ``?`` or ``[``."""
    text = os.fspath(source)
    return os.path.isdir(text) or (any(c in text for c in GLOB_CHARS) and not os.path.exists(text))


def _kind_of(path: Path) -> str | None:
    lowered = path.name.lower()
    ending = next((e for e in sorted(FORMATS, key=len, reverse=True) if lowered.endswith(e)), None)
    return FORMATS[ending] if ending is not None else None


def _skipped(relative: Path) -> bool:
    return any(part.startswith((".", "_")) for part in relative.parts)


def find_files(source: str | os.PathLike[str], name: str) -> tuple[Path, list[Path]]:
    """The root and the sorted table files that ``source`` (a directory or a glob) names; a ``ReadError`` if none."""
    text = os.fspath(source)
    if os.path.isdir(text):
        root = Path(text)
        files = sorted(p for p in root.rglob("*") if p.is_file() and not _skipped(p.relative_to(root))
                       and _kind_of(p) is not None)
        if not files:
            raise ReadError(message(
                where=name, expected=f"a directory holding table files ({', '.join(sorted(FORMATS))})",
                found="none (hidden files and files starting with '_' are skipped)",
                fix="check the directory, or pass a glob such as 'data/*.csv'"))
        return root, files
    first = min(text.index(c) for c in GLOB_CHARS if c in text)
    root = Path(text[:first]).parent if not text[:first].endswith(os.sep) else Path(text[:first])
    matched = sorted(Path(p) for p in glob.glob(text, recursive=True))
    files = [p for p in matched if p.is_file() and not _skipped(_relative(p, root))]
    if not files:
        raise ReadError(message(
            where=f"pattern {text!r}", expected="at least one file matching it",
            found="no files" if not matched else f"{len(matched)} matches, none a table file",
            fix="check the pattern (quote it so that the shell does not expand it); a relative pattern is read "
            f"from the current directory {os.getcwd()}"))
    return root, files


def _relative(path: Path, root: Path) -> Path:
    try:
        return path.relative_to(root)
    except ValueError:
        return Path(path.name)


def partitions(path: Path, root: Path) -> dict[str, str]:
    """The Hive-style ``key=value`` folders between ``root`` and ``path``."""
    found: dict[str, str] = {}
    for part in _relative(path, root).parts[:-1]:
        key, sep, value = part.partition("=")
        if sep and key:
            found[key] = value
    return found


class ManyReader(Reader):
    """The files' readers one after another, partition columns added and types promoted to one schema."""

    def __init__(self, readers: list[FileReader], parts: list[dict[str, str]], name: str) -> None:
        self.readers = readers
        self.parts = parts
        self.name = name
        first, keys = readers[0], list(parts[0])
        names = set(first.schema.names)
        for reader, part in zip(readers, parts, strict=True):
            if list(part) != keys:
                raise ReadError(message(
                    where=reader.name, expected=f"the partition folders of {first.name} ({', '.join(keys) or 'none'})",
                    found=f"partition folders {', '.join(part) or 'none'}",
                    fix="give every file the same key=value folders"))
            other = set(reader.schema.names)
            if other != names:
                extra, missing = sorted(other - names), sorted(names - other)
                column = (extra or missing)[0]
                found = f"an extra column {column!r}" if extra else f"no column {column!r}"
                raise ReadError(message(
                    where=f"column {column!r} of {reader.name}", expected=f"the columns of {first.name}",
                    found=found, fix="give every file the same columns, or select matching files with a glob"))
        for key in keys:
            if key in names:
                raise ReadError(message(
                    where=f"partition folder {key}= of {first.name}", expected="a partition key that is not a column",
                    found=f"a column {key!r} in the file too", fix="rename the folder or the column"))
        fields = []
        for field in first.schema:
            types = [r.schema.field(field.name).type for r in readers]
            fields.append(pa.field(field.name, self._unify(field.name, types)))
        self.schema = pa.schema(fields + [pa.field(k, pa.string()) for k in keys])
        counts = [r.num_rows for r in readers]
        self.num_rows = None if any(c is None for c in counts) else sum(c for c in counts if c is not None)

    def _unify(self, column: str, types: list[pa.DataType]) -> pa.DataType:
        result = types[0]
        for reader, kind in zip(self.readers, types, strict=True):
            if kind == result:
                continue
            try:
                result = pa.unify_schemas([pa.schema([pa.field(column, result)]), pa.schema([pa.field(column, kind)])],
                                          promote_options="permissive").field(column).type
            except (pa.ArrowException, TypeError):
                raise ReadError(message(
                    where=f"column {column!r} of {reader.name}",
                    expected=f"{result} values, as in {self.readers[0].name}", found=f"{kind} values",
                    fix="give the column one type in every file (for CSV, write 1.0 rather than 1 in a decimal "
                    "column), or convert the files to Parquet")) from None
        return result

    def batches(self, columns: list[str] | None, chunk_rows: int) -> Iterator[pa.RecordBatch]:
        """Batches of ``chunk_rows`` rows across file boundaries (the last may be shorter): many small files are
        read in the chunks one file of their rows would be, so per-batch costs do not grow with the file count."""
        pending: list[pa.RecordBatch] = []
        rows = 0
        for batch in self._file_batches(columns, chunk_rows):
            pending.append(batch)
            rows += batch.num_rows
            if rows < chunk_rows:
                continue
            table = pa.Table.from_batches(pending).combine_chunks()
            start = 0
            while table.num_rows - start >= chunk_rows:
                yield from table.slice(start, chunk_rows).to_batches(max_chunksize=chunk_rows)
                start += chunk_rows
            rest = table.slice(start)
            pending, rows = ([rest.combine_chunks().to_batches()[0]] if rest.num_rows else []), rest.num_rows
        if rows:
            yield from pa.Table.from_batches(pending).combine_chunks().to_batches(max_chunksize=chunk_rows)

    def _file_batches(self, columns: list[str] | None, chunk_rows: int) -> Iterator[pa.RecordBatch]:
        names = list(self.schema.names) if columns is None else list(columns)
        schema = pa.schema([self.schema.field(c) for c in names])
        for reader, part in zip(self.readers, self.parts, strict=True):
            own = [c for c in names if c not in part]
            for batch in reader.batches(own, chunk_rows):
                arrays = []
                for field in schema:
                    if field.name in part:
                        arrays.append(pa.repeat(pa.scalar(part[field.name], pa.string()), batch.num_rows))
                        continue
                    array = batch.column(field.name)
                    if array.type != field.type:
                        try:
                            array = array.cast(field.type)
                        except pa.ArrowException as exc:
                            raise ReadError(message(
                                where=f"column {field.name!r} of {reader.name}", expected=f"{field.type} values",
                                found=f"{array.type} values that do not convert ({exc})",
                                fix="give the column one type in every file")) from None
                    arrays.append(array)
                yield pa.RecordBatch.from_arrays(arrays, schema=schema)


def open_many(source: str | os.PathLike[str], name: str, kind: str | None,
              encoding: str | None) -> tuple[ManyReader, int]:
    """A :class:`ManyReader` of the files ``source`` names and their total size in bytes."""
    root, files = find_files(source, name)
    kinds = {path: kind or _kind_of(path) for path in files}
    for path in files:
        if kinds[path] is None:
            raise ReadError(message(
                where=str(path), expected=f"a file name ending in one of {', '.join(sorted(FORMATS))}",
                found=repr(path.suffix) if path.suffix else "no extension",
                fix="narrow the pattern to the table files (e.g. '*.parquet')"))
        if kinds[path] != kinds[files[0]]:
            first = kinds[files[0]]
            raise ReadError(message(
                where=name, expected="files of one format",
                found=f"{files[0]} ({LABELS[first] if first else '?'}) and {path} ({LABELS[kinds[path] or 'csv']})",
                fix="narrow the pattern to one format (e.g. '*.parquet')"))
    readers = [READERS[kinds[p] or "csv"](Origin(path=p), str(p), encoding=encoding) for p in files]
    parts = [partitions(p, root) for p in files]
    return ManyReader(readers, parts, name), sum(p.stat().st_size for p in files)

