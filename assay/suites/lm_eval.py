"""Import lm-evaluation-harness output (``results_<datetime>.json``, optionally its ``samples_<task>_<datetime>.jsonl``
files) into an assay run document.

Metrics come from the results file: ``results`` (subtasks) and ``groups``, keys ``"<metric>,<filter>"`` with
``"<metric>_stderr,<filter>"`` beside them. Each becomes ``"<task>/<metric>"`` (``"<task>/<metric>@<filter>"`` when
the filter is not ``none``), with lm-eval's stderr as ``se`` and ``n`` from ``n-samples`` (groups: ``sample_count``,
or the sum over their subtasks).

With samples, every item becomes a row of the sidecar (``id = "<task>/<doc_id>"``) and the fingerprint covers the item
ids and their ``doc_hash`` (the target when there is none). The samples are checked against the results: each
``(task, filter, doc_id)`` once, the same ``doc_hash`` wherever a ``(task, doc_id)`` repeats, the item count of each
task equal to ``n-samples`` effective, and the per-item mean of each mean-aggregated metric equal to the results
file's value to 1e-9. lm-eval's ``doc_hash`` is not recomputed.
"""

from __future__ import annotations

import json
import os
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from assay.errors import ConfigError, InputError, ReadError, message
from assay.evaluation.run import Run
from assay.suites._document import (
    Items,
    as_dict,
    build_run,
    check_confidence,
    fingerprint_items,
    fingerprint_tasks,
    metric_entry,
    number,
    read_json,
)

__all__ = ["import_lm_eval"]

TOLERANCE = 1e-9
_RESULTS_NAME = re.compile(r"^results_(?P<dt>[^_]+)\.json$")
_SAMPLES_NAME = re.compile(r"^samples_(?P<task>.+)_(?P<dt>[^_]+)\.jsonl$")
# Metrics known to lie in [0, 1] even without samples to show it.
_UNIT_METRICS = frozenset({"acc", "acc_norm", "acc_mutual_info", "exact_match", "em", "f1", "accuracy", "pass@1"})

Paths = str | os.PathLike[str]


def import_lm_eval(
    results_path: Paths,
    samples: Paths | Iterable[Paths] | None = None,
    *,
    items: Paths | None = None,
    model_name: str | None = None,
    model_version: str | None = None,
    confidence: float = 0.95,
    now: datetime | None = None,
) -> Run:
    """Read an lm-eval results file (and its samples) into a run document.

    ``samples`` is a samples file, a folder holding them (those with the results file's ``<datetime>`` are taken),
    or a list of either. ``items`` is where to write the item sidecar (Parquet); it needs ``samples``. The run's
    ``created_at`` is lm-eval's ``date``, or ``now`` (default: the current time) when the file has none.
    """
    z = check_confidence(confidence)
    path = Path(results_path)
    suite = _Suite.read(path)
    notes: list[str] = []
    docs: _Samples | None = None
    if samples is not None:
        files = _sample_files(samples, path, notes)
        docs = _read_samples(files, suite)
        _check_counts(docs, suite)
        notes += _check_means(docs, suite)
    elif items is not None:
        raise ConfigError(message(where="option --items", expected="--samples to build the item sidecar from",
                                  found="no samples", fix="pass --samples DIR (lm-eval's --log_samples output) or "
                                  "drop --items"))
    table = docs.items(suite) if docs is not None else None
    metrics, metric_notes = _metrics(suite, docs, z)
    notes += metric_notes
    if table is not None:
        ids = table.ids
        labels = [h if h is not None else t for h, t in zip(table.doc_hashes, table.targets)]
        dataset = {"fingerprint": fingerprint_items(ids, labels), "fingerprint_basis": "ids+targets",
                   "rows": len(table)}
    else:
        hashes = as_dict(suite.data.get("task_hashes"))
        counts = [suite.leaf_n(t) for t in suite.leaves]
        dataset = {"fingerprint": fingerprint_tasks(suite.leaves, counts, [hashes.get(t) for t in suite.leaves]),
                   "fingerprint_basis": "tasks+counts", "rows": sum(counts)}
        notes.append("no samples given: the fingerprint covers task names, item counts and task hashes, and no "
                     "item sidecar was written (pass --samples for paired comparisons)")
    dataset["name"] = "+".join(suite.top_level)
    notes += suite.notes()
    data = suite.data
    date = number(data.get("date"))
    created = datetime.fromtimestamp(date, UTC) if date is not None else (now or datetime.now(UTC))
    config: dict[str, Any] = {
        "confidence": confidence,
        "source": "lm-eval",
        "harness_version": data.get("lm_eval_version"),
        "primary_metric": next(iter(metrics)),
        "tasks": suite.leaves,
        "groups": suite.children,
        "n_shot": data.get("n-shot"),
        "task_hashes": data.get("task_hashes"),
        "filters": suite.filters(),
        "versions": data.get("versions"),
        "harness_config": data.get("config"),
    }
    model = {"name": model_name or data.get("model_name"), "version": model_version}
    items_ref = table.write(items) if table is not None and items is not None else None
    return build_run(created_at=created, model=model, dataset=dataset, config=config, metrics=metrics,
                     notes=notes, items=items_ref)


@dataclass
class _Suite:
    """The results file and its task tree."""

    path: Path
    data: dict[str, Any]
    entries: dict[str, dict[str, Any]]  # task or group -> its metrics entry
    children: dict[str, list[str]]  # group -> subtasks (or nested groups)
    leaves: list[str]  # tasks that are not groups
    top_level: list[str]
    parent: dict[str, str]
    sample_len_used: list[str] = field(default_factory=list)

    @classmethod
    def read(cls, path: Path) -> _Suite:
        data = read_json(path, "lm-eval results file")
        where = f"lm-eval results file {str(path)!r}"
        fix = "pass the results_<datetime>.json that lm-eval wrote with --output_path"
        if not isinstance(data, dict) or not isinstance(data.get("results"), dict):
            found = ("no field 'results'" if isinstance(data, dict) else f"a JSON {type(data).__name__}")
            raise ReadError(message(where=f"{where}, field 'results'", expected="an object of per-task metrics",
                                    found=found, fix=fix))
        entries: dict[str, dict[str, Any]] = {}
        for section in ("results", "groups"):
            value = data.get(section) or {}
            if not isinstance(value, dict):
                raise ReadError(message(where=f"{where}, field {section!r}", expected="an object keyed by task",
                                        found=f"a JSON {type(value).__name__}", fix=fix))
            for task, entry in value.items():
                if not isinstance(entry, dict):
                    raise ReadError(message(where=f"{where}, field '{section}.{task}'",
                                            expected="an object of metrics", found=f"a JSON {type(entry).__name__}",
                                            fix=fix))
                entries[task] = {**entries.get(task, {}), **entry}
        tree = as_dict(data.get("group_subtasks"))
        children = {g: [str(c) for c in subs] for g, subs in tree.items() if isinstance(subs, list) and subs}
        groups = set(children) | set(as_dict(data.get("groups")))
        parent = {c: g for g, subs in children.items() for c in subs}
        n_samples = as_dict(data.get("n-samples"))
        leaves = [t for t in [*entries, *n_samples] if t not in groups]
        leaves = list(dict.fromkeys(leaves))
        top = [t for t in [*children, *entries] if t not in parent]
        return cls(path, data, entries, children, leaves, list(dict.fromkeys(top)), parent)

    def top_of(self, task: str) -> str:
        seen = {task}
        while task in self.parent and self.parent[task] not in seen:
            task = self.parent[task]
            seen.add(task)
        return task

    def leaves_under(self, name: str) -> list[str]:
        if name not in self.children:
            return [name]
        out: list[str] = []
        stack = list(reversed(self.children[name]))
        seen = {name}
        while stack:
            t = stack.pop()
            if t in seen:
                continue
            seen.add(t)
            if t in self.children:
                stack.extend(reversed(self.children[t]))
            else:
                out.append(t)
        return out

    def order(self) -> list[str]:
        """Tasks and groups in reporting order: each top-level name, then what it contains, depth first."""
        out: list[str] = []

        def visit(name: str) -> None:
            if name in out:
                return
            out.append(name)
            for c in self.children.get(name, []):
                visit(c)

        for name in self.top_level:
            visit(name)
        return out + [t for t in self.entries if t not in out]

    def leaf_n(self, task: str) -> int:
        """``n-samples.<task>.effective`` (``sample_len`` when absent)."""
        info = as_dict(self.data.get("n-samples")).get(task)
        if isinstance(info, dict) and isinstance(info.get("effective"), int):
            return int(info["effective"])
        fallback = self.entries.get(task, {}).get("sample_len")
        if isinstance(fallback, int):
            self.sample_len_used.append(task)
            return fallback
        raise InputError(message(where=f"lm-eval results file {str(self.path)!r}, field 'n-samples.{task}'",
                                 expected="the effective item count of the task", found="none (nor a sample_len)",
                                 fix="pass the unedited results file of lm-eval >= 0.4"))

    def group_n(self, group: str, key: str) -> int:
        count = self.entries.get(group, {}).get("sample_count")
        if isinstance(count, dict) and isinstance(count.get(key), int):
            return int(count[key])
        if isinstance(count, int) and not isinstance(count, bool):
            return count
        return sum(self.leaf_n(t) for t in self.leaves_under(group) if t in self.leaves)

    def aggregation(self, task: str, metric: str) -> str | None:
        config = as_dict(as_dict(self.data.get("configs")).get(task))
        for item in config.get("metric_list") or []:
            if isinstance(item, dict) and item.get("metric") == metric:
                agg = item.get("aggregation")
                return str(agg) if agg is not None else None
        return None

    def filters(self) -> dict[str, list[str]]:
        return {t: sorted({k.partition(",")[2] for k in e if "," in k}) for t, e in self.entries.items()}

    def notes(self) -> list[str]:
        notes = []
        config = as_dict(self.data.get("config"))
        if config.get("limit") is not None:
            notes.append(f"lm-eval ran with limit={config['limit']}: the metrics cover part of each task only")
        if self.sample_len_used:
            notes.append("n-samples missing for " + ", ".join(sorted(set(self.sample_len_used))) +
                         ": n taken from sample_len")
        return notes


@dataclass
class _Doc:
    task: str
    doc_id: int
    doc_hash: str | None
    target: str
    where: str
    values: dict[str, float | None] = field(default_factory=dict)


@dataclass
class _Samples:
    docs: dict[tuple[str, int], _Doc] = field(default_factory=dict)
    counts: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    files: dict[str, list[Path]] = field(default_factory=lambda: defaultdict(list))
    non_numeric: set[tuple[str, str]] = field(default_factory=set)  # (task, column) with non-numeric item values

    def items(self, suite: _Suite) -> Items:
        out = Items()
        rank = {t: i for i, t in enumerate(suite.leaves)}
        for (task, doc_id), doc in sorted(self.docs.items(), key=lambda kv: (rank.get(kv[0][0], 0), kv[0][1])):
            out.add(id=f"{task}/{doc_id}", task=task, group=suite.top_of(task), doc_id=doc_id,
                    doc_hash=doc.doc_hash, target=doc.target, values=doc.values)
        return out


def _column(metric: str, filt: str) -> str:
    return metric if filt == "none" else f"{metric}@{filt}"


def _sample_files(samples: Paths | Iterable[Paths], results: Path, notes: list[str]) -> list[tuple[str, Path]]:
    """``(task, path)`` of every samples file named or found in a named folder."""
    given = [samples] if isinstance(samples, (str, os.PathLike)) else list(samples)
    match = _RESULTS_NAME.match(results.name)
    stamp = match.group("dt") if match else None
    found: dict[Path, str] = {}
    for entry in given:
        p = Path(entry)
        if p.is_dir():
            candidates = sorted((q, m) for q in p.glob("samples_*.jsonl") if (m := _SAMPLES_NAME.match(q.name)))
            mine = [(q, m) for q, m in candidates if stamp is None or m.group("dt") == stamp]
            if not mine:
                wanted = f"samples_<task>_{stamp}.jsonl" if stamp else "samples_<task>_<datetime>.jsonl"
                raise ReadError(message(where=f"samples folder {str(p)!r}", expected=f"files named {wanted}",
                                        found=f"{len(candidates)} samples files, none of this run",
                                        fix="pass the folder lm-eval wrote with --log_samples, or the files"))
            if len(mine) < len(candidates):
                notes.append(f"{len(candidates) - len(mine)} samples files of other runs in {p} were ignored")
            for q, m in mine:
                found.setdefault(q.resolve(), m.group("task"))
        elif p.is_file():
            m = _SAMPLES_NAME.match(p.name)
            if m is None:
                raise ReadError(message(where=f"samples file {str(p)!r}", expected="lm-eval's file name "
                                        "samples_<task>_<datetime>.jsonl (the task is read from it)",
                                        found=repr(p.name), fix="keep the name lm-eval gave the file"))
            found.setdefault(p.resolve(), m.group("task"))
        else:
            raise ReadError(message(where=f"samples path {str(p)!r}", expected="a samples file or a folder",
                                    found="nothing at that path", fix="check the path"))
    return [(task, path) for path, task in found.items()]


def _read_samples(files: list[tuple[str, Path]], suite: _Suite) -> _Samples:
    out = _Samples()
    seen: dict[tuple[str, str, int], str] = {}
    for task, path in files:
        if task not in suite.leaves:
            known = ", ".join(suite.leaves) or "none"
            raise InputError(message(where=f"samples file {str(path)!r}",
                                     expected=f"samples of a task of {str(suite.path)!r} ({known})",
                                     found=f"samples of task {task!r}, absent from the results",
                                     fix="pass the samples files written together with this results file"))
        out.files[task].append(path)
        try:
            with open(path, encoding="utf-8") as f:
                for lineno, line in enumerate(f, start=1):
                    if line.strip():
                        _read_line(line, task, f"samples file {str(path)!r}, line {lineno}", suite, out, seen)
        except UnicodeDecodeError as exc:
            raise ReadError(message(where=f"samples file {str(path)!r}", expected="UTF-8 JSON Lines",
                                    found="bytes that are not UTF-8", fix="pass the file lm-eval wrote")) from exc
        except OSError as exc:
            raise ReadError(message(where=f"samples file {str(path)!r}", expected="a readable file",
                                    found=exc.strerror or type(exc).__name__,
                                    fix="check the path and its permissions")) from exc
    return out


def _read_line(line: str, task: str, where: str, suite: _Suite, out: _Samples,
               seen: dict[tuple[str, str, int], str]) -> None:
    try:
        rec = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ReadError(message(where=where, expected="one JSON object per line",
                                found=f"invalid JSON at column {exc.colno} ({exc.msg})",
                                fix="the file is truncated or was edited; use the file lm-eval wrote")) from exc
    if not isinstance(rec, dict):
        raise ReadError(message(where=where, expected="a JSON object", found=f"a JSON {type(rec).__name__}",
                                fix="use the samples file lm-eval wrote"))
    doc_id = rec.get("doc_id")
    if isinstance(doc_id, bool) or not isinstance(doc_id, int):
        raise ReadError(message(where=f"{where}, field 'doc_id'", expected="an integer", found=repr(doc_id),
                                fix="use the samples file lm-eval wrote"))
    filt = str(rec.get("filter", "none"))
    key = (task, filt, doc_id)
    if key in seen:
        raise InputError(message(where=where, expected=f"each doc_id once per task and filter in {task!r}",
                                 found=f"doc_id {doc_id} (filter {filt!r}) again, first at {seen[key]}",
                                 fix="pass each samples file once, and only the files of one run"))
    seen[key] = where
    out.counts[(task, filt)] += 1
    doc_hash = rec.get("doc_hash")
    doc_hash = str(doc_hash) if doc_hash is not None else None
    target = rec.get("target")
    target_text = target if isinstance(target, str) else json.dumps(target, sort_keys=True)
    names = rec.get("metrics")
    if not isinstance(names, list):  # older lm-eval: the metric names are the results' metric keys
        names = [k.partition(",")[0] for k in suite.entries.get(task, {}) if k.endswith(f",{filt}")]
    values: dict[str, float | None] = {}
    for name in names:
        column = _column(str(name), filt)
        value = rec.get(str(name))
        if isinstance(value, bool):
            value = float(value)
        num = number(value)
        if num is None and value is not None:
            out.non_numeric.add((task, column))
        values[column] = num
    doc = out.docs.get((task, doc_id))
    if doc is None:
        out.docs[(task, doc_id)] = _Doc(task, doc_id, doc_hash, target_text, where, values)
        return
    if doc.doc_hash != doc_hash:
        raise InputError(message(where=f"{where}, field 'doc_hash'",
                                 expected=f"the doc_hash of {task!r} doc_id {doc_id} at {doc.where} "
                                          f"({doc.doc_hash})", found=str(doc_hash),
                                 fix="the two lines describe different documents: pass the samples of one run"))
    doc.values.update(values)


def _check_counts(docs: _Samples, suite: _Suite) -> None:
    for task in suite.leaves:
        expected = suite.leaf_n(task)
        filters = sorted(f for (t, f) in docs.counts if t == task)
        if not filters:
            raise InputError(message(where=f"samples of {str(suite.path)!r}",
                                     expected=f"a samples file for task {task!r} ({expected} items)",
                                     found="none", fix=f"pass samples_{task}_<datetime>.jsonl too, or the folder "
                                     "that holds all samples files of the run"))
        for filt in filters:
            count = docs.counts[(task, filt)]
            if count != expected:
                files = ", ".join(repr(str(p)) for p in docs.files[task])
                raise InputError(message(where=f"samples file {files} (filter {filt!r})",
                                         expected=f"{expected} items, as n-samples.{task}.effective of "
                                                  f"{str(suite.path)!r} says", found=f"{count}",
                                         fix="the samples are incomplete or belong to another run: pass the "
                                             "samples files written together with this results file"))


def _check_means(docs: _Samples, suite: _Suite) -> list[str]:
    """Check each mean-aggregated metric against the results; drop item columns a gate cannot average."""
    notes: list[str] = []
    by_task: dict[str, list[_Doc]] = defaultdict(list)
    for doc in docs.docs.values():
        by_task[doc.task].append(doc)
    drop: set[str] = set()
    for task, rows in by_task.items():
        columns = sorted({c for d in rows for c in d.values})
        for column in columns:
            metric, _, filt = column.partition("@")
            filt = filt or "none"
            agg = suite.aggregation(task, metric)
            if (task, column) in docs.non_numeric:
                notes.append(f"{task}: per-item {column} values are not numbers; no item column for it")
                drop.add(column)
                continue
            if agg is not None and agg != "mean" and "function mean" not in agg:
                notes.append(f"{task}: {column} is aggregated by {agg}, not a mean; no item column for it")
                drop.add(column)
                continue
            reported = number(suite.entries.get(task, {}).get(f"{metric},{filt}"))
            values = [v for d in rows if (v := d.values.get(column)) is not None]
            if reported is None or not values:
                notes.append(f"{task}: the results file has no value of {column} to check the items against")
                continue
            mean = sum(values) / len(values)
            if abs(mean - reported) > TOLERANCE:
                files = ", ".join(repr(str(p)) for p in docs.files[task])
                raise InputError(message(
                    where=f"samples file {files}, metric {column!r}",
                    expected=f"a per-item mean equal to {task}/{metric} in {str(suite.path)!r} ({reported!r})",
                    found=f"{mean!r} over {len(values)} items",
                    fix="the samples do not belong to these results: pass the samples files written together with "
                        "this results file (same <datetime> in their names)"))
    for column in drop:
        for doc in docs.docs.values():
            doc.values.pop(column, None)
    for group in suite.children:
        entry = suite.entries.get(group, {})
        members = set(suite.leaves_under(group))
        for key, value in entry.items():
            metric, _, filt = key.partition(",")
            reported = number(value)
            if not filt or metric.endswith("_stderr") or reported is None:
                continue
            column = _column(metric, filt)
            values = [v for d in docs.docs.values() if d.task in members and (v := d.values.get(column)) is not None]
            if values and abs(sum(values) / len(values) - reported) > TOLERANCE:
                notes.append(f"{group}/{column}: lm-eval's group value ({reported:.6g}) is not the mean over its "
                             "items (the subtasks are not weighted by size); a paired gate on its items pools them")
    return notes


def _metrics(suite: _Suite, docs: _Samples | None, z: float) -> tuple[dict[str, dict[str, Any]], list[str]]:
    notes: list[str] = []
    table = as_dict(suite.data.get("higher_is_better"))
    bounded_columns: set[str] = set()
    if docs is not None:
        in_unit: dict[str, bool] = {}
        for doc in docs.docs.values():
            for column, v in doc.values.items():
                if v is not None:
                    in_unit[column] = in_unit.get(column, True) and 0.0 <= v <= 1.0
        bounded_columns = {c for c, ok in in_unit.items() if ok}
    assumed: list[str] = []
    no_se: list[str] = []
    metrics: dict[str, dict[str, Any]] = {}
    for task in suite.order():
        entry = suite.entries.get(task)
        if entry is None:
            continue
        for key, value in entry.items():
            metric, _, filt = key.partition(",")
            if not filt or metric.endswith("_stderr"):
                continue
            column = _column(metric, filt)
            hib = as_dict(table.get(task)).get(metric)
            if not isinstance(hib, bool):
                assumed.append(f"{task}/{column}")
                hib = True
            n = suite.group_n(task, key) if task in suite.children or task not in suite.leaves else suite.leaf_n(task)
            bounded = column in bounded_columns or metric in _UNIT_METRICS
            name = f"{task}/{column}"
            metrics[name] = metric_entry(value, entry.get(f"{metric}_stderr,{filt}"), n, z=z, bounded=bounded,
                                         higher_is_better=hib)
            if metrics[name]["value"] is not None and metrics[name]["se"] is None:
                no_se.append(name)
    if assumed:
        notes.append("higher_is_better missing from the results file for " + ", ".join(assumed) +
                     ": assumed higher is better")
    if no_se:
        notes.append("no stderr in the results file for " + ", ".join(no_se) + " (lm-eval writes N/A when "
                     "bootstrap_iters is 0 or the aggregation has none): no interval")
    if not metrics:
        raise InputError(message(where=f"lm-eval results file {str(suite.path)!r}, field 'results'",
                                 expected="metrics keyed '<metric>,<filter>'", found="none",
                                 fix="pass the results file of a finished lm-eval run"))
    return metrics, notes
