"""In-memory sources for :func:`assay.data.open_table`: frames, Arrow tables and dicts of columns to one Arrow table.

pandas and polars are never imported: a frame is recognised by its type's module and converted with its own method
(pandas through ``pyarrow.Table.from_pandas``, polars through ``DataFrame.to_arrow``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from assay.data._formats import ARROW_ERRORS
from assay.errors import ColumnError, ReadError, message


def to_arrow(source: Any, name: str | None) -> tuple[pa.Table, str]:
    """An Arrow table of an in-memory source and the source's default name."""
    if isinstance(source, pa.Table):
        return source, "<pyarrow Table>"
    if isinstance(source, pa.RecordBatch):
        return pa.Table.from_batches([source]), "<pyarrow RecordBatch>"
    if isinstance(source, Mapping):
        label = name if name is not None else "<dict of columns>"
        return dict_to_arrow(source, label), "<dict of columns>"
    module = type(source).__module__.split(".")[0]
    kind = type(source).__name__
    if module == "pandas" and kind == "DataFrame":
        label = name if name is not None else "<pandas DataFrame>"
        try:
            return pa.Table.from_pandas(source, preserve_index=False), "<pandas DataFrame>"
        except (*ARROW_ERRORS, TypeError, ValueError) as exc:
            raise ColumnError(frame_error(exc, label)) from exc
    if module == "polars" and kind == "DataFrame":
        label = name if name is not None else "<polars DataFrame>"
        try:
            return source.to_arrow(), "<polars DataFrame>"
        except (*ARROW_ERRORS, TypeError, ValueError) as exc:
            raise ColumnError(frame_error(exc, label)) from exc
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


def dict_to_arrow(source: Mapping[Any, Any], label: str) -> pa.Table:
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
            arrays[key] = value if isinstance(value, pa.Array | pa.ChunkedArray) else _numpy_to_arrow(value)
        except (*ARROW_ERRORS, TypeError, ValueError) as exc:
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


def frame_error(exc: BaseException, label: str) -> str:
    text = " ".join(str(arg) for arg in exc.args) if exc.args else str(exc)
    column = re.search(r"Conversion failed for column (.+?) with type (\S+)", text)
    where = f"column {column[1]!r} of {label}" if column else label
    return message(
        where=where,
        expected="columns whose values share one type, convertible to Arrow",
        found=f"values pyarrow cannot convert ({text})",
        fix="give the column a single type, e.g. df[col].astype(str) or pd.to_numeric(df[col])",
    )


def _numpy_to_arrow(value: Any) -> pa.Array:
    """A 1-D NumPy array of numbers as an Arrow array without a copy (and without pyarrow importing pandas, which
    ``pa.array`` does to inspect its argument); anything else through ``pa.array``."""
    import numpy as np

    if (isinstance(value, np.ndarray) and value.ndim == 1 and value.dtype.kind in "iuf"
            and value.dtype.byteorder in "=|" and value.flags.c_contiguous):
        if value.dtype.kind == "f" and np.isnan(value).any():
            return pa.array(value, from_pandas=False)
        return pa.Array.from_buffers(pa.from_numpy_dtype(value.dtype), len(value), [None, pa.py_buffer(value)])
    return pa.array(value)
