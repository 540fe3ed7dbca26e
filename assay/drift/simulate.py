"""``assay drift --simulate``: how often known shifts are caught, and how often identical data is flagged.

From the reference table (at most 1M rows are read), each repetition draws two independent resamples (rows with
replacement, seeded): a reference of ``reference_rows`` rows (the reference's size, at most 100k) and a current of
``n`` rows. Both come from the same empirical distribution, so without an injected shift any flag is a false
alarm. Shifts, each injected into the current resample's copy of one column:

=====================  =========================================================================================
``identical``          nothing: the false-alarm rate, per column and for the table
``mean_shift_0.2sd``   a numeric column plus 0.2 of its standard deviation
``variance_x1.5``      a numeric column's deviations from its mean scaled so that its variance is 1.5 times
``category_mix_10pt``  ten points of share moved from a categorical column's commonest value to its second
``missing_jump_20pct`` 20% of a column's values set missing
``longer_prompts``     a text column's values made half as long again (their first half appended)
=====================  =========================================================================================

A shift is *detected* when its column drifts. The table and rates say what the verdict rule buys at each size.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from assay.data.tables import open_table
from assay.drift.profile import profile
from assay.drift.run import drift
from assay.errors import InputError, message

__all__ = ["SHIFTS", "render_simulation", "simulate"]

SHIFTS = ("identical", "mean_shift_0.2sd", "variance_x1.5", "category_mix_10pt", "missing_jump_20pct",
          "longer_prompts")
_MAX_READ = 1_000_000
_MAX_REFERENCE = 100_000


def _numeric_values(column: pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)


def _inject(table: pa.Table, shift: str, target: str, rng: np.random.Generator) -> pa.Table:
    i = table.schema.get_field_index(target)
    column = table.column(target)
    if shift in ("mean_shift_0.2sd", "variance_x1.5"):
        x = _numeric_values(column)
        mean, sd = np.nanmean(x), np.nanstd(x)
        y = x + 0.2 * sd if shift == "mean_shift_0.2sd" else mean + (x - mean) * math.sqrt(1.5)
        return table.set_column(i, target, pa.array(y, mask=np.isnan(x)))
    if shift == "category_mix_10pt":
        values = pc.cast(column, pa.string())
        counted = pc.value_counts(values.drop_null())
        counts = np.asarray(counted.field("counts"))
        if counts.size < 2:
            return table
        order = np.argsort(-counts, kind="stable")
        top, second = counted.field("values")[int(order[0])], counted.field("values")[int(order[1])]
        share_top = counts[order[0]] / len(values)
        move = pa.array(rng.random(len(values)) < min(1.0, 0.10 / share_top))
        moved = pc.and_(pc.fill_null(pc.equal(values, top), False), move)
        return table.set_column(i, target, pc.if_else(moved, second, values))
    if shift == "missing_jump_20pct":
        mask = pa.array(rng.random(len(column)) < 0.2)
        return table.set_column(i, target, pc.if_else(mask, pa.scalar(None, column.type), column))
    if shift == "longer_prompts":
        text = pc.cast(column, pa.string())
        filled = np.asarray(pc.fill_null(text, "").to_numpy(zero_copy_only=False), dtype=np.dtypes.StringDType())
        half = np.strings.slice(filled, 0, np.strings.str_len(filled) // 2)  # code points, as the length is counted
        # a missing text stays missing: joining with null gives null
        return table.set_column(i, target, pc.binary_join_element_wise(text, pa.array(half), ""))
    return table


def _targets(kinds: Mapping[str, str]) -> dict[str, str | None]:
    first = {k: next((c for c, kind in kinds.items() if kind == k), None) for k in ("numeric", "categorical", "text")}
    any_column = next(iter(kinds), None)
    return {"identical": None, "mean_shift_0.2sd": first["numeric"], "variance_x1.5": first["numeric"],
            "category_mix_10pt": first["categorical"], "missing_jump_20pct": first["numeric"] or any_column,
            "longer_prompts": first["text"]}


def _binomial_upper(k: int, n: int, level: float = 0.95) -> float:
    from scipy import stats

    return 1.0 if k >= n else float(stats.beta.ppf(level, k + 1, n - k))


def simulate(reference: Any, *, sizes: Sequence[int] = (500, 5000, 50000), repeats: int = 20,
             columns: Sequence[str] | str | None = None, kinds: Mapping[str, str] | None = None,
             alpha: float = 0.05, correction: str = "holm", seed: int = 0, encoding: str | None = None,
             format: str | None = None, progress: Callable[[int, int | None], None] | None = None) -> dict[str, Any]:
    """Detection and false-alarm rates of the default drift rule on resamples of ``reference`` (see the module);
    ``encoding`` and ``format`` are those of :func:`~assay.data.tables.open_table`."""
    if repeats < 1 or not sizes or any(n < 2 for n in sizes):
        raise InputError(message(where="--simulate", expected="repeats >= 1 and sizes >= 2",
                                 found=f"repeats {repeats}, sizes {list(sizes)}", fix="e.g. --sizes 500,5000"))
    source = open_table(reference, encoding=encoding, format=format)
    names = [c.strip() for c in columns.split(",")] if isinstance(columns, str) else list(columns or source.columns)
    if source.in_memory:
        table = source.read(names)
    else:
        batches = list(_head(source, names))
        table = pa.Table.from_batches(batches) if batches else pa.table({n: [] for n in names})
    if table.num_rows < 2:
        raise InputError(message(where=f"reference {source.name}", expected="at least 2 rows to resample",
                                 found=f"{table.num_rows}"))
    kinds_found = profile(table, kinds=kinds).kinds
    targets = _targets(kinds_found)
    rng = np.random.default_rng(seed)
    ref_rows = min(table.num_rows, _MAX_REFERENCE)
    shifts = [s for s in SHIFTS if s == "identical" or targets[s] is not None]
    total = len(shifts) * len(sizes) * repeats
    done = 0
    rows: list[dict[str, Any]] = []
    for shift in shifts:
        target = targets[shift]
        for n in sizes:
            hits = table_hits = column_flags = 0
            for _ in range(repeats):
                ref = table.take(rng.integers(0, table.num_rows, ref_rows))
                cur = table.take(rng.integers(0, table.num_rows, n))
                if target is not None:
                    cur = _inject(cur, shift, target, rng)
                res = drift(ref, cur, kinds=kinds_found, alpha=alpha, correction=correction, seed=seed)
                table_hits += res.drifted
                if target is not None:
                    hits += bool(res.columns[target]["drifted"])
                column_flags += sum(bool(c["drifted"]) for c in res.columns.values())
                done += 1
                if progress is not None:
                    progress(done, total)
            entry: dict[str, Any] = {"shift": shift, "column": target, "n": n, "repeats": repeats,
                                     "table_flag_rate": table_hits / repeats}
            if target is None:
                per_column = column_flags / (repeats * len(kinds_found))
                entry.update(column_flag_rate=per_column,
                             column_flag_rate_upper95=_binomial_upper(column_flags, repeats * len(kinds_found)),
                             table_flag_rate_upper95=_binomial_upper(table_hits, repeats))
            else:
                entry.update(detection_rate=hits / repeats)
            rows.append(entry)
    return {"schema": "assay.drift-simulation/1", "reference": source.name, "reference_rows": ref_rows,
            "alpha": alpha, "correction": correction, "seed": seed, "kinds": kinds_found, "results": rows,
            "skipped": [s for s in SHIFTS if s not in shifts]}


def _head(source: Any, names: list[str]) -> Any:
    rows = 0
    for batch in source.batches(names):
        if rows >= _MAX_READ:
            break
        take = min(batch.num_rows, _MAX_READ - rows)
        yield batch.slice(0, take)
        rows += take


def render_simulation(doc: dict[str, Any], console: Any) -> None:
    from rich.table import Table

    console.print(f"[bold]drift simulation[/] · {doc['reference']} · reference resamples of "
                  f"{doc['reference_rows']:,} rows · {doc['correction']} at alpha {doc['alpha']:g}")
    t = Table(show_edge=False, header_style="bold")
    for name in ("shift", "column", "current rows", "detected", "table flagged", "false alarms per column"):
        t.add_column(name, justify="left" if name in ("shift", "column") else "right")
    for r in doc["results"]:
        detected = f"{r['detection_rate']:.0%}" if "detection_rate" in r else ""
        fa = (f"{r['column_flag_rate']:.1%} (≤ {r['column_flag_rate_upper95']:.1%})"
              if "column_flag_rate" in r else "")
        t.add_row(r["shift"], r["column"] or "(all)", f"{r['n']:,}", detected, f"{r['table_flag_rate']:.0%}", fa)
    console.print(t)
    if doc["skipped"]:
        console.print(f"[dim]skipped (no column of the kind): {', '.join(doc['skipped'])}[/]")
