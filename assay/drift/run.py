"""``assay.drift(reference, current)``: profiles, tests, and the ``assay.drift/1`` document.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> ref = {"x": rng.normal(size=5000), "c": rng.choice(["a", "b"], 5000)}
>>> cur = {"x": rng.normal(0.5, 1, size=5000), "c": rng.choice(["a", "b"], 5000)}
>>> res = drift(ref, cur)
>>> res.drifted, [name for name, col in res.columns.items() if col["drifted"]]
(True, ['x'])
>>> res.to_dict()["schema"]
'assay.drift/1'
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa

from assay._version import __version__
from assay.data.tables import STDIN, TableSource, open_table
from assay.drift.compare import CORRECTIONS, RAW_METHODS, compare_columns, resolve_method
from assay.drift.methods import DEFAULT_MIN_EFFECT
from assay.drift.profile import (
    Profile,
    _infer_kind,
    _type_name,
    as_floats,
    is_profile_path,
    load_profile,
    profile,
    refuse_changed_settings,
)
from assay.drift.states import BrokenState
from assay.drift.text import DEFAULT_REFUSAL_PHRASES
from assay.errors import ConfigError, InputError, StateError, message

__all__ = ["DriftResult", "drift"]

SCHEMA = "assay.drift/1"
Progress = Callable[[str, int, int | None], None]


@dataclass
class DriftResult:
    """The outcome of :func:`drift`: ``to_dict()`` is the ``assay.drift/1`` document; the two profiles are kept
    (``reference_profile`` can be saved and reused)."""

    document: dict[str, Any]
    reference_profile: Profile
    current_profile: Profile
    notes: list[str] = field(default_factory=list)

    @property
    def drifted(self) -> bool:
        return bool(self.document["drifted"])

    @property
    def columns(self) -> dict[str, dict[str, Any]]:
        return self.document["columns"]

    def to_dict(self) -> dict[str, Any]:
        return self.document

    def write(self, path: str | os.PathLike[str]) -> None:
        """Write the document as JSON (strict: no NaN), atomically."""
        import json

        from assay.data.atomic import atomic_write

        atomic_write(path, json.dumps(self.document, indent=2, allow_nan=False) + "\n")

    def write_html(self, path: str | os.PathLike[str]) -> None:
        """Write the self-contained HTML report, atomically."""
        from assay.report.drift_html import render_drift
        from assay.report.html import write_html

        write_html(path, render_drift(self.document))


def _as_profile_or_source(x: Any, encoding: str | None) -> Profile | TableSource:
    if isinstance(x, Profile):
        return x
    if isinstance(x, TableSource):
        return x
    if isinstance(x, str | os.PathLike) and x != STDIN and is_profile_path(x):
        return load_profile(x)
    return open_table(x, encoding=encoding)


def _names(given: Sequence[str] | str | None) -> list[str] | None:
    if given is None:
        return None
    if isinstance(given, str):
        return [c for c in (s.strip() for s in given.split(",")) if c]
    return list(given)


def _raw(source: TableSource, names: list[str], kinds: Mapping[str, str]) -> dict[str, np.ndarray]:
    table = source.read(names)
    return {n: as_floats(table.column(n), kinds[n]) for n in names}


def drift(reference: Any, current: Any, *, columns: Sequence[str] | str | None = None,
          exclude: Sequence[str] | str | None = None, kinds: Mapping[str, str] | None = None,
          methods: Mapping[str, str] | None = None, min_effect: Mapping[str, float] | None = None,
          prediction: str | None = None, label: str | None = None, alpha: float = 0.05, correction: str = "holm",
          bins: int = 10, fine_bins: int = 200, refusal_phrases: Sequence[str] = DEFAULT_REFUSAL_PHRASES,
          psi_smoothing: float = 0.5, multivariate: bool = False, multivariate_rows: int = 100_000, seed: int = 0,
          encoding: str | None = None, progress: Progress | None = None) -> DriftResult:
    """Drift of ``current`` against ``reference``, per column and for the table.

    ``reference`` is a table (path, pyarrow Table, pandas or polars DataFrame, dict of arrays) or a
    :class:`~assay.drift.profile.Profile` (or a ``.profile`` path); ``current`` a table or a profile on the
    reference profile's grid. ``columns`` limits the columns (a list or ``"a,b"``), ``exclude`` drops some;
    ``prediction`` and ``label`` name the model's output and the label, tested like any column and marked by role.
    ``kinds`` overrides inferred kinds (``{"zip": "categorical"}``) of a table reference; ``methods`` picks a method
    per column or per kind (``{"age": "ks", "categorical": "chi2"}``); ``min_effect`` moves a method's practical
    floor (``{"psi": 0.02}``); ``psi_smoothing`` is the count added to every PSI bin on both sides (0 for raw PSI,
    infinite when a bin is empty on one side). ``correction`` is ``"holm"`` (family-wise), ``"bh"`` (false
    discovery rate) or ``"none"``. See :mod:`assay.drift.compare` for the rule. A table given as a path is read by
    :func:`~assay.data.tables.open_table` (``"-"``: standard input, for one of the two) with ``encoding``, the text
    encoding of CSV and JSON Lines (default UTF-8).
    """
    if correction not in CORRECTIONS:  # options first: fail before reading anything
        raise ConfigError(message(where="correction", expected=f"one of {', '.join(CORRECTIONS)}",
                                  found=repr(correction)))
    if not (isinstance(alpha, int | float) and 0 < alpha < 1):
        raise ConfigError(message(where="alpha", expected="a level strictly between 0 and 1", found=repr(alpha)))
    methods = dict(methods or {})
    floors = dict(min_effect or {})
    bad = sorted(k for k in floors if k not in DEFAULT_MIN_EFFECT)
    if bad:
        raise ConfigError(message(where=f"min_effect for {bad}", expected=f"methods among {sorted(DEFAULT_MIN_EFFECT)}",
                                  found=str(bad)))
    if isinstance(reference, str) and isinstance(current, str) and reference == current == STDIN:
        raise ConfigError(message(where="reference and current", expected="at most one table from standard input",
                                  found="'-' for both", fix="pass one of them as a file or a profile"))
    ref_in = _as_profile_or_source(reference, encoding)
    cur_in = _as_profile_or_source(current, encoding)
    wanted = _names(columns)
    dropped = set(_names(exclude) or [])
    roles = {c: r for c, r in ((prediction, "prediction"), (label, "label")) if c}
    if wanted is not None:
        wanted += [c for c in roles if c not in wanted]
    ref_columns = list(ref_in.columns)
    if wanted is not None:
        missing_both = [c for c in wanted if c not in ref_columns and c not in cur_in.columns]
        if missing_both:
            raise ConfigError(message(where=f"columns {missing_both}", expected="columns of the reference or current",
                                      found="columns in neither table", fix=f"choose among {ref_columns}"))
    for c in roles:
        if c not in ref_columns and c not in cur_in.columns:
            raise ConfigError(message(where=f"column {c!r} ({roles[c]})", expected="a column of the tables",
                                      found="no such column", fix=f"choose among {ref_columns}"))
    both = set(ref_columns) | set(cur_in.columns)
    unknown_dropped = sorted(dropped - both)
    if unknown_dropped:
        raise ConfigError(message(where=f"exclude {unknown_dropped}", expected="columns of the tables",
                                  found="columns in neither table", fix=f"choose among {sorted(both)}"))
    unknown_kinds = sorted(set(kinds or {}) - both)
    if unknown_kinds:
        raise ConfigError(message(where=f"kind given for {unknown_kinds}", expected="columns of the tables",
                                  found="columns in neither table", fix=f"choose among {sorted(both)}"))
    kind_names = {"numeric", "categorical", "boolean", "text", "datetime"}
    unknown_methods = sorted(set(methods) - both - kind_names)
    if unknown_methods:
        raise ConfigError(message(where=f"method given for {unknown_methods}",
                                  expected=f"columns of the tables or kinds ({', '.join(sorted(kind_names))})",
                                  found="names that are neither", fix=f"choose among {sorted(both)}"))
    selected = [c for c in (wanted if wanted is not None else ref_columns) if c in ref_columns and c not in dropped]

    def report(stage: str) -> Callable[[int, int | None], None] | None:
        return (lambda rows, total: progress(stage, rows, total)) if progress is not None else None

    if isinstance(ref_in, Profile):
        ref_prof = ref_in
        refuse_changed_settings(ref_prof, kinds=kinds, fine_bins=fine_bins, bins=bins,
                                refusal_phrases=refusal_phrases)
    else:
        if ref_in.num_rows == 0:
            raise InputError(message(where=f"reference table {ref_in.name}", expected="at least one row",
                                     found="an empty table", fix="check the file or the filter that made it"))
        ref_prof = profile(ref_in, columns=selected, kinds={k: v for k, v in (kinds or {}).items() if k in selected},
                           fine_bins=fine_bins, bins=bins, refusal_phrases=refusal_phrases, seed=seed,
                           progress=report("reference"))
    if isinstance(cur_in, Profile):
        cur_prof = cur_in
        if cur_prof.grid_id != ref_prof.grid_id:
            raise StateError(message(
                where=f"current profile {cur_prof.source!r}", expected=f"a profile on the reference's grid "
                f"{ref_prof.grid_id} (placed by {ref_prof.grid_source!r})",
                found=f"grid {cur_prof.grid_id} (placed by {cur_prof.grid_source!r})",
                fix="profile the current table with --like the reference profile, or pass the table itself"))
    else:
        if cur_in.num_rows == 0:
            raise InputError(message(where=f"current table {cur_in.name}", expected="at least one row",
                                     found="an empty table", fix="check the file or the filter that made it"))
        cur_prof = profile(cur_in, like=ref_prof, columns=[c for c in selected if c in ref_prof.columns],
                           progress=report("current"))
    if cur_prof.rows == 0 or ref_prof.rows == 0:
        side, name = ("current", cur_prof.source) if cur_prof.rows == 0 else ("reference", ref_prof.source)
        raise InputError(message(where=f"{side} table {name}", expected="at least one row", found="no rows",
                                 fix="check the file or the filter that made it"))
    ref_states = {c: ref_prof.columns[c] for c in selected if c in ref_prof.columns}
    if not ref_states:
        raise InputError(message(where="columns", expected="at least one column to compare",
                                 found="none selected" if selected else "no column in common",
                                 fix=f"reference columns: {ref_columns}; current columns: {list(cur_in.columns)}"))
    cur_states = {c: cur_prof.columns.get(c) for c in ref_states}
    if all(s is None for s in cur_states.values()):
        raise InputError(message(where="columns", expected="at least one column in both tables",
                                 found="no column in common",
                                 fix=f"reference columns: {ref_columns}; current columns: {list(cur_in.columns)}"))
    only_current: dict[str, tuple[str, str]] = {}  # name -> (kind as the reference would infer it, Arrow type)
    if not isinstance(cur_in, Profile):
        only_current = {c: (_infer_kind(cur_in.schema.field(c).type, None), _type_name(cur_in.schema.field(c).type))
                        for c in cur_in.columns
                        if c not in ref_columns and c not in dropped and (wanted is None or c in wanted)}
    raw: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    notes: list[str] = []
    kinds_resolved = {c: s.kind for c, s in ref_states.items()}
    raw_wanted = [c for c, s in ref_states.items() if not isinstance(s, BrokenState)
                  and s.kind in ("numeric", "datetime") and isinstance(cur_states[c], type(s))
                  and resolve_method(c, s.kind, methods) in RAW_METHODS]
    if raw_wanted:
        if isinstance(ref_in, TableSource) and isinstance(cur_in, TableSource):
            r, k = _raw(ref_in, raw_wanted, kinds_resolved), _raw(cur_in, raw_wanted, kinds_resolved)
            raw = {c: (r[c], k[c]) for c in raw_wanted}
        else:
            notes.append(f"{', '.join(raw_wanted)}: tested on the profile's fine grid (a profile keeps no rows)")
    compared = compare_columns(ref_states, cur_states, types=(ref_prof.types, cur_prof.types), roles=roles,
                               methods=methods, min_effect=floors, alpha=alpha, correction=correction, raw=raw,
                               seed=seed, only_current=only_current, given_kinds=ref_prof.given_kinds,
                               psi_smoothing=psi_smoothing)
    multi = None
    if multivariate:
        multi = _multivariate(ref_in, cur_in, ref_states, cur_states, multivariate_rows, seed, alpha)
    doc = {
        "schema": SCHEMA,
        "assay_version": __version__,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "reference": {"source": ref_prof.source, "type": "profile" if isinstance(ref_in, Profile) else "table",
                      "rows": ref_prof.rows, "profile_id": ref_prof.grid_id},
        "current": {"source": cur_prof.source, "type": "profile" if isinstance(cur_in, Profile) else "table",
                    "rows": cur_prof.rows, "profile_id": cur_prof.grid_id if isinstance(cur_in, Profile) else None},
        "config": {"alpha": alpha, "correction": correction, "bins": ref_prof.config.bins,
                   "fine_bins": ref_prof.config.fine_bins,
                   "methods": {c: e["method"] for c, e in compared.columns.items() if e["method"]},
                   "min_effect": {**DEFAULT_MIN_EFFECT, **floors},
                   "refusal_phrases": list(ref_prof.config.refusal_phrases), "psi_smoothing": psi_smoothing,
                   "seed": seed},
        "drifted": compared.drifted,
        "n_columns": compared.n_columns,
        "n_drifted": compared.n_drifted,
        "drifted_share": compared.n_drifted / compared.n_columns if compared.n_columns else 0.0,
        "columns": compared.columns,
        "multivariate": multi,
        "warnings": [*compared.warnings, *notes],
    }
    return DriftResult(doc, ref_prof, cur_prof, notes)


def _multivariate(ref_in: Profile | TableSource, cur_in: Profile | TableSource, ref_states: Mapping[str, Any],
                  cur_states: Mapping[str, Any], rows: int, seed: int, alpha: float) -> dict[str, Any]:
    if isinstance(ref_in, Profile) or isinstance(cur_in, Profile):
        raise ConfigError(message(where="--multivariate", expected="both tables (the classifier needs rows)",
                                  found="a profile", fix="pass the reference and current tables, not profiles"))
    from assay.drift.multivariate import domain_classifier

    usable = [c for c, s in ref_states.items() if not isinstance(s, BrokenState)
              and not isinstance(cur_states.get(c), BrokenState | None)]
    if not usable:
        raise InputError(message(where="--multivariate", expected="at least one column usable on both sides",
                                 found="none", fix="check the columns' statuses in the report"))
    kinds = {c: ref_states[c].kind for c in usable}
    half = max(1, rows // 2)
    ref_t = _row_sample(ref_in, usable, half, seed)
    cur_t = _row_sample(cur_in, usable, half, seed + 1)
    return domain_classifier(ref_t, cur_t, kinds, max_rows=rows, seed=seed, alpha=alpha).to_dict()


def _row_sample(source: TableSource, names: list[str], size: int, seed: int) -> pa.Table:
    """A seeded uniform sample of about ``size`` rows, read batch by batch when the table is larger."""
    rng = np.random.default_rng(seed)
    total = source.num_rows
    if total is not None and total <= size:
        return source.read(names)
    if total is None:
        table = source.read(names)
        if table.num_rows <= size:
            return table
        return table.take(np.sort(rng.choice(table.num_rows, size, replace=False)))
    rate = size / total
    parts = []
    for batch in source.batches(names):
        keep = np.flatnonzero(rng.random(batch.num_rows) < rate)
        parts.append(pa.Table.from_batches([batch]).take(keep))
    return pa.concat_tables(parts)
