"""Multivariate drift: a domain classifier. Can a model tell reference rows from current rows?

Per-column tests (:mod:`assay.drift.methods`) miss a change in how columns go *together* (a correlation that flips,
a combination that never occurred before) and answer m questions where one is asked. The domain classifier asks it
once: label reference rows 0 and current rows 1, train a classifier on the columns, and measure how well it separates
rows it has not seen. If the two samples come from one distribution no model can do better than chance (ROC-AUC 0.5,
whatever the model); the further the AUC rises above 0.5, the easier the two sides are to tell apart.

Method
------
1. **Sample.** At most ``max_rows`` rows in total (100,000 by default), half from each side when both are large
   enough, otherwise all of the smaller side and the rest from the larger one; uniform without replacement with
   ``numpy.random.default_rng(seed)`` (reference first, then current). ``n_reference`` and ``n_current`` count the
   rows used.
2. **Features**, by the column's kind:

   - ``numeric``, ``boolean``, ``datetime``: one float (missing = NaN; booleans 0/1; datetimes as epoch seconds,
     UTC for zoned timestamps; ISO strings are parsed);
   - ``categorical``: category codes ``0 .. k-1`` for the ``k <= 254`` most frequent categories of the sampled
     reference rows (ties by value) that hold at least 1/250 of them (and 10 rows), ``k`` for every other category
     (rare ones, and ones new in current: a shift into them shows as a shift into "other"), missing as NaN (a bin
     of its own), fed to the model as a categorical feature. Without the minimum, the model's categorical splits
     (any subset of categories) fit noise among the rare ones: in simulation they cost more AUC than they found;
   - ``text``: the character length, plus a 0/1 missing indicator.

   A column missing on every sampled row of both sides carries no information: it is dropped, with a note.
3. **Model.** scikit-learn's ``HistGradientBoostingClassifier`` (``max_iter=100``, ``max_depth=3``,
   ``min_samples_leaf`` = 1/400 of the training rows and at least 20, early stopping off, ``random_state=seed``:
   the same seed gives the same result), in stratified ``folds``-fold cross-validation (shuffled with ``seed``).
   Every row is scored once, by the model that did not see it (its raw log-odds). Drift worth finding is mostly
   weak, and a flexible model spends its splits on the noise columns: every spurious split blurs the held-out
   scores and lowers the AUC. Shallow trees with large leaves keep more of a weak shift while still seeing
   interactions (a flipped correlation needs two columns, i.e. depth 2).
4. **AUC.** ROC-AUC of all out-of-fold scores, with DeLong's standard error
   (:func:`assay.metrics.roc.rank_metrics`) and the normal interval at ``confidence``, clipped to [0, 1]. The
   one-sided p-value of "the model does better than chance" is ``1 - Φ((auc - 0.5) / se)`` (see *Calibration*).
5. **Columns that separate them most**: permutation importance on the held-out folds. In each fold, on a uniform
   subsample of its held-out rows (at most 20,000 rows over all folds), shuffle one column (all of its features
   together) and re-score; the importance is the drop in the fold's AUC, averaged over the folds. The ten largest
   are reported, descending.

Rule
----
::

    drifted = (p_value < alpha) and (auc >= min_auc)

i.e. the classifier does significantly better than chance *and* the pooled out-of-fold AUC reaches the practical
floor. As with the per-column tests, significance alone flips with sample size (at 50,000 rows per side an AUC of
0.51 is significant) and the AUC alone is noisy at small sizes. The p-value merges the folds' own held-out tests
(see *Calibration*); the reported ``[ci_low, ci_high]`` is DeLong's two-sided interval of the pooled AUC.

The floor ``min_auc = 0.53`` follows the per-column floors' convention (the effect of a **0.1-sd** shift, half the
0.2-sd shift the issue calls meaningful): between ``N(0, 1)`` and ``N(δ, 1)`` the best possible AUC is
``Φ(δ / √2)``:

======  =====  =====  =====  =====  =====
δ (sd)  0.05   0.1    0.2    0.5    1.0
AUC     0.514  0.528  0.556  0.638  0.760
======  =====  =====  =====  =====  =====

A fitted model stays below that optimum: it learns the shift from a finite sample and spends splits on the noise
columns. In simulation, a 0.2-sd shift in one of 25 columns (18 other normals, 3 categoricals, a boolean, a datetime,
a text, 50,000 rows per side) gave AUC 0.546, above the floor; alone (the other columns left out), 0.554. A 0.1-sd
shift (best AUC 0.528, fitted about 0.525) stays below it.

>>> from scipy import special
>>> round(float(special.ndtr(0.2 / np.sqrt(2))), 3)
0.556

Calibration
-----------
DeLong's variance treats the out-of-fold scores as fixed, but each fold's model was fitted on the other folds' rows,
so the folds' AUCs share noise; the pooled interval is valid only as the sample grows (LeDell, Petersen and van der
Laan 2015, "Computationally efficient confidence intervals for cross-validated area under the ROC curve estimates").
In seeded simulation with no drift (4 columns, 5 folds) the pooled AUC's sd was 1.3 to 1.4 times DeLong's SE at
both 200 and 2,000 rows per side, and a p-value from it fell below 0.05 in 15% of samples. So the p-value does not
come from it: each fold's held-out AUC is scored by a model that never saw those rows, so that fold's DeLong test is
valid on its own, and the folds' p-values (dependent, as their models share rows) are merged by twice their mean,
which is valid under any dependence (Vovk and Wang 2020). The interval keeps the pooled estimate's precision and is
read as approximate below 2,000 rows per side (a note says so). Under no drift, small samples also give AUCs a
little *below* 0.5: a held-out fold's excess of one side is its training folds' deficit.

Caveats: a column that orders rows in time (a timestamp, an increasing id) separates two periods by construction;
leave it out (the top columns name it when it is left in). The floor refers to one feature; a model over many
columns reaches it also from several smaller shifts together, which is the point of the method.

>>> import pyarrow as pa
>>> rng = np.random.default_rng(1)
>>> ref = pa.table({"x": rng.normal(size=500), "y": rng.normal(size=500)})
>>> cur = pa.table({"x": rng.normal(1.0, size=500), "y": rng.normal(size=500)})
>>> r = domain_classifier(ref, cur, {"x": "numeric", "y": "numeric"})
>>> r.drifted, r.top_columns[0][0], r.auc > 0.7
(True, 'x', True)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from assay.drift.profile import as_floats
from assay.errors import ConfigError, InputError, message
from assay.metrics.roc import rank_metrics
from assay.metrics.table import SortedTable
from assay.stats.intervals import normal, z_value

__all__ = ["KINDS", "MultivariateResult", "domain_classifier"]

KINDS: Final[frozenset[str]] = frozenset({"numeric", "categorical", "boolean", "text", "datetime"})
MAX_CATEGORIES: Final[int] = 254  # + "other" = 255 codes, HistGradientBoosting's most categories; missing = NaN
MAX_ITER: Final[int] = 100
MAX_DEPTH: Final[int] = 3  # interactions of up to three columns; deeper trees mostly fit noise at weak drift
LEAF_SHARE: Final[int] = 400  # smallest leaf: 1/400 of the training rows (at least 20)
CATEGORY_SHARE: Final[int] = 250  # a category needs 1/250 of the reference sample (at least 10 rows) of its own
IMPORTANCE_ROWS: Final[int] = 20_000
TOP_COLUMNS: Final[int] = 10
SMALL_ROWS: Final[int] = 10**12  # rows from which the boosting may use every core (see _threads)
SMALL_SIDE: Final[int] = 2_000  # below this many rows on a side, the note on DeLong's optimism
_STACK_CELLS: Final[int] = 4_000_000  # 32 MB of permuted copies at a time
_FIX_SKLEARN: Final[str] = "pip install 'assay[multivariate]'"


@dataclass(frozen=True)
class MultivariateResult:
    """The domain classifier's verdict: cross-validated ROC-AUC of telling current rows (1) from reference rows (0).

    ``top_columns`` holds ``(column, importance)`` pairs, descending: the mean drop in held-out AUC when the column is
    shuffled. ``threshold`` is ``min_auc``; ``notes`` say what was sampled, dropped or recoded.
    """

    auc: float
    ci_low: float
    ci_high: float
    se: float
    p_value: float
    confidence: float
    threshold: float
    drifted: bool
    n_reference: int
    n_current: int
    folds: int
    seed: int
    top_columns: tuple[tuple[str, float], ...] = ()
    notes: tuple[str, ...] = ()
    method: str = "domain_classifier"
    model: str = "HistGradientBoostingClassifier"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (plain floats, ints, bools, strings)."""
        return {
            "method": self.method,
            "model": self.model,
            "auc": float(self.auc),
            "ci_low": float(self.ci_low),
            "ci_high": float(self.ci_high),
            "se": float(self.se),
            "p_value": float(self.p_value),
            "confidence": float(self.confidence),
            "threshold": float(self.threshold),
            "drifted": bool(self.drifted),
            "n_reference": int(self.n_reference),
            "n_current": int(self.n_current),
            "folds": int(self.folds),
            "seed": int(self.seed),
            "top_columns": [{"column": str(c), "importance": float(v)} for c, v in self.top_columns],
            "notes": [str(n) for n in self.notes],
        }


@dataclass(frozen=True)
class _Features:
    """The design matrix of the sampled rows (reference first), which features are categorical, and which
    features belong to each kept column."""

    X: np.ndarray
    y: np.ndarray
    categorical: np.ndarray
    columns: tuple[tuple[str, tuple[int, ...]], ...]
    notes: tuple[str, ...]


@dataclass(frozen=True)
class _Run:
    result: MultivariateResult
    scores: np.ndarray  # out-of-fold log-odds of "current", one per sampled row
    y: np.ndarray  # 0 = reference, 1 = current
    fold: np.ndarray  # the fold that held each row out


# --- checks -------------------------------------------------------------------------------------------------------

def _check_options(folds: int, max_rows: int, confidence: float, min_auc: float, alpha: float) -> None:
    where = "domain_classifier"
    if isinstance(folds, bool) or not isinstance(folds, int | np.integer) or folds < 2:
        raise ConfigError(message(where=f"{where} folds", expected="an integer of at least 2", found=repr(folds),
                                  fix="use folds=5"))
    if isinstance(max_rows, bool) or not isinstance(max_rows, int | np.integer) or max_rows < 4 * folds:
        raise ConfigError(message(where=f"{where} max_rows", expected=f"an integer of at least 4 * folds = {4 * folds}",
                                  found=repr(max_rows), fix="use max_rows=100_000"))
    for name, value in (("confidence", confidence), ("alpha", alpha)):
        if not 0.0 < float(value) < 1.0:
            raise ConfigError(message(where=f"{where} {name}", expected="a number strictly between 0 and 1",
                                      found=repr(value), fix="use confidence=0.95, alpha=0.05"))
    if not 0.5 <= float(min_auc) <= 1.0:
        raise ConfigError(message(where=f"{where} min_auc", expected="a number in [0.5, 1]", found=repr(min_auc),
                                  fix="use min_auc=0.53"))


def _check_inputs(reference: pa.Table, current: pa.Table, kinds: Mapping[str, str], folds: int) -> list[str]:
    where = "domain_classifier"
    ref_cols, cur_cols = list(reference.column_names), list(current.column_names)
    if not ref_cols and not cur_cols:
        raise InputError(message(where=where, expected="at least one column to compare", found="no columns",
                                 fix="pass the feature columns of both samples"))
    if set(ref_cols) != set(cur_cols):
        only_ref = sorted(set(ref_cols) - set(cur_cols))
        only_cur = sorted(set(cur_cols) - set(ref_cols))
        found = "; ".join(part for part in (f"only in reference: {only_ref}" if only_ref else "",
                                            f"only in current: {only_cur}" if only_cur else "") if part)
        raise InputError(message(where=where, expected="the same columns in reference and current", found=found,
                                 fix="select the same columns on both sides"))
    missing_kind = [c for c in ref_cols if c not in kinds]
    if missing_kind:
        raise ConfigError(message(where=f"{where} kinds", expected="a kind for every column",
                                  found=f"none for {missing_kind}", fix=f"give each one of {sorted(KINDS)}"))
    bad_kind = {c: kinds[c] for c in ref_cols if kinds[c] not in KINDS}
    if bad_kind:
        raise ConfigError(message(where=f"{where} kinds", expected=f"one of {sorted(KINDS)}",
                                  found=", ".join(f"{c!r}: {k!r}" for c, k in bad_kind.items()),
                                  fix="use one of the listed kinds"))
    for side, table in (("reference", reference), ("current", current)):
        if table.num_rows < 2 * folds:
            raise InputError(message(where=f"{side} sample ({where})",
                                     expected=f"at least 2 * folds = {2 * folds} rows", found=f"{table.num_rows} rows",
                                     fix="gather more rows or lower folds"))
    return ref_cols


# --- sampling -----------------------------------------------------------------------------------------------------

def _sample_sizes(n_ref: int, n_cur: int, max_rows: int) -> tuple[int, int]:
    """Rows to draw per side: all when they fit, else half each, the smaller side's shortfall going to the other.

    >>> _sample_sizes(10, 20, 100), _sample_sizes(10**6, 10**6, 100), _sample_sizes(10, 10**6, 100)
    ((10, 20), (50, 50), (10, 90))
    """
    if n_ref + n_cur <= max_rows:
        return n_ref, n_cur
    half = max_rows // 2
    if n_ref < half:
        return n_ref, max_rows - n_ref
    if n_cur < max_rows - half:
        return max_rows - n_cur, n_cur
    return half, max_rows - half


def _draw(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    if k >= n:
        return np.arange(n)
    return np.sort(rng.choice(n, size=k, replace=False))


# --- features -----------------------------------------------------------------------------------------------------

def _plain(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """Dictionary-encoded columns as their values; everything else as is."""
    if pa.types.is_dictionary(col.type):
        return col.cast(col.type.value_type)
    return col


def _floats(col: pa.ChunkedArray, name: str, side: str, kind: str) -> np.ndarray:
    try:
        return as_floats(col, kind)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise InputError(message(where=f"column {name!r} of the {side} sample", expected=f"{kind} values",
                                 found=f"type {_plain(col).type} ({str(exc).splitlines()[0]})",
                                 fix=f"declare the column's kind correctly (not {kind!r}) or leave it out")) from None


def _as_strings_if_types_differ(ref: pa.ChunkedArray, cur: pa.ChunkedArray) -> tuple[pa.ChunkedArray, pa.ChunkedArray]:
    ref, cur = _plain(ref), _plain(cur)
    if ref.type == cur.type:
        return ref, cur
    return ref.cast(pa.string()), cur.cast(pa.string())


def _category_codes(ref: pa.ChunkedArray, cur: pa.ChunkedArray, name: str, notes: list[str]) -> np.ndarray:
    """Codes of reference then current rows: the most frequent reference categories first, ``k`` for the rest."""
    ref, cur = _as_strings_if_types_differ(ref, cur)
    counts = pc.value_counts(pc.drop_null(ref)).flatten() if ref.null_count < len(ref) else None
    min_rows = max(10, len(ref) // CATEGORY_SHARE)
    if counts is not None and len(counts[0]):
        ranked = pa.table({"value": counts[0], "n": counts[1]}).sort_by([("n", "descending"), ("value", "ascending")])
        frequent = int(np.count_nonzero(ranked["n"].to_numpy() >= min_rows))
        kept = ranked["value"].slice(0, min(MAX_CATEGORIES, frequent)).combine_chunks()
        distinct = len(ranked)
    else:
        kept, distinct = pa.array([], type=ref.type), 0
    k = len(kept)
    if distinct > k:
        notes.append(f"column {name!r}: {distinct} categories in the reference sample; kept the {k} most frequent "
                     f"(at most {MAX_CATEGORIES}, each on at least {min_rows} rows), the rest coded as one 'other'")
    out = []
    for col in (ref, cur):
        idx = pc.index_in(col, value_set=kept).to_numpy(zero_copy_only=False)  # NaN for missing and unseen
        codes = np.where(np.isnan(idx), float(k), idx)
        codes[col.is_null().to_numpy(zero_copy_only=False)] = np.nan
        out.append(codes)
    return np.concatenate(out)


def _text_lengths(col: pa.ChunkedArray) -> np.ndarray:
    col = _plain(col)
    t = col.type
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        lengths = pc.binary_length(col)
    else:
        if not (pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)):
            col = col.cast(pa.string())
        lengths = pc.utf8_length(col)
    return np.asarray(lengths.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)


def _features(reference: pa.Table, current: pa.Table, kinds: Mapping[str, str], columns: Sequence[str]) -> _Features:
    """Features of the (already sampled) rows, reference rows first; all-missing columns dropped with a note."""
    blocks: list[np.ndarray] = []
    categorical: list[bool] = []
    kept: list[tuple[str, tuple[int, ...]]] = []
    notes: list[str] = []
    dropped: list[str] = []
    for name in columns:
        ref, cur, kind = reference.column(name), current.column(name), kinds[name]
        if ref.null_count == len(ref) and cur.null_count == len(cur):
            dropped.append(name)
            continue
        start = len(blocks)
        if kind == "categorical":
            blocks.append(_category_codes(ref, cur, name, notes))
            categorical.append(True)
        elif kind == "text":
            blocks.append(np.concatenate([_text_lengths(ref), _text_lengths(cur)]))
            blocks.append(np.isnan(blocks[-1]).astype(np.float64))
            categorical += [False, False]
        else:
            blocks.append(np.concatenate([_floats(ref, name, "reference", kind), _floats(cur, name, "current", kind)]))
            categorical.append(False)
        if np.isnan(blocks[start]).all() and not (kind == "text" and blocks[start + 1].any()):
            del blocks[start:]
            del categorical[start:]
            dropped.append(name)
            continue
        kept.append((name, tuple(range(start, len(blocks)))))
    if dropped:
        notes.insert(0, f"dropped {len(dropped)} column(s) missing on every sampled row: {dropped}")
    if not kept:
        raise InputError(message(where="domain_classifier", expected="at least one column with a non-missing value",
                                 found=f"{len(columns)} column(s), all missing on every sampled row: {dropped}",
                                 fix="pass columns that hold values"))
    X = np.column_stack(blocks)
    y = np.concatenate([np.zeros(reference.num_rows, np.int8), np.ones(current.num_rows, np.int8)])
    return _Features(X, y, np.array(categorical), tuple(kept), tuple(notes))


# --- model, AUC, importance ---------------------------------------------------------------------------------------

def _auc_se(scores: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """ROC-AUC of ``scores`` for ``y == 1`` against ``y == 0`` (ties count half) and DeLong's standard error."""
    r = rank_metrics(SortedTable.empty(2).update(np.asarray(scores, dtype=np.float64), np.asarray(y, np.int64)))
    return float(r.auc[0]), float(r.auc_se[0])


def _one_sided_p(auc: float, se: float) -> float:
    from scipy import special  # here, not at import: scipy is most of assay's import time
    if se > 0:
        return float(special.ndtr(-(auc - 0.5) / se))
    return 0.0 if auc > 0.5 else 1.0


def _fold_p_value(scores: np.ndarray, y: np.ndarray, fold: np.ndarray, folds: int) -> float:
    """One-sided p-value of "better than chance" that stays valid under cross-validation.

    Each fold's held-out AUC is scored by a model that never saw those rows, so its DeLong test is valid on its own;
    the folds' tests depend on each other (their models share training rows), so they are merged by twice their
    mean, a combination valid under any dependence (Rüschendorf 1982; Vovk and Wang 2020, "Combining p-values via
    averaging").
    """
    ps = []
    for f in range(folds):
        held = fold == f
        ps.append(_one_sided_p(*_auc_se(scores[held], y[held])))
    return float(min(1.0, 2.0 * float(np.mean(ps))))


def _model(categorical: np.ndarray, seed: int, n_train: int = 0) -> Any:
    try:
        from sklearn.ensemble import HistGradientBoostingClassifier
    except ImportError:
        raise ConfigError(message(where="domain_classifier", expected="scikit-learn installed (>= 1.3)",
                                  found="no module named 'sklearn'", fix=_FIX_SKLEARN)) from None
    return HistGradientBoostingClassifier(
        max_iter=MAX_ITER, max_depth=MAX_DEPTH, min_samples_leaf=max(20, n_train // LEAF_SHARE),
        early_stopping=False, random_state=seed,
        categorical_features=categorical if categorical.any() else None,
    )


def _threads(n_rows: int) -> AbstractContextManager[Any]:
    """One OpenMP thread for the boosting below :data:`SMALL_ROWS` rows, which is every sample by default.

    Its parallel regions spin-wait: on small samples they cost more than they save, and on a busy machine (CI, a
    shared server) 2 x 50,000 rows x 25 columns took 7 s to 160 s on 2 threads where one thread took 9 s.
    """
    if n_rows >= SMALL_ROWS:
        return nullcontext()
    from threadpoolctl import threadpool_limits  # a dependency of scikit-learn

    return threadpool_limits(limits=1, user_api="openmp")


def _folds(y: np.ndarray, folds: int, seed: int) -> np.ndarray:
    from sklearn.model_selection import StratifiedKFold

    fold = np.empty(y.size, np.int64)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for f, (_, test) in enumerate(splitter.split(np.zeros((y.size, 1)), y)):
        fold[test] = f
    return fold


def _importance(models: list[Any], fold: np.ndarray, feats: _Features, scores: np.ndarray,
                rng: np.random.Generator) -> list[tuple[str, float]]:
    """Mean over folds of the drop in held-out AUC when one column's features are shuffled together."""
    drops = np.zeros((len(models), len(feats.columns)))
    per_fold = max(IMPORTANCE_ROWS // len(models), 2)
    for f, model in enumerate(models):
        held = np.flatnonzero(fold == f)
        if held.size > per_fold:
            held = np.sort(rng.choice(held, size=per_fold, replace=False))
        yh, Xh = feats.y[held], feats.X[held]
        if yh.min() == yh.max():  # a subsample of one side only: take the whole fold
            held = np.flatnonzero(fold == f)
            yh, Xh = feats.y[held], feats.X[held]
        base, _ = _auc_se(scores[held], yh)
        n_cols = len(feats.columns)
        batch = max(1, _STACK_CELLS // Xh.size)  # columns re-scored per call, bounding the stacked copy's memory
        for start in range(0, n_cols, batch):
            group = feats.columns[start:start + batch]
            stacked = np.repeat(Xh[None, :, :], len(group), axis=0)
            for j, (_, idx) in enumerate(group):
                cols = np.array(idx, dtype=np.int64)
                stacked[j][:, cols] = Xh[np.ix_(rng.permutation(held.size), cols)]
            permuted = model.decision_function(stacked.reshape(-1, Xh.shape[1])).reshape(len(group), -1)
            drops[f, start:start + len(group)] = [base - _auc_se(permuted[j], yh)[0] for j in range(len(group))]
    mean = drops.mean(axis=0)
    ranked = sorted(zip((c for c, _ in feats.columns), mean.tolist()), key=lambda cv: (-cv[1], cv[0]))
    return ranked


def _run(reference: pa.Table, current: pa.Table, kinds: Mapping[str, str], *, max_rows: int = 100_000,
         folds: int = 5, seed: int = 0, confidence: float = 0.95, min_auc: float = 0.53, alpha: float = 0.05) -> _Run:
    _check_options(folds, max_rows, confidence, min_auc, alpha)
    columns = _check_inputs(reference, current, kinds, folds)
    _model(np.zeros(1, bool), seed)  # fail early, before any work, when scikit-learn is missing
    rng = np.random.default_rng(seed)
    n_ref, n_cur = _sample_sizes(reference.num_rows, current.num_rows, max_rows)
    ref_rows, cur_rows = _draw(reference.num_rows, n_ref, rng), _draw(current.num_rows, n_cur, rng)
    notes: list[str] = []
    if n_ref < reference.num_rows or n_cur < current.num_rows:
        notes.append(f"sampled {n_ref:,} of {reference.num_rows:,} reference rows and {n_cur:,} of "
                     f"{current.num_rows:,} current rows (max_rows={max_rows:,}, seed={seed})")
    ref_s = reference.select(columns).take(pa.array(ref_rows)) if n_ref < reference.num_rows else reference
    cur_s = current.select(columns).take(pa.array(cur_rows)) if n_cur < current.num_rows else current
    feats = _features(ref_s, cur_s, kinds, columns)
    notes += feats.notes

    fold = _folds(feats.y, folds, seed)
    scores = np.empty(feats.y.size)
    models = []
    with _threads(feats.y.size):
        for f in range(folds):
            train, test = fold != f, fold == f
            model = _model(feats.categorical, seed, int(train.sum())).fit(feats.X[train], feats.y[train])
            scores[test] = model.decision_function(feats.X[test])
            models.append(model)
        top = _importance(models, fold, feats, scores, rng)[:TOP_COLUMNS]

    auc, se = _auc_se(scores, feats.y)
    lo, hi = normal(np.array(auc), np.array(se), z_value(confidence), 0.0, 1.0)
    if se == 0:  # every score tied (auc 0.5) or the sides perfectly separated (auc 0 or 1)
        notes.append("DeLong standard error is 0: " + ("all scores tied" if auc == 0.5 else "the sides are separated"))
    p_value = _fold_p_value(scores, feats.y, fold, folds)
    drifted = bool(p_value < alpha and auc >= min_auc)
    if min(ref_s.num_rows, cur_s.num_rows) < SMALL_SIDE:
        notes.append(f"fewer than {SMALL_SIDE:,} rows on a side: the DeLong interval of the pooled out-of-fold AUC "
                     "leaves out the variance the cross-validation adds (about 1.3x in simulation); the p-value does "
                     "not (it combines the folds' own held-out tests)")
    result = MultivariateResult(
        auc=auc, ci_low=float(lo), ci_high=float(hi), se=se, p_value=min(max(p_value, 0.0), 1.0),
        confidence=float(confidence), threshold=float(min_auc), drifted=drifted, n_reference=int(ref_s.num_rows),
        n_current=int(cur_s.num_rows), folds=int(folds), seed=int(seed),
        top_columns=tuple((c, float(v)) for c, v in top), notes=tuple(notes),
    )
    return _Run(result, scores, feats.y, fold)


def domain_classifier(reference: pa.Table, current: pa.Table, kinds: Mapping[str, str], *,
                      max_rows: int = 100_000, folds: int = 5, seed: int = 0, confidence: float = 0.95,
                      min_auc: float = 0.53, alpha: float = 0.05) -> MultivariateResult:
    """Cross-validated ROC-AUC of a classifier telling ``current`` rows from ``reference`` rows, with an interval.

    ``reference`` and ``current`` hold the same columns (the ones to use); ``kinds`` maps each to ``"numeric"``,
    ``"categorical"``, ``"boolean"``, ``"text"`` or ``"datetime"``. ``drifted`` is ``p_value < alpha and
    auc >= min_auc``; the module docstring explains the sample, the features, the model and the floor.

    Raises :class:`~assay.errors.InputError` for no columns, different columns on the two sides, a side with fewer
    than ``2 * folds`` rows, or no column with a value; :class:`~assay.errors.ConfigError` for bad options, kinds,
    or when scikit-learn is not installed.
    """
    return _run(reference, current, kinds, max_rows=max_rows, folds=folds, seed=seed, confidence=confidence,
                min_auc=min_auc, alpha=alpha).result

