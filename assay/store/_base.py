"""What every run store shares: the run's records, the references to runs, and the behaviour of every backend.

A reference (``ref``) to a run is one of:

====================================  ===========================================================
``<run id>``                          the run with exactly this id
``<prefix>``                          the one run whose id starts with it (at least 6 characters)
``@latest`` / ``@latest:NAME``        the newest run (by ``created_at``), of any model or of model NAME
``@promoted`` / ``@promoted:NAME``    the run promoted last, of any model or of model NAME
====================================  ===========================================================

Both backends (:class:`~assay.store._sqlite.SQLiteStore` and the in-memory double
:class:`~assay.store._memory.MemoryStore`) build on :class:`StoreBase` here (validation, references, lineage) and
implement only a handful of primitive reads and atomic writes, so one contract test suite holds them to the same
behaviour. Imports run one way: the backends and :mod:`assay.store.runs` import this module, which imports none
of them.

>>> from assay.store import MemoryStore
>>> store = MemoryStore(git_commit=None)
>>> doc = {"schema": "assay.run/1", "run_id": "0123456789ab", "model": {"name": "fraud", "version": "7"},
...        "dataset": {"name": "holdout", "fingerprint": "sha256:00"}, "metrics": {}}
>>> store.add(doc)
'0123456789ab'
>>> store.get("012345")["model"]["name"], store.promote("@latest").promoted
('fraud', True)
"""

from __future__ import annotations

import abc
import hashlib
import json
import os
import re
import subprocess
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, NoReturn, Protocol

from assay.errors import ConfigError, InputError, message

__all__ = [
    "MIN_PREFIX",
    "SCHEMA",
    "Clock",
    "GitLookup",
    "Promotion",
    "Record",
    "RunInfo",
    "RunStore",
    "StoreBase",
    "StoreError",
    "check_run",
    "current_git_commit",
    "git_commit_here",
]

SCHEMA = "assay.run/1"
MIN_PREFIX = 6
Clock = Callable[[], datetime]
GitLookup = Callable[[], str | None]

_LIST_HINT = "see the runs with `assay runs list`"
_PROMOTE_HINT = "promote one with `assay runs promote <run-id>`"
_ADD_HINT = "add one with `assay runs add RUN.json`"


class StoreError(InputError):
    """A run cannot be added or found: not a run document, an id clash, an unknown or ambiguous reference."""


@dataclass(frozen=True)
class RunInfo:
    """One row of the store: what identifies a run, without its metrics."""

    run_id: str
    model_name: str | None
    model_version: str | None
    dataset_name: str | None
    fingerprint: str
    task: str | None
    created_at: str | None
    added_at: str
    git_commit: str | None
    source: str | None
    promoted: bool
    """Whether this run is the current promoted run of its model name."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Promotion:
    """One entry of a model's promotion history."""

    run_id: str
    model_name: str
    promoted_at: str
    note: str | None


class RunStore(Protocol):
    """What every run store offers. ``ref`` is a run id, an id prefix, ``@latest[:NAME]`` or ``@promoted[:NAME]``."""

    @property
    def location(self) -> str:
        """Where the runs live (a file path, or ``"memory"``), for messages."""
        ...

    def add(self, doc: dict[str, Any], *, source: str | None = None) -> str: ...

    def get(self, ref: str) -> dict[str, Any]: ...

    def list(self, *, model: str | None = None, limit: int = 50) -> list[RunInfo]: ...

    def promote(self, ref: str, *, note: str | None = None) -> RunInfo: ...

    def lineage(self, ref: str) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Record:
    """What a backend stores for one run: its :class:`RunInfo` fields, the document and the document's sha256."""

    run_id: str
    model_name: str | None
    model_version: str | None
    dataset_name: str | None
    fingerprint: str
    task: str | None
    created_at: str | None  # the document's created_at in UTC, so that text order is time order
    added_at: str
    git_commit: str | None
    source: str | None
    document: str  # the JSON text, in the document's key order
    sha256: str  # of the JSON text with sorted keys, so that key order does not make a document different

    def info(self, *, promoted: bool) -> RunInfo:
        return RunInfo(self.run_id, self.model_name, self.model_version, self.dataset_name, self.fingerprint,
                       self.task, self.created_at, self.added_at, self.git_commit, self.source, promoted)


# -- validation ----------------------------------------------------------------------------------------------------


def check_run(doc: Any, *, source: str | None = None) -> dict[str, Any]:
    """Check that ``doc`` is a run document the store can keep; return it, or raise :class:`StoreError`.

    Required: ``schema == "assay.run/1"``, a string ``run_id`` (not starting with ``@``), ``model`` (an object with
    an optional string ``name`` and ``version``), ``dataset.fingerprint`` (a string) and ``metrics`` (an object of
    objects); ``created_at``, when present, must be an ISO 8601 time.

    >>> check_run({"schema": "assay.run/1", "run_id": "r1", "model": {}, "dataset": {}, "metrics": {}},
    ...           source="r.json")
    Traceback (most recent call last):
    ...
    assay.store._base.StoreError: r.json: expected an assay run document (schema 'assay.run/1') with run_id,
    model, dataset.fingerprint and metrics, found no 'dataset.fingerprint'. Fix: write run documents with
    `assay evaluate ... --out run.json`
    """
    where = source or "the run document"
    if isinstance(doc, dict) and isinstance(doc.get("run_id"), str) and source is None:
        where = f"run document {doc['run_id']!r}"

    def fail(found: str) -> StoreError:
        return StoreError(message(
            where=where,
            expected=f"an assay run document (schema {SCHEMA!r}) with run_id, model, dataset.fingerprint and "
            "metrics",
            found=found,
            fix="write run documents with `assay evaluate ... --out run.json`",
        ))

    if not isinstance(doc, dict):
        raise fail(f"a JSON {_json_kind(doc)}")
    if "schema" not in doc:
        raise fail("no 'schema'")
    if doc["schema"] != SCHEMA:
        raise fail(f"schema {doc['schema']!r}")
    missing = [key for key in ("run_id", "model", "dataset", "metrics") if key not in doc]
    if isinstance(doc.get("dataset"), dict) and "fingerprint" not in doc["dataset"]:
        missing.append("dataset.fingerprint")
    if missing:
        raise fail("no " + ", no ".join(repr(key) for key in missing))
    run_id = doc["run_id"]
    if not isinstance(run_id, str) or not run_id.strip() or run_id.startswith("@") or run_id != run_id.strip():
        raise fail(f"'run_id' {run_id!r} (it must be a non-empty string without surrounding spaces, not "
                   "starting with '@')")
    model = doc["model"]
    if not isinstance(model, dict):
        raise fail(f"'model' as a JSON {_json_kind(model)}, not an object")
    for key in ("name", "version"):
        if model.get(key) is not None and not isinstance(model[key], str):
            raise fail(f"'model.{key}' {model[key]!r}, not a string or null")
    dataset = doc["dataset"]
    if not isinstance(dataset, dict):
        raise fail(f"'dataset' as a JSON {_json_kind(dataset)}, not an object")
    if not isinstance(dataset["fingerprint"], str) or not dataset["fingerprint"]:
        raise fail(f"'dataset.fingerprint' {dataset['fingerprint']!r}, not a non-empty string")
    metrics = doc["metrics"]
    if not isinstance(metrics, dict) or not all(isinstance(entry, dict) for entry in metrics.values()):
        raise fail("'metrics' that is not an object of metric objects")
    if doc.get("created_at") is not None:
        try:
            _utc(doc["created_at"])
        except (TypeError, ValueError):
            raise fail(f"'created_at' {doc['created_at']!r}, not an ISO 8601 time") from None
    return doc


def _json_kind(value: Any) -> str:
    kinds = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else kinds.get(type(value), type(value).__name__)


def _utc(text: Any) -> str:
    """An ISO 8601 time as UTC with microseconds, so that comparing the text compares the times."""
    if not isinstance(text, str):
        raise TypeError(text)
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _stamp(now: Clock) -> str:
    moment = now()
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def current_git_commit(cwd: str | os.PathLike[str] | None = None, *, timeout: float = 2.0) -> str | None:
    """The commit checked out in the git repository around ``cwd`` (``git rev-parse HEAD``), or None.

    None when ``cwd`` is not inside a repository, git is not installed, or it does not answer within ``timeout``
    seconds.
    """
    try:
        result = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True,
                                timeout=timeout, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = result.stdout.strip()
    if result.returncode != 0 or not re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", commit):
        return None
    return commit


def git_commit_here() -> str | None:
    """:func:`current_git_commit` of the current directory: the stores' default ``git_commit``."""
    return current_git_commit()


# -- references ----------------------------------------------------------------------------------------------------


def _parse_ref(ref: Any) -> tuple[str, str | None]:
    """``("id", text)``, ``("latest", model or None)`` or ``("promoted", model or None)``."""
    if not isinstance(ref, str) or not ref.strip():
        raise StoreError(_ref_message(ref, f"{ref!r}"))
    ref = ref.strip()
    if not ref.startswith("@"):
        return "id", ref
    kind, sep, model = ref[1:].partition(":")
    if kind not in ("latest", "promoted") or (sep and not model.strip()):
        raise StoreError(_ref_message(ref, f"{ref!r}"))
    return kind, model.strip() if sep else None


def _ref_message(ref: Any, found: str) -> str:
    return message(
        where=f"run reference {ref!r}",
        expected=f"a run id, a unique id prefix of at least {MIN_PREFIX} characters, @latest, @latest:MODEL, "
        "@promoted or @promoted:MODEL",
        found=found,
        fix=_LIST_HINT,
    )


def _short(run_id: str) -> str:
    return run_id[:12]


# -- the shared behaviour of every backend -------------------------------------------------------------------------


class StoreBase(abc.ABC):
    """Validation, references, promotion rules and lineage, over a few primitives that each backend implements.

    ``now`` gives the time of ``add`` and ``promote`` (default: the current UTC time); ``git_commit`` is called at
    ``add`` time for the commit to record when the document has no ``config.git_commit`` (default:
    :func:`git_commit_here`; None records none).
    """

    def __init__(self, *, now: Clock | None = None, git_commit: GitLookup | None = git_commit_here) -> None:
        self._now: Clock = now or (lambda: datetime.now(UTC))
        self._git_commit = git_commit

    @property
    @abc.abstractmethod
    def location(self) -> str: ...

    # primitives ---------------------------------------------------------------------------------------------------

    @abc.abstractmethod
    def _put(self, record: Record) -> str | None:
        """Insert ``record`` unless its run id is present, atomically; return the present run's sha256, or None."""

    @abc.abstractmethod
    def _matching(self, text: str, *, prefix: bool, limit: int) -> list[RunInfo]:
        """Runs whose id equals ``text`` (or starts with it, when ``prefix``), at most ``limit``, sorted by id."""

    @abc.abstractmethod
    def _runs(self, *, model: str | None, limit: int) -> list[RunInfo]:
        """Runs (of ``model`` when given), newest first: by created_at (else added_at), then by order of adding."""

    @abc.abstractmethod
    def _load(self, run_id: str) -> tuple[RunInfo, dict[str, Any]]:
        """The info and the document of a run known to exist."""

    @abc.abstractmethod
    def _current_promotion(self, model: str | None) -> Promotion | None:
        """The last promotion (of ``model``, or of any model when None)."""

    @abc.abstractmethod
    def _history(self, model: str) -> list[Promotion]:
        """Every promotion of ``model``, oldest first."""

    @abc.abstractmethod
    def _promote(self, promotion: Promotion) -> None:
        """Record ``promotion`` unless its run is already the current promoted run of its model, atomically."""

    @abc.abstractmethod
    def _models(self) -> list[str]:
        """The model names in the store, sorted."""

    # the public API -----------------------------------------------------------------------------------------------

    def add(self, doc: dict[str, Any], *, source: str | None = None) -> str:
        """Keep a run document; return its run id.

        Adding the same document again does nothing; a different document under a run id already in the store
        raises :class:`StoreError`. ``source`` (the file it came from) is recorded for lineage. The git commit is
        ``config.git_commit`` of the document, else the checked-out commit of the current directory, if any.
        """
        check_run(doc, source=source)
        try:  # kept in its own key order (metrics are listed as evaluated); hashed in a canonical one
            document = json.dumps(doc, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
            canonical = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise StoreError(message(where=source or f"run document {doc['run_id']!r}", expected="JSON values",
                                     found=str(exc), fix="store the document as assay writes it")) from None
        sha256 = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
        config = doc.get("config")
        commit = config.get("git_commit") if isinstance(config, dict) else None
        if not isinstance(commit, str) or not commit:
            commit = self._git_commit() if self._git_commit is not None else None
        model, dataset = doc["model"], doc["dataset"]
        dataset_name = dataset.get("name")
        task = doc.get("task")
        record = Record(
            run_id=doc["run_id"],
            model_name=model.get("name"),
            model_version=model.get("version"),
            dataset_name=dataset_name if isinstance(dataset_name, str) else None,
            fingerprint=dataset["fingerprint"],
            task=task if isinstance(task, str) else None,
            created_at=_utc(doc["created_at"]) if doc.get("created_at") is not None else None,
            added_at=_stamp(self._now),
            git_commit=commit,
            source=source,
            document=document,
            sha256=sha256,
        )
        present = self._put(record)
        if present is not None and present != sha256:
            raise StoreError(message(
                where=source or f"run document {record.run_id!r}",
                expected="a new run id, or the same document as the run already stored under it",
                found=f"a different document under run id {record.run_id!r}, already in {self.location}",
                fix="give the new run its own run_id (assay evaluate makes a fresh one for every run)",
            ))
        return record.run_id

    def get(self, ref: str) -> dict[str, Any]:
        """The run document ``ref`` refers to (a fresh copy)."""
        return self._load(self.resolve(ref))[1]

    def info(self, ref: str) -> RunInfo:
        """The :class:`RunInfo` of the run ``ref`` refers to."""
        return self._load(self.resolve(ref))[0]

    def list(self, *, model: str | None = None, limit: int = 50) -> list[RunInfo]:
        """At most ``limit`` runs (of model name ``model`` when given), newest first."""
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ConfigError(message(where="limit", expected="a whole number of runs, at least 1",
                                      found=repr(limit), fix="pass --limit 1 or more"))
        return self._runs(model=model, limit=limit)

    def promote(self, ref: str, *, note: str | None = None) -> RunInfo:
        """Make the run ``ref`` refers to the promoted run of its model name.

        The previously promoted run of that model stays in the promotion history. Promoting the run that is
        already the current one changes nothing (and records no new entry).
        """
        info = self.info(ref)
        if info.model_name is None:
            raise StoreError(message(
                where=f"run {_short(info.run_id)}",
                expected="a model name (runs are promoted per model name)",
                found="a run without one",
                fix="evaluate with --model-name NAME (model_name=... in Python) and add that run",
            ))
        self._promote(Promotion(info.run_id, info.model_name, _stamp(self._now), note))
        return self._load(info.run_id)[0]

    def lineage(self, ref: str) -> dict[str, Any]:
        """Where a run comes from: model, version, dataset, git commit, config, times, and its promotions.

        Each promotion says when it happened, its note, and when (and by which run) it was superseded.
        """
        info, doc = self._load(self.resolve(ref))
        history = self._history(info.model_name) if info.model_name is not None else []
        promotions = []
        for i, entry in enumerate(history):
            if entry.run_id != info.run_id:
                continue
            after = history[i + 1] if i + 1 < len(history) else None
            promotions.append({
                "promoted_at": entry.promoted_at,
                "note": entry.note,
                "superseded_at": after.promoted_at if after else None,
                "superseded_by": after.run_id if after else None,
            })
        dataset = doc.get("dataset", {})
        return {
            "run_id": info.run_id,
            "model": {"name": info.model_name, "version": info.model_version},
            "task": info.task,
            "dataset": {"name": info.dataset_name, "fingerprint": info.fingerprint, "rows": dataset.get("rows")},
            "git_commit": info.git_commit,
            "config": doc.get("config"),
            "assay_version": doc.get("assay_version"),
            "created_at": doc.get("created_at"),
            "added_at": info.added_at,
            "source": info.source,
            "promoted": info.promoted,
            "promotions": promotions,
        }

    def resolve(self, ref: str) -> str:
        """The run id ``ref`` refers to, or :class:`StoreError` saying what matched and how to see the runs."""
        kind, arg = _parse_ref(ref)
        if kind == "promoted":
            promotion = self._current_promotion(arg)
            if promotion is None:
                if arg is None:
                    raise StoreError(f"no promoted run yet: {_PROMOTE_HINT}")
                if not self._runs(model=arg, limit=1):
                    self._unknown_model(arg)
                raise StoreError(f"no promoted run of model {arg!r} yet: {_PROMOTE_HINT}")
            return promotion.run_id
        if kind == "latest":
            newest = self._runs(model=arg, limit=1)
            if not newest:
                if arg is None:
                    raise StoreError(f"no runs in {self.location} yet: {_ADD_HINT}")
                self._unknown_model(arg)
            return newest[0].run_id
        assert arg is not None
        exact = self._matching(arg, prefix=False, limit=1)
        if exact:
            return exact[0].run_id
        if len(arg) < MIN_PREFIX:
            raise StoreError(_ref_message(arg, f"no run with this id, and {len(arg)} characters are too few for a "
                                               "prefix"))
        found = self._matching(arg, prefix=True, limit=11)
        if len(found) == 1:
            return found[0].run_id
        if not found:
            raise StoreError(message(where=f"run reference {arg!r}", expected="the id or id prefix of a stored run",
                                     found=f"no such run in {self.location}", fix=_LIST_HINT))
        shown = ", ".join(f"{r.run_id} ({r.model_name or 'no model name'}, {r.created_at or r.added_at})"
                          for r in found[:10])
        more = " and more" if len(found) > 10 else ""
        raise StoreError(message(where=f"run reference {arg!r}", expected="a prefix that matches one run",
                                 found=f"{len(found)}{'+' if more else ''} runs: {shown}{more}",
                                 fix="give more characters of the run id"))

    def _unknown_model(self, model: str) -> NoReturn:
        """Raise the error for a model name without runs, naming the model names there are."""
        models = self._models()
        known = ", ".join(repr(m) for m in models[:20]) if models else "none"
        raise StoreError(message(where=f"model {model!r}", expected=f"runs of this model in {self.location}",
                                 found=f"none; the model names stored are: {known}", fix=_LIST_HINT))
