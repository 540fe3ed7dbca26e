"""Ranking metrics (nDCG@k, MRR, MAP@k, precision@k, recall@k) per query, and their mergeable state.

Rows are items; ``query`` says which query an item belongs to (rows of one query may come in any order),
``relevance`` is a graded judgement (``>= 0``; an item is *relevant* when its relevance is ``> 0``) and ``score`` is
the model's score (any real number, logits included). Items are ranked by descending score within their query.

Ties in score are counted as the exact expectation of the metric over all orderings of the tied items, never by an
arbitrary order of the input:

- nDCG@k is scikit-learn's ``ndcg_score(..., ignore_ties=False)``: every position of a tie group gets the group's
  mean gain (linear gain, discount ``1 / log2(rank + 1)``); a query whose ideal DCG is 0 scores 0 and is counted;
- MRR is ``E[1 / rank of the first relevant item]``;
- precision@k and recall@k use the expected number of relevant items in the top ``k`` (a tie group of ``t`` items,
  ``m`` relevant, ``s`` of whose positions fall within the top ``k``, contributes ``m s / t``); precision divides
  by ``k`` even when the query has fewer than ``k`` items;
- MAP@k averages ``AP@k = sum_{i <= k} P@i rel_i / min(k, R)`` (``R`` relevant items in the query), whose
  expectation is exact because ``E[rel_i sum_{j <= i} rel_j]`` has a closed form inside a tie group.

Queries without a relevant item are excluded from MRR, MAP@k and recall@k (and counted apart); nDCG@k and
precision@k include them.

Everything is vectorised: one sort by (query, -score), tie groups found with ``diff``, sums per group and
per query with ``add.reduceat``; no Python loop runs over rows, groups or queries.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from assay.errors import ColumnError, ConfigError, StateError, message
from assay.stats.intervals import z_value

__all__ = ["PerQuery", "RankingState", "per_query"]


@dataclass(frozen=True, eq=False)
class PerQuery:
    """Per-query ranking metrics, one entry per distinct query code (sorted).

    Each metric array is float64 of length ``len(queries)``; it holds NaN where the metric excludes the query
    (``mrr``, ``map`` and ``recall`` for a query without a relevant item).
    """

    queries: np.ndarray
    ndcg: np.ndarray
    mrr: np.ndarray
    map: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    n_items: np.ndarray
    n_relevant: np.ndarray


def per_query(query: Any, relevance: Any, score: Any, *, k: int) -> PerQuery:
    """Ranking metrics of every query, ties counted as their average over all orderings of the tied items.

    One query, relevance ``[3, 2, 0, 1]`` ranked in input order (scores ``0.9 > 0.8 > 0.7 > 0.6``), ``k = 3``:
    DCG@3 = 3/log2(2) + 2/log2(3) + 0/log2(4) = 3 + 1.26186 = 4.26186; the ideal order ``[3, 2, 1, 0]`` gives
    IDCG@3 = 3 + 1.26186 + 1/2 = 4.76186, so nDCG@3 = 0.89500. The first relevant item is at rank 1 (MRR 1);
    2 of the top 3 are relevant (precision 2/3) out of 3 relevant items (recall 2/3); AP@3 = (1/1 + 2/2) / 3 = 2/3.

    >>> r = per_query([7, 7, 7, 7], [3.0, 2.0, 0.0, 1.0], [0.9, 0.8, 0.7, 0.6], k=3)
    >>> r.queries.tolist(), round(float(r.ndcg[0]), 5), float(r.mrr[0])
    ([7], 0.895, 1.0)
    >>> round(float(r.precision[0]), 6), round(float(r.recall[0]), 6), round(float(r.map[0]), 6)
    (0.666667, 0.666667, 0.666667)

    Ties: three items tied at the top, one of them relevant. The relevant item is at rank 1, 2 or 3 with
    probability 1/3 each, so MRR = (1 + 1/2 + 1/3) / 3 = 11/18 = 0.61111; at k = 2 the expected number of relevant
    items in the top 2 is 1 * 2/3, so precision@2 = (2/3) / 2 = 1/3 and recall@2 = 2/3; AP@2 = (1/3 * 1/1 + 1/3 * 1/2)
    = 1/2. A second query (code 2) has no relevant item: nDCG and precision are 0, the others are excluded (NaN).

    >>> r = per_query([5, 5, 5, 5, 2], [0, 1, 0, 0, 0], [0.5, 0.5, 0.5, 0.1, 3.0], k=2)
    >>> r.queries.tolist(), [round(float(x), 5) for x in r.mrr]
    ([2, 5], [nan, 0.61111])
    >>> [round(float(x), 5) for x in r.precision], round(float(r.recall[1]), 5), round(float(r.map[1]), 5)
    ([0.0, 0.33333], 0.66667, 0.5)
    """
    k = _check_k(k)
    q, rel, s = _check_rows(query, relevance, score)
    per, _, _, _ = _rank(q, rel, s, k)
    return per


@dataclass(frozen=True, eq=False)
class RankingState:
    """Mergeable ranking state: sums of per-query metric values per group key.

    ``count``, ``total`` and ``total_sq`` have shape ``(G, 5)``, columns in the order of ``METRICS``; ``count`` is
    the number of queries that contribute to each metric, ``without_relevant`` the number of queries with no
    relevant item (they count in nDCG and precision only).

    A query's metrics need all of its rows: **callers must pass whole queries to each** ``update``. A query split
    between two updates that are later merged would count as two queries, each ranked on part of its items; the
    state cannot detect it, so whoever chunks the rows (a file reader, a partitioner) must cut at query boundaries.

    >>> s = RankingState.empty(k=2).update([1, 1, 2, 2], [1, 0, 0, 1], [0.9, 0.1, 0.8, 0.2])
    >>> out = s.compute()[None]
    >>> out["mrr"]["value"], out["mrr"]["n"], round(out["precision@2"]["value"], 3)
    (0.75, 2, 0.5)
    """

    k: int
    groups: tuple[Hashable, ...]
    count: np.ndarray
    total: np.ndarray
    total_sq: np.ndarray
    without_relevant: np.ndarray

    METRICS: ClassVar[tuple[str, ...]] = ("ndcg", "mrr", "map", "precision", "recall")
    _MAGIC: ClassVar[bytes] = b"ASSAY-RANKING\x00"
    _VERSION: ClassVar[int] = 1

    def __post_init__(self) -> None:
        for name in ("count", "total", "total_sq", "without_relevant"):
            getattr(self, name).setflags(write=False)

    @classmethod
    def empty(cls, k: int) -> RankingState:
        """The state of no queries (the identity of ``merge``), for cut-off ``k``."""
        k = _check_k(k)
        return cls(
            k=k,
            groups=(),
            count=np.zeros((0, 5), dtype=np.int64),
            total=np.zeros((0, 5)),
            total_sq=np.zeros((0, 5)),
            without_relevant=np.zeros(0, dtype=np.int64),
        )

    def update(
        self,
        query: Any,
        relevance: Any,
        score: Any,
        *,
        group_codes: Any = None,
        group_keys: Sequence[Hashable] = (None,),
    ) -> RankingState:
        """Add whole queries to the state (a new state is returned).

        ``group_codes`` gives each row an integer code into ``group_keys``; all rows of a query must share one
        code. Without ``group_codes`` every query goes to the single key of ``group_keys`` (``None`` by default).
        Every key of ``group_keys`` appears in the result, with zero queries if no row uses it. Rows of a query
        must all be in this call: see the class docstring.
        """
        keys = _check_keys(group_keys)
        q, rel, s = _check_rows(query, relevance, score)
        if group_codes is None:
            if len(keys) != 1:
                raise ConfigError(
                    message(
                        where="argument 'group_keys'",
                        expected="one key when 'group_codes' is not given",
                        found=f"{len(keys)} keys",
                        fix="pass 'group_codes' (one code per row) or a single group key",
                    )
                )
            codes = None
        else:
            codes = _check_codes(group_codes, len(q), len(keys))
        per, order, qstart, qid = _rank(q, rel, s, self.k)
        n_groups = len(keys)
        if codes is None:
            gq = np.zeros(len(per.queries), dtype=np.int64)
        else:
            sorted_codes = codes[order]
            gq = sorted_codes[qstart]
            bad = np.flatnonzero(sorted_codes != gq[qid])
            if bad.size:
                row = int(order[bad[0]])
                first = int(order[qstart[qid[bad[0]]]])
                raise ColumnError(
                    message(
                        where=f"column 'group_codes', row {row} (query {int(q[row])})",
                        expected=f"one group code per query (row {first} of that query has code {int(codes[first])})",
                        found=f"code {int(codes[row])}",
                        fix="give every row of a query the same group, or split the query into distinct query codes",
                    )
                )
        values = np.stack([per.ndcg, per.mrr, per.map, per.precision, per.recall], axis=1)
        valid = ~np.isnan(values)
        values = np.where(valid, values, 0.0)
        cell = (gq[:, None] * 5 + np.arange(5)).ravel()
        size = n_groups * 5
        batch = RankingState(
            k=self.k,
            groups=keys,
            count=np.bincount(cell[valid.ravel()], minlength=size).astype(np.int64).reshape(n_groups, 5),
            total=np.bincount(cell, weights=values.ravel(), minlength=size).reshape(n_groups, 5),
            total_sq=np.bincount(cell, weights=(values * values).ravel(), minlength=size).reshape(n_groups, 5),
            without_relevant=np.bincount(gq[per.n_relevant == 0], minlength=n_groups).astype(np.int64),
        )
        return self.merge(batch)

    def merge(self, other: RankingState) -> RankingState:
        """Combine two states of the same ``k``; groups are aligned by key (the union of both states' keys).

        Keys keep their first appearance order: this state's keys, then the other's new ones.
        """
        if not isinstance(other, RankingState):
            raise StateError(message(where="RankingState.merge", expected="a RankingState", found=type(other).__name__))
        if other.k != self.k:
            raise StateError(
                message(
                    where="RankingState.merge",
                    expected="two states of the same cut-off k",
                    found=f"k={self.k} and k={other.k}",
                    fix="compute both states with the same k",
                )
            )
        index: dict[Hashable, int] = {key: i for i, key in enumerate(self.groups)}
        for key in other.groups:
            index.setdefault(key, len(index))
        keys = tuple(index)
        mine = np.arange(len(self.groups))
        theirs = np.array([index[key] for key in other.groups], dtype=np.int64)
        arrays = []
        for name in ("count", "total", "total_sq", "without_relevant"):
            a, b = getattr(self, name), getattr(other, name)
            out = np.zeros((len(keys), *a.shape[1:]), dtype=a.dtype)
            out[mine] += a
            out[theirs] += b
            arrays.append(out)
        return RankingState(self.k, keys, *arrays)

    def compute(self, confidence: float = 0.95) -> dict[Hashable, dict[str, dict[str, Any]]]:
        """Mean of each metric over queries, with a normal interval, per group key.

        ``value`` is the mean of the per-query values, ``se`` the sample standard deviation (``n - 1``) over
        ``sqrt(n)``, and ``[ci_low, ci_high]`` is ``value +- z se`` clipped to [0, 1]. With ``n < 2`` there is no
        standard error: ``se``, ``ci_low`` and ``ci_high`` are None and ``reason`` says why; with ``n == 0`` the
        value is None as well.
        """
        if isinstance(confidence, bool) or not isinstance(confidence, int | float) or not 0 < confidence < 1:
            raise ConfigError(
                message(
                    where="argument 'confidence'",
                    expected="a number strictly between 0 and 1",
                    found=repr(confidence),
                    fix="pass e.g. confidence=0.95",
                )
            )
        z = z_value(float(confidence))
        n = self.count.astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = self.total / n
            var = np.maximum(self.total_sq - n * mean * mean, 0.0) / (n - 1.0)
            se = np.sqrt(var / n)
        lo = np.clip(mean - z * se, 0.0, 1.0)
        hi = np.clip(mean + z * se, 0.0, 1.0)
        names = [f"ndcg@{self.k}", "mrr", f"map@{self.k}", f"precision@{self.k}", f"recall@{self.k}"]
        result: dict[Hashable, dict[str, dict[str, Any]]] = {}
        for g, key in enumerate(self.groups):
            n_queries = int(self.count[g, 0])
            per_metric: dict[str, dict[str, Any]] = {}
            for j, name in enumerate(names):
                count = int(self.count[g, j])
                entry: dict[str, Any] = {"value": None, "se": None, "ci_low": None, "ci_high": None, "n": count}
                if count == 0:
                    entry["reason"] = "no queries" if n_queries == 0 else "no query has a relevant item"
                else:
                    entry["value"] = float(mean[g, j])
                    if count < 2:
                        entry["reason"] = "one query: no standard error"
                    else:
                        entry.update(se=float(se[g, j]), ci_low=float(lo[g, j]), ci_high=float(hi[g, j]))
                per_metric[name] = entry
            result[key] = per_metric
        return result

    def to_bytes(self) -> bytes:
        """Serialise: magic, a length-prefixed JSON header (version, k, group keys), then little-endian arrays."""
        header = json.dumps(
            {"version": self._VERSION, "k": self.k, "groups": [_encode_key(key) for key in self.groups]},
            separators=(",", ":"),
        ).encode()
        body = b"".join(
            np.ascontiguousarray(a, dtype=dt).tobytes()
            for a, dt in (
                (self.count, "<i8"),
                (self.total, "<f8"),
                (self.total_sq, "<f8"),
                (self.without_relevant, "<i8"),
            )
        )
        return self._MAGIC + struct.pack("<I", len(header)) + header + body

    @classmethod
    def from_bytes(cls, data: bytes) -> RankingState:
        """Read bytes written by ``to_bytes``; anything else raises ``StateError``."""
        where = "RankingState bytes"
        if not isinstance(data, bytes | bytearray | memoryview):
            raise StateError(message(where=where, expected="bytes", found=type(data).__name__))
        data = bytes(data)
        magic = cls._MAGIC
        if not data.startswith(magic) or len(data) < len(magic) + 4:
            raise StateError(
                message(where=where, expected="a ranking state written by RankingState.to_bytes", found="other bytes")
            )
        (n_header,) = struct.unpack_from("<I", data, len(magic))
        start = len(magic) + 4
        try:
            header = json.loads(data[start : start + n_header].decode())
            version, k, groups = header["version"], header["k"], tuple(_decode_key(g) for g in header["groups"])
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
            raise StateError(message(where=where, expected="a readable JSON header", found=str(exc))) from None
        if version != cls._VERSION:
            raise StateError(
                message(
                    where=where,
                    expected=f"format version {cls._VERSION}",
                    found=f"version {version!r}",
                    fix="read it with the assay version that wrote it",
                )
            )
        n_groups = len(groups)
        body = data[start + n_header :]
        if len(body) != 8 * n_groups * 16:
            raise StateError(
                message(where=where, expected=f"{8 * n_groups * 16} bytes of arrays", found=f"{len(body)} bytes")
            )
        if len(set(groups)) != n_groups or isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise StateError(message(where=where, expected="distinct group keys and k >= 1", found=f"k={k!r}"))
        step = 8 * n_groups * 5
        count = np.frombuffer(body, "<i8", n_groups * 5, 0).astype(np.int64).reshape(n_groups, 5)
        total = np.frombuffer(body, "<f8", n_groups * 5, step).astype(np.float64).reshape(n_groups, 5)
        total_sq = np.frombuffer(body, "<f8", n_groups * 5, 2 * step).astype(np.float64).reshape(n_groups, 5)
        without = np.frombuffer(body, "<i8", n_groups, 3 * step).astype(np.int64)
        if (count < 0).any() or (without < 0).any():
            raise StateError(message(where=where, expected="non-negative counts", found="a negative count"))
        return cls(k, groups, count, total, total_sq, without)


# --- the vectorised core -------------------------------------------------------------------------------------


def _rank(q: np.ndarray, rel: np.ndarray, s: np.ndarray, k: int) -> tuple[PerQuery, np.ndarray, np.ndarray, np.ndarray]:
    """Per-query metrics of validated rows; also returns the sort order, query starts and per-row query index."""
    n = len(q)
    # the order of np.lexsort((-s, q)) up to ties, which are averaged anyway: a quicksort by score, then a stable
    # sort by query, runs about twice as fast on random scores
    by_score = np.argsort(-s)
    order = by_score[np.argsort(q[by_score], kind="stable")]
    q, rel, s = q[order], rel[order], s[order]
    new_query = np.empty(n, dtype=bool)
    new_query[:1] = True
    np.not_equal(q[1:], q[:-1], out=new_query[1:])
    qstart = np.flatnonzero(new_query)
    qid = np.cumsum(new_query) - 1
    n_items = np.diff(np.append(qstart, n))
    if n == 0:
        empty = np.zeros(0)
        per = PerQuery(q, empty, empty, empty, empty, empty, n_items, np.zeros(0, dtype=np.int64))
        return per, order, qstart, qid
    pos = np.arange(n) - qstart[qid]  # 0-based rank within the query

    # tie groups: runs of equal score within a query
    new_group = new_query.copy()
    new_group[1:] |= s[1:] != s[:-1]
    gstart = np.flatnonzero(new_group)
    gid = np.cumsum(new_group) - 1
    t = np.diff(np.append(gstart, n))  # group sizes
    start = pos[gstart]  # 0-based rank of the group's first position
    gq = qid[gstart]  # query of each group
    gq_start = np.flatnonzero(new_query[gstart])  # first group of each query
    is_rel = rel > 0
    m = np.add.reduceat(is_rel.astype(np.int64), gstart)  # relevant items per group
    n_rel = np.add.reduceat(m, gq_start)

    # nDCG@k: every position of a tie group gets the group's mean gain (scikit-learn's ignore_ties=False)
    top = min(k, int(n_items.max()))
    discount = 1.0 / np.log2(np.arange(top) + 2.0)
    cum_discount = np.concatenate(([0.0], np.cumsum(discount)))
    group_discount = cum_discount[np.minimum(start + t, top)] - cum_discount[np.minimum(start, top)]
    dcg = np.add.reduceat(np.add.reduceat(rel, gstart) / t * group_discount, gq_start)
    ideal_rel = rel[np.lexsort((-rel, qid))]
    row_discount = np.append(discount, 0.0)[np.minimum(pos, top)]
    idcg = np.add.reduceat(ideal_rel * row_discount, qstart)
    with np.errstate(divide="ignore", invalid="ignore"):
        ndcg = np.where(idcg > 0, dcg / idcg, 0.0)

    # precision@k and recall@k: expected relevant items in the top k
    in_top = np.clip(k - start, 0, t)
    hits = np.add.reduceat(m * in_top / t, gq_start)
    precision = hits / k
    has_rel = n_rel > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = np.where(has_rel, hits / n_rel, np.nan)

    # MAP@k: E[rel_i * sum_{j <= i} rel_j] = (m/t) (1 + R_before + (i - start - 1)(m - 1)/(t - 1)), i 1-based
    before = np.cumsum(m) - m
    r_before = before - before[gq_start][gq]
    pair = np.divide(m - 1, t - 1, out=np.zeros(len(t)), where=t > 1)
    offset = np.arange(n) - gstart[gid]
    term = (m / t)[gid] * (1.0 + r_before[gid] + offset * pair[gid]) / (pos + 1.0)
    ap_sum = np.add.reduceat(np.where(pos < k, term, 0.0), qstart)
    with np.errstate(divide="ignore", invalid="ignore"):
        ap = np.where(has_rel, ap_sum / np.minimum(k, n_rel), np.nan)

    # MRR: expectation of 1/rank over the orderings of the first tie group holding a relevant item
    mrr = np.full(len(qstart), np.nan)
    rel_groups = np.flatnonzero(m > 0)
    first = rel_groups[np.flatnonzero(np.diff(gq[rel_groups], prepend=-1) != 0)]
    mrr[gq[first]] = _expected_reciprocal_rank(t[first], m[first], start[first])

    per = PerQuery(
        queries=q[qstart],
        ndcg=ndcg,
        mrr=mrr,
        map=ap,
        precision=precision,
        recall=recall,
        n_items=n_items,
        n_relevant=n_rel,
    )
    return per, order, qstart, qid


def _expected_reciprocal_rank(t: np.ndarray, m: np.ndarray, before: np.ndarray) -> np.ndarray:
    """``E[1 / (before + J)]`` where J is the position of the first of ``m`` relevant items among ``t`` shuffled.

    ``P(J = j) = C(t - j, m - 1) / C(t, m)`` for ``j = 1 .. t - m + 1``, in log-gamma form, vectorised over groups
    with ``np.repeat``; the probabilities are renormalised per group to cancel the common rounding of the constant.
    """
    from scipy import special  # here, not at import: scipy is most of assay's import time
    if t.size == 0:
        return np.zeros(0)
    span = t - m + 1
    offsets = np.cumsum(span) - span
    seg = np.repeat(np.arange(len(t)), span)
    j = (np.arange(int(span.sum())) - offsets[seg] + 1).astype(np.float64)
    tt, mm = t[seg].astype(np.float64), m[seg].astype(np.float64)
    log_p = special.gammaln(tt - j + 1.0) - special.gammaln(tt - j - mm + 2.0) - special.gammaln(tt + 1.0)
    log_p += special.gammaln(tt - mm + 1.0) + np.log(mm)  # log C(t,m) = ... ; Γ(m+1)/Γ(m) = m
    p = np.exp(log_p)
    return np.add.reduceat(p / (before[seg] + j), offsets) / np.add.reduceat(p, offsets)


# --- validation at the edge ----------------------------------------------------------------------------------


def _check_k(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ConfigError(
            message(where="argument 'k'", expected="an integer >= 1", found=repr(k), fix="pass e.g. k=10")
        )
    return int(k)


def _column(values: Any, name: str, kinds: str, expected: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1 or arr.dtype.kind not in kinds:
        found = f"{arr.ndim}-d array" if arr.ndim != 1 else f"dtype {arr.dtype}"
        raise ColumnError(message(where=f"column '{name}'", expected=expected, found=found))
    return arr


def _check_rows(query: Any, relevance: Any, score: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    q = _column(query, "query", "iu", "a 1-d array of integer query codes").astype(np.int64)
    rel = _column(relevance, "relevance", "biuf", "a 1-d numeric array").astype(np.float64)
    s = _column(score, "score", "iuf", "a 1-d numeric array").astype(np.float64)
    if not len(q) == len(rel) == len(s):
        raise ColumnError(
            message(
                where="columns 'query', 'relevance', 'score'",
                expected="the same length",
                found=f"lengths {len(q)}, {len(rel)}, {len(s)}",
            )
        )
    bad = np.flatnonzero(~np.isfinite(rel) | (rel < 0))
    if bad.size:
        raise ColumnError(
            message(
                where=f"column 'relevance', row {int(bad[0])}",
                expected="finite values >= 0",
                found=f"{rel[bad[0]]!r} ({bad.size} such rows)",
                fix="map judgements to non-negative grades",
            )
        )
    bad = np.flatnonzero(~np.isfinite(s))
    if bad.size:
        raise ColumnError(
            message(
                where=f"column 'score', row {int(bad[0])}",
                expected="finite values",
                found=f"{s[bad[0]]!r} ({bad.size} such rows)",
                fix="drop or impute rows without a score",
            )
        )
    return q, rel, s


def _check_codes(codes: Any, n: int, n_keys: int) -> np.ndarray:
    arr = _column(codes, "group_codes", "iu", "a 1-d array of integer codes into 'group_keys'").astype(np.int64)
    if len(arr) != n:
        raise ColumnError(message(where="column 'group_codes'", expected=f"{n} rows", found=f"{len(arr)} rows"))
    bad = np.flatnonzero((arr < 0) | (arr >= n_keys))
    if bad.size:
        raise ColumnError(
            message(
                where=f"column 'group_codes', row {int(bad[0])}",
                expected=f"codes in [0, {n_keys}) (one per group key)",
                found=str(int(arr[bad[0]])),
            )
        )
    return arr


def _check_keys(keys: Sequence[Hashable]) -> tuple[Hashable, ...]:
    try:
        out = tuple(k.item() if isinstance(k, np.generic) else k for k in keys)
        distinct = len(set(out)) == len(out)
    except TypeError as exc:
        raise ConfigError(message(where="argument 'group_keys'", expected="hashable keys", found=str(exc))) from None
    if not out or not distinct:
        raise ConfigError(
            message(where="argument 'group_keys'", expected="at least one key, all distinct", found=repr(out))
        )
    return out


def _encode_key(key: Hashable) -> Any:
    if key is None or isinstance(key, bool | int | float | str):
        return [type(key).__name__, key]
    if isinstance(key, tuple):
        return ["tuple", [_encode_key(part) for part in key]]
    raise StateError(
        message(
            where="RankingState.to_bytes",
            expected="group keys made of None, bool, int, float, str or tuples of them",
            found=f"a key of type {type(key).__name__}",
        )
    )


def _decode_key(encoded: Any) -> Hashable:
    kind, value = encoded
    if kind == "tuple":
        return tuple(_decode_key(part) for part in value)
    types: dict[str, Any] = {"NoneType": type(None), "bool": bool, "int": int, "float": (int, float), "str": str}
    if kind not in types or not isinstance(value, types[kind]):
        raise ValueError(f"bad group key {encoded!r}")
    return float(value) if kind == "float" else value
