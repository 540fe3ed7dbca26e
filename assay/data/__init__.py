"""The data input layer: tables from files and frames, Arrow columns to NumPy, atomic output files.

::

    open_table(source) -> TableSource      a file (CSV, Parquet, JSON Lines, Arrow IPC), '-' (standard input)
                                           or an in-memory frame; encoding= for text that is not UTF-8;
                                           a directory or a glob of files of one format is one table
    TableSource.batches(columns)           record batches of at most chunk_rows rows, streamed from files
    TableSource.read(columns)              the whole table
    to_float / null_mask / to_codes        one Arrow column to validated NumPy arrays
    atomic_write / atomic_path             outputs that are never half-written

pandas and polars are not imported here; a frame passed in is converted with its own methods.
"""

from assay.data.atomic import atomic_path, atomic_write
from assay.data.columns import null_mask, to_codes, to_float, to_numpy
from assay.data.tables import SUPPORTED_EXTENSIONS, TableSource, open_table

__all__ = [
    "SUPPORTED_EXTENSIONS",
    "TableSource",
    "atomic_path",
    "atomic_write",
    "null_mask",
    "open_table",
    "to_codes",
    "to_float",
    "to_numpy",
]
