"""A sorted table of distinct values with weighted masses, per group: the state behind ROC-AUC, average
precision, curves and quantiles.

Each entry is a distinct *key* of a value within a group, with ``M`` mass columns (for scores: the negative and the
positive weight at that score). Keys are the IEEE-754 bits of the value made order-preserving as integers, so the
table sorts as the values do, whatever their range (logits and margins included).

While the table is exact (``shift == 0``) every distinct value has its own entry. When the table would exceed ``cap``
entries, the keys are coarsened by dropping their lowest ``shift`` bits: neighbouring values share a bucket, which is
a relative-precision grid (like DDSketch), identical on every machine, so coarsened tables still merge exactly.
Metrics computed from a coarsened table report an error bound derived from the masses in shared buckets.

>>> t = SortedTable.empty(2).update(np.array([0.1, 0.4, 0.4, 0.8]), np.array([0, 1, 0, 1]))
>>> t.values().tolist(), t.mass.tolist()
([0.1, 0.4, 0.8], [[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

import numpy as np

from assay.errors import StateError
from assay.metrics import _serial
from assay.metrics._groups import (
    OVERALL,
    BlockCells,
    GroupKeys,
    align,
    align_many,
    group_blocks,
    partition_sums,
    range_edges,
)

_LOW63 = np.int64(0x7FFFFFFFFFFFFFFF)


def float_to_key(values: np.ndarray) -> np.ndarray:
    """Order-preserving int64 keys of float64 values (``-0.0`` and ``0.0`` share a key).

    >>> k = float_to_key(np.array([-2.0, -0.0, 0.0, 1e-300, 3.5]))
    >>> bool(np.all(np.diff(k[[0, 1, 3, 4]]) > 0)), bool(k[1] == k[2])
    (True, True)
    """
    bits = (np.asarray(values, dtype=np.float64) + 0.0).view(np.int64)
    return bits ^ ((bits >> 63) & _LOW63)


def key_to_float(keys: np.ndarray) -> np.ndarray:
    """Inverse of :func:`float_to_key` (the transform is an involution)."""
    keys = np.asarray(keys, dtype=np.int64)
    return (keys ^ ((keys >> 63) & _LOW63)).view(np.float64)


def _smallest_int(codes: np.ndarray, size: int) -> np.ndarray:
    if size <= 127:
        return codes.astype(np.int8, copy=False)
    if size <= 32767:
        return codes.astype(np.int16, copy=False)
    return codes


@dataclass(frozen=True, eq=False)
class SortedTable:
    """Distinct keys with masses, sorted by (group, key).

    Attributes:
        groups: the group keys; entry ``i`` belongs to ``groups[group[i]]``.
        group: int64 group index of each entry, non-decreasing.
        key: int64 key of each entry (already shifted right by ``shift``), increasing within a group.
        mass: float64 ``(entries, M)`` weighted mass per column.
        sq: float64 ``(groups, M)`` sum of squared weights per group and column (for effective sample sizes).
        shift: number of low key bits dropped (0 = exact).
        cap: most entries the table may hold (all groups together) before the keys are coarsened (``None`` =
            never coarsen).
    """

    n_mass: int
    groups: GroupKeys
    group: np.ndarray
    key: np.ndarray
    mass: np.ndarray
    sq: np.ndarray
    shift: int = 0
    cap: int | None = None

    # -- construction -------------------------------------------------------------------------------------------
    @classmethod
    def empty(cls, n_mass: int, *, cap: int | None = None, groups: GroupKeys = ()) -> SortedTable:
        if cap is not None and cap < 2:
            raise StateError(f"sorted table: expected a cap of at least 2 entries, found {cap}. A coarsened grid "
                             "still keeps negative and positive values apart, so it needs two entries at least")
        return cls(
            n_mass=n_mass,
            groups=groups,
            group=np.zeros(0, np.int64),
            key=np.zeros(0, np.int64),
            mass=np.zeros((0, n_mass)),
            sq=np.zeros((len(groups), n_mass)),
            cap=cap,
        )

    def update(
        self,
        values: np.ndarray,
        column: np.ndarray,
        weight: np.ndarray | None = None,
        *,
        codes: np.ndarray | None = None,
        group_keys: GroupKeys = OVERALL,
        order: np.ndarray | None = None,
    ) -> SortedTable:
        """Add rows: ``values`` (finite float64), ``column`` (int mass column of each row, in ``0..M-1``),
        ``weight`` (``None`` = 1), ``codes`` (int index into ``group_keys``; ``None`` = all in the first group).

        ``order`` may pass a precomputed ``argsort(values)`` so that several groupings of one batch sort once.
        """
        batch = _from_rows(
            self.n_mass, values, column, weight, codes, group_keys, order=order, shift=self.shift, cap=self.cap
        )
        return self.merge(batch) if self.group.size or self.groups else batch

    # -- the monoid ----------------------------------------------------------------------------------------------
    def merge(self, other: SortedTable) -> SortedTable:
        """Merge two tables: associative and commutative (up to the order of group keys); empty is the identity."""
        if self.n_mass != other.n_mass or self.cap != other.cap:
            raise StateError(
                f"sorted-table merge: expected equal configuration, found masses {self.n_mass} vs {other.n_mass} "
                f"and caps {self.cap} vs {other.cap}"
            )
        shift = max(self.shift, other.shift)
        if not other.groups and not other.group.size:  # the identity: no sort
            return self.coarsened(shift)
        if not self.groups and not self.group.size:
            return other.coarsened(shift)._compacted()
        a, b = self.coarsened(shift), other.coarsened(shift)
        groups, ia, ib = align(a.groups, b.groups)
        sq = np.zeros((len(groups), self.n_mass))
        np.add.at(sq, ia, a.sq)
        np.add.at(sq, ib, b.sq)
        merged = _merge_sorted(ia[a.group], a.key, a.mass, ib[b.group], b.key, b.mass, len(groups))
        out = SortedTable(self.n_mass, groups, *merged, sq=sq, shift=shift, cap=self.cap)
        return out._compacted()

    @classmethod
    def merge_many(cls, tables: list[SortedTable]) -> SortedTable:
        """The merge of many tables in one pass: the entries of all, in one stable sort of their packed
        (group, key), coalesced, and compacted once at the end (so the result is at least as fine as any chain of
        :meth:`merge`, which may coarsen on the way). Equal to ``functools.reduce(SortedTable.merge, tables)`` when
        no compaction is needed, up to the order of float additions.

        >>> a = SortedTable.empty(2).update(np.array([0.1, 0.4]), np.array([0, 1]))
        >>> b = SortedTable.empty(2).update(np.array([0.4, 0.9]), np.array([1, 1]))
        >>> m = SortedTable.merge_many([a, b, a])
        >>> m.values().tolist(), m.mass.tolist()
        ([0.1, 0.4, 0.9], [[2.0, 0.0], [0.0, 3.0], [0.0, 1.0]])
        """
        if not tables:
            raise StateError("sorted-table merge: expected at least one table, found none")
        first = tables[0]
        for t in tables[1:]:
            if t.n_mass != first.n_mass or t.cap != first.cap:
                raise StateError(
                    f"sorted-table merge: expected equal configuration, found masses {first.n_mass} vs {t.n_mass} "
                    f"and caps {first.cap} vs {t.cap}"
                )
        shift = max(t.shift for t in tables)
        live = [t.coarsened(shift) for t in tables if t.groups or t.group.size]
        if len(live) <= 2:
            if not live:
                return replace(first, shift=shift)
            return live[0].coarsened(shift)._compacted() if len(live) == 1 else live[0].merge(live[1])
        groups, idx = align_many([t.groups for t in live])
        sq = np.zeros((len(groups), first.n_mass))
        for t, i in zip(live, idx, strict=True):
            np.add.at(sq, i, t.sq)
        group = np.concatenate([i[t.group] for t, i in zip(live, idx, strict=True)])
        key = np.concatenate([t.key for t in live])
        mass = np.concatenate([t.mass for t in live])
        if key.size:
            low = int(key.min())
            span = (int(key.max()) - low).bit_length()
            if span + max(len(groups) - 1, 0).bit_length() <= 63:
                group, key, mass = _coalesce_packed(np.bitwise_or(group << span, key - low), mass, span, low)
            else:
                order = np.lexsort((key, group))
                group, key, mass = _coalesce(group[order], key[order], mass[order])
        return cls(first.n_mass, groups, group, key, mass, sq, shift, first.cap)._compacted()

    def coarsened(self, shift: int) -> SortedTable:
        """The same table on a coarser grid (``shift`` at least the current one)."""
        if shift == self.shift:
            return self
        key = self.key >> (shift - self.shift)
        group, key, mass = _coalesce(self.group, key, self.mass)
        return SortedTable(self.n_mass, self.groups, group, key, mass, self.sq, shift, self.cap)

    def _entries_at(self, shift: int) -> int:
        """Entries the table would hold on the grid coarsened to ``shift``."""
        key = self.key >> (shift - self.shift)
        new = np.empty(key.size, dtype=bool)
        new[0] = True
        np.not_equal(key[1:], key[:-1], out=new[1:])
        new[1:] |= self.group[1:] != self.group[:-1]
        return int(np.count_nonzero(new))

    def _compacted(self) -> SortedTable:
        """The table on the finest grid where it holds at most ``cap`` entries (all groups together; a binary
        search on the shift), so a state's memory is bounded whatever the number of rows or groups."""
        if self.cap is None or self.group.size <= self.cap:
            return self
        lo, hi = self.shift, self.shift + 1
        while hi < 64 and self._entries_at(hi) > self.cap:
            lo, hi = hi, min(64, self.shift + 2 * (hi - self.shift))
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self._entries_at(mid) > self.cap:
                lo = mid
            else:
                hi = mid
        return self.coarsened(hi)

    def without_empty(self) -> SortedTable:
        """The table without entries of no mass (rows of weight 0 count for nothing and take no room)."""
        live = self.mass.any(axis=1)
        if live.all():
            return self
        return SortedTable(self.n_mass, self.groups, self.group[live], self.key[live], self.mass[live], self.sq,
                           self.shift, self.cap)

    # -- reading --------------------------------------------------------------------------------------------------
    @property
    def exact(self) -> bool:
        return self.shift == 0

    def values(self) -> np.ndarray:
        """The value of each entry (for a coarsened table: the lower edge of its bucket)."""
        return key_to_float(self.key << self.shift)

    def bounds(self) -> np.ndarray:
        """``(groups + 1)`` offsets: the entries of group ``g`` are ``bounds[g]:bounds[g + 1]``."""
        if len(self.groups) == 1:
            return np.array([0, self.key.size])
        return range_edges(self.group, len(self.groups))

    def totals(self) -> np.ndarray:
        """``(groups, M)`` total mass per group and column."""
        out = np.zeros((len(self.groups), self.n_mass))
        np.add.at(out, self.group, self.mass)
        return out

    def to_bytes(self) -> bytes:
        """Version 2 stores the keys as differences of neighbours (sorted keys differ by little: a third of the
        bytes compressed, and they decompress in half the time); version 1 bytes still load."""
        header = {"n_mass": self.n_mass, "groups": list(self.groups), "shift": self.shift, "cap": self.cap}
        arrays = {"group": self.group, "key_delta": np.diff(self.key, prepend=np.int64(0)), "mass": self.mass,
                  "sq": self.sq}
        return _serial.dump("sorted-table", 2, header, arrays)

    @classmethod
    def from_bytes(cls, data: bytes) -> SortedTable:
        version, h, a = _serial.load_versions(data, "sorted-table", (1, 2))
        key = a["key"] if version == 1 else np.cumsum(a["key_delta"], dtype=np.int64)  # wraps as np.diff did
        return cls(h["n_mass"], _serial.keys_from_json(h["groups"]), a["group"], key, a["mass"], a["sq"],
                   h["shift"], h["cap"])


def _merge_sorted(
    ga: np.ndarray, ka: np.ndarray, ma: np.ndarray, gb: np.ndarray, kb: np.ndarray, mb: np.ndarray, n_groups: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Entries of two tables (group indices already those of the merged keys) sorted by (group, key), coalesced.

    When (group, key) packs into one int64 (the group above the keys' span) and both sides are sorted in it, which
    is the case whenever both met their groups in the same order, each side's entries go straight to their merged
    positions (the smaller side's found by binary search in the larger): no sort. Else a lexsort. Each side holds a
    (group, key) once, so equal entries are two and their sum does not depend on their order.
    """
    if ka.size and kb.size:
        low = min(int(ka.min()), int(kb.min()))
        span = (max(int(ka.max()), int(kb.max())) - low).bit_length()
        if span + max(n_groups - 1, 0).bit_length() <= 63:
            pa_, pb_ = (np.bitwise_or(g << span, k - low) for g, k in ((ga, ka), (gb, kb)))
            if bool(np.all(pa_[1:] >= pa_[:-1])) and bool(np.all(pb_[1:] >= pb_[:-1])):
                if pa_.size < pb_.size:  # search the smaller side in the larger
                    return _merge_sorted(gb, kb, mb, ga, ka, ma, n_groups)
                at_b = np.searchsorted(pa_, pb_) + np.arange(pb_.size)
                from_b = np.zeros(pa_.size + pb_.size, dtype=bool)
                from_b[at_b] = True
                from_a = ~from_b
                packed = np.empty(from_b.size, np.int64)
                packed[from_a], packed[at_b] = pa_, pb_
                mass = np.empty((packed.size, ma.shape[1]))
                mass[from_a], mass[at_b] = ma, mb
                group = packed >> span
                packed &= (1 << span) - 1
                packed += low
                return _coalesce(group, packed, mass)
    group = np.concatenate([ga, gb])
    key = np.concatenate([ka, kb])
    mass = np.concatenate([ma, mb])
    order = np.lexsort((key, group))
    return _coalesce(group[order], key[order], mass[order])


def _coalesce_packed(packed: np.ndarray, mass: np.ndarray, span: int,
                     low: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Entries given by packed (group, key) in any order (sorted runs are cheapest: the stable sort is a timsort
    that merges them), sorted and coalesced: each entry's place among the distinct ones, then the masses summed into
    their places in the entries' own order (no gather of the mass rows)."""
    order = np.argsort(packed, kind="stable")
    ordered = packed[order]
    new = np.empty(ordered.size, dtype=bool)
    new[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
    distinct = ordered[new]
    place = np.empty(ordered.size, dtype=np.int64)
    place[order] = np.cumsum(new) - 1
    summed = np.empty((distinct.size, mass.shape[1]))
    for c in range(mass.shape[1]):
        summed[:, c] = np.bincount(place, weights=mass[:, c], minlength=distinct.size)
    group = distinct >> span
    key = (distinct & ((1 << span) - 1)) + low
    return group, key, summed


def _coalesce(group: np.ndarray, key: np.ndarray, mass: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sum the masses of adjacent entries with equal (group, key); input sorted by (group, key)."""
    if key.size == 0:
        return group, key, mass
    new = np.empty(key.size, dtype=bool)
    new[0] = True
    np.not_equal(key[1:], key[:-1], out=new[1:])
    new[1:] |= group[1:] != group[:-1]
    if new.all():
        return group, key, mass
    starts = np.flatnonzero(new)
    summed = np.empty((starts.size, mass.shape[1]))
    for c in range(mass.shape[1]):
        summed[:, c] = np.add.reduceat(np.ascontiguousarray(mass[:, c]), starts)
    return group[starts], key[starts], summed


def _from_rows(
    n_mass: int,
    values: np.ndarray,
    column: np.ndarray,
    weight: np.ndarray | None,
    codes: np.ndarray | None,
    group_keys: GroupKeys,
    *,
    order: np.ndarray | None,
    shift: int,
    cap: int | None,
) -> SortedTable:
    n_groups = len(group_keys)
    n = values.shape[0]
    if n == 0:
        return SortedTable.empty(n_mass, cap=cap, groups=group_keys)
    if weight is None and n_mass == 2 and order is None:
        fast = _from_rows_unweighted(values, column, None if n_groups == 1 else codes, group_keys, shift, cap)
        if fast is not None:
            return fast
    if weight is not None and n_mass == 2:
        table, _ = weighted_batch(values, column, weight, codes=codes, group_keys=group_keys, order=order)
        return replace(table.without_empty(), cap=cap).coarsened(shift)._compacted()
    if order is None:
        order = np.argsort(values)
    if codes is not None and n_groups > 1:
        small = _smallest_int(codes, n_groups)
        order = order[np.argsort(small[order], kind="stable")]
        g_sorted = codes[order].astype(np.int64, copy=False)
    else:
        g_sorted = np.zeros(n, np.int64)
    key = float_to_key(values[order])
    if shift:
        key >>= shift
    col_sorted = column[order]
    new = np.empty(n, dtype=bool)
    new[0] = True
    np.not_equal(key[1:], key[:-1], out=new[1:])
    if n_groups > 1:
        new[1:] |= g_sorted[1:] != g_sorted[:-1]
    starts = np.flatnonzero(new)
    mass = np.empty((starts.size, n_mass))
    w_sorted = None if weight is None else weight[order]
    if n_mass == 1:
        mass[:, 0] = (
            np.diff(np.append(starts, n)).astype(np.float64)
            if w_sorted is None
            else np.add.reduceat(w_sorted, starts)
        )
    else:  # two columns, unit weights (weighted ones are built by ``weighted_batch``)
        mass[:, 1] = np.add.reduceat(col_sorted == 1, starts)
        mass[:, 0] = np.diff(np.append(starts, n)) - mass[:, 1]
    all_codes = np.zeros(n, np.int64) if codes is None else codes
    cell = all_codes * n_mass + column
    w2 = None if weight is None else weight * weight
    sq = np.bincount(cell, weights=w2, minlength=n_groups * n_mass).astype(np.float64).reshape(n_groups, n_mass)
    table = SortedTable(n_mass, group_keys, g_sorted[starts], key[starts], mass, sq, shift, cap)
    return table._compacted()


_KEY_LIMIT = np.int64(1 << 62)


def _from_rows_unweighted(
    values: np.ndarray, column: np.ndarray, codes: np.ndarray | None, group_keys: GroupKeys, shift: int,
    cap: int | None,
) -> SortedTable | None:
    """Unit weights, two mass columns: sort ``key * 2 + column`` with a plain sort (no argsort of floats). With
    groups, the group code is packed above the key so that one plain sort orders by (group, key); when the two do
    not fit in 63 bits, a stable radix sort of the small group codes, then a plain sort within each group's slice.
    When every key is distinct (the usual case for continuous scores) the sorted keys are the table: no coalescing.

    Returns ``None`` when the keys do not leave a spare bit (scores of magnitude 2 or more).
    """
    g_count = len(group_keys)
    values = np.copy(values)
    np.add(values, 0.0, out=values)  # -0.0 made 0.0
    if values.min() >= 0:  # non-negative floats sort as their bits: no transform needed
        key = values.view(np.int64)
    else:
        key = float_to_key(values)
    del values
    if shift:
        key >>= shift
    low, high = int(key.min()), int(key.max())
    if low < -_KEY_LIMIT or high >= _KEY_LIMIT:
        return None
    key <<= 1
    np.bitwise_or(key, column, out=key, casting="unsafe")  # the label in the spare bit (cast chunk by chunk)
    n = key.size
    sizes = None if codes is None else np.bincount(codes, minlength=g_count)
    if codes is None:
        key.sort()
    elif not _sort_packed(key, codes, g_count, 2 * low, 2 * high + 1):
        assert sizes is not None
        order = np.argsort(_smallest_int(codes, g_count), kind="stable")
        key = key[order]
        del order
        edges = np.concatenate([[0], np.cumsum(sizes)])
        for a, b in itertools.pairwise(edges.tolist()):
            if b - a > 1:
                key[a:b].sort()
    if _distinct(key):
        mass = np.empty((n, 2))
        for a in range(0, n, _STEP):  # the label bit is the positive count; keys lose it in place
            part = key[a:a + _STEP]
            np.bitwise_and(part, 1, out=mass[a:a + _STEP, 1], casting="unsafe")
            np.subtract(1.0, mass[a:a + _STEP, 1], out=mass[a:a + _STEP, 0])
            part >>= 1
        keys_out = key
        group = (np.zeros(n, np.int64) if sizes is None
                 else np.repeat(np.arange(g_count, dtype=np.int64), sizes))  # calloc: untouched pages
    else:
        g_sorted = None if sizes is None else np.repeat(np.arange(g_count, dtype=np.int64), sizes)
        base = key >> 1
        new = np.empty(n, dtype=bool)
        new[0] = True
        np.not_equal(base[1:], base[:-1], out=new[1:])
        if g_sorted is not None:
            new[1:] |= g_sorted[1:] != g_sorted[:-1]
        starts = np.flatnonzero(new)
        del new
        keys_out = base[starts]
        np.bitwise_and(key, 1, out=base)  # reuse the buffer: the positive bit of each row
        del key
        mass = np.empty((starts.size, 2))
        np.add.reduceat(base, starts, out=mass[:, 1])
        np.subtract(starts[1:], starts[:-1], out=mass[:-1, 0])  # rows per entry, then less the positives
        mass[-1, 0] = n - starts[-1]
        mass[:, 0] -= mass[:, 1]
        group = np.zeros(starts.size, np.int64) if g_sorted is None else g_sorted[starts]
    # unit weights: squared weights are counts, per group and label
    if sizes is None:
        positives = np.array([mass[:, 1].sum()])
    else:
        entries = np.concatenate([[0], np.cumsum(sizes)]) if keys_out.size == n else range_edges(group, g_count)
        positives = partition_sums(mass[:, 1], entries)
    rows = np.array([n]) if sizes is None else sizes
    sq = np.stack([rows - positives, positives], axis=1).astype(np.float64)
    table = SortedTable(2, group_keys, group, keys_out, mass, sq, shift, cap)
    return table._compacted()


_STEP = 1 << 17


def _sort_packed(key: np.ndarray, codes: np.ndarray, g_count: int, low: int, high: int) -> bool:
    """Sort ``key`` (values in ``low..high``) by (group, key) in place with one plain sort, the group code packed
    above the key's span; ``False`` (``key`` untouched) when group and span do not fit in 63 bits together."""
    span = (high - low).bit_length()
    if span + max(g_count - 1, 0).bit_length() > 63:
        return False
    for a in range(0, key.size, _STEP):  # key - low, with the group above it
        part = key[a:a + _STEP]
        part -= low
        part |= codes[a:a + _STEP].astype(np.int64) << span
    key.sort()
    key &= (1 << span) - 1
    key += low
    return True


def _distinct(key: np.ndarray) -> bool:
    """Whether sorted ``key * 2 + label`` rows hold distinct keys (scanned in steps: no long temporary). Equal keys
    at a boundary of two groups count as equal: the caller then coalesces, which is right, only slower."""
    for a in range(0, key.size - 1, _STEP):
        part = key[a:a + _STEP + 1]
        if np.any((part[1:] >> 1) == (part[:-1] >> 1)):
            return False
    return True


@dataclass(frozen=True, eq=False)
class EntryRows:
    """Each entry's row count and squared weight per mass column, read block by block: from the entries' own label
    and weight when every entry is one row (no table-long copies), else from summed arrays."""

    label: np.ndarray | None = None  # bool per entry, when each entry is one row
    weight: np.ndarray | None = None
    rows: np.ndarray | None = None  # (entries, 2), when entries coalesce rows
    squares: np.ndarray | None = None

    def block(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        if self.rows is not None and self.squares is not None:
            return self.rows[lo:hi], self.squares[lo:hi]
        assert self.label is not None and self.weight is not None
        y, w = self.label[lo:hi], self.weight[lo:hi]
        rows = np.empty((hi - lo, 2))
        rows[:, 1] = y
        rows[:, 0] = ~y
        q = w * w
        squares = np.empty((hi - lo, 2))
        np.multiply(q, y, out=squares[:, 1])
        np.multiply(q, ~y, out=squares[:, 0])
        return rows, squares


def weighted_batch(
    values: np.ndarray,
    column: np.ndarray,
    weight: np.ndarray,
    *,
    codes: np.ndarray | None = None,
    group_keys: GroupKeys = OVERALL,
    order: np.ndarray | None = None,
) -> tuple[SortedTable, EntryRows]:
    """The exact two-column table of a batch of weighted rows, with each entry's row count and squared weight per
    column: what the states derived from the table need beside the weighted masses.

    Entries whose rows all weigh 0 are kept here (their rows still count); :meth:`SortedTable.without_empty` drops
    them from the state. ``order`` may pass a precomputed ``argsort(values)``, shared by groupings.

    >>> t, extra = weighted_batch(np.array([0.2, 0.2, 0.7]), np.array([0, 1, 1]), np.array([2.0, 1.0, 0.5]))
    >>> rows, squares = extra.block(0, 2)
    >>> t.mass.tolist(), rows.tolist(), squares.tolist()
    ([[2.0, 1.0], [0.0, 0.5]], [[1.0, 1.0], [0.0, 1.0]], [[4.0, 1.0], [0.0, 0.25]])
    """
    n_groups = len(group_keys)
    n = values.shape[0]
    if n == 0:
        return SortedTable.empty(2, groups=group_keys), EntryRows(rows=np.zeros((0, 2)), squares=np.zeros((0, 2)))
    if order is None:
        order = np.argsort(values)
    sizes = None
    if codes is not None and n_groups > 1:
        order = order[np.argsort(_smallest_int(codes, n_groups)[order], kind="stable")]
        sizes = np.bincount(codes, minlength=n_groups)
    v, y, w = values[order], column[order].astype(bool), weight[order]
    np.add(v, 0.0, out=v)  # -0.0 made 0.0
    key = v.view(np.int64) if v.min() >= 0 else float_to_key(v)
    del v
    new = np.empty(n, dtype=bool)
    new[0] = True
    np.not_equal(key[1:], key[:-1], out=new[1:])
    if sizes is not None:
        edges = np.concatenate([[0], np.cumsum(sizes)])
        new[edges[1:-1][sizes[1:] > 0]] = True  # a group's first row starts an entry
    group = np.zeros(n, np.int64) if sizes is None else np.repeat(np.arange(n_groups, dtype=np.int64), sizes)
    if new.all():  # every key distinct: one entry per row, filled block by block
        mass = np.empty((n, 2))
        for a in range(0, n, _STEP):
            yb, wb = y[a:a + _STEP], w[a:a + _STEP]
            np.multiply(wb, yb, out=mass[a:a + _STEP, 1])
            np.multiply(wb, ~yb, out=mass[a:a + _STEP, 0])
        extra = EntryRows(label=y, weight=w)
    else:
        starts = np.flatnonzero(new)
        q = w * w
        sums = [np.add.reduceat(np.where(y, 0.0, x), starts) for x in (w, q)]
        sums += [np.add.reduceat(np.where(y, x, 0.0), starts) for x in (w, q)]
        count = np.add.reduceat(y.astype(np.int64), starts)
        size = np.diff(np.append(starts, n))
        mass = np.stack([sums[0], sums[2]], axis=1)
        extra = EntryRows(rows=np.stack([size - count, count], axis=1).astype(np.float64),
                          squares=np.stack([sums[1], sums[3]], axis=1))
        key, group = key[starts], group[starts]
    entry_edges = range_edges(group, n_groups) if n_groups > 1 else np.array([0, group.size])
    sq = np.zeros((2, n_groups))
    for lo, hi in group_blocks(entry_edges):
        cells = BlockCells(group[lo:hi])
        squares = extra.block(lo, hi)[1]
        for c in (0, 1):
            cells.add(sq[c], squares[:, c])
    table = SortedTable(2, group_keys, group, np.ascontiguousarray(key), mass, np.ascontiguousarray(sq.T))
    return table, extra
