"""The one exception tree of assay.

::

    AssayError                      every error assay raises on purpose
    ├── InputError                  the data given cannot be evaluated as asked
    │   ├── ColumnError             a column is missing, of the wrong type, or holds bad values
    │   └── ReadError               a file cannot be read (missing, unreadable, truncated, unknown format)
    ├── ConfigError                 an option or argument is invalid (unknown metric, bad confidence, ...)
    └── StateError                  two states cannot be merged (different configuration) or bytes do not decode

Every message has one shape: *where* (file, column, row or field), *what was expected*, *what was found*, and
*how to fix it*. The CLI prints the message and exits with code 2; it never prints a traceback.
"""

from __future__ import annotations


class AssayError(Exception):
    """Root of every error assay raises on purpose."""


class InputError(AssayError):
    """The data cannot be evaluated as asked."""


class ColumnError(InputError):
    """A column is missing, has the wrong type, or holds values the task does not accept."""


class ReadError(InputError):
    """A file cannot be read: missing, unreadable, truncated, or of an unknown format."""


class ConfigError(AssayError):
    """An option or argument is invalid."""


class StateError(AssayError):
    """States of different configuration were merged, or serialised bytes do not decode."""


def message(*, where: str, expected: str, found: str, fix: str | None = None) -> str:
    """Build an error message of the house shape.

    >>> message(where="column 'y' of a.csv", expected="0/1 labels", found="3 distinct values", fix="pass --pos-label")
    "column 'y' of a.csv: expected 0/1 labels, found 3 distinct values. Fix: pass --pos-label"
    """
    text = f"{where}: expected {expected}, found {found}."
    if fix:
        text += f" Fix: {fix}"
    return text
