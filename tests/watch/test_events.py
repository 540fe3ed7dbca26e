"""Incoming events: bodies, validation (every bad event listed), redaction, text features before redaction."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from assay.drift.text import text_features as arrow_text_features
from assay.errors import InputError
from assay.watch.config import parse_config
from assay.watch.events import BatchError, decode_body, parse_time, prepare_labels, prepare_predictions, text_features

CFG = parse_config("""models:
  fraud:
    task: binary
    score: score
    label: is_fraud
    segments: [country]
    features: [amount]
    latency: latency_s
    redact: [email]
  chat:
    task: llm
    text: [prompt]
    redact_patterns: [email, phone, card]
    outcomes: [clicked]
""")
FRAUD, CHAT = CFG.models["fraud"], CFG.models["chat"]


def test_bodies_in_three_formats_decode_to_the_same_events() -> None:
    events = [{"id": "a", "score": 0.5, "amount": 1.5}, {"id": "b", "score": 0.25, "amount": None}]
    as_json = decode_body(json.dumps({"events": events}).encode(), "application/json; charset=utf-8")
    ndjson = decode_body("\n".join(json.dumps(e) for e in events).encode() + b"\n", "application/x-ndjson")
    sink = pa.BufferOutputStream()
    table = pa.Table.from_pylist(events)
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    arrow = decode_body(sink.getvalue().to_pybytes(), "application/vnd.apache.arrow.stream")
    assert as_json == ndjson == arrow == events


@pytest.mark.parametrize(("body", "ctype", "word"), [
    (b"{not json", "application/json", "invalid JSON"),
    (b'{"rows": []}', "application/json", "events list"),
    (b'{"a": 1}\nnope\n', "application/x-ndjson", "line 2"),
    (b"\x00\x01", "application/vnd.apache.arrow.stream", "Arrow"),
    (b"a,b", "text/csv", "Content-Type"),
])
def test_bad_bodies(body: bytes, ctype: str, word: str) -> None:
    with pytest.raises(InputError, match=word):
        decode_body(body, ctype)


def test_every_bad_event_is_listed_and_nothing_is_kept() -> None:
    events = [
        {"id": "ok", "score": 0.3},
        {"id": "s", "score": 1.5},
        {"score": 0.2},
        {"id": "t", "score": 0.2, "timestamp": "yesterday"},
        {"id": "l", "score": 0.2, "latency_s": -1},
        "not an object",
        {"id": "c", "score": 0.2, "country": {"nested": 1}},
    ]
    with pytest.raises(BatchError) as exc:
        prepare_predictions(FRAUD, events, now=0.0)
    errs = exc.value.errors
    assert [(e["index"], e["field"]) for e in errs] == [
        (1, "score"), (2, "id"), (3, "timestamp"), (4, "latency_s"), (5, "(event)"), (6, "country")]
    assert errs[0]["id"] == "s" and "[0, 1]" in errs[0]["expected"] and errs[0]["found"] == "1.5"
    assert "6 bad events" in str(exc.value) and "nothing was stored" in str(exc.value)


def test_times_ids_and_versions() -> None:
    rows = prepare_predictions(FRAUD, [
        {"id": 7, "score": 0.1, "timestamp": "2026-12-01T10:00:00+01:00", "version": 3},
        {"id": "x", "score": 0.1},
    ], now=123.0)
    assert rows[0].id == "7" and rows[0].version == "3" and rows[0].event_time == parse_time("2026-12-01T09:00:00Z")
    assert rows[1].event_time == 123.0 and rows[1].version == ""
    again = prepare_predictions(FRAUD, [{"id": "x", "score": 0.1}], now=999.0)
    assert again[0].digest == rows[1].digest  # the receive time is not content: a resend is a duplicate
    assert parse_time("2026-12-01T10:00:00") is None  # no offset: not RFC 3339
    assert parse_time(True) is None


def test_redaction_by_keyed_hash_or_dropping() -> None:
    event = {"id": "a", "score": 0.5, "email": "x@y.org", "amount": 3}
    FRAUD_FEATURES = FRAUD.model_copy(update={"features": ["amount", "email"]})
    kept = json.loads(prepare_predictions(FRAUD_FEATURES, [event], now=0.0, redaction_key="k")[0].payload)
    dropped = json.loads(prepare_predictions(FRAUD_FEATURES, [event], now=0.0)[0].payload)
    assert kept["email"].startswith("h:") and "x@y.org" not in kept["email"]
    other_key = json.loads(prepare_predictions(FRAUD_FEATURES, [event], now=0.0, redaction_key="j")[0].payload)
    assert other_key["email"] != kept["email"]
    assert "email" not in dropped and dropped["amount"] == 3
    unknown = json.loads(prepare_predictions(FRAUD, [dict(event, secret="zzz")], now=0.0)[0].payload)
    assert "secret" not in unknown  # only configured columns are stored


def test_text_features_are_taken_before_pattern_redaction() -> None:
    text = "I'm sorry, mail me at jane.doe@example.com or call +44 20 7946 0958, card 4111 1111 1111 1111"
    row = prepare_predictions(CHAT, [{"id": "a", "prompt": text}], now=0.0)[0]
    payload = json.loads(row.payload)
    assert "jane.doe" not in payload["prompt"] and "[email]" in payload["prompt"]
    assert "[phone]" in payload["prompt"] and "[card]" in payload["prompt"] and "4111" not in payload["prompt"]
    assert payload["_text"]["prompt"] == text_features(text)
    assert payload["_text"]["prompt"][0] == len(text)


@pytest.mark.parametrize("text", ["", "   ", '{"a": 1}', "[1, 2", "I cannot do that", "plain", '"just a string"'])
def test_text_features_agree_with_the_drift_profiler(text: str) -> None:
    f = arrow_text_features(pa.array([text]))
    assert text_features(text) == [int(f.lengths[0]), f.empty, f.json, f.refusal]


def test_labels_and_outcomes() -> None:
    rows = prepare_labels(FRAUD, [{"id": "a", "is_fraud": True}, {"id": "b", "is_fraud": 0}])
    assert [json.loads(r.payload) for r in rows] == [{"is_fraud": 1}, {"is_fraud": 0}]
    with pytest.raises(BatchError) as exc:
        prepare_labels(FRAUD, [{"id": "a"}, {"is_fraud": 1}])
    assert [(e["index"], e["field"]) for e in exc.value.errors] == [(0, "is_fraud"), (1, "id")]
    assert json.loads(prepare_labels(CHAT, [{"id": "a", "clicked": True}])[0].payload) == {"clicked": 1.0}
    with pytest.raises(BatchError, match="outcome"):
        prepare_labels(CHAT, [{"id": "a"}])
