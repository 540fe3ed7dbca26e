"""A fingerprint of the evaluation set: item ids, labels and weights, independent of row order and file format.

Each row gets a 64-bit hash of its canonical (id, label, weight); the fingerprint is the row count and two wrapping
sums of those hashes (a multiset hash), so it is mergeable across chunks and machines and blind to row order. The
model's outputs never enter it: two models evaluated on the same set share it.

Canonical forms: integer-valued ids (int columns, or strings of digits) hash as 64-bit integers, other ids as UTF-8
text; labels as the class name (classification) or the float value (regression, ranking); a missing weight as 1.0.

>>> a = Fingerprint().update(np.array([1, 2, 3]), ["0", "1", "1"], None)
>>> b = Fingerprint().update(np.array([3, 1, 2]), ["1", "0", "1"], None)
>>> a.digest() == b.digest()
True
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_BLOCK = 1 << 17
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser on uint64 (wrapping arithmetic)."""
    x = x.astype(np.uint64, copy=True)
    with np.errstate(over="ignore"):
        x ^= x >> np.uint64(30)
        x *= _M1
        x ^= x >> np.uint64(27)
        x *= _M2
        x ^= x >> np.uint64(31)
    return x


def _text_hash(values: list[object]) -> np.ndarray:
    return np.fromiter(
        (int.from_bytes(hashlib.blake2b(str(v).encode(), digest_size=8).digest(), "little") for v in values),
        dtype=np.uint64, count=len(values),
    )


def hash_column(column: pa.Array | pa.ChunkedArray | np.ndarray | list[object]) -> np.ndarray:
    """Per-row uint64 hash of ids or labels in canonical form (see the module docstring)."""
    if isinstance(column, np.ndarray) and column.dtype.kind in "iub":
        return mix(column.astype(np.int64).view(np.uint64) ^ np.uint64(0x1234567))
    if isinstance(column, np.ndarray) and column.dtype.kind == "f":
        return mix((column + 0.0).view(np.uint64) ^ np.uint64(0x9E3779B97F4A7C15))
    arr = pa.array(column) if isinstance(column, (list, np.ndarray)) else column
    if pa.types.is_integer(arr.type) or pa.types.is_boolean(arr.type):
        return hash_column(np.asarray(pc.cast(arr, pa.int64()).to_numpy(zero_copy_only=False)))
    if pa.types.is_floating(arr.type):
        f = np.asarray(pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False))
        if np.all(np.isfinite(f)) and np.all(f == np.round(f)):
            return hash_column(f.astype(np.int64))
        return hash_column(f)
    text = pc.cast(arr, pa.string())
    try:
        as_int = pc.cast(text, pa.int64())
        return hash_column(np.asarray(as_int.to_numpy(zero_copy_only=False)))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    encoded = pc.dictionary_encode(text)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    lut = _text_hash(encoded.dictionary.to_pylist())
    idx = np.asarray(encoded.indices.to_numpy(zero_copy_only=False))
    return lut[idx]


@dataclass(frozen=True)
class Fingerprint:
    """Mergeable multiset hash of (id, label, weight) rows."""

    rows: int = 0
    lane1: int = 0
    lane2: int = 0
    with_ids: bool = True

    def update(self, ids: object | None, labels: object, weights: np.ndarray | None) -> Fingerprint:
        if ids is None and weights is None and isinstance(labels, np.ndarray) and labels.dtype.kind in "iub":
            # rows differ only by label: hash each distinct label once and weight it by its count
            low = int(labels.min()) if labels.size else 0
            counts = np.bincount((labels - low).astype(np.intp, copy=False)) if labels.size else np.zeros(0, np.intp)
            values = np.flatnonzero(counts) + low
            counts = counts[counts > 0]
            part = Fingerprint(with_ids=False)._update(None, values, None, _counts=counts)
            return self.merge(part)
        # block by block: the sums wrap exactly, so the digest is the same, and the temporaries stay small
        n = len(labels)  # type: ignore[arg-type]
        out = self
        for a in range(0, max(n, 1), _BLOCK):
            b = a + _BLOCK
            out = out._update(None if ids is None else ids[a:b], labels[a:b],  # type: ignore[index]
                              None if weights is None else weights[a:b])
        return out

    def _update(self, ids: object | None, labels: object, weights: np.ndarray | None,
                _counts: np.ndarray | None = None) -> Fingerprint:
        h_label = hash_column(labels)  # type: ignore[arg-type,unused-ignore]
        n = h_label.shape[0]
        h_id = hash_column(ids) if ids is not None else np.zeros(n, np.uint64)  # type: ignore[arg-type,unused-ignore]
        w = np.ones(n) if weights is None else weights
        h_w = hash_column(np.asarray(w, dtype=np.float64))
        with np.errstate(over="ignore"):
            row = mix(h_id ^ mix(h_label + np.uint64(0x51ED270B)) ^ (h_w * np.uint64(3)))
            row2 = mix(row ^ np.uint64(0xA5A5A5A5A5A5A5A5))
            if _counts is not None:
                row = row * _counts.astype(np.uint64)
                row2 = row2 * _counts.astype(np.uint64)
            s1 = int(row.sum(dtype=np.uint64))
            s2 = int(row2.sum(dtype=np.uint64))
        mask = (1 << 64) - 1
        rows = n if _counts is None else int(_counts.sum())
        return Fingerprint(self.rows + rows, (self.lane1 + s1) & mask, (self.lane2 + s2) & mask,
                           self.with_ids and ids is not None)

    def merge(self, other: Fingerprint) -> Fingerprint:
        mask = (1 << 64) - 1
        return Fingerprint(self.rows + other.rows, (self.lane1 + other.lane1) & mask,
                           (self.lane2 + other.lane2) & mask, self.with_ids and other.with_ids)

    def digest(self) -> str:
        basis = "ids+labels+weights" if self.with_ids else "labels+weights"
        text = f"assay-fingerprint/1:{basis}:{self.rows}:{self.lane1:016x}:{self.lane2:016x}"
        return "sha256:" + hashlib.sha256(text.encode()).hexdigest()

    @property
    def basis(self) -> str:
        return "ids+labels+weights" if self.with_ids else "labels+weights"
