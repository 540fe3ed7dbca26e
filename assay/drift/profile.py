"""Profiles: every column of a table reduced to a mergeable drift state, saved in a small versioned file.

::

    ref = profile("train.parquet")                       # the grid (bins) comes from this table
    ref.save("reference.profile")
    day = profile("2026-11-27.parquet", like=ref)        # counted on the reference's grid
    month = day1.merge(day2).merge(day3)                 # same grid: counts add
    assay.drift(ref, "today.parquet")

A reference profile fixes, per column, its **kind** (inferred or given) and, for numeric, datetime and text-length
columns, a **fine grid** of ``fine_bins`` (200) reference-quantile bins plus its decile edges, which are fine edges.
A profile made ``like`` a reference reuses its kinds, grids and settings, so its counts can be compared with the
reference and merged with any other profile of that grid; profiles of different grids refuse to merge, naming both.

Kinds, inferred from the reference's Arrow type (override with ``kinds={"zip": "categorical"}``):

- integers, floats, decimals: ``numeric``; booleans: ``boolean``; timestamps and dates: ``datetime`` (as seconds);
- strings: ``text`` when the first chunk's non-missing values are long (mean length >= 50 characters) or long-ish
  and mostly distinct (mean length >= 20 and over half of them distinct), otherwise ``categorical``.

The grid of a table in memory (or of a file of at most ``grid_sample`` rows, read whole) comes from all its values;
a larger file is read twice: once for a seeded uniform sample of ``grid_sample`` values per column, from which the
grid is placed, and once to count every row on it. Counts are always exact; only the bin *placement* is sampled.

The file is gzip-compressed JSON (``{"format": "assay.profile", "version": 1, ...}``): a few kilobytes per column,
readable with ``zcat``, floats written so that they read back bit-identical.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from assay._version import __version__
from assay.data.atomic import atomic_write
from assay.data.tables import TableSource, open_table
from assay.drift.binning import grids, grids_of_sorted
from assay.drift.states import (
    DEFAULT_MAX_CATEGORIES,
    BrokenState,
    CategoricalState,
    ColumnState,
    NumericState,
    TextState,
    state_from_dict,
)
from assay.drift.text import DEFAULT_REFUSAL_PHRASES, text_features
from assay.errors import ConfigError, InputError, ReadError, StateError, message

__all__ = ["KINDS", "PROFILE_FORMAT", "PROFILE_VERSION", "Profile", "ProfileConfig", "as_floats", "is_profile_path",
           "load_profile", "merge_profiles", "profile", "refuse_changed_settings"]

PROFILE_FORMAT = "assay.profile"
PROFILE_VERSION = 1
KINDS = ("numeric", "categorical", "boolean", "text", "datetime")
_READ_WHOLE_BYTES = 256 * 2**20
Progress = Callable[[int, int | None], None]


@dataclass(frozen=True)
class ProfileConfig:
    """Settings fixed by the reference and shared by every profile on its grid."""

    fine_bins: int = 200
    bins: int = 10
    refusal_phrases: tuple[str, ...] = DEFAULT_REFUSAL_PHRASES
    max_categories: int = DEFAULT_MAX_CATEGORIES
    grid_sample: int = 1_000_000
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"fine_bins": self.fine_bins, "bins": self.bins, "refusal_phrases": list(self.refusal_phrases),
                "max_categories": self.max_categories, "grid_sample": self.grid_sample, "seed": self.seed}

    @staticmethod
    def from_dict(d: Mapping[str, Any]) -> ProfileConfig:
        return ProfileConfig(int(d["fine_bins"]), int(d["bins"]), tuple(d["refusal_phrases"]),
                             int(d["max_categories"]), int(d["grid_sample"]), int(d["seed"]))


@dataclass(frozen=True)
class Profile:
    """Per-column drift states of a table (or of several merged), with the grid they were counted on.

    ``sources`` are the tables merged into it, ``grid_source`` the reference that placed the grid, ``grid_id`` a
    hash of the kinds, bins and settings (equal ids merge), ``types`` the Arrow type of each column as read.
    """

    columns: Mapping[str, ColumnState]
    types: Mapping[str, str]
    rows: int
    sources: tuple[str, ...]
    grid_source: str
    grid_id: str
    config: ProfileConfig
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    given_kinds: tuple[str, ...] = ()  # columns whose kind was set by the user, not inferred

    @property
    def kinds(self) -> dict[str, str]:
        return {name: state.kind for name, state in self.columns.items()}

    @property
    def source(self) -> str:
        if len(self.sources) <= 3:
            return " + ".join(self.sources)
        return f"{self.sources[0]} + {len(self.sources) - 1} more"

    def merge(self, other: Profile) -> Profile:
        """The profile of both tables' rows together; both must be on one grid.

        Columns that only one side has keep that side's state.
        """
        if other.grid_id != self.grid_id:
            raise StateError(message(
                where=f"merging profiles {self.source!r} and {other.source!r}",
                expected="profiles on one grid (made from the same reference, or with --like it)",
                found=f"grid {self.grid_id} (placed by {self.grid_source!r}) and grid {other.grid_id} "
                      f"(placed by {other.grid_source!r})",
                fix="profile each table with `assay profile TABLE --like REFERENCE.profile`, then merge those"))
        merged: dict[str, ColumnState] = dict(self.columns)
        for name, state in other.columns.items():
            if name not in merged:
                merged[name] = state
            elif isinstance(state, BrokenState) and not isinstance(merged[name], BrokenState):
                merged[name] = state.merge(merged[name])
            else:
                merged[name] = merged[name].merge(state)
        types = {**other.types, **self.types}
        return replace(self, columns=merged, types=types, rows=self.rows + other.rows,
                       sources=self.sources + other.sources,
                       created_at=datetime.now(UTC).isoformat(timespec="seconds"))

    def to_dict(self) -> dict[str, Any]:
        return {"format": PROFILE_FORMAT, "version": PROFILE_VERSION, "assay_version": __version__,
                "created_at": self.created_at, "rows": self.rows, "sources": list(self.sources),
                "grid_source": self.grid_source, "grid_id": self.grid_id, "config": self.config.to_dict(),
                "types": dict(self.types), "given_kinds": list(self.given_kinds),
                "columns": {name: s.to_dict() for name, s in self.columns.items()}}

    def to_bytes(self) -> bytes:
        return gzip.compress(json.dumps(self.to_dict(), separators=(",", ":"), allow_nan=True).encode(), mtime=0)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the profile atomically (gzip-compressed JSON)."""
        atomic_write(path, self.to_bytes())

    @staticmethod
    def from_dict(d: Mapping[str, Any], where: str = "profile") -> Profile:
        if d.get("format") != PROFILE_FORMAT:
            raise ReadError(message(where=where, expected=f"an assay profile (format {PROFILE_FORMAT!r})",
                                    found=f"format {d.get('format')!r}", fix="make one with `assay profile TABLE`"))
        if d.get("version") != PROFILE_VERSION:
            raise ReadError(message(
                where=where, expected=f"profile version {PROFILE_VERSION} (this is assay {__version__})",
                found=f"version {d.get('version')!r}, written by assay {d.get('assay_version', '?')}",
                fix="re-create the profile from the reference table with this version's `assay profile`"))
        try:
            columns = {str(k): state_from_dict(v) for k, v in d["columns"].items()}
            return Profile(columns, dict(d["types"]), int(d["rows"]), tuple(d["sources"]), str(d["grid_source"]),
                           str(d["grid_id"]), ProfileConfig.from_dict(d["config"]), str(d["created_at"]),
                           tuple(d.get("given_kinds", ())))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ReadError(message(where=where, expected="a complete assay profile",
                                    found=f"a malformed file ({type(exc).__name__}: {exc})",
                                    fix="re-create the profile with `assay profile`")) from None


def refuse_changed_settings(reference: Profile, *, kinds: Mapping[str, str] | None, fine_bins: int, bins: int,
                            refusal_phrases: Sequence[str], max_categories: int = DEFAULT_MAX_CATEGORIES) -> None:
    """A :class:`~assay.errors.ConfigError` when options a reference profile fixes are given other values.

    Kinds, bins and text settings are the reference's (they place its grid); a value equal to the default or to the
    profile's own is accepted, so callers can pass their defaults through.
    """
    if kinds:
        raise ConfigError(message(where=f"kinds for {sorted(kinds)} with the profile {reference.source!r}",
                                  expected="no kinds: the profile fixes them", found="kinds given",
                                  fix="set kinds when making the reference profile (--kind)"))
    config = ProfileConfig()
    fixed = {"fine_bins": (fine_bins, config.fine_bins, reference.config.fine_bins),
             "bins": (bins, config.bins, reference.config.bins),
             "refusal_phrases": (tuple(refusal_phrases), config.refusal_phrases, reference.config.refusal_phrases),
             "max_categories": (max_categories, config.max_categories, reference.config.max_categories)}
    clash = [k for k, (given, default, kept) in fixed.items() if given != default and given != kept]
    if clash:
        raise ConfigError(message(where=f"{', '.join(clash)} with the profile {reference.source!r}",
                                  expected="the profile's own settings (they fix its grid)",
                                  found=", ".join(f"{k}={fixed[k][0]!r} (profile: {fixed[k][2]!r})" for k in clash),
                                  fix="drop the option, or make the reference profile with it (assay profile ...)"))


def is_profile_path(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` names a profile: a ``.profile`` file, or any gzip file holding one."""
    p = os.fspath(path)
    if p.endswith(".profile"):
        return True
    if p.endswith(".gz") or not os.path.isfile(p):
        return False
    with open(p, "rb") as f:
        return f.read(2) == b"\x1f\x8b"


def load_profile(path: str | os.PathLike[str]) -> Profile:
    """Read a profile written by :meth:`Profile.save`; a clear :class:`~assay.errors.ReadError` otherwise."""
    where = os.fspath(path)
    if not os.path.exists(where):
        raise ReadError(message(where=where, expected="an existing profile file", found="no file at this path",
                                fix="make it with `assay profile TABLE --out PATH`"))
    try:
        with open(where, "rb") as f:
            raw = f.read()
        doc = json.loads(gzip.decompress(raw))
    except (OSError, EOFError, ValueError) as exc:
        raise ReadError(message(where=where, expected="an assay profile (gzip-compressed JSON)",
                                found=f"a file that does not decode ({type(exc).__name__})",
                                fix="make it with `assay profile TABLE --out PATH`")) from None
    if not isinstance(doc, dict):
        raise ReadError(message(where=where, expected="an assay profile", found=f"JSON {type(doc).__name__}"))
    return Profile.from_dict(doc, where)


# --- kinds and conversion ------------------------------------------------------------------------------------------

def _family(kind: pa.DataType) -> str:
    if pa.types.is_dictionary(kind):
        return _family(kind.value_type)
    if pa.types.is_boolean(kind):
        return "boolean"
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return "number"
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        return "datetime"
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return "string"
    if pa.types.is_null(kind):
        return "null"
    return "other"


def _infer_kind(kind: pa.DataType, sample: pa.ChunkedArray | None) -> str:
    family = _family(kind)
    if family in ("number", "null"):
        return "numeric"
    if family == "boolean":
        return "boolean"
    if family == "datetime":
        return "datetime"
    if family == "string" and sample is not None:
        values = sample.drop_null()
        if len(values):
            mean_length = float(pc.mean(pc.utf8_length(_decode(values))).as_py() or 0.0)
            distinct = len(pc.unique(values)) / len(values)
            if mean_length >= 50 or (mean_length >= 20 and distinct > 0.5):
                return "text"
    return "categorical"


def _decode(array: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    if pa.types.is_dictionary(array.type):
        if isinstance(array, pa.ChunkedArray):
            return pa.chunked_array([c.dictionary_decode() for c in array.chunks], type=array.type.value_type)
        return array.dictionary_decode()
    return array


def _type_name(kind: pa.DataType) -> str:
    return str(kind.value_type) if pa.types.is_dictionary(kind) else str(kind)


_COMPATIBLE = {"numeric": {"number", "null", "boolean"}, "datetime": {"datetime", "null"},
               "text": {"string", "null"}, "boolean": {"boolean", "number", "null"},
               "categorical": {"string", "number", "boolean", "datetime", "null"}}
_FOUND = {"number": "numbers", "string": "text", "boolean": "booleans", "datetime": "timestamps", "null": "nulls",
          "other": "nested or binary values"}


def _mismatch(kind: str, arrow: pa.DataType) -> str | None:
    family = _family(arrow)
    if family in _COMPATIBLE[kind]:
        return None
    return f"{kind} in the reference, but {_FOUND[family]} ({_type_name(arrow)}) here"


def as_floats(array: pa.Array | pa.ChunkedArray, kind: str) -> np.ndarray:
    """float64 values of a column, NaN for missing (read-only when they can be a view of Arrow's buffer).

    Timestamps and dates are seconds since the epoch; with ``kind="datetime"``, strings are parsed as ISO 8601
    first. Anything else is cast to float64 (``pyarrow.ArrowInvalid`` when it cannot be).

    >>> import pyarrow as pa
    >>> as_floats(pa.array(["1970-01-01T00:01:00", None]), "datetime").tolist()
    [60.0, nan]
    """
    array = _decode(array)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks() if array.num_chunks != 1 else array.chunk(0)
    arrow = array.type
    if kind == "datetime" and _family(arrow) == "string":
        array = pc.cast(array, pa.timestamp("us"))
        arrow = array.type
    if pa.types.is_date32(arrow):
        return as_floats(pc.cast(array, pa.int32()), "numeric") * 86_400.0
    if pa.types.is_date64(arrow):
        return as_floats(pc.cast(array, pa.int64()), "numeric") / 1e3
    if pa.types.is_timestamp(arrow):
        per_second = {"s": 1.0, "ms": 1e3, "us": 1e6, "ns": 1e9}[arrow.unit]
        return as_floats(pc.cast(array, pa.int64()), "numeric") / per_second
    if pa.types.is_null(arrow):
        return np.full(len(array), np.nan)
    if not pa.types.is_floating(arrow) or arrow != pa.float64():
        array = pc.cast(array, pa.float64(), safe=False)
    if array.null_count:
        array = pc.fill_null(array, np.nan)
    buffer = array.buffers()[1]
    return np.frombuffer(buffer, dtype=np.float64, count=len(array), offset=array.offset * 8)


def _category_counts(array: pa.Array | pa.ChunkedArray, kind: str) -> tuple[list[str], np.ndarray, int]:
    array = _decode(array)
    missing = array.null_count
    if kind == "boolean" and not pa.types.is_boolean(array.type):
        array = pc.cast(array, pa.bool_())
    if pa.types.is_floating(array.type):  # NaN is missing too
        nan = pc.is_nan(array)
        missing += int(pc.sum(pc.cast(pc.fill_null(nan, False), pa.int64())).as_py() or 0)
        array = pc.filter(array, pc.invert(pc.fill_null(nan, True)))
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        array = pc.cast(array, pa.string())
    counted = pc.value_counts(array.drop_null())
    values = counted.field("values").to_pylist()
    counts = np.asarray(counted.field("counts").to_numpy(zero_copy_only=False), dtype=np.int64)
    return values, counts, missing


# --- building ------------------------------------------------------------------------------------------------------

def _gridded_kind(kind: str) -> bool:
    return kind in ("numeric", "datetime", "text")


def _grid_values(array: pa.Array | pa.ChunkedArray, kind: str) -> np.ndarray:
    if kind == "text":
        lengths = pc.cast(pc.utf8_length(_decode(array)), pa.float64())
        return as_floats(lengths, "numeric")
    return as_floats(array, kind)


def _empty_state(kind: str, values: np.ndarray | None, config: ProfileConfig) -> ColumnState:
    """A reference column's empty state, its grid placed by ``values`` (which may be none or all missing)."""
    if kind == "categorical" or kind == "boolean":
        return CategoricalState.empty(kind, config.max_categories)
    finite = values[np.isfinite(values)] if values is not None else np.empty(0)
    if finite.size == 0:
        return BrokenState(kind, "all_missing", "no finite values in the reference: nothing to place bins by")
    fine, coarse = grids(finite, config.fine_bins, config.bins)
    length = NumericState.empty(fine, coarse, "numeric" if kind == "text" else kind)
    return TextState(length) if kind == "text" else length


def _update(state: ColumnState, array: pa.Array | pa.ChunkedArray, config: ProfileConfig) -> ColumnState:
    if isinstance(state, BrokenState):
        missing = array.null_count
        if pa.types.is_floating(array.type):
            missing += int(pc.sum(pc.cast(pc.fill_null(pc.is_nan(array), False), pa.int64())).as_py() or 0)
        return state.update_rows(len(array), missing)
    mismatch = _mismatch(state.kind, array.type)
    if mismatch is not None:
        return BrokenState(state.kind, "type_mismatch", mismatch, state.rows + len(array), array.null_count)
    if isinstance(state, NumericState):
        return state.update(as_floats(array, state.kind))
    if isinstance(state, TextState):
        f = text_features(array, config.refusal_phrases)
        return state.update(f.lengths, f.empty, f.json, f.refusal)
    values, counts, missing = _category_counts(array, state.kind)
    return state.update(values, counts, missing, len(array))


def _grid_id(columns: Mapping[str, ColumnState], config: ProfileConfig) -> str:
    h = hashlib.sha256()
    h.update(json.dumps({k: v for k, v in config.to_dict().items() if k not in ("grid_sample", "seed")},
                        sort_keys=True).encode())
    for name in sorted(columns):
        state = columns[name]
        grid = state.length if isinstance(state, TextState) else state
        h.update(f"\0{name}\0{state.kind}\0{type(state).__name__}".encode())
        if isinstance(grid, NumericState):
            h.update(grid.edges.tobytes())
            h.update(grid.coarse.tobytes())
    return h.hexdigest()[:16]


def _whole_numeric(values: np.ndarray, kind: str, config: ProfileConfig) -> ColumnState:
    """The full state of a numeric column in memory from one sort: grid and counts alike."""
    ordered = np.sort(values)  # NaN last, ±inf at the ends
    present = ordered.size - int(np.isnan(ordered).sum()) if ordered.size and np.isnan(ordered[-1]) else ordered.size
    low = int(np.searchsorted(ordered[:present], -np.inf, side="right"))
    high = int(np.searchsorted(ordered[:present], np.inf, side="left"))
    if high <= low:
        broken = BrokenState(kind, "all_missing", "no finite values in the reference: nothing to place bins by")
        return broken.update_rows(values.size, values.size - present)
    fine, coarse = grids_of_sorted(ordered[low:high], config.fine_bins, config.bins)
    return NumericState.empty(fine, coarse, kind).update_sorted(ordered)


def _reference_states(source: TableSource, names: list[str], kinds: Mapping[str, str], config: ProfileConfig,
                      whole: pa.Table | None) -> tuple[dict[str, ColumnState], set[str]]:
    """States with grids (from every value when the table is in memory, else from a seeded sample), and the
    columns whose state is already complete (numeric columns of a table in memory: one sort does both)."""
    gridded = [n for n in names if _gridded_kind(kinds[n]) and _mismatch(kinds[n], source.schema.field(n).type)
               is None]
    samples: dict[str, np.ndarray] = {}
    done: dict[str, ColumnState] = {}
    if whole is not None:
        done = {n: _whole_numeric(as_floats(whole.column(n), kinds[n]), kinds[n], config)
                for n in gridded if kinds[n] != "text"}
        samples = {n: _grid_values(whole.column(n), kinds[n]) for n in gridded if n not in done}
    elif gridded:
        samples = _sampled(source, gridded, kinds, config)
    states: dict[str, ColumnState] = dict(done)
    for name in names:
        mismatch = _mismatch(kinds[name], source.schema.field(name).type)
        if name in done:
            continue
        if mismatch is not None:
            states[name] = BrokenState(kinds[name], "type_mismatch",
                                       mismatch.replace(" in the reference, but", ", but"))
        else:
            states[name] = _empty_state(kinds[name], samples.get(name), config)
    return states, set(done)


def _sampled(source: TableSource, names: list[str], kinds: Mapping[str, str],
             config: ProfileConfig) -> dict[str, np.ndarray]:
    """A uniform sample of at most ``grid_sample`` values per column: the values with the smallest random keys."""
    rng = np.random.default_rng(config.seed)
    cap = config.grid_sample
    keys: np.ndarray = np.empty(0)
    kept: dict[str, np.ndarray] = {n: np.empty(0) for n in names}
    for batch in source.batches(names):
        fresh = rng.random(batch.num_rows)
        keys = np.concatenate([keys, fresh])
        for n in names:
            kept[n] = np.concatenate([kept[n], _grid_values(batch.column(n), kinds[n])])
        if keys.size > cap:
            keep = np.argpartition(keys, cap)[:cap]
            keys = keys[keep]
            kept = {n: v[keep] for n, v in kept.items()}
    return kept


def _batches(source: TableSource, names: list[str], whole: pa.Table | None) -> Iterator[pa.RecordBatch | pa.Table]:
    if whole is not None:
        yield whole.select(names)
    else:
        yield from source.batches(names)


def _read_whole(source: TableSource, names: list[str], config: ProfileConfig) -> pa.Table | None:
    if source.in_memory:
        return source.read(names)
    rows = source.num_rows
    if (rows is not None and rows <= config.grid_sample) or (rows is None and source.size_bytes <= _READ_WHOLE_BYTES):
        return source.read(names)
    return None


def profile(source: Any, *, like: Profile | str | os.PathLike[str] | None = None,
            columns: Sequence[str] | None = None, kinds: Mapping[str, str] | None = None,
            fine_bins: int = 200, bins: int = 10, refusal_phrases: Sequence[str] = DEFAULT_REFUSAL_PHRASES,
            max_categories: int = DEFAULT_MAX_CATEGORIES, grid_sample: int = 1_000_000, seed: int = 0,
            name: str | None = None, encoding: str | None = None, format: str | None = None,
            progress: Progress | None = None) -> Profile:
    """Profile a table (a path, ``"-"`` for standard input, a pyarrow Table, a pandas or polars DataFrame, a dict
    of arrays); ``encoding`` and ``format`` are those of :func:`~assay.data.tables.open_table`.

    Without ``like`` this is a reference profile: kinds are inferred (``kinds`` overrides some), grids placed.
    With ``like`` (a :class:`Profile` or its path), the reference's columns, kinds, grids and settings are used;
    kinds, or bins and text settings other than the reference's, are refused (``grid_sample`` and ``seed`` only
    place a reference's grid and do not matter here).

    >>> ref = profile({"x": [1.0, 2.0, 3.0, 4.0], "c": ["a", "b", "a", None]})
    >>> ref.kinds, ref.rows
    ({'x': 'numeric', 'c': 'categorical'}, 4)
    >>> cur = profile({"x": [2.0, 9.0], "c": ["a", "z"]}, like=ref)
    >>> cur.columns["x"].counts.sum(), dict(cur.columns["c"].counts)
    (np.int64(2), {'a': 1, 'z': 1})
    """
    src = source if isinstance(source, TableSource) else open_table(source, name=name, encoding=encoding,
                                                                    format=format)
    reference = load_profile(like) if isinstance(like, str | os.PathLike) else like
    if reference is not None:
        refuse_changed_settings(reference, kinds=kinds, fine_bins=fine_bins, bins=bins,
                                refusal_phrases=refusal_phrases, max_categories=max_categories)
        config = reference.config
        wanted = list(reference.columns) if columns is None else list(columns)
        unknown = [c for c in wanted if c not in reference.columns]
        if unknown:
            raise ConfigError(message(where=f"columns {unknown}", expected="columns of the reference profile",
                                      found=f"columns not in {reference.source!r}",
                                      fix=f"choose among {sorted(reference.columns)}"))
        names = [c for c in wanted if c in src.columns]
        states: dict[str, ColumnState] = {c: _cleared(reference.columns[c]) for c in names}
        complete: set[str] = set()
        whole = _read_whole(src, names, config) if names else None
    else:
        config = ProfileConfig(fine_bins, bins, tuple(refusal_phrases), max_categories, grid_sample, seed)
        grids(np.zeros(1), fine_bins, bins)  # validates fine_bins and bins before any reading
        names = list(src.columns) if columns is None else list(columns)
        src.check_columns(names)
        kinds_given = dict(kinds or {})
        bad = {k: v for k, v in kinds_given.items() if v not in KINDS}
        if bad:
            raise ConfigError(message(where=f"kind of {sorted(bad)}", expected=f"one of {', '.join(KINDS)}",
                                      found=str(bad), fix="e.g. --kind zip=categorical"))
        unknown = [k for k in kinds_given if k not in names]
        if unknown:
            raise ConfigError(message(where=f"kind given for {unknown}", expected="columns of the table",
                                      found=f"columns not in {src.name}", fix=f"choose among {src.columns}"))
        whole = _read_whole(src, names, config) if names else None
        strings = [n for n in names if n not in kinds_given and _family(src.schema.field(n).type) == "string"]
        first = whole if whole is not None else (next(iter(src.batches(strings)), None) if strings else None)
        resolved = {n: kinds_given.get(n) or _infer_kind(src.schema.field(n).type,
                                                         _column(first, n) if n in strings else None)
                    for n in names}
        states, complete = _reference_states(src, names, resolved, config, whole)
    rows = 0
    total = src.num_rows
    pending = [n for n in names if n not in complete]
    for batch in _batches(src, names, whole):
        for n in pending:
            states[n] = _update(states[n], batch.column(n), config)
        rows += batch.num_rows
        if progress is not None:
            progress(rows, total)
    if not names:
        rows = src.num_rows if src.num_rows is not None else sum(b.num_rows for b in src.batches())
    types = {n: _type_name(src.schema.field(n).type) for n in names}
    if reference is not None:
        return Profile(states, types, rows, (src.name,), reference.grid_source, reference.grid_id, config,
                       given_kinds=reference.given_kinds)
    return Profile(states, types, rows, (src.name,), src.name, _grid_id(states, config), config,
                   given_kinds=tuple(sorted(kinds or {})))


def _column(table: pa.Table | pa.RecordBatch | None, name: str) -> pa.ChunkedArray | None:
    if table is None:
        return None
    column = table.column(name)
    return column if isinstance(column, pa.ChunkedArray) else pa.chunked_array([column])


def _cleared(state: ColumnState) -> ColumnState:
    """An empty state on the same grid as a reference state."""
    if isinstance(state, NumericState):
        return NumericState.empty(state.edges, state.coarse, state.kind)
    if isinstance(state, TextState):
        return TextState(NumericState.empty(state.length.edges, state.length.coarse, state.length.kind))
    if isinstance(state, CategoricalState):
        return CategoricalState.empty(state.kind, state.max_categories)
    return BrokenState(state.kind, state.status, state.reason)


def merge_profiles(profiles: Iterable[Profile]) -> Profile:
    """The merge of several profiles on one grid, in order."""
    items = list(profiles)
    if not items:
        raise InputError("no profiles to merge")
    out = items[0]
    for p in items[1:]:
        out = out.merge(p)
    return out

