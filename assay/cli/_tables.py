"""The options every command that reads tables shares: ``-`` for standard input, ``--format`` and ``--encoding``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from assay.data.tables import STDIN, TABLE_FORMATS
from assay.errors import ConfigError, message

__all__ = ["STDIN", "TABLE_HELP", "add_table_options", "check_stdin"]

TABLE_HELP = ("a directory or a quoted glob ('data/day=*/*.parquet') of files of one format, read as one table "
              "(key=value folders become columns), or - to read the table from standard input (read whole into "
              "memory)")


def add_table_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--encoding", metavar="ENCODING",
                   help="text encoding of CSV and JSON Lines input (default utf-8; e.g. latin-1, cp1252, utf-16); "
                   "Parquet and Arrow are UTF-8 by definition")
    p.add_argument("--format", choices=list(TABLE_FORMATS),
                   help="format of the table on standard input (-), which is read whole into memory as bytes; "
                   "default: told by content (an Arrow IPC stream, Parquet, JSON Lines if it starts with '{', "
                   "else CSV)")


def check_stdin(inputs: Sequence[str | None], fmt: str | None) -> bool:
    """Whether one of ``inputs`` is standard input; a :class:`ConfigError` for two, or for ``--format`` without."""
    count = sum(1 for i in inputs if i == STDIN)
    if count > 1:
        raise ConfigError(message(where="the tables given", expected="standard input ('-') at most once",
                                  found=f"'-' {count} times", fix="pass the other tables as files"))
    if fmt is not None and not count:
        raise ConfigError(message(where=f"option --format {fmt}", expected="a table read from standard input ('-')",
                                  found="only files, whose format is told by their extension",
                                  fix="pass - as the table and pipe it in, or drop --format"))
    return count == 1
