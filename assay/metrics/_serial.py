"""Compact, versioned bytes for states: a magic line, a JSON header, then the arrays, raw and zlib-compressed.

The header names each array's dtype and shape; the body is their bytes one after another (C order, little-endian),
compressed as one zlib stream at level 1. The service serialises a window's states on every fold, so this is kept
cheap: about 20x faster than NumPy's ``.npz`` (a zip member per array) for the small arrays of a window.

>>> blob = dump("example", 1, {"k": 2}, {"counts": np.arange(3)})
>>> header, arrays = load(blob, "example", 1)
>>> header, arrays["counts"].tolist()
({'k': 2}, [0, 1, 2])
"""

from __future__ import annotations

import json
import math
import zlib
from typing import Any

import numpy as np

from assay.errors import StateError

MAGIC = b"ASSAYSTATE2\n"


_NARROW = (np.dtype(np.uint8), np.dtype(np.int8), np.dtype(np.uint16), np.dtype(np.int16), np.dtype(np.uint32),
           np.dtype(np.int32))
_NARROW_FROM = 64  # arrays shorter than this are stored as they are


def _narrowed(a: np.ndarray) -> np.ndarray | None:
    """``a`` (int64 or float64) as the smallest integer type that gives it back bit for bit, or ``None``.

    Most of a state's arrays are counts and group indices held in 8-byte types: stored narrow, a month of window
    states decompresses in half the time (and compresses faster)."""
    if a.size < _NARROW_FROM or a.dtype.kind not in "if" or a.dtype.itemsize != 8:
        return None
    lo, hi = a.min(), a.max()
    if not (lo >= -(2**31) and hi < 2**32):  # NaN fails both
        return None
    for dtype in _NARROW:
        info = np.iinfo(dtype)
        if info.min <= lo and hi <= info.max:
            break
    small = a.astype(dtype)
    if a.dtype.kind == "f" and not np.array_equal(small.astype(a.dtype).view(np.int64), a.view(np.int64)):
        return None  # fractions, or -0.0
    return small


def dump(kind: str, version: int, header: dict[str, Any], arrays: dict[str, np.ndarray]) -> bytes:
    """Serialise a state of ``kind`` at ``version``: ``header`` must be JSON-able, ``arrays`` numeric. Integral
    arrays of 8-byte types are stored in the smallest integer type that holds them exactly (the layout names the
    type to restore)."""
    layout: list[list[Any]] = []
    chunks = []
    for name, value in arrays.items():
        a = np.ascontiguousarray(value)
        if a.dtype.kind not in "biufc" or a.dtype.hasobject:
            raise StateError(f"state bytes: expected numeric arrays, found {a.dtype} for {name!r}")
        a = a.astype(a.dtype.newbyteorder("<"), copy=False)
        small = _narrowed(a)
        if small is None:
            layout.append([name, a.dtype.str, list(a.shape)])
            chunks.append(a.tobytes())
        else:
            layout.append([name, small.dtype.str, list(a.shape), a.dtype.str])
            chunks.append(small.astype(small.dtype.newbyteorder("<"), copy=False).tobytes())
    head = json.dumps({"kind": kind, "version": version, "arrays": layout, **header}, separators=(",", ":")).encode()
    return MAGIC + len(head).to_bytes(4, "little") + head + zlib.compress(b"".join(chunks), 1)


def load(data: bytes, kind: str, version: int) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Inverse of :func:`dump`; raises :class:`StateError` when the bytes are not a ``kind`` state of ``version``."""
    _, header, arrays = load_versions(data, kind, (version,))
    return header, arrays


def load_versions(data: bytes, kind: str,
                  versions: tuple[int, ...]) -> tuple[int, dict[str, Any], dict[str, np.ndarray]]:
    """:func:`load` of a state kind that reads several versions: the version found, the header and the arrays."""
    if not data.startswith(MAGIC) or len(data) < len(MAGIC) + 4:
        raise StateError(f"state bytes: expected an assay {kind} state, found bytes without the assay header")
    start = len(MAGIC) + 4
    size = int.from_bytes(data[len(MAGIC) : start], "little")
    try:
        header = json.loads(data[start : start + size])
        found_kind, found_version = header.pop("kind"), header.pop("version")
        layout = header.pop("arrays")
    except (ValueError, KeyError) as exc:
        raise StateError(f"state bytes: expected an assay {kind} state, found a corrupt header ({exc})") from None
    if found_kind != kind or found_version not in versions:
        raise StateError(
            f"state bytes: expected a {kind} state of version {' or '.join(map(str, versions))}, found {found_kind} "
            f"version {found_version}"
        )
    try:
        body = zlib.decompress(data[start + size :])
        arrays: dict[str, np.ndarray] = {}
        offset = 0
        for name, dtype_str, shape, *restore in layout:
            dtype = np.dtype(dtype_str)
            count = math.prod(shape)
            arr = np.frombuffer(body, dtype=dtype, count=count, offset=offset).reshape(shape)
            arrays[name] = arr.astype(np.dtype(restore[0] if restore else dtype).newbyteorder("="), copy=True)
            offset += count * dtype.itemsize
        if offset != len(body):
            raise ValueError(f"{len(body) - offset} bytes left over")
    except (ValueError, TypeError, zlib.error) as exc:
        raise StateError(f"state bytes: the arrays of the {kind} state do not decode ({exc})") from None
    return int(found_version), header, arrays


def keys_to_json(keys: tuple[Any, ...]) -> list[Any]:
    """Group keys as JSON values (they are already str, int, float, bool or None)."""
    return list(keys)


def keys_from_json(keys: list[Any]) -> tuple[Any, ...]:
    """Group keys back from JSON: lists (JSON's tuples) become tuples again."""

    def back(k: Any) -> Any:
        return tuple(back(v) for v in k) if isinstance(k, list) else k

    return tuple(back(k) for k in keys)
