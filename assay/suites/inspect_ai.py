"""Import an Inspect AI eval log (JSON form) into an assay run document.

Metrics come from ``results.scores[].metrics``: each metric but the standard errors becomes ``"<task>/<metric>"``
(``task`` is ``eval.task``; ``"<task>/<metric>@<scorer>"`` when the log has several scorers), and the scorer's
``stderr`` is the ``se`` of its ``accuracy`` and ``mean``. Token counts of ``stats.model_usage`` go to a top-level
``usage`` object.

The samples are inside the log: each sample id becomes a row of the item sidecar, with its score converted to a
number as Inspect's ``value_to_float`` does (``"C"`` 1.0, ``"I"`` 0.0, ``"P"`` 0.5, ``"N"`` 0.0, numbers as they are;
several epochs are averaged) in a column named by the metric (``accuracy``). The per-item mean must equal the log's
value to 1e-9, and the sample ids must be those of ``eval.dataset.sample_ids``.
"""

from __future__ import annotations

import json
import os
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

__all__ = ["import_inspect"]

TOLERANCE = 1e-9
_SE_NAMES = ("stderr", "bootstrap_stderr")
_MEAN_METRICS = ("accuracy", "mean")  # metrics that are the mean of the per-sample values
_LETTERS = {"C": 1.0, "I": 0.0, "P": 0.5, "N": 0.0}


def import_inspect(
    log_path: str | os.PathLike[str],
    *,
    items: str | os.PathLike[str] | None = None,
    model_name: str | None = None,
    model_version: str | None = None,
    confidence: float = 0.95,
    now: datetime | None = None,
) -> Run:
    """Read an Inspect eval log (``.json``) into a run document; write the item sidecar to ``items`` if given.

    ``created_at`` is the log's ``eval.created`` (``now``, default the current time, when it has none).
    """
    z = check_confidence(confidence)
    path = Path(log_path)
    log = _read_log(path)
    ev, results = log["eval"], log["results"]
    task = str(ev.get("task"))
    scorers = [_Scorer.read(s, i, path) for i, s in enumerate(results["scores"])]
    if len(scorers) > 1:
        for s in scorers:
            s.suffix = f"@{s.name}"
    notes: list[str] = []
    samples = log.get("samples")
    table: Items | None = None
    if isinstance(samples, list) and samples:
        table = _items(samples, task, scorers, path, notes)
        _check_ids(table, ev, path)
        _check_means(table, scorers, path)
    elif items is not None:
        raise ConfigError(message(where=f"option --items ({str(path)!r})", expected="a log with its samples",
                                  found="a log without samples (written with --no-log-samples?)",
                                  fix="re-run with samples logged, or drop --items"))
    default_n = _int(results.get("completed_samples"), _int(results.get("total_samples"), 0))
    metrics: dict[str, dict[str, Any]] = {}
    for s in scorers:
        n = _int(s.raw.get("scored_samples"), default_n)
        for name, value in s.values.items():
            column = f"{name}{s.suffix}"
            mean_like = name in _MEAN_METRICS
            bounded = name == "accuracy" or (table is not None and column in table.metrics and all(
                0.0 <= v <= 1.0 for v in table.metrics[column] if v is not None))
            metrics[f"{task}/{column}"] = metric_entry(value, s.se if mean_like else None, n, z=z, bounded=bounded,
                                                       higher_is_better=True)
    if not metrics:
        raise InputError(message(where=f"Inspect log {str(path)!r}, field 'results.scores[].metrics'",
                                 expected="at least one metric", found="none",
                                 fix="pass the log of an evaluation with a scorer"))
    notes.append("Inspect logs do not record which direction is better: assumed higher is better for " +
                 ", ".join(metrics))
    if table is not None:
        dataset = {"fingerprint": fingerprint_items(table.ids, table.targets), "fingerprint_basis": "ids+targets",
                   "rows": len(table)}
    else:
        dataset = {"fingerprint": fingerprint_tasks([task], [default_n], [None]), "fingerprint_basis":
                   "tasks+counts", "rows": default_n}
        notes.append("the log holds no samples: the fingerprint covers the task name and its sample count, and no "
                     "item sidecar was written")
    dataset["name"] = task
    headline = as_dict(results.get("headline"))
    primary = next((f"{task}/{headline['metric']}{s.suffix}" for s in scorers
                    if s.name == headline.get("score") and isinstance(headline.get("metric"), str)), None)
    config: dict[str, Any] = {
        "confidence": confidence,
        "source": "inspect",
        "harness_version": as_dict(ev.get("packages")).get("inspect_ai"),
        "primary_metric": primary if primary in metrics else next(iter(metrics)),
        "tasks": [task],
        "task_version": ev.get("task_version"),
        "task_args": ev.get("task_args"),
        "model_args": ev.get("model_args"),
        "epochs": as_dict(ev.get("config")).get("epochs"),
        "scorers": [s.name for s in scorers],
        "eval_id": ev.get("eval_id"),
        "log_version": log.get("version"),
    }
    model = {"name": model_name or ev.get("model"), "version": model_version}
    items_ref = table.write(items) if table is not None and items is not None else None
    return build_run(created_at=_created(ev.get("created"), now), model=model, dataset=dataset, config=config,
                     metrics=metrics, notes=notes, items=items_ref, usage=_usage(log))


@dataclass
class _Scorer:
    name: str
    values: dict[str, Any]  # metric name -> value (standard errors excluded)
    se: Any
    raw: dict[str, Any]
    suffix: str = ""
    columns: list[str] = field(default_factory=list)

    @classmethod
    def read(cls, score: Any, index: int, path: Path) -> _Scorer:
        where = f"Inspect log {str(path)!r}, field 'results.scores[{index}]'"
        if not isinstance(score, dict) or not isinstance(score.get("metrics"), dict):
            raise ReadError(message(where=where, expected="an object with 'name' and 'metrics'",
                                    found=repr(score)[:80], fix="pass the log Inspect wrote"))
        metrics = {k: (v.get("value") if isinstance(v, dict) else v) for k, v in score["metrics"].items()}
        se = next((metrics[k] for k in _SE_NAMES if k in metrics), None)
        values = {k: v for k, v in metrics.items() if k not in _SE_NAMES}
        return cls(str(score.get("name") or score.get("scorer")), values, se, score)


def _read_log(path: Path) -> dict[str, Any]:
    log = read_json(path, "Inspect log")
    where = f"Inspect log {str(path)!r}"
    fix = "pass the .json log Inspect wrote (inspect log convert turns a .eval log into one)"
    if not isinstance(log, dict) or not isinstance(log.get("eval"), dict):
        found = "no field 'eval'" if isinstance(log, dict) else f"a JSON {type(log).__name__}"
        raise ReadError(message(where=f"{where}, field 'eval'", expected="an Inspect eval log", found=found, fix=fix))
    status = log.get("status")
    if status != "success":
        error = as_dict(log.get("error"))
        detail = f" ({error['message']})" if isinstance(error.get("message"), str) else ""
        raise InputError(message(where=f"{where}, field 'status'", expected="'success'",
                                 found=f"{status!r}{detail}",
                                 fix="import only finished evaluations: complete it with inspect eval-retry"))
    results = log.get("results")
    if not isinstance(results, dict) or not isinstance(results.get("scores"), list) or not results["scores"]:
        found = "no field 'results'" if not isinstance(results, dict) else "no scores"
        raise InputError(message(where=f"{where}, field 'results'", expected="the scores of the evaluation",
                                 found=found, fix="pass the log of a finished, scored evaluation"))
    return log


def _to_float(value: Any) -> float | None:
    """A score value as a number, as Inspect's ``value_to_float`` reads it; None when it has no number."""
    if isinstance(value, (bool, int, float)):
        return number(float(value))
    if isinstance(value, str):
        if value in _LETTERS:
            return _LETTERS[value]
        low = value.strip().lower()
        if low in ("yes", "true"):
            return 1.0
        if low in ("no", "false"):
            return 0.0
        try:
            return number(float(low))
        except ValueError:
            return None
    return None


def _items(samples: list[Any], task: str, scorers: list[_Scorer], path: Path, notes: list[str]) -> Items:
    per_id: dict[str, dict[str, Any]] = {}
    seen: set[tuple[str, int]] = set()
    unreadable: set[str] = set()
    for i, sample in enumerate(samples):
        where = f"Inspect log {str(path)!r}, samples[{i}]"
        if not isinstance(sample, dict) or sample.get("id") is None:
            raise ReadError(message(where=where, expected="a sample with an 'id'", found=repr(sample)[:80],
                                    fix="pass the log Inspect wrote"))
        sid = str(sample["id"])
        epoch = _int(sample.get("epoch"), 1)
        if (sid, epoch) in seen:
            raise InputError(message(where=where, expected="each sample id once per epoch",
                                     found=f"id {sid!r} epoch {epoch} again", fix="pass the log Inspect wrote"))
        seen.add((sid, epoch))
        target = sample.get("target")
        row = per_id.setdefault(sid, {"target": target if isinstance(target, str) else json.dumps(target),
                                      "values": {}})
        scores = as_dict(sample.get("scores"))
        for s in scorers:
            score = scores.get(s.name)
            raw = score.get("value") if isinstance(score, dict) else None
            value = _to_float(raw)
            if value is None and raw is not None:
                unreadable.add(s.name)
            row["values"].setdefault(s.name, []).append(value)
    for s in scorers:
        if s.name in unreadable:
            notes.append(f"scorer {s.name}: some sample values are not numbers; no item column for it")
            continue
        reducer = s.raw.get("reducer")
        if len(seen) > len(per_id) and reducer not in (None, "mean"):
            notes.append(f"scorer {s.name}: epochs reduced by {reducer}, not a mean; no item column for it")
            continue
        s.columns = [f"{m}{s.suffix}" for m in s.values if m in _MEAN_METRICS]
        if not s.columns:
            notes.append(f"scorer {s.name}: none of its metrics ({', '.join(s.values)}) is a mean of the sample "
                         "values; no item column for it")
    out = Items()
    for sid, row in per_id.items():
        values: dict[str, float | None] = {}
        for s in scorers:
            got = [v for v in row["values"].get(s.name, []) if v is not None]
            for column in s.columns:
                values[column] = sum(got) / len(got) if got else None
        out.add(id=sid, task=task, group=task, doc_id=None, doc_hash=None, target=row["target"], values=values)
    return out


def _check_ids(table: Items, ev: dict[str, Any], path: Path) -> None:
    listed = as_dict(ev.get("dataset")).get("sample_ids")
    if not isinstance(listed, list):
        return
    expected = {str(i) for i in listed}
    found = set(table.ids)
    if found != expected:
        missing, extra = sorted(expected - found), sorted(found - expected)
        detail = f"{len(found)} distinct ids" + (f", missing {missing[:3]}" if missing else "") + (
            f", not listed {extra[:3]}" if extra else "")
        raise InputError(message(where=f"Inspect log {str(path)!r}, field 'samples'",
                                 expected=f"the {len(expected)} ids of eval.dataset.sample_ids", found=detail,
                                 fix="pass the unedited log of a complete evaluation"))


def _check_means(table: Items, scorers: list[_Scorer], path: Path) -> None:
    for s in scorers:
        for column in s.columns:
            metric = column.removesuffix(s.suffix) if s.suffix else column
            reported = number(s.values.get(metric))
            values = [v for v in table.metrics.get(column, []) if v is not None]
            if reported is None or not values:
                continue
            mean = sum(values) / len(values)
            if abs(mean - reported) > TOLERANCE:
                raise InputError(message(
                    where=f"Inspect log {str(path)!r}, samples' scores of {s.name}",
                    expected=f"a per-sample mean equal to results {metric} ({reported!r})",
                    found=f"{mean!r} over {len(values)} samples",
                    fix="the log was edited or is inconsistent: pass the log Inspect wrote"))


def _usage(log: dict[str, Any]) -> dict[str, Any] | None:
    usage = as_dict(log.get("stats")).get("model_usage")
    if not isinstance(usage, dict):
        return None
    return {str(model): {k: v for k, v in counts.items() if isinstance(v, int) and not isinstance(v, bool)}
            for model, counts in usage.items() if isinstance(counts, dict)}


def _created(value: Any, now: datetime | None) -> datetime:
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    return now or datetime.now(UTC)


def _int(value: Any, default: int) -> int:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else default
