"""``assay serve`` end to end, against a real server process on both stores: tokens and scopes, every ingest format
and answer, the limits, reads equal to offline ``assay evaluate`` / ``assay drift`` on the same joined rows,
redaction, and OTLP traces exported by the OpenTelemetry SDK's own exporter."""

from __future__ import annotations

import gzip
import hashlib
import hmac
import io
import json
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pyarrow as pa
import pytest
import sqlalchemy as sa

import assay

from .conftest import ASSAY, Server, make_token

T0 = 1_800_000_000  # an hour boundary (2027-01-15T08:00:00Z)
JSON_CT = {"Content-Type": "application/json"}


# -- helpers -----------------------------------------------------------------------------------------------------------

def client(server: Server, token: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=server.url, headers=headers, timeout=60)


def poll(fn: Callable[[], Any], until: Callable[[Any], bool], timeout: float = 10.0, every: float = 0.05) -> Any:
    """``fn()`` until ``until(value)``; fails with the last value after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if until(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {timeout} s; last value: {str(value)[:3000]}")
        time.sleep(every)


def assert_close(got: Any, want: Any, path: str = "$") -> None:
    """Equal documents, numbers to 1e-9 relative (sums merged in another order differ in the last bits)."""
    if isinstance(want, dict):
        assert isinstance(got, dict), f"{path}: {got!r} is not an object"
        assert set(got) == set(want), f"{path}: keys {sorted(got)} != {sorted(want)}"
        for k in want:
            assert_close(got[k], want[k], f"{path}.{k}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), f"{path}: {got!r} != {want!r}"
        for i, (a, b) in enumerate(zip(got, want, strict=True)):
            assert_close(a, b, f"{path}[{i}]")
    elif isinstance(want, float) and not isinstance(got, bool) and isinstance(got, (int, float)):
        assert got == pytest.approx(want, rel=1e-9, abs=1e-12), f"{path}: {got} != {want}"
    else:
        assert got == want, f"{path}: {got!r} != {want!r}"


def iso(t: float) -> str:
    """As the service writes times."""
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def tokens_of(config: Path, store: str, *specs: tuple[str, tuple[str, ...]]) -> list[str]:
    """Create tokens with ``assay tokens create`` (concurrently: each is a process)."""
    with ThreadPoolExecutor(len(specs)) as pool:
        return list(pool.map(lambda s: make_token(config, store, s[0], *s[1]), specs))


def engine_of(store: str) -> sa.Engine:
    url = sa.make_url(store)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return sa.create_engine(url)


def fraud_events(n: int, *, prefix: str = "p", start: float = T0, every: float = 3.6, version: str | None = "7",
                 seed: int = 0) -> tuple[list[dict[str, Any]], np.ndarray]:
    """``n`` predictions of the fraud model and their true labels (scores informative, three countries)."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(int)
    score = np.clip(0.35 * y + 0.65 * rng.random(n), 0, 1).round(4)  # ties, as real scores have
    country = rng.choice(["DE", "FR", "US"], n)
    amount = rng.gamma(2.0, 20.0, n).round(2)
    events = [{"id": f"{prefix}{i}", "timestamp": start + i * every, "score": float(score[i]),
               "country": str(country[i]), "amount": float(amount[i]), "latency_s": 0.01 + 0.001 * (i % 50)}
              for i in range(n)]
    if version is not None:
        for e in events:
            e["version"] = version
    return events, y


# -- auth --------------------------------------------------------------------------------------------------------------

def test_tokens_and_scopes(serve: Callable[..., Server], tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'watch.sqlite'}"
    server = serve(store)
    reader, writer, both = tokens_of(server.config, store, ("reader", ("read",)), ("writer", ("ingest",)),
                                     ("both", ("ingest", "read")))
    body = {"events": [{"id": "a1", "timestamp": T0, "score": 0.2, "country": "DE"}]}
    metrics = f"/v1/models/fraud/metrics?from={T0}&to={T0 + 300}"

    with client(server, None) as anon:
        for method, path in (("POST", "/v1/models/fraud/predictions"), ("GET", metrics),
                             ("GET", "/v1/models"), ("GET", "/v1/models/fraud/status"), ("POST", "/v1/traces")):
            r = anon.request(method, path, json=body)
            assert r.status_code == 401, (method, path, r.text)
            assert r.headers["www-authenticate"] == "Bearer"
            assert "Authorization: Bearer" in r.json()["detail"]["message"]
        for path in ("/healthz", "/readyz", "/openapi.json"):
            assert anon.get(path).status_code == 200, path
        for header in ("Bearer assay_not-a-token", "Basic dXNlcjpwYXNz", "Bearer", "assay_x"):
            r = anon.get(metrics, headers={"Authorization": header})
            assert r.status_code == 401, (header, r.text)
    with client(server, reader) as c:
        r = c.post("/v1/models/fraud/predictions", json=body)
        assert r.status_code == 403 and "'ingest' scope" in r.json()["detail"]["message"], r.text
        assert c.post("/v1/models/fraud/labels", json={"events": [{"id": "a1", "is_fraud": 1}]}).status_code == 403
        assert c.get(metrics).status_code == 200
    with client(server, writer) as c:
        r = c.get(metrics)
        assert r.status_code == 403 and "'read' scope" in r.json()["detail"]["message"], r.text
        assert c.get("/v1/models/fraud/status").status_code == 403
        assert c.get("/v1/models/fraud/events/a1").status_code == 403
        assert c.post("/v1/models/fraud/predictions", json=body).status_code == 200

    # a revoked token stops working within the cache time (5 s)
    with client(server, both) as c:
        assert c.get("/v1/models/fraud/status").status_code == 200  # now cached as valid
        r = subprocess.run([ASSAY, "tokens", "revoke", "both", "--config", str(server.config), "--store", store],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        revoked = time.monotonic()
        poll(lambda: c.get("/v1/models/fraud/status").status_code, lambda s: s == 401, timeout=6.5, every=0.2)
        assert time.monotonic() - revoked <= 6.5

    # the tokens are never printed again, nor stored or logged in clear
    r = subprocess.run([ASSAY, "tokens", "list", "--config", str(server.config), "--store", store],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert [ln.split("\t")[:3] for ln in lines] == [["both", "ingest,read", "revoked"], ["reader", "read", "active"],
                                                    ["writer", "ingest", "active"]]
    secrets = (reader, writer, both)
    for token in secrets:
        assert token.startswith("assay_") and len(token) > 40
        assert token not in r.stdout + r.stderr
    with engine_of(store).connect() as conn:
        rows = conn.execute(sa.text("SELECT name, digest, scopes FROM tokens ORDER BY name")).all()
    assert {name: digest for name, digest, _ in rows} == {
        n: hashlib.sha256(t.encode()).hexdigest() for n, t in zip(("reader", "writer", "both"), secrets, strict=True)}
    server.stop()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("watch.sqlite"))
    logs = "".join(p.read_text(errors="replace") for p in tmp_path.glob("serve-*.log"))
    for token in secrets:
        assert token.encode() not in raw
        assert token not in logs


# -- ingest ------------------------------------------------------------------------------------------------------------

def _arrow_stream(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def _answer(r: httpx.Response, accepted: int, duplicates: int = 0, conflicts: int = 0,
            conflict_ids: list[str] | None = None) -> None:
    assert r.status_code == 200, r.text
    assert r.json() == {"accepted": accepted, "duplicates": duplicates, "conflicts": conflicts,
                        "conflict_ids": conflict_ids or []}


def test_ingest_formats_answers_and_errors(serve: Callable[..., Server], store_url: str,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Asia/Tokyo")  # the server's local time is not UTC: a time read as local time shows
    server = serve(store_url, "limits: {max_events: 10000, max_pending: 1}\n")
    (token,) = tokens_of(server.config, store_url, ("ci", ("ingest", "read")))
    c = client(server, token)
    preds = "/v1/models/fraud/predictions"

    def event(i: int, **kw: Any) -> dict[str, Any]:
        return {"id": f"e{i}", "timestamp": T0 + i, "version": "7", "score": 0.5, "country": "DE", "amount": 1.0,
                **kw}

    # JSON, NDJSON, Arrow IPC stream, and gzip: one answer shape
    batch = [event(i) for i in range(3)]
    _answer(c.post(preds, json={"events": batch}), 3)
    ndjson = "\n".join(json.dumps(event(i)) for i in range(3, 6)) + "\n"
    _answer(c.post(preds, content=ndjson, headers={"Content-Type": "application/x-ndjson"}), 3)
    table = pa.table({"id": ["e6", "e7", "e8"], "version": ["7", "7", "7"], "score": [0.1, 0.6, 0.9],
                      "country": ["FR", "FR", "US"], "amount": [1.5, 2.5, 3.5],
                      "timestamp": pa.array([T0 + 6, T0 + 7, T0 + 8], pa.timestamp("s", tz="UTC"))})
    _answer(c.post(preds, content=_arrow_stream(table),
                   headers={"Content-Type": "application/vnd.apache.arrow.stream"}), 3)
    naive = table.set_column(5, "timestamp", pa.array([T0 + 9] * 3, pa.timestamp("s")))
    naive = naive.set_column(0, "id", pa.array(["e9", "e10", "e11"]))
    _answer(c.post(preds, content=_arrow_stream(naive),
                   headers={"Content-Type": "application/vnd.apache.arrow.stream"}), 3)
    gz = gzip.compress(json.dumps({"events": [event(i) for i in range(12, 15)]}).encode())
    _answer(c.post(preds, content=gz, headers={**JSON_CT, "Content-Encoding": "gzip"}), 3)
    assert c.get("/v1/models/fraud/events/e7").json()["predictions"][0]["timestamp"] == iso(T0 + 7)

    # a resend is all duplicates; the same id with other content is a conflict, listed; shadow traffic is two events
    _answer(c.post(preds, json={"events": batch}), 0, duplicates=3)
    _answer(c.post(preds, json={"events": [event(0, score=0.51), event(1), event(20)]}), 1, duplicates=1,
            conflicts=1, conflict_ids=["e0"])
    _answer(c.post(preds, json={"events": [event(30), event(30, version="8")]}), 2)
    shadow = c.get("/v1/models/fraud/events/e30").json()
    assert [p["version"] for p in shadow["predictions"]] == ["7", "8"]
    assert c.get("/v1/models/fraud/events/e0").json()["predictions"][0]["row"]["score"] == 0.5  # not applied
    _answer(c.post("/v1/models/fraud/labels", json={"events": [{"id": "e30", "is_fraud": 1}]}), 1)
    _answer(c.post("/v1/models/fraud/labels", json={"events": [{"id": "e30", "is_fraud": 0}]}), 0, conflicts=1,
            conflict_ids=["e30"])

    # an event without a timestamp takes the receive time
    before = time.time()
    _answer(c.post(preds, json={"events": [{"id": "now1", "score": 0.3}]}), 1)
    after = time.time()
    got = c.get("/v1/models/fraud/events/now1").json()["predictions"][0]
    assert before - 0.01 <= epoch(got["timestamp"]) <= after + 0.01, (got, before, after)

    # a bad batch: 422 listing every bad event, and nothing of it stored
    bad = [event(40), event(41, score=1.5), {"timestamp": T0, "score": 0.2}, event(43, timestamp="yesterday"),
           event(44), event(45, amount=[1, 2]), "not an object"]
    r = c.post(preds, json={"events": bad})
    assert r.status_code == 422, r.text
    errors = r.json()["detail"]["errors"]
    assert [(e["index"], e["id"], e["field"]) for e in errors] == [
        (1, "e41", "score"), (2, None, "id"), (3, "e43", "timestamp"), (5, "e45", "amount"), (6, None, "(event)")]
    assert all(e["expected"] and e["found"] for e in errors)
    assert errors[0]["expected"] == "a probability in [0, 1]" and errors[0]["found"] == "1.5"
    assert errors[2]["found"] == "'yesterday'"
    for good in ("e40", "e44"):
        assert c.get(f"/v1/models/fraud/events/{good}").status_code == 404
    r = c.post("/v1/models/fraud/labels", json={"events": [{"id": "e1", "is_fraud": 1}, {"id": "e2"},
                                                           {"is_fraud": 0}]})
    assert r.status_code == 422
    assert [(e["index"], e["field"]) for e in r.json()["detail"]["errors"]] == [(1, "is_fraud"), (2, "id")]
    assert c.get("/v1/models/fraud/events/e1").json()["label"] is None

    # limits: events per batch and bytes per body (declared, streamed and decompressed)
    r = c.post(preds, json={"events": [event(i) for i in range(10_001)]})
    assert r.status_code == 413 and "at most 10000 events" in r.json()["detail"]["message"], r.text[:300]
    _answer(c.post(preds, json={"events": [event(i) for i in range(100_000, 110_000)]}), 10_000)  # the limit: fine
    pad = "x" * (17 * 1024 * 1024)
    big = json.dumps({"events": [event(50_000, pad=pad)]}).encode()
    r = c.post(preds, content=big, headers=JSON_CT)
    assert r.status_code == 413 and "at most 16777216 bytes" in r.json()["detail"]["message"], r.text[:300]
    r = c.post(preds, content=(chunk for chunk in (big[:1 << 20], big[1 << 20:])), headers=JSON_CT)  # no length
    assert r.status_code == 413, r.text[:300]
    r = c.post(preds, content=gzip.compress(big), headers={**JSON_CT, "Content-Encoding": "gzip"})
    assert r.status_code == 413 and "decompressed" in r.json()["detail"]["message"], r.text[:300]

    # other bad requests are clear 4xx
    r = c.post("/v1/models/nope/predictions", json={"events": [event(60)]})
    assert r.status_code == 404 and "'nope'" in r.json()["detail"]["message"]
    assert c.get(f"/v1/models/nope/metrics?from={T0}&to={T0 + 60}").status_code == 404
    for ct, content in (("text/plain", b"id,score\n"), ("application/xml", b"<a/>"), ("application/json", b"{"),
                        ("application/json", b'{"rows": []}'), ("application/x-ndjson", b"{\n"),
                        ("application/vnd.apache.arrow.stream", b"not arrow")):
        r = c.post(preds, content=content, headers={"Content-Type": ct})
        assert r.status_code in (400, 415), (ct, r.status_code, r.text)
        assert "expected" in r.json()["detail"]["message"]
    r = c.post(preds, content=b"garbage", headers={**JSON_CT, "Content-Encoding": "gzip"})
    assert r.status_code == 400 and "decompress" in r.json()["detail"]["message"]
    for query in (f"from=yesterday&to={T0}", f"from={T0}&to=2027-01-15T09:00:00", f"from={T0}", f"to={T0}",
                  f"from={T0 + 60}&to={T0}", f"from={T0}&to={T0 + 60}&step=7m", f"from={T0}&to={T0 + 60}&step=x",
                  f"from={T0}&to={T0 + 60}&step=1h&segment=amount"):
        r = c.get(f"/v1/models/fraud/metrics?{query}")
        assert r.status_code == 400, (query, r.status_code, r.text)
        assert "expected" in r.json()["detail"]["message"], (query, r.text)
    r = c.get(f"/v1/models/fraud/drift?from={T0}&to={T0 + 60}")
    assert r.status_code == 400 and "reference" in r.json()["detail"]["message"]
    assert c.get("/v1/models/fraud/events/never").status_code == 404

    # a saturated server (one ingest request in flight at most) answers 503 with Retry-After, and stores nothing
    def post_until_accepted(k: int) -> list[int]:
        rows = [event(i) for i in range(200_000 + 2000 * k, 200_000 + 2000 * (k + 1))]
        codes = []
        with client(server, token) as own:
            while not codes or codes[-1] != 200:
                r = own.post(preds, json={"events": rows})
                codes.append(r.status_code)
                if r.status_code == 503:
                    assert int(r.headers["retry-after"]) >= 1
                    time.sleep(0.05)
                else:
                    _answer(r, 2000)  # a refused attempt stored nothing, so the accepted one stores all
        return codes

    with ThreadPoolExecutor(8) as pool:
        codes = [code for attempt in pool.map(post_until_accepted, range(8)) for code in attempt]
    assert set(codes) == {200, 503} and codes.count(200) == 8, codes

    # the counters of the status
    status = poll(lambda: c.get("/v1/models/fraud/status").json(),
                  lambda s: s["materialization_lag"]["predictions"] == 0)
    assert (status["events"], status["labels"], status["duplicates"], status["conflicts"]) == (
        15 + 1 + 2 + 1 + 10_000 + 8 * 2000, 1, 3 + 1, 1 + 1), status
    c.close()


def test_arrow_timestamps_without_a_zone_are_utc(monkeypatch: pytest.MonkeyPatch) -> None:
    """An Arrow ``timestamp`` without a time zone is UTC (as pandas and Arrow read it), whatever the server's zone."""
    from assay.watch.events import decode_body

    table = pa.table({"id": ["a"], "timestamp": pa.array([T0], pa.timestamp("s"))})
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        (event,) = decode_body(_arrow_stream(table), "application/vnd.apache.arrow.stream")
    finally:
        monkeypatch.undo()
        time.tzset()
    assert event["timestamp"] == T0


# -- reads -------------------------------------------------------------------------------------------------------------

def offline(rows: list[dict[str, Any]], labels: dict[str, int]) -> dict[str, Any]:
    joined = [r for r in rows if r["id"] in labels]
    data = {"id": [r["id"] for r in joined], "score": [r["score"] for r in joined],
            "is_fraud": [labels[r["id"]] for r in joined], "country": [r["country"] for r in joined]}
    return assay.evaluate(data, task="binary", label="is_fraud", score="score", segments=["country"],
                          id="id").to_dict()


def test_reads_equal_offline(serve: Callable[..., Server], store_url: str) -> None:
    server = serve(store_url)
    (token,) = tokens_of(server.config, store_url, ("ci", ("ingest", "read")))
    c = client(server, token)
    n = 2000
    events, y = fraud_events(n)  # two hours, every 3.6 s
    labels = {f"p{i}": int(y[i]) for i in range(n) if i % 10 != 9}  # 1800 labeled, 200 never
    early = {k: v for k, v in labels.items() if int(k[1:]) < 300}
    late = {k: v for k, v in labels.items() if int(k[1:]) >= 300}

    def post(kind: str, rows: list[dict[str, Any]]) -> None:
        for i in range(0, len(rows), 500):
            r = c.post(f"/v1/models/fraud/{kind}", json={"events": rows[i:i + 500]})
            assert r.status_code == 200 and r.json()["accepted"] == len(rows[i:i + 500]), r.text

    post("labels", [{"id": k, "is_fraud": v} for k, v in early.items()])  # before their predictions
    post("labels", [{"id": f"orphan{i}", "is_fraud": 1} for i in range(5)])  # a prediction that never comes
    post("predictions", events)
    post("labels", [{"id": k, "is_fraud": v} for k, v in late.items()])
    acked = time.monotonic()

    q = f"from={T0}&to={T0 + 7200}"
    doc = poll(lambda: c.get(f"/v1/models/fraud/metrics?{q}").json(),
               lambda d: d["dataset"]["rows_used"] == len(labels), timeout=5.0)
    assert time.monotonic() - acked < 5.0
    want = offline(events, labels)
    assert doc["schema"] == "assay.run/1" and doc["model"] == {"name": "fraud", "version": "7"}
    assert doc["dataset"]["rows"] == n and doc["dataset"]["rows_missing_label"] == n - len(labels)
    assert doc["dataset"]["fingerprint"] == want["dataset"]["fingerprint"]
    for section in ("metrics", "slices", "fairness", "calibration", "curves", "confusion_matrix"):
        assert_close(doc[section], want[section], section)
    assert doc["label_coverage"] == pytest.approx(len(labels) / n)
    assert doc["range"]["widened"] is False and doc["versions"] == ["7"]
    assert doc["traffic"]["predictions"]["value"] == n

    # a range inside windows is widened to them, and says so
    widened = c.get(f"/v1/models/fraud/metrics?from={iso(T0 + 1)}&to={iso(T0 + 599)}").json()
    assert widened["range"] == {"from": iso(T0), "to": iso(T0 + 600), "requested_from": iso(T0 + 1),
                                "requested_to": iso(T0 + 599), "widened": True}
    in_range = [e for e in events if T0 <= e["timestamp"] < T0 + 600]
    assert widened["dataset"]["rows"] == len(in_range)
    assert_close(widened["metrics"], offline(in_range, labels)["metrics"], "widened")
    assert c.get(f"/v1/models/fraud/metrics?{q}&version=8").json()["dataset"]["rows"] == 0

    # the hourly series: each window equals offline on its hour's rows
    series = c.get(f"/v1/models/fraud/metrics?{q}&step=1h&segment=country").json()
    assert series["schema"] == "assay.series/1" and series["step"] == 3600 and series["segment"] == "country"
    wins = series["windows"]
    assert [(w["start"], w["end"]) for w in wins] == [(iso(T0), iso(T0 + 3600)), (iso(T0 + 3600), iso(T0 + 7200))]
    assert sum(w["predictions"] for w in wins) == n and sum(w["labeled"] for w in wins) == len(labels)
    for w, lo in zip(wins, (T0, T0 + 3600), strict=True):
        hour = [e for e in events if lo <= e["timestamp"] < lo + 3600]
        hour_labeled = sum(e["id"] in labels for e in hour)
        assert (w["predictions"], w["labeled"]) == (len(hour), hour_labeled)
        assert w["label_coverage"] == pytest.approx(hour_labeled / len(hour))
        assert w["traffic"]["predictions"]["value"] == len(hour)
        assert w["traffic"]["score_mean"]["value"] == pytest.approx(np.mean([e["score"] for e in hour]))
        ref = offline(hour, labels)
        for name, m in ref["metrics"].items():
            if name == "ece":  # a series resamples its ECE intervals fewer times than a run document does
                assert_close({k: w["metrics"][name][k] for k in ("value", "n")}, {"value": m["value"], "n": m["n"]})
                for k in ("ci_low", "ci_high"):
                    assert w["metrics"][name][k] == pytest.approx(m[k], abs=0.01), (name, k)
                continue
            assert_close(w["metrics"][name], {k: m[k] for k in ("value", "ci_low", "ci_high", "n")}, name)
        assert set(w["segments"]) == set(ref["slices"]["country"])
        for group, entry in ref["slices"]["country"].items():
            assert w["segments"][group]["accuracy"]["value"] == pytest.approx(entry["metrics"]["accuracy"]["value"])
    five = c.get(f"/v1/models/fraud/metrics?{q}&step=5m").json()["windows"]
    assert len(five) == 24 and sum(w["predictions"] for w in five) == n

    # the status, and the stored events
    status = c.get("/v1/models/fraud/status").json()
    assert {k: status[k] for k in ("schema", "model", "events", "labels", "pending_labels", "duplicates",
                                   "conflicts", "newest_event_time", "versions", "window")} == {
        "schema": "assay.status/1", "model": "fraud", "events": n, "labels": len(labels) + 5, "pending_labels": 5,
        "duplicates": 0, "conflicts": 0, "newest_event_time": iso(events[-1]["timestamp"]), "versions": ["7"],
        "window": "5m"}
    assert status["materialization_lag"]["predictions"] == status["materialization_lag"]["labels"] == 0
    got = c.get("/v1/models/fraud/events/p10").json()
    assert got["id"] == "p10" and got["pending"] is False
    (pred,) = got["predictions"]
    assert pred["version"] == "7" and pred["timestamp"] == iso(T0 + 36) and pred["window_start"] == iso(T0)
    assert pred["row"] == {k: events[10][k] for k in ("score", "country", "amount", "latency_s")}
    assert got["label"]["row"] == {"is_fraud": labels["p10"]}
    assert c.get("/v1/models/fraud/events/p19").json()["label"] is None
    orphan = c.get("/v1/models/fraud/events/orphan0").json()
    assert orphan["pending"] is True and orphan["predictions"] == [] and orphan["label"]["row"] == {"is_fraud": 1}
    models = c.get("/v1/models").json()["models"]
    assert [(m["name"], m["task"], m["versions"]) for m in models] == [("fraud", "binary", ["7"])]
    c.close()


def _keyed(value: Any, key: str) -> str:
    return "h:" + hmac.new(key.encode(), json.dumps(value).encode(), hashlib.sha256).hexdigest()[:32]


def test_redaction(serve: Callable[..., Server], tmp_path: Path) -> None:
    shop = ("  shop: {task: binary, score: score, label: y, features: [email, amount], text: [note], redact: [email],"
            " redact_patterns: [email]}\n")
    event = {"id": "o1", "timestamp": T0, "score": 0.4, "email": "ann@example.com", "amount": 3.0,
             "note": "mail ann@example.com please"}
    for key in ("xyz", None):
        store = f"sqlite:///{tmp_path / f'redact-{key}.sqlite'}"
        server = serve(store, shop + (f"redaction_key: {key}\n" if key else ""))
        (token,) = tokens_of(server.config, store, ("ci", ("ingest", "read")))
        with client(server, token) as c:
            _answer(c.post("/v1/models/shop/predictions", json={"events": [event]}), 1)
            _answer(c.post("/v1/models/shop/predictions", json={"events": [event]}), 0, duplicates=1)
            row = c.get("/v1/models/shop/events/o1").json()["predictions"][0]["row"]
        want = {"score": 0.4, "amount": 3.0, "note": "mail [email] please"}
        if key:
            want["email"] = _keyed("ann@example.com", key)
        assert row == want
        server.stop()
        raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith(f"redact-{key}.sqlite"))
        assert b"ann@example.com" not in raw


# -- drift -------------------------------------------------------------------------------------------------------------

def test_drift_route_equals_offline(serve: Callable[..., Server], tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    reference = pa.table({"amount": rng.normal(40, 8, 5000), "country": rng.choice(["DE", "FR", "US"], 5000)})
    profile = assay.profile(reference)
    profile.save(tmp_path / "ref.profile")
    store = f"sqlite:///{tmp_path / 'watch.sqlite'}"
    server = serve(store, "    reference: {profile: ref.profile}\n")
    (token,) = tokens_of(server.config, store, ("ci", ("ingest", "read")))
    n = 1500
    amount = rng.normal(46, 8, n).round(3)  # shifted
    country = rng.choice(["DE", "FR", "US"], n)
    events = [{"id": f"d{i}", "timestamp": T0 + i, "score": 0.5, "amount": float(amount[i]),
               "country": str(country[i])} for i in range(n)]
    with client(server, token) as c:
        for i in range(0, n, 500):
            _answer(c.post("/v1/models/fraud/predictions", json={"events": events[i:i + 500]}), 500)
        q = f"/v1/models/fraud/drift?from={T0}&to={T0 + 3600}"
        doc = poll(lambda: c.get(q).json(), lambda d: d.get("current", {}).get("rows") == n)
        assert c.get(f"/v1/models/fraud/drift?from={T0 - 7200}&to={T0 - 3600}").status_code == 404
    want = assay.drift(profile, pa.table({"amount": amount, "country": country})).to_dict()
    assert doc["schema"] == "assay.drift/1" and doc["model"] == {"name": "fraud", "version": None}
    assert doc["columns"]["amount"]["drifted"] is True
    assert (doc["drifted"], doc["n_drifted"], doc["n_columns"]) == (want["drifted"], want["n_drifted"],
                                                                      want["n_columns"])
    for col in ("amount", "country"):
        got, ref = doc["columns"][col], want["columns"][col]
        assert got["drifted"] == ref["drifted"] and got["method"] == ref["method"]
        for k in ("statistic", "p_value", "p_adjusted", "effect", "severity"):  # states merged in another order
            assert got[k] == pytest.approx(ref[k], rel=1e-6, abs=1e-300), (col, k, got[k], ref[k])
        assert_close(got["quality"], ref["quality"], f"{col}.quality")


# -- OTLP --------------------------------------------------------------------------------------------------------------

CHAT = ("  chat: {task: llm, text: [prompt, response], latency: latency_s, status: status}\n"
        "traces:\n  - {match: {service.name: support-bot}, model: chat}\n")


def _genai_spans() -> tuple[list[Any], list[str], str]:
    """Six GenAI spans of support-bot (known durations, one refusal, one error), a plain span, and a GenAI span of
    another service; their ids as ``trace:span``."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import Status, StatusCode

    memories = []
    ids: list[str] = []
    other = ""
    for service in ("support-bot", "billing"):
        provider = TracerProvider(resource=Resource.create({"service.name": service, "service.version": "3"}))
        memory = InMemorySpanExporter()
        memories.append(memory)
        provider.add_span_processor(SimpleSpanProcessor(memory))
        tracer = provider.get_tracer("test")
        replies = ["Sure: reset it from settings.", "I'm sorry, I can't help with that.", '{"answer": 42}',
                   "Done.", "Here you go.", ""]
        for i, reply in enumerate(replies if service == "support-bot" else replies[:1]):
            start = (T0 + 10 * i) * 1_000_000_000
            span = tracer.start_span("chat gpt-4o-mini", start_time=start, attributes={
                "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o-mini", "gen_ai.usage.input_tokens": 12 + i,
                "gen_ai.usage.output_tokens": 30 + i,
                "gen_ai.input.messages": json.dumps([{"role": "user", "parts": [
                    {"type": "text", "content": f"question {i}"}]}]),
                "gen_ai.output.messages": json.dumps([{"role": "assistant", "parts": [
                    {"type": "text", "content": reply}], "finish_reason": "stop"}])})
            if i == 3:
                span.set_status(Status(StatusCode.ERROR, "upstream timeout"))
            ctx = span.get_span_context()
            span.end(end_time=start + int(0.5e9) * (i + 1))  # 0.5 s, 1 s, ... 3 s
            if service == "support-bot":
                ids.append(f"{ctx.trace_id:032x}:{ctx.span_id:016x}")
            else:
                other = f"{ctx.trace_id:032x}:{ctx.span_id:016x}"
        if service == "support-bot":
            with tracer.start_as_current_span("SELECT orders") as plain:
                plain.set_attribute("db.system", "postgresql")
                ctx = plain.get_span_context()
                ids.append(f"{ctx.trace_id:032x}:{ctx.span_id:016x}")
        provider.force_flush()
    return [s for m in memories for s in m.get_finished_spans()], ids, other


def test_otlp_traces_from_the_sdk_exporter(serve: Callable[..., Server], tmp_path: Path) -> None:
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import SpanExportResult

    store = f"sqlite:///{tmp_path / 'watch.sqlite'}"
    server = serve(store, CHAT)
    (token,) = tokens_of(server.config, store, ("ci", ("ingest", "read")))
    spans, ids, other = _genai_spans()
    genai, plain = ids[:-1], ids[-1]
    half = len(spans) // 2
    for part, compression in ((spans[:half], Compression.NoCompression), (spans[half:], Compression.Gzip)):
        exporter = OTLPSpanExporter(endpoint=server.url + "/v1/traces", headers={"Authorization": f"Bearer {token}"},
                                    compression=compression, timeout=30)
        assert exporter.export(part) == SpanExportResult.SUCCESS
        exporter.shutdown()
    bad = OTLPSpanExporter(endpoint=server.url + "/v1/traces", headers={"Authorization": "Bearer nope"}, timeout=30)
    assert bad.export(spans[:1]) == SpanExportResult.FAILURE
    bad.shutdown()

    c = client(server, token)
    for i, id_ in enumerate(genai):
        got = c.get(f"/v1/models/chat/events/{id_}")
        assert got.status_code == 200, (id_, got.text)
        (pred,) = got.json()["predictions"]
        assert pred["version"] == "3" and pred["timestamp"] == iso(T0 + 10 * i)
        assert pred["row"]["latency_s"] == pytest.approx(0.5 * (i + 1))
        assert pred["row"]["prompt"] == f"question {i}"
        assert pred["row"]["status"] == ("error" if i == 3 else "ok")
    assert c.get(f"/v1/models/chat/events/{plain}").status_code == 404  # not a GenAI span: ignored
    assert c.get(f"/v1/models/chat/events/{other}").status_code == 404  # no rule maps its service

    # OTLP/JSON: one span accepted, a malformed GenAI span rejected in the partial success
    def json_span(span_id: str, **attrs: Any) -> dict[str, Any]:
        return {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": span_id, "name": "chat",
                "startTimeUnixNano": str((T0 + 100) * 10**9), "endTimeUnixNano": str((T0 + 100) * 10**9 + 10**9),
                "attributes": [{"key": k, "value": v} for k, v in attrs.items()]}
    body = {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name",
                                                            "value": {"stringValue": "support-bot"}}]},
                               "scopeSpans": [{"spans": [
                                   json_span("eee19b7ec3c1b174", **{
                                       "gen_ai.system": {"stringValue": "openai"},
                                       "gen_ai.usage.prompt_tokens": {"intValue": "5"},
                                       "gen_ai.prompt": {"stringValue": "hello"},
                                       "gen_ai.completion": {"stringValue": "I cannot do that."}}),
                                   json_span("eee19b7ec3c1b175", **{
                                       "gen_ai.usage.output_tokens": {"intValue": "-3"}})]}]}]}
    r = c.post("/v1/traces", json=body)
    assert r.status_code == 200, r.text
    assert r.json()["partialSuccess"]["rejectedSpans"] == "1"
    assert "negative token count" in r.json()["partialSuccess"]["errorMessage"]
    r = c.post("/v1/traces", json=body)  # a resend: nothing new, nothing rejected but the malformed span
    assert r.status_code == 200 and r.json()["partialSuccess"]["rejectedSpans"] == "1"
    got = c.get("/v1/models/chat/events/5b8efff798038103d269b633813fc60c:eee19b7ec3c1b174").json()
    assert got["predictions"][0]["row"]["response"] == "I cannot do that."
    r = c.post("/v1/traces", content=b"{", headers=JSON_CT)
    assert r.status_code == 400
    r = c.post("/v1/traces", content=b"\x00\x01", headers={"Content-Type": "text/plain"})
    assert r.status_code in (400, 415), r.text

    # the traffic series of the model
    q = f"/v1/models/chat/metrics?from={T0}&to={T0 + 300}&step=5m"
    (win,) = poll(lambda: c.get(q).json()["windows"], lambda w: w[0]["predictions"] == 7)
    t = win["traffic"]
    assert t["predictions"]["value"] == 7 and win["labeled"] == 0 and win["metrics"] == {}
    latencies = sorted([0.5 * (i + 1) for i in range(6)] + [1.0])
    assert t["latency_p50"]["value"] == pytest.approx(np.quantile(latencies, 0.5), rel=0.05)
    assert t["latency_mean"]["value"] == pytest.approx(np.mean(latencies))
    assert t["error_rate"]["value"] == pytest.approx(1 / 7)
    assert t["response_refusal_rate"]["value"] == pytest.approx(2 / 7)
    assert t["response_empty_rate"]["value"] == pytest.approx(1 / 7)
    assert t["prompt_length_mean"]["value"] == pytest.approx(np.mean([10] * 6 + [5]))
    r = c.get(f"/v1/models/chat/metrics?from={T0}&to={T0 + 300}")  # an llm model has no realized metrics
    assert r.status_code == 400 and "step=" in r.json()["detail"]["message"]
    c.close()


# -- hostile inputs ----------------------------------------------------------------------------------------------------

def test_hostile_inputs_get_a_clear_4xx_never_a_500(serve: Callable[..., Server], store_url: str) -> None:
    server = serve(store_url)
    (token,) = tokens_of(server.config, store_url, ("ci", ("ingest", "read")))
    problems: list[str] = []

    def expect(what: str, codes: tuple[int, ...], method: str, path: str, **kw: Any) -> httpx.Response | None:
        with client(server, token) as c:  # a fresh connection: a server error may close the last one
            try:
                r = c.request(method, path, **kw)
            except httpx.TransportError as exc:
                problems.append(f"{what}: expected {codes}, found no answer ({exc!r})")
                return None
        if r.status_code not in codes:
            problems.append(f"{what}: expected {codes}, found {r.status_code} {r.text[:160]}")
        return r

    preds = "/v1/models/fraud/predictions"
    # event times outside what RFC 3339 can write (years 0001 to 9999), or not numbers at all
    for i, ts in enumerate((1e300, -1e20, 1e15, 253_402_300_800, "1e400", "nan", "-inf", "Infinity")):
        r = expect(f"an event at {ts!r}", (422,), "POST", preds,
                   json={"events": [{"id": f"t{i}", "timestamp": ts, "score": 0.5}]})
        if r is not None and r.status_code == 422 and r.json()["detail"]["errors"][0]["field"] != "timestamp":
            problems.append(f"an event at {ts!r}: the error names {r.json()['detail']['errors'][0]['field']}")
        if r is not None and r.status_code == 200:
            expect(f"the stored event at {ts!r}", (200,), "GET", f"/v1/models/fraud/events/t{i}")
    for q in ("from=1e300&to=1e301", "from=nan&to=1", "from=-inf&to=0", f"from={T0}&to=1e15", "from=-1e20&to=0"):
        expect(f"metrics?{q}", (400,), "GET", f"/v1/models/fraud/metrics?{q}")
    # bodies nested deeper than a decoder can follow
    for ct in ("application/json", "application/x-ndjson"):
        expect(f"a deeply nested {ct} body", (400,), "POST", preds, content=b"[" * 100_000,
               headers={"Content-Type": ct})
    # NUL characters in keys (PostgreSQL text cannot hold them)
    expect("a NUL in an id", (422,), "POST", preds, json={"events": [{"id": "a\u0000", "timestamp": T0,
                                                                       "score": 0.5}]})
    expect("a NUL in a version", (422,), "POST", preds, json={"events": [
        {"id": "a", "version": "7\u0000", "timestamp": T0, "score": 0.5}]})
    expect("a NUL in a label's id", (422,), "POST", "/v1/models/fraud/labels",
           json={"events": [{"id": "a\u0000", "is_fraud": 1}]})
    expect("a NUL in an event id", (400, 404), "GET", "/v1/models/fraud/events/a%00")
    expect("a NUL in a version", (400,), "GET", f"/v1/models/fraud/metrics?from={T0}&to={T0 + 60}&version=%00")

    # whatever came before, the service still answers and folds new events
    expect("the status", (200,), "GET", "/v1/models/fraud/status")
    expect("a sane event", (200,), "POST", preds, json={"events": [{"id": "sane", "timestamp": T0, "score": 0.5}]})
    q = f"/v1/models/fraud/metrics?from={T0}&to={T0 + 300}&step=5m"
    with client(server, token) as c:
        try:
            poll(lambda: c.get(q).json()["windows"][0]["predictions"], lambda k: k >= 1, timeout=5)
        except (AssertionError, KeyError, ValueError) as exc:
            problems.append(f"the materializer did not fold a sane event after the others: {str(exc)[:200]}")
    assert not problems, "\n".join(problems)


def test_an_acknowledged_event_never_blocks_the_materializer(serve: Callable[..., Server], tmp_path: Path) -> None:
    """Events the ingest accepts must fold: one that the evaluation states refuse (a label outside the classes, a
    third label value of a binary model, probabilities not summing to one) would stop every model's windows."""
    store = f"sqlite:///{tmp_path / 'watch.sqlite'}"
    server = serve(store, "  kinds: {task: multiclass, proba_prefix: p_, label: y, classes: [a, b]}\n"
                          "  flags: {task: binary, score: s, label: y}\n")
    (token,) = tokens_of(server.config, store, ("ci", ("ingest", "read")))
    c = client(server, token)
    poison = [
        ("kinds", [{"id": "k1", "timestamp": T0, "p_a": 0.6, "p_b": 0.4}], [{"id": "k1", "y": "zzz"}]),
        ("kinds", [{"id": "k2", "timestamp": T0, "p_a": 0.9, "p_b": 0.9}], [{"id": "k2", "y": "a"}]),
        ("kinds", [{"id": "k3", "timestamp": T0, "p_a": 0.5, "p_b": 0.3, "p_c": 0.2}], [{"id": "k3", "y": "a"}]),
        ("flags", [{"id": f"f{i}", "timestamp": T0, "s": 0.5} for i in range(3)],
         [{"id": f"f{i}", "y": i} for i in range(3)]),
    ]
    accepted = []
    for model, preds, labels in poison:
        for kind, rows in (("predictions", preds), ("labels", labels)):
            r = c.post(f"/v1/models/{model}/{kind}", json={"events": rows})
            assert r.status_code in (200, 422), r.text
            if r.status_code == 200:
                accepted.append((model, kind, rows))
    _answer(c.post("/v1/models/fraud/predictions", json={"events": [{"id": "sane", "timestamp": T0,
                                                                      "score": 0.5}]}), 1)
    q = f"/v1/models/fraud/metrics?from={T0}&to={T0 + 300}&step=5m"
    try:
        poll(lambda: c.get(q).json()["windows"][0]["predictions"], lambda k: k >= 1, timeout=5)
    except AssertionError:
        log = server.log.read_text() if server.log else ""
        reason = next((ln for ln in reversed(log.splitlines()) if "materializer" in ln), "")
        raise AssertionError(f"the materializer is stuck ({reason[:300]}); acknowledged but not foldable: "
                             f"{json.dumps(accepted)[:1500]}") from None
    status = poll(lambda: c.get("/v1/models/kinds/status").json(),
                  lambda s: s["materialization_lag"]["predictions"] == s["materialization_lag"]["labels"] == 0)
    assert status["events"] >= 0
    c.close()


@pytest.mark.parametrize(("args", "word"), [(["--workers", "0"], "--workers"),
                                            (["--materializer", "thread", "--workers", "2"], "--materializer")])
def test_serve_refuses_bad_process_options_before_listening(tmp_path: Path, args: list[str], word: str) -> None:
    config = tmp_path / "watch.yaml"
    config.write_text(f"store: sqlite:///{tmp_path / 'w.sqlite'}\nmodels:\n  m: {{task: binary, score: s, label: y}}\n")
    r = subprocess.run([ASSAY, "serve", "--config", str(config), "--port", "1", *args], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2 and word in r.stderr and "Fix:" in r.stderr
    assert "Traceback" not in r.stderr and "listening" not in r.stderr
    assert not (tmp_path / "w.sqlite").exists()  # refused before the store was opened
