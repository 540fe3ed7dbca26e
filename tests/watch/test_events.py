"""Incoming events: bodies, validation (every bad event listed), redaction, text features before redaction."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assay.drift.text import text_features as arrow_text_features
from assay.errors import InputError
from assay.watch.config import parse_config
from assay.watch.events import (
    BatchError,
    _check_prediction,
    _Checker,
    _plan,
    decode_body,
    parse_time,
    prepare_labels,
    prepare_predictions,
    text_features,
)

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


# -- the fast check and the full one agree ---------------------------------------------------------------------------

PLAIN = parse_config("""models:
  m:
    task: binary
    score: score
    label: y
    segments: [country]
    sensitive: [group]
    features: [amount, country, flag, latency_s]
    latency: latency_s
    cost: cost
    status: status
""").models["m"]
_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.integers(2**62, 2**63 - 1),
                    st.floats(allow_nan=True, allow_infinity=True), st.floats(0, 1), st.text(max_size=5),
                    st.lists(st.integers(), max_size=2),
                    st.dictionaries(st.text(max_size=2), st.integers(), max_size=1))
_EVENT = st.fixed_dictionaries({}, optional={
    "id": st.one_of(st.text(min_size=1, max_size=8), st.integers(), _VALUES, st.just("x" * 201)),
    "timestamp": st.one_of(st.floats(1e9, 2e9), st.integers(0, 2**40), st.just("2026-12-01T10:00:00Z"),
                           st.just("2026-12-01T10:00:00"), _VALUES),
    "version": st.one_of(st.text(min_size=1, max_size=4), st.integers(), _VALUES),
    "score": st.one_of(st.floats(0, 1), _VALUES), "country": _VALUES, "group": _VALUES, "amount": _VALUES,
    "flag": _VALUES, "latency_s": st.one_of(st.floats(0, 10), _VALUES), "cost": st.one_of(st.floats(0, 1), _VALUES),
    "status": _VALUES, "other": _VALUES,
})


@settings(max_examples=400, deadline=None)
@given(_EVENT)
def test_the_fast_check_accepts_only_what_the_full_check_accepts_and_stores_the_same_row(ev: dict) -> None:
    fast = _plan(PLAIN)._fast(ev, 1_800_000_000.0)
    check = _Checker()
    full = _check_prediction(PLAIN, check, 0, ev, 1_800_000_000.0, None)
    if fast is not None:  # the fast check may leave an event to the full one, never accept a bad one
        assert not check.errors and full == fast
    assert (full is None) == bool(check.errors)


def test_the_usual_event_takes_the_fast_check() -> None:
    ev = {"id": "a", "timestamp": 1.8e9, "score": 0.5, "country": "de", "amount": 3.5, "latency_s": 0.2}
    fast = _plan(PLAIN)._fast(ev, 0.0)
    assert fast is not None and fast.payload == b'{"amount":3.5,"country":"de","flag":null,"group":null,' \
        b'"latency_s":0.2,"score":0.5}'
