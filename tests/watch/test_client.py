"""The monitoring client against a scripted in-memory server (``httpx.MockTransport``): batching, ids, frames,
retries and their waits, 413 splitting, the failure path, refusals, flush/close, threads; then ``assay watch
replay`` end to end."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
import uuid
import weakref
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from assay.cli import watch
from assay.errors import AssayError, ColumnError, ConfigError, InputError, ReadError
from assay.watch.client import Client, ClientError, DeliveryWarning, Stats, _close_at_exit
from assay.watch.ids import timestamp_ms

URL = "http://watch.test"


class Server:
    """Records every request; answers 200 (all accepted) unless ``script`` (a list of answers, consumed in order;
    an exception instance is raised) or ``handler`` say otherwise."""

    def __init__(self, script: list[Any] | None = None,
                 handler: Callable[[httpx.Request, list[dict[str, Any]]], httpx.Response] | None = None) -> None:
        self.script = list(script or [])
        self.handler = handler
        self.requests: list[httpx.Request] = []
        self.lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        events = json.loads(request.content)["events"]
        with self.lock:
            self.requests.append(request)
            answer = self.script.pop(0) if self.script else None
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, httpx.Response):
            return answer
        if self.handler is not None:
            return self.handler(request, events)
        return ok(len(events))

    @property
    def batches(self) -> list[list[dict[str, Any]]]:
        with self.lock:
            return [json.loads(r.content)["events"] for r in self.requests]

    @property
    def events(self) -> list[dict[str, Any]]:
        return [event for batch in self.batches for event in batch]

    def wait_for(self, count: int, timeout: float = 3.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.005)
        assert len(self.requests) >= count, f"{len(self.requests)} requests, expected {count}"


def ok(n: int, duplicates: int = 0, conflicts: int = 0) -> httpx.Response:
    return httpx.Response(200, json={"accepted": n - duplicates - conflicts, "duplicates": duplicates,
                                     "conflicts": conflicts, "conflict_ids": []})


class FakeTime:
    """``clock`` and ``sleep`` for the client: sleeping moves the clock and records the wait."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def client(server: Server, **options: Any) -> Client:
    options.setdefault("flush_interval", 1000.0)
    return Client(URL, "s3cret", transport=httpx.MockTransport(server), **options)


# --- batching ------------------------------------------------------------------------------------------------------

def test_batches_by_size_then_the_rest_on_flush() -> None:
    server = Server()
    with client(server, batch_size=3) as c:
        c.log_predictions("fraud", [{"id": f"tx-{i}", "score": i / 10} for i in range(7)])
        server.wait_for(2)
        time.sleep(0.05)
        assert [len(b) for b in server.batches] == [3, 3]  # the partial batch waits
        c.flush()
        assert [len(b) for b in server.batches] == [3, 3, 1]
    assert [e["id"] for e in server.events] == [f"tx-{i}" for i in range(7)]
    request = server.requests[0]
    assert request.method == "POST" and request.url.path == "/v1/models/fraud/predictions"
    assert request.headers["authorization"] == "Bearer s3cret"
    assert request.headers["content-type"] == "application/json"
    assert c.stats == Stats(accepted=7)


def test_batches_by_interval_follow_the_clock() -> None:
    server, fake = Server(), FakeTime()
    with client(server, flush_interval=0.05, clock=fake.clock, sleep=fake.sleep) as c:
        c.log_predictions("fraud", [{"id": "a"}, {"id": "b"}])
        time.sleep(0.15)
        assert server.requests == []  # the (fake) interval has not passed
        fake.now += 0.06
        server.wait_for(1)
        assert server.batches == [[{"id": "a"}, {"id": "b"}]]


def test_real_interval_flushes_without_a_call() -> None:
    server = Server()
    with client(server, flush_interval=0.02) as c:
        c.log_labels("fraud", [{"id": "a", "is_fraud": 1}])
        server.wait_for(1)
    assert server.requests[0].url.path == "/v1/models/fraud/labels"


def test_flush_and_close_deliver_everything() -> None:
    server = Server()
    c = client(server, batch_size=1000)
    c.log_predictions("m", [{"id": str(i)} for i in range(2500)])
    c.log_labels("m", [{"id": str(i), "y": 1} for i in range(10)])
    c.close()
    assert sorted(len(b) for b in server.batches) == [10, 500, 1000, 1000]
    assert len(server.events) == 2510
    c.close()  # again: nothing
    with pytest.raises(ClientError, match="closed"):
        c.log_predictions("m", [{"id": "late"}])


def test_predictions_go_before_labels_in_one_round() -> None:
    server = Server()
    with client(server) as c:
        c.log_labels("m", [{"id": "a", "y": 0}])
        c.log_predictions("m", [{"id": "a", "score": 0.1}])
    assert [r.url.path.rsplit("/", 1)[1] for r in server.requests] == ["predictions", "labels"]


def test_model_name_is_quoted_in_the_route() -> None:
    server = Server()
    with client(server) as c:
        c.log_predictions("team/fraud v2", [{"id": "a"}])
    assert server.requests[0].url.raw_path == b"/v1/models/team%2Ffraud%20v2/predictions"


def test_url_and_token_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSAY_URL", "http://env.test/")
    monkeypatch.setenv("ASSAY_TOKEN", "from-env")
    server = Server()
    with Client(transport=httpx.MockTransport(server)) as c:
        c.log_predictions("m", [{"id": "a"}])
    assert str(server.requests[0].url) == "http://env.test/v1/models/m/predictions"
    assert server.requests[0].headers["authorization"] == "Bearer from-env"


def test_no_url_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ASSAY_URL", raising=False)
    with pytest.raises(ConfigError, match=r"ASSAY_URL"):
        Client()
    with pytest.raises(ConfigError, match="http"):
        Client("watch.test")


@pytest.mark.parametrize("option", [{"batch_size": 0}, {"batch_size": 1.5}, {"flush_interval": 0},
                                    {"max_retry_time": -1}, {"timeout": float("nan")}])
def test_bad_options_are_rejected(option: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match=next(iter(option))):
        Client(URL, **option)


# --- ids and rows --------------------------------------------------------------------------------------------------

def test_ids_generated_when_missing_and_returned_in_order() -> None:
    server = Server()
    with client(server) as c:
        ids = c.log_predictions("m", [{"id": "tx-1"}, {"score": 1}, {"id": None, "score": 2}, {"id": 5}])
    assert ids[0] == "tx-1" and ids[3] == "5"
    for generated in ids[1:3]:
        assert uuid.UUID(generated).version == 7
        assert abs(timestamp_ms(generated) - time.time() * 1000) < 60_000
    assert ids[1] < ids[2]
    assert [e["id"] for e in server.events] == ids


def test_caller_rows_are_not_modified() -> None:
    rows = [{"score": 0.5}]
    with client(Server()) as c:
        c.log_predictions("m", rows)
    assert rows == [{"score": 0.5}]


def test_values_become_json() -> None:
    server = Server()
    aware = datetime(2026, 12, 1, 11, 0, tzinfo=UTC) + timedelta(microseconds=250)
    with client(server) as c:
        c.log_predictions("m", [{
            "id": "a", "naive": datetime(2026, 12, 1, 10, 0), "aware": aware.astimezone(),
            "np_int": np.int64(3), "np_float": np.float32(0.5), "nan": float("nan"), "np_bool": np.bool_(True),
            "dt64": np.datetime64("2026-12-01T10:00:00.000000001"), "nat": np.datetime64("NaT"),
            "tags": ("x", np.int8(1)), "nested": {"k": np.float64("inf")},
        }])
    event = server.events[0]
    assert event == {"id": "a", "naive": "2026-12-01T10:00:00Z", "aware": "2026-12-01T11:00:00.000250Z",
                     "np_int": 3, "np_float": 0.5, "nan": None, "np_bool": True, "dt64": "2026-12-01T10:00:00Z",
                     "nat": None, "tags": ["x", 1], "nested": {"k": None}}


def test_pandas_frame() -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({
        "id": ["a", None, "c"],
        "timestamp": pd.to_datetime(["2026-12-01T10:00:00Z", "2026-12-01T10:00:01.5Z", None], format="ISO8601"),
        "score": [0.9, np.nan, 0.1],
        "n": np.array([1, 2, 3], dtype=np.int32),
    }, index=[10, 11, 12])
    server = Server()
    with client(server) as c:
        ids = c.log_predictions("m", frame)
    assert ids[0] == "a" and ids[2] == "c" and uuid.UUID(ids[1]).version == 7
    assert server.events == [
        {"id": "a", "timestamp": "2026-12-01T10:00:00Z", "score": 0.9, "n": 1},
        {"id": ids[1], "timestamp": "2026-12-01T10:00:01.500000Z", "score": None, "n": 2},
        {"id": "c", "timestamp": None, "score": 0.1, "n": 3},
    ]


def test_polars_frame() -> None:
    pl = pytest.importorskip("polars")
    frame = pl.DataFrame({"id": ["a", "b"], "at": [datetime(2026, 1, 2, 3, 4, 5), None], "y": [1, 0]})
    server = Server()
    with client(server) as c:
        c.log_labels("m", frame)
    assert server.events == [{"id": "a", "at": "2026-01-02T03:04:05Z", "y": 1}, {"id": "b", "at": None, "y": 0}]


def test_arrow_table_and_batch() -> None:
    table = pa.table({"id": pa.array([1, None]), "ts": pa.array([0, 1_500_000], pa.timestamp("us", tz="UTC"))})
    server = Server()
    with client(server) as c:
        ids = c.log_predictions("m", table)
        c.log_predictions("m", table.to_batches()[0])
    assert ids[0] == "1"
    events = server.events
    assert events[0] == {"id": "1", "ts": "1970-01-01T00:00:00Z"}
    assert events[1]["ts"] == "1970-01-01T00:00:01.500000Z"
    assert len(events) == 4 and events[1]["id"] != events[3]["id"]


def test_empty_rows_send_nothing() -> None:
    server = Server()
    with client(server) as c:
        assert c.log_predictions("m", []) == []
        c.log_labels("m", pa.table({"id": pa.array([], pa.string())}))
    assert server.requests == []


def test_labels_need_ids() -> None:
    server = Server()
    with client(server) as c:
        with pytest.raises(InputError, match=r"row 1 of the labels of model 'm'.*'id'.*found no such field"):
            c.log_labels("m", [{"id": "a", "y": 1}, {"y": 0}])
        with pytest.raises(InputError, match=r"row 0 .*found None"):
            c.log_labels("m", [{"id": None, "y": 0}])
    assert server.requests == []  # nothing of a bad call is queued


def test_custom_id_column() -> None:
    server = Server()
    with client(server, id_column="event_id") as c:
        ids = c.log_predictions("m", [{"event_id": "e1"}, {}])
        c.log_labels("m", [{"event_id": "e1", "y": 1}])
    assert server.events[1]["event_id"] == ids[1]


@pytest.mark.parametrize(("rows", "pattern"), [
    ({"id": "a"}, "a single dict.*pass \\[row\\]"),
    ("abc", "a str"),
    ([1, 2], "row 0 of the predictions: expected a dict"),
    ([{"id": "a", "v": object()}], "field 'v' of row 0 of the predictions"),
    ([{1: "a"}], "string field names"),
])
def test_bad_rows_are_input_errors(rows: Any, pattern: str) -> None:
    with client(Server()) as c, pytest.raises(InputError, match=pattern):
        c.log_predictions("m", rows)


# --- retries -------------------------------------------------------------------------------------------------------

def test_retries_connection_errors_with_growing_jittered_waits() -> None:
    fake = FakeTime()
    server = Server(script=[httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), httpx.ConnectError("x")])
    with client(server, clock=fake.clock, sleep=fake.sleep) as c:
        c.log_predictions("m", [{"id": "a"}, {"id": "b"}])
        c.flush()
        assert c.stats == Stats(accepted=2, retries=3)
    assert len(server.requests) == 4
    for wait, ceiling in zip(fake.sleeps, [0.1, 0.2, 0.4], strict=True):
        assert ceiling / 2 <= wait <= ceiling


def test_waits_are_capped_at_five_seconds() -> None:
    fake = FakeTime()
    server = Server(script=[httpx.ConnectError("down")] * 9)
    with client(server, clock=fake.clock, sleep=fake.sleep) as c:
        c.log_predictions("m", [{"id": "a"}])
    assert len(fake.sleeps) == 9 and max(fake.sleeps) <= 5.0
    assert fake.sleeps[-1] >= 2.5  # 0.1 * 2**8 = 25.6, capped at 5, jitter in [2.5, 5]


def test_503_with_retry_after_is_honoured() -> None:
    fake = FakeTime()
    busy = httpx.Response(503, headers={"Retry-After": "2"}, json={"detail": "busy"})
    server = Server(script=[busy, httpx.Response(429, headers={"Retry-After": "0.5"})])
    with client(server, clock=fake.clock, sleep=fake.sleep) as c:
        c.log_predictions("m", [{"id": "a"}])
        c.flush()
        assert c.stats.retries == 2 and c.stats.accepted == 1
    assert fake.sleeps == [2.0, 0.5]


def test_429_without_retry_after_backs_off() -> None:
    fake = FakeTime()
    server = Server(script=[httpx.Response(429), httpx.Response(502), httpx.Response(504)])
    with client(server, clock=fake.clock, sleep=fake.sleep) as c:
        c.log_predictions("m", [{"id": "a"}])
    assert len(fake.sleeps) == 3 and 0.05 <= fake.sleeps[0] <= 0.1
    assert len(server.requests) == 4


def test_retries_stop_at_max_retry_time_then_the_failure_path() -> None:
    fake = FakeTime()
    rejected: list[tuple[Any, ...]] = []
    server = Server(handler=_down)
    with client(server, clock=fake.clock, sleep=fake.sleep, max_retry_time=3.0,
                on_reject=lambda *a: rejected.append(a)) as c:
        c.log_predictions("m", [{"id": "a"}, {"id": "b"}])
        c.flush()
        assert c.stats.rejected == 2 and c.stats.accepted == 0
    assert sum(fake.sleeps) <= 3.0 and len(fake.sleeps) >= 4
    (model, kind, rows, error), = rejected
    assert (model, kind, [r["id"] for r in rows]) == ("m", "predictions", ["a", "b"])
    assert error["status"] is None and error["attempts"] == len(fake.sleeps) + 1
    assert "gave up" in error["message"] and "ConnectError" in error["message"]


def test_retry_budget_holds_even_when_sleep_does_not_move_the_clock() -> None:
    sleeps: list[float] = []
    server = Server(handler=lambda request, events: httpx.Response(503))
    with client(server, sleep=sleeps.append, max_retry_time=1.0, on_reject=lambda *a: None) as c:
        c.log_predictions("m", [{"id": "a"}])
    assert 0 < sum(sleeps) <= 1.0


def test_retry_after_beyond_the_budget_gives_up_at_once() -> None:
    fake = FakeTime()
    server = Server(handler=lambda request, events: httpx.Response(503, headers={"Retry-After": "120"}))
    errors: list[dict[str, Any]] = []
    with client(server, clock=fake.clock, sleep=fake.sleep, on_reject=lambda m, k, r, e: errors.append(e)) as c:
        c.log_predictions("m", [{"id": "a"}])
    assert fake.sleeps == [] and errors[0]["status"] == 503


def test_duplicates_and_conflicts_are_counted() -> None:
    server = Server(script=[ok(3, duplicates=1, conflicts=1)])
    with client(server) as c:
        c.log_predictions("m", [{"id": "a"}, {"id": "b"}, {"id": "c"}])
        c.flush()
        assert c.stats == Stats(accepted=1, duplicates=1, conflicts=1)


# --- 413 -----------------------------------------------------------------------------------------------------------

def test_413_splits_in_halves_down_to_what_fits() -> None:
    server = Server(handler=lambda request, events: httpx.Response(413) if len(events) > 2 else ok(len(events)))
    with client(server, batch_size=5) as c:
        c.log_predictions("m", [{"id": str(i)} for i in range(5)])
        c.flush()
        assert c.stats == Stats(accepted=5)
    assert [len(b) for b in server.batches] == [5, 2, 3, 1, 2]
    delivered = [b for b in server.batches if len(b) <= 2]
    assert sorted(e["id"] for b in delivered for e in b) == ["0", "1", "2", "3", "4"]


def test_413_for_a_single_event_goes_to_the_failure_path() -> None:
    server = Server(handler=lambda request, events: httpx.Response(413))
    errors: list[dict[str, Any]] = []
    with client(server, on_reject=lambda m, k, r, e: errors.append(e)) as c:
        c.log_predictions("m", [{"id": "a"}, {"id": "b"}])
        c.flush()
        assert c.stats.rejected == 2
    assert [len(b) for b in server.batches] == [2, 1, 1]
    assert len(errors) == 2 and errors[0]["status"] == 413 and "single event" in errors[0]["message"]


# --- the failure path ----------------------------------------------------------------------------------------------

def _unprocessable(request: httpx.Request, events: list[dict[str, Any]]) -> httpx.Response:
    return httpx.Response(422, json={"detail": {"message": "batch rejected", "errors": [
        {"index": len(events) - 1, "id": events[-1]["id"], "field": "score", "expected": "a number",
         "found": "high"}]}})


def _down(request: httpx.Request, events: list[dict[str, Any]]) -> httpx.Response:
    raise httpx.ConnectError("down")


def test_422_goes_to_on_reject_and_is_never_retried() -> None:
    calls: list[tuple[Any, ...]] = []
    server = Server(handler=_unprocessable)
    with client(server, on_reject=lambda *a: calls.append(a), max_retry_time=60) as c:
        c.log_predictions("m", [{"id": "a", "score": 1}, {"id": "b", "score": "high"}])
        c.flush()
        assert c.stats == Stats(rejected=2)
        assert c.rejected == []
    assert len(server.requests) == 1
    (model, kind, rows, error), = calls
    assert (model, kind) == ("m", "predictions")
    assert rows == [{"id": "a", "score": 1}, {"id": "b", "score": "high"}]
    assert error == {"status": 422, "message": "batch rejected", "errors": [
        {"index": 1, "id": "b", "field": "score", "expected": "a number", "found": "high"}]}


def test_422_goes_to_the_dead_letter_file(tmp_path: Path) -> None:
    path = tmp_path / "dead.jsonl"
    server = Server(handler=_unprocessable)
    with client(server, dead_letter=path, batch_size=2) as c:
        c.log_labels("m", [{"id": "a", "y": 1}, {"id": "b", "y": "?"}, {"id": "c", "y": 0}, {"id": "d", "y": "?"}])
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(lines) == 2
    assert set(lines[0]) == {"model", "kind", "error", "rows"}
    assert lines[0]["model"] == "m" and lines[0]["kind"] == "labels"
    assert lines[0]["rows"] == [{"id": "a", "y": 1}, {"id": "b", "y": "?"}]
    assert lines[1]["error"]["errors"][0]["id"] == "d"


def test_without_a_handler_rejected_batches_are_kept_with_a_warning() -> None:
    server = Server(handler=_unprocessable)
    c = client(server)
    c.log_predictions("m", [{"id": "a"}, {"id": "b"}])
    with pytest.warns(DeliveryWarning, match=r"2 predictions of model 'm' not delivered \(batch rejected\)"):
        c.flush()
    c.close()
    assert c.rejected[0]["rows"] == [{"id": "a"}, {"id": "b"}]
    assert c.rejected[0]["error"]["status"] == 422 and c.rejected[0]["kind"] == "predictions"


def test_a_failing_on_reject_falls_through_to_rejected() -> None:
    def broken(*args: Any) -> None:
        raise RuntimeError("disk full")

    c = client(Server(handler=_unprocessable), on_reject=broken)
    c.log_predictions("m", [{"id": "a"}, {"id": "b"}])
    with pytest.warns(DeliveryWarning, match="on_reject raised RuntimeError: disk full"):
        c.close()
    assert len(c.rejected) == 1


def test_an_unwritable_dead_letter_falls_through_to_rejected(tmp_path: Path) -> None:
    c = client(Server(handler=_unprocessable), dead_letter=tmp_path / "missing-dir" / "dead.jsonl")
    c.log_predictions("m", [{"id": "a"}, {"id": "b"}])
    with pytest.warns(DeliveryWarning, match="dead-letter file"):
        c.close()
    assert len(c.rejected) == 1


def test_other_statuses_go_to_the_failure_path_without_retry() -> None:
    errors: list[dict[str, Any]] = []
    server = Server(handler=lambda request, events: httpx.Response(500, text="boom"))
    with client(server, on_reject=lambda m, k, r, e: errors.append(e)) as c:
        c.log_predictions("m", [{"id": "a"}])
    assert len(server.requests) == 1 and errors == [{"status": 500, "message": "boom"}]


# --- refusals ------------------------------------------------------------------------------------------------------

def test_401_raises_client_error_with_the_server_message() -> None:
    server = Server(handler=lambda request, events: httpx.Response(401, json={"detail": "invalid token"}))
    rejected: list[Any] = []
    c = client(server, on_reject=lambda *a: rejected.append(a))
    c.log_predictions("m", [{"id": "a"}])
    with pytest.raises(ClientError, match=r"/v1/models/m/predictions: expected a token the server accepts, "
                                          r"found HTTP 401: invalid token\. Fix: .*ASSAY_TOKEN"):
        c.flush()
    assert len(server.requests) == 1  # never retried
    assert rejected[0][3]["status"] == 401  # and the rows are not lost
    c.log_predictions("m", [{"id": "b"}])  # raised once: this call is accepted
    with pytest.raises(ClientError, match="401"):
        c.close()
    assert isinstance(ClientError("x"), AssayError)


def test_a_refusal_is_raised_by_the_next_log_call() -> None:
    server = Server(handler=lambda request, events: httpx.Response(401, json={"detail": "invalid token"}))
    with client(server, batch_size=1, on_reject=lambda *a: None) as c:
        c.log_predictions("m", [{"id": "a"}])  # a full batch: sent at once
        deadline = time.monotonic() + 3
        while c.stats.rejected == 0 and time.monotonic() < deadline:
            time.sleep(0.005)
        with pytest.raises(ClientError, match="invalid token"):
            c.log_predictions("m", [{"id": "b"}])
        c.flush()  # nothing pending: "b" was not queued
    assert [e["id"] for e in server.events] == ["a"]


def test_403_names_the_model_and_kind() -> None:
    server = Server(handler=lambda request, events: httpx.Response(
        403, json={"detail": {"message": "token lacks scope write:fraud"}}))
    c = client(server, on_reject=lambda *a: None)
    c.log_labels("fraud", [{"id": "a", "y": 1}])
    with pytest.raises(ClientError, match=r"allowed to send labels of model 'fraud'.*lacks scope write:fraud"):
        c.close()


# --- threads and exit ----------------------------------------------------------------------------------------------

def test_four_threads_log_concurrently() -> None:
    server = Server()
    returned: list[str] = []
    lock = threading.Lock()
    with client(server, batch_size=100) as c:
        def work(t: int) -> None:
            for i in range(1000):
                ids = c.log_predictions("m", [{"thread": t, "i": i}])
                with lock:
                    returned.extend(ids)

        threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        c.flush()
        assert c.stats.accepted == 4000
    received = [e["id"] for e in server.events]
    assert len(received) == 4000 and len(set(received)) == 4000
    assert set(received) == set(returned)
    for t in range(4):  # each thread's rows keep their order
        assert [e["i"] for e in server.events if e["thread"] == t] == list(range(1000))


def test_the_exit_hook_delivers_what_is_queued() -> None:
    server = Server()
    c = client(server)
    c.log_predictions("m", [{"id": "a"}])
    _close_at_exit(weakref.ref(c))
    assert server.events == [{"id": "a"}]
    with pytest.raises(ClientError):
        c.log_predictions("m", [{"id": "b"}])


def test_a_clean_interpreter_exit_delivers_what_is_queued() -> None:
    script = """
import httpx, json, sys
from assay.watch.client import Client

def server(request):
    events = json.loads(request.content)["events"]
    print("received", [e["id"] for e in events], flush=True)
    return httpx.Response(200, json={"accepted": len(events), "duplicates": 0, "conflicts": 0})

client = Client("http://watch.test", "t", flush_interval=1000, transport=httpx.MockTransport(server))
client.log_predictions("m", [{"id": "a"}, {"id": "b"}])
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "received ['a', 'b']"


# --- assay watch replay --------------------------------------------------------------------------------------------

def _args(*argv: str | Path) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    watch.add_parser(sub)
    return parser.parse_args(["watch", "replay", *map(str, argv)])


def _replay(server: Server, *argv: str | Path, fake: FakeTime | None = None, now: float | None = None) -> int:
    args = _args(*argv, "--url", URL, "--token", "t")
    options: dict[str, Any] = {"transport": httpx.MockTransport(server)}
    if fake is not None:
        options.update(sleep=fake.sleep, clock=fake.clock)
    if now is not None:
        options["now"] = lambda: now
    return watch.run(args, **options)


def _write_parquet(path: Path, columns: dict[str, Any]) -> Path:
    pq.write_table(pa.table(columns), path)
    return path


@pytest.fixture
def preds(tmp_path: Path) -> Path:
    start = datetime(2020, 1, 1, tzinfo=UTC)
    stamps = [start + timedelta(seconds=s) for s in (0, 10, 30, 60, 100)]
    return _write_parquet(tmp_path / "preds.parquet", {
        "id": [f"tx-{i}" for i in range(5)], "timestamp": pa.array(stamps, pa.timestamp("us", tz="UTC")),
        "score": [0.1, 0.2, 0.3, 0.4, 0.5]})


def test_replay_sends_every_row_in_batches(preds: Path, capsys: pytest.CaptureFixture[str]) -> None:
    server = Server()
    assert _replay(server, preds, "--model", "fraud", "--batch-size", "2") == 0
    assert [len(b) for b in server.batches] == [2, 2, 1]
    assert server.events[0] == {"id": "tx-0", "timestamp": "2020-01-01T00:00:00Z", "score": 0.1}
    assert server.requests[0].url.path == "/v1/models/fraud/predictions"
    assert server.requests[0].headers["authorization"] == "Bearer t"
    assert capsys.readouterr().out.strip() == "sent 5 events: accepted 5, duplicates 0, conflicts 0, rejected 0"


def test_replay_labels_from_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "labels.csv"
    path.write_text("id,is_fraud\ntx-0,1\ntx-1,0\n")
    server = Server(script=[ok(2, duplicates=1)])
    assert _replay(server, path, "--model", "fraud", "--labels") == 0
    assert server.requests[0].url.path == "/v1/models/fraud/labels"
    assert server.events == [{"id": "tx-0", "is_fraud": 1}, {"id": "tx-1", "is_fraud": 0}]
    assert "accepted 1, duplicates 1" in capsys.readouterr().out


def test_replay_labels_need_ids(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    path.write_text('{"id": "a", "y": 1}\n{"y": 0}\n')
    with pytest.raises(ColumnError, match=r"row 1 of .*labels.jsonl, column 'id'"):
        _replay(Server(), path, "--model", "m", "--labels")
    with pytest.raises(ColumnError, match="column 'event_id'"):
        _replay(Server(), path, "--model", "m", "--labels", "--id-column", "event_id")


def test_replay_shift_to_now(preds: Path) -> None:
    server = Server()
    now = time.time()
    assert _replay(server, preds, "--model", "m", "--shift-to-now", "--quiet") == 0
    stamps = [datetime.fromisoformat(e["timestamp"]) for e in server.events]
    assert all(e["timestamp"].endswith("Z") for e in server.events)
    assert abs(max(stamps).timestamp() - now) < 5
    assert [(s - stamps[0]).total_seconds() for s in stamps] == [0, 10, 30, 60, 100]


def test_replay_shift_to_now_with_strings_and_an_injected_now(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text('{"id": "a", "ts": "2026-01-01T00:00:00+01:00"}\n{"id": "b", "ts": "2025-12-31T23:30:00Z"}\n'
                    '{"id": "c", "ts": null}\n')
    server = Server()
    newest = datetime(2030, 6, 1, 12, 0, tzinfo=UTC).timestamp()
    assert _replay(server, path, "--model", "m", "--shift-to-now", "--timestamp-column", "ts", now=newest) == 0
    assert [e["ts"] for e in server.events] == ["2030-06-01T11:30:00Z", "2030-06-01T12:00:00Z", None]


def test_replay_speed_sleeps_for_the_gaps(preds: Path) -> None:
    fake = FakeTime()
    server = Server()
    assert _replay(server, preds, "--model", "m", "--speed", "10", "--batch-size", "1", "--quiet", fake=fake) == 0
    assert fake.sleeps == pytest.approx([1.0, 2.0, 3.0, 4.0])
    assert len(server.requests) == 5


def test_replay_speed_with_epoch_seconds_and_slow_sends(tmp_path: Path) -> None:
    path = _write_parquet(tmp_path / "e.parquet", {"id": ["a", "b", "c", "d"], "timestamp": [100, 100, 104, 110]})
    fake = FakeTime()

    def slow(request: httpx.Request, events: list[dict[str, Any]]) -> httpx.Response:
        fake.now += 0.5  # each request takes half a second of the schedule
        return ok(len(events))

    assert _replay(Server(handler=slow), path, "--model", "m", "--speed", "2", "--batch-size", "2", fake=fake) == 0
    assert fake.sleeps == pytest.approx([1.5])  # batch 2 is due 2 s after batch 1, which took 0.5 s


def test_replay_needs_the_timestamp_column_for_speed_and_shift(preds: Path) -> None:
    for option in (["--speed", "2"], ["--shift-to-now"]):
        with pytest.raises(ColumnError, match=r"column 'ts' of .*preds.parquet: expected a column named 'ts'"):
            _replay(Server(), preds, "--model", "m", "--timestamp-column", "ts", *option)


def test_replay_rejects_unusable_timestamps(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("id,timestamp\na,yesterday\n")
    with pytest.raises(ColumnError, match=r"column 'timestamp' of .*RFC 3339"):
        _replay(Server(), path, "--model", "m", "--shift-to-now")
    flags = _write_parquet(tmp_path / "b.parquet", {"id": ["a"], "timestamp": [True]})
    with pytest.raises(ColumnError, match="type bool"):
        _replay(Server(), flags, "--model", "m", "--speed", "1")


def test_replay_bad_files(tmp_path: Path) -> None:
    with pytest.raises(ReadError, match="expected an existing file"):
        _replay(Server(), tmp_path / "missing.csv", "--model", "m")
    odd = tmp_path / "data.xlsx"
    odd.write_text("x")
    with pytest.raises(ReadError, match="expected a file name ending in one of"):
        _replay(Server(), odd, "--model", "m")


def test_replay_needs_url_and_token(preds: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ASSAY_URL", raising=False)
    monkeypatch.delenv("ASSAY_TOKEN", raising=False)
    with pytest.raises(ConfigError, match=r"expected the service's URL, found no --url and no \$ASSAY_URL"):
        watch.run(_args(preds, "--model", "m", "--token", "t"))
    with pytest.raises(ConfigError, match=r"found no --token and no \$ASSAY_TOKEN"):
        watch.run(_args(preds, "--model", "m", "--url", URL))
    monkeypatch.setenv("ASSAY_URL", URL)
    monkeypatch.setenv("ASSAY_TOKEN", "env-token")
    server = Server()
    assert watch.run(_args(preds, "--model", "m", "--quiet"), transport=httpx.MockTransport(server)) == 0
    assert server.requests[0].headers["authorization"] == "Bearer env-token"


@pytest.mark.parametrize(("option", "pattern"), [(["--speed", "-1"], "--speed"), (["--batch-size", "0"],
                                                                                 "--batch-size")])
def test_replay_bad_options(preds: Path, option: list[str], pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        _replay(Server(), preds, "--model", "m", *option)


def test_replay_rejections_exit_1_and_fill_the_dead_letter(preds: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    dead = tmp_path / "dead.jsonl"
    server = Server(script=[ok(2)], handler=_unprocessable)
    assert _replay(server, preds, "--model", "m", "--batch-size", "2", "--dead-letter", dead, "--quiet") == 1
    err = capsys.readouterr().err
    assert "2 predictions rejected: batch rejected (first: id 'tx-3', field 'score', expected a number" in err
    assert "sent 5 events: accepted 2, duplicates 0, conflicts 0, rejected 3" in err
    lines = [json.loads(line) for line in dead.read_text().splitlines()]
    assert [[r["id"] for r in line["rows"]] for line in lines] == [["tx-2", "tx-3"], ["tx-4"]]


def test_replay_refused_token_is_a_client_error(preds: Path) -> None:
    server = Server(handler=lambda request, events: httpx.Response(401, json={"detail": "bad token"}))
    with pytest.raises(ClientError, match="bad token"):
        _replay(server, preds, "--model", "m")
    assert len(server.requests) == 1  # stops at the first refusal


def test_replay_stops_when_the_service_is_unreachable(preds: Path, tmp_path: Path) -> None:
    fake = FakeTime()
    server = Server(handler=_down)
    dead = tmp_path / "dead.jsonl"
    with pytest.raises(ClientError, match=r"the service at http://watch.test: .*gave up after .*ConnectError"):
        _replay(server, preds, "--model", "m", "--batch-size", "2", "--dead-letter", dead, fake=fake)
    assert {tuple(e["id"] for e in b) for b in server.batches} == {("tx-0", "tx-1")}  # only the first batch
    assert sum(fake.sleeps) <= 60
    assert len(dead.read_text().splitlines()) == 1


def test_watch_without_a_subcommand_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    watch.add_parser(parser.add_subparsers())
    args = parser.parse_args(["watch"])
    assert args.handler(args) == 2
    assert "replay" in capsys.readouterr().out
