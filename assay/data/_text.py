"""Text in CSV and JSON Lines: the ``encoding`` option, and bytes that are not UTF-8 stopped with a clear message.

pyarrow reads text as UTF-8 and checks little of it: its CSV reader makes a column with a stray Latin-1 byte a
*binary* column (whose values then turned into group names such as ``"b'caf\\xe9'"``); its JSON reader checks
nothing and hands on string columns holding invalid UTF-8; both fail on such a byte in a column name only when the
names are decoded. So the CSV reader is told not to check, the names are decoded on opening (a failure is located
by line, :func:`first_invalid_line`), and every batch of a text source read without an encoding is checked here
(:func:`invalid_utf8`, pyarrow's own full validation, then a search for the first bad value on failure): the error
names the file, the column, the row and the byte, and suggests ``--encoding latin-1``.

With an encoding, CSV is decoded by pyarrow's own ``ReadOptions(encoding=...)``; JSON Lines, which pyarrow reads
only as UTF-8, through a transcoding stream (:func:`pyarrow.transcoding_input_stream`) into UTF-8, block by block.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator

import numpy as np
import pyarrow as pa

from assay.errors import ConfigError, message

__all__ = ["decode_error_text", "first_invalid_line", "invalid_utf8", "normalize_encoding", "not_utf8_text"]

_SNIPPET = 40  # bytes of context shown around a bad byte


def normalize_encoding(encoding: str | None) -> str | None:
    """``None`` for UTF-8 (the readers' own, checked here), else the name as given; an unknown name is a
    :class:`~assay.errors.ConfigError`.

    >>> normalize_encoding("UTF8"), normalize_encoding("utf-8"), normalize_encoding(" latin-1 ")
    (None, None, 'latin-1')
    """
    if encoding is None:
        return None
    if not isinstance(encoding, str) or not encoding.strip():
        raise ConfigError(message(where="encoding", expected="the name of a text encoding", found=repr(encoding),
                                  fix="pass e.g. --encoding latin-1 (encoding='latin-1' in Python)"))
    try:
        info = codecs.lookup(encoding.strip())
    except LookupError:
        raise ConfigError(message(
            where=f"encoding {encoding!r}", expected="a text encoding Python knows (utf-8, latin-1, cp1252, "
            "utf-16, shift_jis, ...)", found="no codec of that name",
            fix="see https://docs.python.org/3/library/codecs.html#standard-encodings for the names")) from None
    if not getattr(info, "_is_text_encoding", True):
        raise ConfigError(message(where=f"encoding {encoding!r}", expected="a text encoding",
                                  found=f"the codec {info.name!r}, which does not decode bytes to text",
                                  fix="pass e.g. --encoding latin-1"))
    return None if info.name == "utf-8" else encoding.strip()


def _shown(value: bytes, at: int) -> str:
    """The bytes around ``value[at]``, undecodable ones as ``\\xNN``, quoted."""
    start = max(0, at - _SNIPPET // 2)
    part = value[start:start + _SNIPPET]
    text = part.decode("utf-8", "backslashreplace").replace("\n", "\\n").replace("\r", "\\r")
    return f"'{'...' if start else ''}{text}{'...' if start + _SNIPPET < len(value) else ''}'"


_FIX = ("pass the encoding the file was written in: --encoding latin-1 (encoding='latin-1' in Python) for Latin-1, "
        "or cp1252, shift_jis, ...; or re-export the file as UTF-8")


def not_utf8_text(where: str, value: bytes, *, fix: str = _FIX) -> str:
    """The house message for ``value``, found at ``where``, that is not valid UTF-8."""
    try:
        value.decode("utf-8")
        at = 0
    except UnicodeDecodeError as exc:
        at = exc.start
    byte = value[at] if value else 0
    return message(
        where=where,
        expected="UTF-8 text",
        found=f"byte 0x{byte:02x}, which is not UTF-8, in {_shown(value, at)}",
        fix=fix,
    )


def decode_error_text(exc: UnicodeDecodeError, *, name: str, encoding: str) -> str:
    """The house message for bytes that the ``encoding`` the user named cannot decode."""
    raw = exc.object if isinstance(exc.object, bytes) else bytes(exc.object)
    byte = raw[exc.start] if exc.start < len(raw) else 0
    return message(
        where=name,
        expected=f"text in the encoding {encoding}",
        found=f"byte 0x{byte:02x}, which {encoding} cannot decode ({exc.reason}), in {_shown(raw, exc.start)}",
        fix="pass the encoding the file was written in with --encoding (latin-1 decodes any byte, cp1252 is "
        "common on Windows)",
    )


def _has_text(kind: pa.DataType) -> bool:
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return True
    if pa.types.is_struct(kind):
        return any(_has_text(kind.field(i).type) for i in range(kind.num_fields))
    if pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind):
        return _has_text(kind.value_type)
    return False


def _locate(array: pa.Array) -> tuple[str, int, bytes] | None:
    """``(path below the column, row, value)`` of the first value of ``array`` that is not UTF-8, or None."""
    kind = array.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        raw = array.view(pa.large_binary() if pa.types.is_large_string(kind) else pa.binary())
        for row, value in enumerate(raw.to_pylist()):
            if value is not None:
                try:
                    value.decode("utf-8")
                except UnicodeDecodeError:
                    return "", row, value
        return None
    if pa.types.is_struct(kind):
        found = []
        for i in range(kind.num_fields):
            hit = _locate(array.field(i))
            if hit is not None:
                path, row, value = hit
                found.append((row, f".{kind.field(i).name}{path}", value))
        if not found:
            return None
        row, path, value = min(found, key=lambda hit: hit[0])
        return path, row, value
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        offsets = np.asarray(array.offsets.to_numpy(zero_copy_only=False), dtype=np.int64)
        values = array.values.slice(int(offsets[0]), int(offsets[-1] - offsets[0]))
        hit = _locate(values)
        if hit is None:
            return None
        path, index, value = hit
        return f"[]{path}", int(np.searchsorted(offsets, offsets[0] + index, side="right")) - 1, value
    return None


def invalid_utf8(batch: pa.RecordBatch) -> tuple[str, int, bytes] | None:
    """``(column, row in the batch, value)`` of the first value that is not UTF-8 (the lowest row, then the first
    column), or None. Nested fields are named ``column.field``, list items ``column[]``.

    >>> import pyarrow as pa
    >>> batch = pa.RecordBatch.from_arrays([pa.array([b"ok", b"caf\\xe9"]).view(pa.string())], names=["seg"])
    >>> invalid_utf8(batch)
    ('seg', 1, b'caf\\xe9')
    """
    found = []
    for name, column in zip(batch.schema.names, batch.columns):
        if not _has_text(column.type):
            continue
        try:
            column.validate(full=True)
        except pa.ArrowInvalid:
            hit = _locate(column)
            if hit is not None:
                path, row, value = hit
                found.append((row, name + path, value))
    if not found:
        return None
    row, column_name, value = min(found, key=lambda hit: hit[0])
    return column_name, row, value


def first_invalid_line(stream: pa.NativeFile) -> tuple[int, bytes] | None:
    """``(line number from 1, the line)`` of the first line of ``stream`` that is not UTF-8, or None."""
    for number, line in enumerate(_lines(stream), start=1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            return number, line.rstrip(b"\r\n")
    return None


def _lines(stream: pa.NativeFile, block: int = 1 << 20) -> Iterator[bytes]:
    rest = b""
    while chunk := stream.read(block):
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        yield from (line + b"\n" for line in lines)
    if rest:
        yield rest
