"""The published JSON Schemas of the watch service's documents hold for real answers: run documents of a range
(``assay.run/1``), series (``assay.series/1``), status (``assay.status/1``) and drift (``assay.drift/1``), for every
task, with and without labels, segments, estimation, outcomes and text; and the schemas reject what they must."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import assay
from assay.watch.config import parse_config
from assay.watch.monitor import Monitor

SCHEMAS = Path(__file__).parents[2] / "schemas"
T0 = 1_800_000_000


def schema(name: str) -> dict[str, Any]:
    doc = json.loads((SCHEMAS / f"assay.{name}-1.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(doc)
    return doc


def valid(doc: dict[str, Any], name: str) -> None:
    jsonschema.Draft202012Validator(schema(name)).validate(doc)


@pytest.fixture(scope="module")
def monitor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Monitor]:
    d = tmp_path_factory.mktemp("schemas")
    rng = np.random.default_rng(3)
    n = 3000
    y = (rng.random(n) < 0.3).astype(int)
    pq.write_table(pa.table({"score": np.clip(0.4 * y + 0.6 * rng.random(n), 0, 1), "is_fraud": y}),
                   d / "labeled.parquet")
    assay.profile(pa.table({"amount": rng.normal(10, 2, n), "country": rng.choice(["DE", "FR", "US"], n),
                            "note": ["fine, thanks"] * n})).save(d / "ref.profile")
    config = parse_config(f"""store: sqlite:///{d / 'watch.sqlite'}
models:
  fraud:
    task: binary
    score: score
    label: is_fraud
    segments: [country]
    sensitive: [gender]
    features: [amount, country]
    text: [note]
    latency: latency_s
    cost: cost
    status: status
    outcomes: [clicked]
    reference: {{profile: ref.profile, labeled: labeled.parquet}}
  kinds:
    task: multiclass
    proba_prefix: p_
    label: y
    classes: [a, b, c]
    segments: [country]
  price:
    task: regression
    prediction: yhat
    label: y
  chat:
    task: llm
    text: [prompt, response]
    latency: latency_s
  quiet:
    task: binary
    score: score
    label: y
""", base_dir=d)
    mon = Monitor(config, now=lambda: T0 + 7200)
    m = 600
    score = rng.random(m)
    mon.ingest_predictions("fraud", [
        {"id": f"f{i}", "timestamp": T0 + 5 * i, "version": str(i % 2), "score": float(score[i]),
         "country": ["DE", "FR", "US"][i % 3], "gender": ["f", "m"][i % 2], "amount": float(rng.normal(12, 2)),
         "note": ["ok", "", '{"a": 1}', "I'm sorry, I can't"][i % 4], "latency_s": 0.1 + i % 7 / 10,
         "cost": 0.002, "status": "error" if i % 13 == 0 else "ok"} for i in range(m)])
    mon.ingest_labels("fraud", [{"id": f"f{i}", "is_fraud": int(score[i] > 0.6), "clicked": i % 2}
                                for i in range(0, m, 2)])
    mon.ingest_labels("fraud", [{"id": "waiting", "is_fraud": 1}])
    mon.ingest_predictions("kinds", [{"id": f"k{i}", "timestamp": T0 + 5 * i, "country": ["DE", "FR"][i % 2],
                                      "p_a": 0.5, "p_b": 0.3, "p_c": 0.2} if i % 3 else
                                     {"id": f"k{i}", "timestamp": T0 + 5 * i, "country": "DE", "p_a": 0.1,
                                      "p_b": 0.2, "p_c": 0.7} for i in range(300)])
    mon.ingest_labels("kinds", [{"id": f"k{i}", "y": "abc"[i % 3]} for i in range(300)])
    mon.ingest_predictions("price", [{"id": f"r{i}", "timestamp": T0 + 5 * i, "yhat": float(i)} for i in range(200)])
    mon.ingest_labels("price", [{"id": f"r{i}", "y": float(i) + 0.5 * (i % 3)} for i in range(150)])
    mon.ingest_predictions("chat", [{"id": f"c{i}", "timestamp": T0 + 5 * i, "prompt": "hello",
                                     "response": ["Sure.", "I cannot help.", ""][i % 3], "latency_s": 0.5}
                                    for i in range(60)])
    mon.materialize()
    yield mon
    mon.close()


RANGES = [(T0, T0 + 3600), (T0 - 3600, T0), (T0 + 1, T0 + 599)]  # with data, empty, widened


@pytest.mark.parametrize("model", ["fraud", "kinds", "price", "quiet"])
@pytest.mark.parametrize(("start", "end"), RANGES)
def test_run_documents_of_a_range(monitor: Monitor, model: str, start: int, end: int) -> None:
    valid(monitor.metrics(model, start, end), "run")
    valid(monitor.metrics(model, start, end, version="1"), "run")


@pytest.mark.parametrize("model", ["fraud", "kinds", "price", "chat", "quiet"])
@pytest.mark.parametrize("step", ["5m", "1h"])
def test_series(monitor: Monitor, model: str, step: str) -> None:
    segments = {"fraud": [None, "country", "gender"], "kinds": [None, "country"]}.get(model, [None])
    for segment in segments:
        doc = monitor.series(model, T0 - 600, T0 + 3600, step=step, segment=segment)
        valid(doc, "series")
        assert sum(w["predictions"] for w in doc["windows"]) > 0 or model == "quiet"
    valid(monitor.series(model, T0 + 1, T0 + 2, step=step), "series")


def test_series_entries_of_every_kind_are_covered(monitor: Monitor) -> None:
    """The fraud series holds realized, estimated, traffic, text, segment and outcome entries (null ones too)."""
    doc = monitor.series("fraud", T0 - 300, T0 + 300, step="5m", segment="country")
    empty, full = doc["windows"]
    valid(doc, "series")
    assert full["metrics"] and full["estimated"] and full["segments"] and full["outcomes"]
    assert {"note_refusal_rate", "latency_p99", "cost_total", "ood_rate"} <= set(full["traffic"])
    assert empty["traffic"]["score_mean"]["value"] is None and empty["traffic"]["score_mean"]["reason"]


@pytest.mark.parametrize("model", ["fraud", "kinds", "price", "chat", "quiet"])
def test_status(monitor: Monitor, model: str) -> None:
    doc = monitor.status(model)
    valid(doc, "status")
    if model == "quiet":
        assert doc["newest_event_time"] is None and doc["events"] == 0
    if model == "fraud":
        assert doc["pending_labels"] == 1 and doc["versions"] == ["0", "1"]


def test_drift(monitor: Monitor) -> None:
    for version in (None, "0"):
        doc = monitor.drift("fraud", T0, T0 + 3600, version=version)
        valid(doc, "drift")
        assert doc["columns"]["amount"]["drifted"] is True


def test_the_schemas_reject_broken_documents(monitor: Monitor) -> None:
    series = monitor.series("fraud", T0, T0 + 600, step="5m")
    status = monitor.status("fraud")

    def broken(doc: dict[str, Any], change: Any) -> dict[str, Any]:
        out = copy.deepcopy(doc)
        change(out)
        return out

    bad_series = [
        lambda d: d.update(schema="assay.series/2"),
        lambda d: d["windows"][0].pop("traffic"),
        lambda d: d["windows"][0].update(predictions=-1),
        lambda d: d["windows"][0].update(start="2027-01-15 08:00"),
        lambda d: d["windows"][0]["metrics"]["accuracy"].update(value=None),  # undefined without a reason
        lambda d: d["windows"][0]["metrics"]["accuracy"].update(mean=0.3),
        lambda d: d["windows"][0]["traffic"].pop("predictions"),
        lambda d: d.update(step="5m"),
    ]
    for change in bad_series:
        with pytest.raises(jsonschema.ValidationError):
            valid(broken(series, change), "series")
    bad_status = [
        lambda d: d.pop("pending_labels"),
        lambda d: d.update(conflicts=-1),
        lambda d: d["materialization_lag"].pop("seconds"),
        lambda d: d.update(newest_event_time=T0),
        lambda d: d.update(versions="0"),
    ]
    for change in bad_status:
        with pytest.raises(jsonschema.ValidationError):
            valid(broken(status, change), "status")
