"""The service's reliability claims, against real server processes: kill -9 during sustained ingest loses and
duplicates nothing (and the window states equal those rebuilt from the stored events), resending any batch in any
order changes no read, a database that goes away gives 503s and the service recovers by itself, and with several
workers exactly one materializes."""

from __future__ import annotations

import inspect
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from assay.metrics.confusion import ConfusionState
from assay.metrics.table import SortedTable
from assay.store.watch import open_event_store
from assay.watch.config import load_config
from assay.watch.materialize import rebuild_window, stored_windows
from assay.watch.query import run_document
from assay.watch.window import ModelContext, WindowState, merge_all

from ._tcp_proxy import TcpProxy
from .conftest import ASSAY, BINARY_CONFIG, Server, free_port, make_token

T0 = 1_800_000_000
WINDOW = 300


def batch(i: int, size: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Batch ``i``: ``size`` predictions with known ids, and labels for two thirds of them."""
    preds, labels = [], []
    for j in range(size):
        k = i * size + j
        preds.append({"id": f"k{k}", "timestamp": T0 + k * 0.5, "score": ((k * 7919) % 1000) / 1000,
                      "country": ("DE", "FR", "US")[k % 3], "amount": float(k % 97), "latency_s": 0.01})
        if k % 3:
            labels.append({"id": f"k{k}", "is_fraud": int((k * 7919) % 1000 > 600 or k % 11 == 0)})
    return preds, labels


CLIENT = r"""
import json, os, sys, time
import httpx
url, token, ack_path, n, size = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
units = [(i, kind) for i in range(n) for kind in ("predictions", "labels")]
deadline = time.monotonic() + 120
failures = 0
with httpx.Client(base_url=url, headers={"Authorization": "Bearer " + token}, timeout=10) as c, \
        open(ack_path, "a") as ack:
    while units:
        if time.monotonic() > deadline:
            sys.exit(f"gave up with {len(units)} batches unacknowledged")
        i, kind = units[0]
        preds, labels = batch(i, size)
        try:
            r = c.post(f"/v1/models/fraud/{kind}", json={"events": preds if kind == "predictions" else labels})
        except httpx.HTTPError:
            failures += 1
            time.sleep(0.05)
            continue
        if r.status_code != 200:
            failures += 1
            time.sleep(0.05)
            continue
        ack.write(json.dumps([i, kind, r.json()]) + "\n")
        ack.flush()
        os.fsync(ack.fileno())
        units.pop(0)
        time.sleep(0.01)
print(failures)
"""


def acks(path: Path) -> list[tuple[int, str, dict[str, Any]]]:
    if not path.exists():
        return []
    return [tuple(json.loads(line)) for line in path.read_text().splitlines() if line.endswith("]")]  # type: ignore[misc]


def engine_of(store: str) -> sa.Engine:
    url = sa.make_url(store)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return sa.create_engine(url)


def stored_counts(store: str) -> dict[str, tuple[int, int]]:
    engine = engine_of(store)
    try:
        with engine.connect() as conn:
            return {t: tuple(conn.execute(sa.text(  # type: ignore[misc]
                f"SELECT count(*), count(DISTINCT {key}) FROM {t} WHERE model = 'fraud'")).one())
                for t, key in (("predictions", "version || ':' || id"), ("labels", "id"))}
    finally:
        engine.dispose()


def stored_ids(store: str) -> set[str]:
    engine = engine_of(store)
    try:
        with engine.connect() as conn:
            return {i for (i,) in conn.execute(sa.text("SELECT id FROM predictions WHERE model = 'fraud'"))}
    finally:
        engine.dispose()


def poll(fn: Callable[[], Any], until: Callable[[Any], bool], timeout: float = 10.0, every: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if until(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {timeout} s; last value: {str(value)[:3000]}")
        time.sleep(every)


def idle(c: httpx.Client, model: str = "fraud", timeout: float = 20.0) -> dict[str, Any]:
    """The status once the materializer has folded everything stored."""
    return poll(lambda: c.get(f"/v1/models/{model}/status").json(),
                lambda s: s["materialization_lag"]["predictions"] == 0 and s["materialization_lag"]["labels"] == 0,
                timeout=timeout)


def canonical(state: Any) -> Any:
    """A confusion state or score table as counts per group, whatever order its groups were first seen in."""
    if state is None:
        return None
    if isinstance(state, ConfusionState):
        return {state.groups[g]: state.rows[g].tolist() for g in range(len(state.groups))}
    assert isinstance(state, SortedTable)
    return state.shift, {(state.groups[g], int(k)): m.tolist() for g, k, m in zip(state.group, state.key, state.mass,
                                                                                    strict=True)}


def assert_windows_rebuild(config: Path, store_url: str) -> int:
    """Every stored window state (base level and rollups) equals the one folded afresh from the stored events."""
    cfg = load_config(config)
    ctx = ModelContext("fraud", cfg.models["fraud"], cfg)
    store = open_event_store(store_url)
    try:
        base = list(stored_windows(store, "fraud", WINDOW))
        assert base, "no window states stored"
        rebuilt_all: list[WindowState] = []
        for version, start, state in base:
            rebuilt = rebuild_window(store, ctx, version, start, WINDOW)
            rebuilt_all.append(rebuilt)
            where = f"window {version!r} {start}"
            assert (state.predictions, state.labeled) == (rebuilt.predictions, rebuilt.labeled), where
            assert state.traffic is not None and rebuilt.traffic is not None
            assert state.realized is not None and rebuilt.realized is not None, where
            assert set(state.realized) == set(rebuilt.realized), where
            for group, bundle in rebuilt.realized.items():
                got = state.realized[group]
                assert canonical(got.confusion) == canonical(bundle.confusion), (where, group, "confusion")
                assert canonical(got.scores) == canonical(bundle.scores), (where, group, "scores")
            assert state.fingerprint.digest() == rebuilt.fingerprint.digest(), where
        # the run documents of the merged states, and the hourly rollups
        lo = min(s for _, s, _ in base)
        hi = max(s for _, s, _ in base) + WINDOW
        docs = [run_document(ctx, merge_all(states), versions=[""], start=lo, end=hi, asked=(lo, hi), now=0.0)
                for states in ([s for _, _, s in base], rebuilt_all)]
        for name, entry in docs[1]["metrics"].items():
            assert docs[0]["metrics"][name]["value"] == pytest.approx(entry["value"], rel=1e-9, abs=1e-12), name
            assert docs[0]["metrics"][name]["n"] == entry["n"], name
        by_hour: dict[float, list[WindowState]] = {}
        for _, start, state in base:
            by_hour.setdefault(start - start % 3600, []).append(state)
        hours = {start: state for _, start, state in stored_windows(store, "fraud", 3600)}
        assert set(hours) == set(by_hour)
        for start, states in by_hour.items():
            merged = merge_all(states)
            assert (hours[start].predictions, hours[start].labeled) == (merged.predictions, merged.labeled)
        return len(base)
    finally:
        store.close()


# -- kill -9 --------------------------------------------------------------------------------------------------------

def test_kill_9_during_sustained_ingest(serve: Callable[..., Server], store_url: str, tmp_path: Path) -> None:
    server = serve(store_url)
    token = make_token(server.config, store_url, "ci", "ingest", "read")
    n, size = 40, 500
    ack_path = tmp_path / "acks.jsonl"
    script = tmp_path / "client.py"
    script.write_text(f"from typing import Any\nT0 = {T0}\n" + inspect.getsource(batch) + CLIENT)
    client = subprocess.Popen([sys.executable, str(script), server.url, token, str(ack_path), str(n), str(size)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        poll(lambda: len(acks(ack_path)), lambda k: k >= 16 or client.poll() is not None, timeout=60)
        server.kill()  # SIGKILL, mid-way
        at_kill = acks(ack_path)
        assert client.poll() is None and len(at_kill) < 2 * n, "the client finished before the kill"
        stored_at_kill = stored_ids(store_url)
        acked_ids = {p["id"] for i, kind, _ in at_kill if kind == "predictions" for p in batch(i, size)[0]}
        assert acked_ids <= stored_at_kill, "an acknowledged event was lost"
        time.sleep(0.3)  # the client meets a dead server meanwhile
        server.start()
        out, err = client.communicate(timeout=120)
    finally:
        if client.poll() is None:
            client.kill()
    assert client.returncode == 0, err
    assert int(out.strip()) > 0, "the client never met the dead server"
    done = acks(ack_path)
    assert sorted((i, kind) for i, kind, _ in done) == sorted((i, k) for i in range(n) for k in ("predictions",
                                                                                              "labels"))
    n_labels = sum(len(batch(i, size)[1]) for i in range(n))
    assert stored_counts(store_url) == {"predictions": (n * size, n * size), "labels": (n_labels, n_labels)}
    # an answer after the restart counts what the dead server had already stored as duplicates, never twice
    for i, kind, answer in done:
        sent = len(batch(i, size)[0 if kind == "predictions" else 1])
        assert answer["accepted"] + answer["duplicates"] == sent and answer["conflicts"] == 0, (i, kind, answer)

    # resending everything stores nothing more
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as c:
        for i in range(n):
            preds, labels = batch(i, size)
            for kind, rows in (("predictions", preds), ("labels", labels)):
                r = c.post(f"/v1/models/fraud/{kind}", json={"events": rows})
                assert r.status_code == 200 and r.json()["accepted"] == 0, r.text
                assert r.json()["duplicates"] == len(rows)
        assert stored_counts(store_url) == {"predictions": (n * size, n * size), "labels": (n_labels, n_labels)}
        idle(c)
        doc = c.get(f"/v1/models/fraud/metrics?from={T0}&to={T0 + n * size}").json()
    assert (doc["dataset"]["rows"], doc["dataset"]["rows_used"]) == (n * size, n_labels)
    windows = {(T0 + k * 0.5) // WINDOW for k in range(n * size)}
    assert assert_windows_rebuild(server.config, store_url) == len(windows)


# -- resends ----------------------------------------------------------------------------------------------------------

def _reads(c: httpx.Client) -> list[Any]:
    q = f"from={T0}&to={T0 + 4 * 3600}"
    run = c.get(f"/v1/models/fraud/metrics?{q}").json()
    for k in ("run_id", "created_at"):
        run.pop(k)
    return [run, c.get(f"/v1/models/fraud/metrics?{q}&step=1h&segment=country").json(),
            c.get(f"/v1/models/fraud/metrics?{q}&step=5m").json(), c.get("/v1/models/fraud/events/k7").json()]


def test_resending_any_batch_in_any_order_changes_no_read(serve: Callable[..., Server], store_url: str) -> None:
    server = serve(store_url)
    token = make_token(server.config, store_url, "ci", "ingest", "read")
    units = []
    for i in range(8):
        preds, labels = batch(i, 250)
        units += [("predictions", preds), ("labels", labels)]
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as c:
        for kind, rows in units:
            r = c.post(f"/v1/models/fraud/{kind}", json={"events": rows})
            assert r.status_code == 200 and r.json()["accepted"] == len(rows), r.text
        idle(c)
        before = _reads(c)
        assert before[0]["dataset"]["rows"] == 2000 and before[0]["dataset"]["rows_used"] > 1000
        status = c.get("/v1/models/fraud/status").json()
        rng = random.Random(5)
        again = units * 2
        rng.shuffle(again)
        # and in other cuts: two batches as one, a batch in halves, each in reverse order
        merged = [(units[0][0], units[0][1] + units[2][1])]
        kind3, rows3 = units[3]
        halves = [(kind3, rows3[: len(rows3) // 2]), (kind3, rows3[len(rows3) // 2:])]
        resent = 0
        for kind, rows in again + merged + halves + [(k, rows[::-1]) for k, rows in units]:
            r = c.post(f"/v1/models/fraud/{kind}", json={"events": rows})
            assert r.status_code == 200, r.text
            assert r.json() == {"accepted": 0, "duplicates": len(rows), "conflicts": 0, "conflict_ids": []}
            resent += len(rows)
        after_status = idle(c)
        time.sleep(0.6)  # a few materializer rounds: nothing to fold, nothing changes
        after = _reads(c)
    assert after == before
    assert after_status["duplicates"] == status["duplicates"] + resent
    assert (after_status["events"], after_status["labels"], after_status["conflicts"]) == (
        status["events"], status["labels"], status["conflicts"])


# -- the database going away ---------------------------------------------------------------------------------------

def test_database_going_away_gives_503_and_recovers(serve: Callable[..., Server], pg_url: str) -> None:
    real = sa.make_url(pg_url)
    with TcpProxy((real.host or "127.0.0.1", real.port or 5432)) as proxy:
        via_proxy = real.set(port=proxy.port).render_as_string(hide_password=False)
        server = serve(via_proxy)
        token, fresh = (make_token(server.config, via_proxy, name, "ingest", "read") for name in ("ci", "fresh"))
        first, _ = batch(0, 300)
        second, labels = batch(1, 300)
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as c:
            r = c.post("/v1/models/fraud/predictions", json={"events": first})
            assert r.status_code == 200 and r.json()["accepted"] == 300
            q = f"/v1/models/fraud/metrics?from={T0}&to={T0 + 3600}&step=1h"
            poll(lambda: c.get(q).json()["windows"][0]["predictions"], lambda k: k == 300)

            proxy.cut()
            for kind, rows in (("predictions", second), ("labels", labels)):
                r = c.post(f"/v1/models/fraud/{kind}", json={"events": rows})
                assert r.status_code == 503, r.text
                assert int(r.headers["retry-after"]) >= 1
                assert "nothing was stored" in r.json()["detail"]["message"]
            assert c.get("/readyz").status_code == 503
            assert c.get("/healthz").status_code == 200
            for path in ("/v1/models/fraud/status", q, "/v1/models", "/v1/models/fraud/events/k1"):
                r = c.get(path)
                assert r.status_code == 503 and r.headers.get("retry-after"), (path, r.status_code, r.text)
            # a token not seen before is looked up in the store: unavailable too, not a server error
            r = c.get("/v1/models/fraud/status", headers={"Authorization": f"Bearer {fresh}"})
            assert r.status_code == 503, r.text
            time.sleep(1.0)  # the materializer meets the dead store too

            proxy.restore()
            r = poll(lambda: c.post("/v1/models/fraud/predictions", json={"events": second}),
                     lambda r: r.status_code != 503, timeout=15, every=0.2)
            assert r.status_code == 200 and r.json()["accepted"] == 300, r.text  # nothing was stored during the cut
            r = c.post("/v1/models/fraud/labels", json={"events": labels})
            assert r.status_code == 200 and r.json()["accepted"] == len(labels), r.text
            assert poll(lambda: c.get("/readyz").status_code, lambda s: s == 200) == 200
            (win,) = poll(lambda: c.get(q).json()["windows"], lambda w: w[0]["labeled"] == len(labels), timeout=10)
            assert win["predictions"] == 600
        assert stored_counts(pg_url) == {"predictions": (600, 600), "labels": (len(labels), len(labels))}
        server.stop()


# -- several workers --------------------------------------------------------------------------------------------------

def test_exactly_one_materializer_with_several_workers(pg_url: str, tmp_path: Path) -> None:
    config = tmp_path / "watch.yaml"
    config.write_text(BINARY_CONFIG.format(store=pg_url, extra=""))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([ASSAY, "serve", "--config", str(config), "--port", str(port), "--store", pg_url,
                                 "--workers", "2"], cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        poll(lambda: _up(url) or proc.poll() is not None, bool, timeout=60, every=0.1)
        assert proc.poll() is None, log.read_text()
        token = make_token(config, pg_url, "ci", "ingest", "read")
        n, size = 16, 250
        units = []
        for i in range(n):
            preds, labels = batch(i, size)
            units += [("predictions", preds), ("labels", labels)]
        n_labels = sum(len(rows) for kind, rows in units if kind == "labels")

        def post(unit: tuple[str, list[dict[str, Any]]]) -> int:
            with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as c:
                r = c.post(f"/v1/models/fraud/{unit[0]}", json={"events": unit[1]})
                assert r.status_code == 200, r.text
                return int(r.json()["accepted"])

        with ThreadPoolExecutor(4) as pool:  # concurrent clients: both workers ingest
            assert sum(pool.map(post, units)) == n * size + n_labels
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as c:
            q = f"/v1/models/fraud/metrics?from={T0}&to={T0 + n * size}"
            doc = poll(lambda: c.get(q).json()["dataset"],
                       lambda d: d["rows"] >= n * size and d["rows_used"] >= n_labels, timeout=15)
            assert (doc["rows"], doc["rows_used"]) == (n * size, n_labels)
            time.sleep(2.5)  # past the other worker's next try for the lock (every 2 s): still folded once
            doc = c.get(q).json()["dataset"]
            assert (doc["rows"], doc["rows_used"]) == (n * size, n_labels)
            series = c.get(q + "&step=1h").json()["windows"]
            assert sum(w["predictions"] for w in series) == n * size
        engine = engine_of(pg_url)
        try:
            with engine.connect() as conn:
                holders = conn.execute(sa.text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                                               "AND granted AND objid = :k AND database = (SELECT oid FROM "
                                               "pg_database WHERE datname = current_database())"),
                                       {"k": 0x61737361}).scalar_one()
        finally:
            engine.dispose()
        assert holders == 1
        assert assert_windows_rebuild(config, pg_url) > 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)


def _up(url: str) -> bool:
    try:
        return httpx.get(url + "/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


# -- the materializer process --------------------------------------------------------------------------------------

def _materializers(pid: int) -> list[int]:
    """The materializer processes under ``pid`` (multiprocessing spawns them with ``spawn_main``)."""
    out = []
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            children = Path(f"/proc/{pid}/task/{task}/children").read_text().split()
        except OSError:
            continue
        for c in children:
            try:
                if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes():
                    out.append(int(c))
            except OSError:
                pass
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_the_materializer_process_is_restarted_and_dies_with_the_service(serve: Callable[..., Server],
                                                                         tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'watch.sqlite'}"
    server = serve(store)
    assert server.proc is not None
    first = poll(lambda: _materializers(server.proc.pid), lambda m: len(m) == 1, timeout=30)
    token = make_token(server.config, store, "ci", "ingest", "read")
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as c:
        os.kill(first[0], signal.SIGKILL)  # the materializer crashes: the service starts another
        second = poll(lambda: _materializers(server.proc.pid), lambda m: len(m) == 1 and m != first, timeout=30)
        preds, _ = batch(0, 200)
        assert c.post("/v1/models/fraud/predictions", json={"events": preds}).json()["accepted"] == 200
        idle(c)  # the new materializer folds what the service took meanwhile
        assert c.get(f"/v1/models/fraud/metrics?from={T0}&to={T0 + 200}").json()["dataset"]["rows"] == 200
    os.kill(server.proc.pid, signal.SIGKILL)  # the service alone dies (not its process group)
    server.proc.wait(15)
    poll(lambda: _alive(second[0]), lambda alive: not alive, timeout=10)
