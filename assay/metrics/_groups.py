"""Group keys of grouped states: every state has a leading group axis whose entries are named by key values.

States are merged by key value, not by position, so that states built on different machines (or chunks that met
their groups in a different order) align.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
from collections.abc import Hashable
from typing import Any

import numpy as np

GroupKeys = tuple[Hashable, ...]

OVERALL: GroupKeys = (None,)


def align(a: GroupKeys, b: GroupKeys) -> tuple[GroupKeys, np.ndarray, np.ndarray]:
    """Union of two key tuples and the positions of ``a``'s and ``b``'s keys in it.

    >>> keys, ia, ib = align(("x", "y"), ("y", "z"))
    >>> keys, ia.tolist(), ib.tolist()
    (('x', 'y', 'z'), [0, 1], [1, 2])
    """
    if a == b:
        idx = np.arange(len(a), dtype=np.int64)
        return a, idx, idx
    position = {key: i for i, key in enumerate(a)}
    merged = list(a)
    for key in b:
        if key not in position:
            position[key] = len(merged)
            merged.append(key)
    ia = np.arange(len(a), dtype=np.int64)
    ib = np.fromiter((position[key] for key in b), dtype=np.int64, count=len(b))
    return tuple(merged), ia, ib


def align_many(keys: list[GroupKeys]) -> tuple[GroupKeys, list[np.ndarray]]:
    """Union of many key tuples (in order of first appearance, as a chain of :func:`align` gives it) and the
    positions of each tuple's keys in it.

    >>> keys, idx = align_many([("x", "y"), ("y", "z"), ("x",)])
    >>> keys, [i.tolist() for i in idx]
    (('x', 'y', 'z'), [[0, 1], [1, 2], [0]])
    """
    if not keys:
        return (), []
    first = keys[0]
    if all(k == first for k in keys[1:]):
        idx = np.arange(len(first), dtype=np.int64)
        return first, [idx] * len(keys)
    position: dict[Hashable, int] = {}
    merged: list[Hashable] = []
    out = []
    for ks in keys:
        for key in ks:
            if key not in position:
                position[key] = len(merged)
                merged.append(key)
        out.append(np.fromiter((position[key] for key in ks), dtype=np.int64, count=len(ks)))
    return tuple(merged), out


def merge_many(states: list[Any]) -> Any:
    """The merge of many states of one kind (``None`` entries are the identity; ``None`` when all are): the kind's
    own ``merge_many`` where it has one (one pass over all entries), else a balanced tree of pairwise merges (each
    level copies the arrays once and the float sums stay accurate)."""
    present = [s for s in states if s is not None]
    if not present:
        return None
    many = getattr(type(present[0]), "merge_many", None)
    if many is not None and len(present) > 2:
        return many(present)
    while len(present) > 1:
        present = [present[i].merge(present[i + 1]) if i + 1 < len(present) else present[i]
                   for i in range(0, len(present), 2)]
    return present[0]


def stable_seed(key: object) -> int:
    """A 64-bit seed from a value, the same in every process (``hash`` is salted per process).

    Resampled intervals seed one generator per group from it, so a group's interval does not depend on the order in
    which groups were met, nor on the other groups.

    >>> stable_seed("a") == stable_seed("a") != stable_seed("b")
    True
    """
    digest = hashlib.blake2b(repr(key).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def scatter(values: np.ndarray, index: np.ndarray, size: int) -> np.ndarray:
    """Place ``values`` (leading axis = groups) at ``index`` of a zero array with ``size`` groups."""
    out = np.zeros((size, *values.shape[1:]), dtype=values.dtype)
    out[index] = values
    return out


class GroupSums:
    """Per-group sums of row values, accurate to a few ulps.

    ``np.bincount(codes, weights=x)`` adds the rows one after another, so its error grows with the row count (a
    group's sum over a file read in chunks then differs from the sum over the whole table by thousands of ulps).
    Here the rows are ordered by group once (a stable sort of the small integer codes), and each value column is
    summed per group with ``np.add.reduceat``, which sums pairwise like ``np.sum``.

    >>> gs = GroupSums(np.array([1, 0, 1]), 3)
    >>> gs.sum(np.array([1.0, 2.0, 3.0])).tolist(), gs.count().tolist()
    ([2.0, 4.0, 0.0], [1, 2, 0])
    """

    def __init__(self, codes: np.ndarray, size: int) -> None:
        self.size = size
        small = codes.astype(np.int16, copy=False) if size <= 32767 else codes
        self.order = np.argsort(small, kind="stable")
        ordered = codes[self.order]
        if ordered.size:
            new = np.empty(ordered.size, dtype=bool)
            new[0] = True
            np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
            self.starts = np.flatnonzero(new)
            self.present = ordered[self.starts].astype(np.int64)
        else:
            self.starts = np.zeros(0, np.int64)
            self.present = np.zeros(0, np.int64)
        self.n = ordered.size

    def sum(self, values: np.ndarray) -> np.ndarray:
        out = np.zeros(self.size)
        if self.starts.size:
            out[self.present] = np.add.reduceat(values[self.order], self.starts)
        return out

    def count(self) -> np.ndarray:
        out = np.zeros(self.size, np.int64)
        if self.starts.size:
            out[self.present] = np.diff(self.starts, append=self.n)
        return out


class BlockSums:
    """Per-cell sums like :class:`GroupSums`, without sorting the rows: the rows are cut into consecutive blocks of
    at least 128, one ``bincount`` sums each (cell, block), and each cell's block sums are added pairwise.

    A cell's sequential run is at most one block's rows of that cell, so the error stays at a few ulps. Unlike
    :class:`GroupSums`, a cell's sum depends (in its last bits) on how its rows interleave with other cells' rows,
    so it serves cells *within* one group (calibration bins of the whole table), not groups whose results must not
    depend on each other.

    >>> bs = BlockSums(np.array([1, 0, 1]), 3)
    >>> bs.sum(np.array([1.0, 2.0, 3.0])).tolist(), bs.count().tolist()
    ([2.0, 4.0, 0.0], [1, 2, 0])
    """

    CELL_BUDGET = 4_000_000

    def __init__(self, codes: np.ndarray, size: int) -> None:
        self.size = size
        self.codes = codes
        n = int(codes.size)
        block = max(128, -(-n * size // self.CELL_BUDGET))
        self.blocks = max(1, -(-n // block))
        # cell index block * size + code: block-major, so one transpose makes each cell's block sums contiguous
        index = np.repeat(np.arange(0, self.blocks * size, size, dtype=np.int64), block)[:n]
        index += codes
        self.index = index

    def sum(self, values: np.ndarray) -> np.ndarray:
        cells = np.bincount(self.index, weights=values, minlength=self.size * self.blocks)
        by_cell = np.ascontiguousarray(cells.reshape(self.blocks, self.size).T)
        return np.asarray(np.sum(by_cell, axis=1))

    def count(self) -> np.ndarray:
        return np.bincount(self.codes, minlength=self.size).astype(np.int64)


def range_edges(index: np.ndarray, size: int) -> np.ndarray:
    """Range edges of a non-decreasing index in ``0..size-1``: index ``i`` holds the positions
    ``edges[i]:edges[i + 1]``.

    >>> range_edges(np.array([0, 0, 2]), 4).tolist()
    [0, 2, 2, 3, 3]
    """
    edges = np.zeros(size + 1, np.int64)
    np.cumsum(np.bincount(index, minlength=size), out=edges[1:])
    return edges


def partition_sums(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Sums of ``values`` over the consecutive ranges ``edges[i]:edges[i + 1]`` (``edges`` non-decreasing, from 0
    to ``values.size``; empty ranges sum to 0), each summed pairwise like ``np.sum``.

    >>> partition_sums(np.array([1.0, 2.0, 3.0, 4.0]), np.array([0, 1, 1, 4])).tolist()
    [1.0, 0.0, 9.0]
    """
    out = np.zeros(edges.size - 1, dtype=np.result_type(values.dtype, np.float64))
    filled = np.flatnonzero(edges[:-1] < edges[1:])
    if filled.size:
        out[filled] = np.add.reduceat(values, edges[filled])
    return out


BLOCK = 1 << 17
"""Entries per block of the blockwise passes: small enough that each temporary stays in cache and is recycled by the
allocator (10M-entry temporaries cost more in fresh pages than in arithmetic), large enough to amortise the calls."""


def group_blocks(bounds: np.ndarray, size: int | None = None) -> list[tuple[int, int]]:
    """Consecutive ranges ``[a, b)`` covering the entries of groups laid out by ``bounds`` (group ``g`` is
    ``bounds[g]:bounds[g + 1]``): small groups packed whole into ranges of at most ``size`` entries (default
    :data:`BLOCK`), a larger group cut every ``size`` entries from its own start.

    Where a range starts and ends within a group depends only on that group's size, so sums accumulated range by
    range are a function of the group's own entries, whatever the other groups.

    >>> group_blocks(np.array([0, 2, 3, 10, 11]), size=4)
    [(0, 3), (3, 7), (7, 10), (10, 11)]
    """
    size = size or BLOCK
    edges = bounds.tolist()
    out: list[tuple[int, int]] = []
    start = edges[0]
    for a, b in itertools.pairwise(edges):
        if b - a > size:  # a large group: close the packed range, then cut the group on its own grid
            if a > start:
                out.append((start, a))
            out.extend((c, min(c + size, b)) for c in range(a, b, size))
            start = b
        elif b - start > size:
            out.append((start, a))
            start = a
    if edges[-1] > start:
        out.append((start, edges[-1]))
    return out


class BlockCells:
    """Non-decreasing cell indices of one block of entries (from :func:`group_blocks`): sums of the block's
    quantities per cell, pairwise within each cell's range, added into totals.

    >>> cells = BlockCells(np.array([3, 3, 5]))
    >>> total = np.zeros(6)
    >>> cells.add(total, np.array([1.0, 2.0, 4.0]))
    >>> total.tolist()
    [0.0, 0.0, 0.0, 3.0, 0.0, 4.0]
    """

    def __init__(self, cells: np.ndarray) -> None:
        self.first = int(cells[0])
        self.single = self.first == int(cells[-1])
        if self.single:  # one cell (a block inside one group): no counting
            self.edges = np.array([0, cells.size], np.int64)
            self.stop = self.first + 1
            return
        local = cells - self.first
        size = int(local[-1]) + 1
        self.edges = range_edges(local, size)
        self.stop = self.first + size

    @classmethod
    def from_edges(cls, first: int, edges: np.ndarray) -> BlockCells:
        """Cells ``first, first + 1, ...`` whose ranges are already known (``edges`` from 0 to the block size)."""
        out = cls.__new__(cls)
        out.first, out.edges, out.stop = first, edges, first + edges.size - 1
        out.single = edges.size == 2
        return out

    def add(self, total: np.ndarray, values: np.ndarray) -> None:
        total[self.first:self.stop] += partition_sums(values, self.edges)


def stack(states: list[Any]) -> Any:
    """One state holding the groups of several states of one kind whose group keys are all different (a series'
    windows, each keyed by its start): the per-group arrays concatenated, no merge needed. ``None`` when they
    cannot be stacked (keys shared, or settings that differ, such as a coarsened score table's shift)."""
    if not states:
        return None
    first = states[0]
    keys = [k for s in states for k in s.groups]
    if len(set(keys)) != len(keys):
        return None
    fields = dataclasses.fields(first)
    out: dict[str, Any] = {"groups": tuple(keys)}
    per_entry = {"group", "key", "mass"} if hasattr(first, "key") and hasattr(first, "group") else set()
    for f in fields:
        name = f.name
        if name == "groups":
            continue
        values = [getattr(s, name) for s in states]
        if name == "group":
            offsets = np.cumsum([0] + [len(s.groups) for s in states[:-1]])
            out[name] = np.concatenate([v + o for v, o in zip(values, offsets, strict=True)])
        elif name in per_entry or (isinstance(values[0], np.ndarray) and values[0].ndim
                                   and all(v.shape[0] == len(s.groups) for v, s in zip(values, states, strict=True))):
            out[name] = np.concatenate(values)
        elif name == "cap":
            out[name] = None
        elif any(not _same(v, values[0]) for v in values[1:]):
            return None
        else:
            out[name] = values[0]
    return type(first)(**out)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return bool(np.array_equal(a, b))
    return bool(a == b)
