"""Arrow columns to NumPy arrays for the evaluator, validated once at the edge.

Each function takes an Arrow ``Array`` or ``ChunkedArray`` (one column of a table or of a batch). Errors are
:class:`~assay.errors.ColumnError` naming the source, the column, and the first offending row, counted from 0 over
the whole table: pass ``row_offset``, the rows before this batch, when converting batch by batch.

>>> import pyarrow as pa
>>> to_float(pa.array([1, 2, None]), column="s", source="a.csv", allow_null=True)
array([ 1.,  2., nan])
>>> null_mask(pa.array([1.0, None, float("nan")]))
array([False,  True, False])
>>> to_codes(pa.array(["b", "a", "b", None]), column="g", source="a.csv")
(array([0, 1, 0, 2]), ['b', 'a', None])
"""

from __future__ import annotations

from typing import Any, TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from assay.errors import ColumnError, message

__all__ = ["null_mask", "to_codes", "to_float"]

ArrowColumn: TypeAlias = pa.Array | pa.ChunkedArray

_NUMBER = r"^\s*[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf|infinity|nan)\s*$"


def to_float(
    array: ArrowColumn, *, column: str, source: str, row_offset: int = 0, allow_null: bool = False
) -> np.ndarray:
    """A new float64 array of a numeric column (integers, floats, decimals, booleans as 0/1).

    NaN and infinities are rejected; nulls are rejected unless ``allow_null``, in which case they become NaN.

    >>> import pyarrow as pa
    >>> to_float(pa.array([True, False]), column="y", source="a.csv")
    array([1., 0.])
    >>> to_float(pa.array([0.5, float("inf")]), column="s", source="a.csv", row_offset=16)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    assay.errors.ColumnError: column 's' of a.csv: expected finite numbers, found inf at row 17. Fix: ...
    """
    values = _decoded(array)
    kind = values.type
    where = f"column {column!r} of {source}"
    if not (
        pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_decimal(kind)
        or pa.types.is_null(kind)
    ):
        raise ColumnError(
            message(
                where=where,
                expected="numbers",
                found=_type_found(values, row_offset),
                fix="store numbers in this column (remove or replace text such as the value shown), "
                "or pick the column that holds the numbers",
            )
        )
    nulls = null_mask(values)
    out = np.asarray(to_numpy(pc.cast(values, pa.float64(), safe=False)), dtype=np.float64)
    if not out.flags.writeable:
        out = out.copy()
    bad = ~np.isfinite(out)
    if allow_null:
        bad &= ~nulls
    if bad.any():
        row = int(np.argmax(bad))
        if nulls[row]:
            found, fix = "null", "drop or fill the rows with missing values"
        else:
            found = str(float(out[row]))
            fix = "drop or replace the non-finite values (often a division by zero or a failed prediction)"
        raise ColumnError(
            message(
                where=where,
                expected="finite numbers" + (" or nulls" if allow_null else ""),
                found=f"{found} at row {row_offset + row}",
                fix=fix,
            )
        )
    return out


def null_mask(array: ArrowColumn) -> np.ndarray:
    """``True`` where the column is null (NaN is a value, not a null).

    >>> import pyarrow as pa
    >>> null_mask(pa.chunked_array([[1, None], [None]]))
    array([False,  True,  True])
    """
    if array.null_count == 0:
        return np.zeros(len(array), dtype=bool)
    # through int8: a boolean Arrow array's to_numpy goes through pyarrow's pandas layer (and imports pandas)
    return np.asarray(to_numpy(pc.cast(pc.is_null(array), pa.int8())), dtype=bool)


def to_numpy(array: ArrowColumn) -> np.ndarray:
    """NumPy values of a numeric Arrow column, without a trip through pandas (a chunked array's ``to_numpy`` takes
    pyarrow's pandas path, which imports pandas and copies)."""
    if isinstance(array, pa.ChunkedArray):
        array = array.chunk(0) if array.num_chunks == 1 else array.combine_chunks()
    kind = array.type
    if array.null_count == 0 and (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
        # fixed-width numbers without nulls: a view of the values buffer (to_numpy would import pandas)
        dtype = np.dtype(kind.to_pandas_dtype())
        buffer = array.buffers()[1]
        return np.frombuffer(buffer, dtype=dtype, count=len(array), offset=array.offset * dtype.itemsize)
    return array.to_numpy(zero_copy_only=False)


def to_codes(array: ArrowColumn, *, column: str, source: str, row_offset: int = 0) -> tuple[np.ndarray, list[Any]]:
    """Integer codes (int64) of a column's values and the distinct values in code order (order of first appearance).

    Nulls are a value of their own, ``None``; NaNs share one code. Bytes (a binary column) are decoded as UTF-8, so
    that groups are named by text, never by the repr of bytes; bytes that are not UTF-8 are a
    :class:`~assay.errors.ColumnError` naming the row (from ``row_offset``) and the byte.

    >>> import pyarrow as pa
    >>> codes, values = to_codes(pa.chunked_array([[True, None], [False, True]]), column="g", source="a.csv")
    >>> codes.tolist(), values
    ([0, 1, 2, 0], [True, None, False])
    >>> to_codes(pa.array(["café".encode(), b"bar"]), column="g", source="a.parquet")[1]
    ['café', 'bar']
    """
    array = _as_text(array, column=column, source=source, row_offset=row_offset)
    fast = _dictionary_codes(array)
    if fast is not None:
        return fast
    values = _decoded(array)
    try:
        encoded = pc.dictionary_encode(values, null_encoding="encode")
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise ColumnError(
            message(
                where=f"column {column!r} of {source}",
                expected="values that can be grouped (strings, integers, booleans, dates, ...)",
                found=f"values of type {values.type}",
                fix="pick a column of single values, or flatten this one into a column of strings",
            )
        ) from exc
    if isinstance(encoded, pa.ChunkedArray):
        chunks = encoded.chunks
        if not chunks:
            return np.zeros(0, dtype=np.int64), []
        # pyarrow encodes all chunks with one hash table and gives every chunk its final dictionary.
        dictionary = chunks[-1].dictionary
        if not all(c.dictionary.equals(dictionary) for c in chunks[:-1]):  # pragma: no cover - defensive
            encoded = pc.dictionary_encode(values.combine_chunks(), null_encoding="encode")
            return to_numpy(encoded.indices).astype(np.int64), encoded.dictionary.to_pylist()
        codes = np.concatenate([to_numpy(c.indices) for c in chunks])
    else:
        dictionary = encoded.dictionary
        codes = to_numpy(encoded.indices)
    return codes.astype(np.int64), dictionary.to_pylist()


def _dictionary_codes(array: ArrowColumn) -> tuple[np.ndarray, list[Any]] | None:
    """Codes straight from a dictionary column's indices (no decoding and re-encoding), when it has one chunk (or
    chunks sharing one dictionary), no nulls and distinct dictionary values; ``None`` otherwise. Dictionary entries
    no row uses are dropped, so every value returned occurs."""
    if not pa.types.is_dictionary(array.type) or array.null_count:
        return None
    chunks = array.chunks if isinstance(array, pa.ChunkedArray) else [array]
    if not chunks or any(not c.dictionary.equals(chunks[0].dictionary) for c in chunks[1:]):
        return None
    dictionary = chunks[0].dictionary
    if pc.count_distinct(dictionary).as_py() != len(dictionary) or dictionary.null_count:
        return None
    indices = np.concatenate([to_numpy(c.indices) for c in chunks]).astype(np.int64, copy=False)
    used = np.bincount(indices, minlength=len(dictionary)) > 0
    values = dictionary.to_pylist()
    if used.all():  # the usual case: the indices are the codes
        return indices, values
    lut = np.cumsum(used) - 1
    return lut[indices], [v for v, u in zip(values, used, strict=True) if u]


def _is_bytes(kind: pa.DataType) -> bool:
    return pa.types.is_binary(kind) or pa.types.is_large_binary(kind) or pa.types.is_fixed_size_binary(kind)


def _as_text(array: ArrowColumn, *, column: str, source: str, row_offset: int) -> ArrowColumn:
    """A binary column (or a dictionary of binary values) as UTF-8 text; other columns as they are."""
    kind = array.type.value_type if pa.types.is_dictionary(array.type) else array.type
    if not _is_bytes(kind):
        return array
    values = _decoded(array)
    target = pa.large_string() if pa.types.is_large_binary(kind) else pa.string()
    try:
        return pc.cast(values, target)  # checks that every value is UTF-8
    except pa.ArrowInvalid:
        pass
    from assay.data._text import not_utf8_text

    chunks = values.chunks if isinstance(values, pa.ChunkedArray) else [values]
    row = row_offset
    for chunk in chunks:
        for value in chunk.to_pylist():
            if value is not None:
                try:
                    value.decode("utf-8")
                except UnicodeDecodeError:
                    raise ColumnError(not_utf8_text(
                        f"column {column!r} of {source}, row {row}", value,
                        fix="decode the column to text before evaluating (bytes.decode with its encoding), or pick "
                        "another column; for CSV and JSON Lines, pass the file's encoding: --encoding latin-1",
                    )) from None
            row += 1
    raise ColumnError(message(where=f"column {column!r} of {source}", expected="values that can be grouped",
                              found=f"values of type {kind} that do not convert to text"))


def _decoded(array: ArrowColumn) -> ArrowColumn:
    """The column with dictionary encoding undone, so that types and nulls are the values'."""
    if pa.types.is_dictionary(array.type):
        return pc.cast(array, array.type.value_type)
    return array


def _type_found(values: ArrowColumn, row_offset: int) -> str:
    """``values of type T, e.g. 'n/a' at row 17``: the first value that does not look like a number."""
    found = f"values of type {values.type}"
    candidates = np.asarray(pc.is_valid(values).to_numpy(zero_copy_only=False), dtype=bool)
    kind = values.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        numeric = pc.match_substring_regex(values, _NUMBER, ignore_case=True).fill_null(True)
        not_numeric = candidates & ~np.asarray(numeric.to_numpy(zero_copy_only=False), dtype=bool)
        if not_numeric.any():
            candidates = not_numeric
    if not candidates.any():
        return found
    row = int(np.argmax(candidates))
    return f"{found}, e.g. {values[row].as_py()!r} at row {row_offset + row}"
