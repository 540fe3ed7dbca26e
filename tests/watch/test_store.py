"""The service store's contract, run against SQLite and PostgreSQL alike."""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from assay.errors import ConfigError, InputError
from assay.store.watch import LabelRow, Row, digest, open_event_store
from assay.store.watch_tables import metadata, predictions
from assay.watch.config import parse_config
from assay.watch.materialize import Materializer
from assay.watch.window import ModelContext


def _row(i: int, version: str = "7", content: bytes | None = None, t: float = 1_800_000_000.0) -> Row:
    body = content if content is not None else b'{"score":%f}' % (i / 1000)
    return Row(version, f"id-{i}", t + i, digest(body), body)


def _label(i: int, y: int) -> LabelRow:
    body = b'{"y":%d}' % y
    return LabelRow(f"id-{i}", digest(body), body)


def test_the_migrated_schema_is_the_declared_one(store_url: str) -> None:
    store = open_event_store(store_url)
    open_event_store(store_url).close()  # a second open finds the schema current
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    diff = [d for d in diff if not (d[0] == "remove_index" and d[1].name in ("ix_predictions_tx", "ix_labels_tx"))]
    assert diff == []
    store.close()


def test_duplicates_and_conflicts(store_url: str) -> None:
    store = open_event_store(store_url)
    first = store.insert_predictions("m", [_row(i) for i in range(10)], now=1.0)
    assert (first.accepted, first.duplicates, first.conflicts) == (10, 0, 0)
    again = [_row(i) for i in range(8, 12)] + [_row(3, content=b'{"score":0.99}'), _row(11)]
    second = store.insert_predictions("m", again, now=2.0)
    assert (second.accepted, second.duplicates, second.conflicts) == (2, 3, 1)
    assert second.conflict_ids == ["id-3"]
    shadow = store.insert_predictions("m", [_row(1, version="8")], now=3.0)  # the same request, another version
    assert shadow.accepted == 1
    other_model = store.insert_predictions("n", [_row(1)], now=3.0)
    assert other_model.accepted == 1
    counts = store.counts("m")
    assert (counts["events"], counts["duplicates"], counts["conflicts"]) == (13, 3, 1)
    with store.engine.connect() as conn:  # the conflicting content was not applied
        payload = conn.execute(sa.select(predictions.c.payload).where(
            predictions.c.model == "m", predictions.c.id == "id-3", predictions.c.version == "7")).scalar_one()
    assert bytes(payload) == b'{"score":%f}' % 0.003
    store.close()


def test_label_policies(store_url: str) -> None:
    store = open_event_store(store_url)
    assert store.insert_labels("m", [_label(1, 1), _label(2, 0)], policy="first", now=1.0).accepted == 2
    first = store.insert_labels("m", [_label(1, 0), _label(2, 0)], policy="first", now=2.0)
    assert (first.accepted, first.duplicates, first.conflicts, first.conflict_ids) == (0, 1, 1, ["id-1"])
    last = store.insert_labels("m", [_label(1, 0)], policy="last", now=3.0)
    assert (last.accepted, last.replaced, last.conflicts) == (1, 1, 0)
    _, label = store.event("m", "id-1")
    assert label is not None and label.payload == b'{"y":0}'
    with store.materializing() as m:
        assert m.take_rebuilds() == [("m", "id-1")]
    assert store.counts("m")["pending_labels"] == 2  # no predictions yet: both labels wait
    store.close()


def test_tokens(store_url: str) -> None:
    store = open_event_store(store_url)
    store.add_token("ci", "d" * 64, ["read", "ingest"], now=1.0)
    assert store.token_scopes("d" * 64) == ("ci", frozenset({"read", "ingest"}))
    with pytest.raises(InputError, match="new name"):
        store.add_token("ci", "e" * 64, ["read"], now=1.0)
    assert store.revoke_token("ci", now=2.0) and not store.revoke_token("ci", now=3.0)
    assert store.token_scopes("d" * 64) is None
    assert store.list_tokens()[0]["revoked_at"] == 2.0
    store.close()


def test_only_one_materializer(store_url: str) -> None:
    a, b = open_event_store(store_url), open_event_store(store_url)
    with a.materializer_lock() as got_a:
        with b.materializer_lock() as got_b:
            assert got_a and not got_b
    with b.materializer_lock() as got_b:
        assert got_b
    a.close()
    b.close()


def test_expire_keeps_what_is_not_materialized(store_url: str) -> None:
    cfg = parse_config("window: 5m\nmodels:\n  m: {task: binary, score: score, label: y}\n")
    store = open_event_store(store_url)
    store.insert_predictions("m", [_row(i) for i in range(5)], now=100.0)
    assert store.expire(now=10_000.0, events_before=1_000.0, windows_before=0.0, window_seconds=300) == 0
    Materializer(store, {"m": ModelContext("m", cfg.models["m"], cfg)}, 300, lambda: 200.0).drain()
    assert store.expire(now=10_000.0, events_before=1_000.0, windows_before=0.0, window_seconds=300) == 5
    assert store.counts("m")["events"] == 0
    assert store.window_rows("m", None, 300, 0, 2e9)  # window states outlive raw events
    assert store.expire(now=2e9, events_before=0.0, windows_before=2e9, window_seconds=300) == 3  # 5m, 1h, 1d
    store.close()


def test_bad_urls() -> None:
    with pytest.raises(ConfigError, match="sqlite:// or postgresql://"):
        open_event_store("mysql://x@y/z")
    with pytest.raises(ConfigError, match="URL"):
        open_event_store("not a url at all")
    with pytest.raises(ConfigError, match="reachable"):
        open_event_store("postgresql://nobody@127.0.0.1:1/none")


def test_the_cursor_never_passes_a_running_transaction(pg_url: str) -> None:
    """PostgreSQL: a writer whose transaction started first commits last; nothing of it is lost."""
    cfg = parse_config("window: 5m\nmodels:\n  m: {task: binary, score: score, label: y}\n")
    store = open_event_store(pg_url)
    mat = Materializer(store, {"m": ModelContext("m", cfg.models["m"], cfg)}, 300, time.time)
    slow = store.engine.connect()
    tx = slow.begin()
    r = _row(0)
    slow.execute(predictions.insert().values(model="m", version=r.version, id=r.id, event_time=r.event_time,
                                             received_at=1.0, digest=r.digest, payload=r.payload))
    store.insert_predictions("m", [_row(i) for i in range(1, 50)], now=1.0)  # later seq and tx, committed first
    mat.run_until_idle()
    assert sum(s[2].predictions for s in _windows(store)) == 0  # the horizon holds everything behind the slow one
    tx.commit()
    slow.close()
    mat.drain()
    assert sum(s[2].predictions for s in _windows(store)) == 50
    assert store.lag()[0] == 0
    store.close()


def test_concurrent_writers_lose_nothing(store_url: str) -> None:
    cfg = parse_config("window: 5m\nmodels:\n  m: {task: binary, score: score, label: y}\n")
    store = open_event_store(store_url)
    mat = Materializer(store, {"m": ModelContext("m", cfg.models["m"], cfg)}, 300, time.time)
    stop = threading.Event()

    def fold() -> None:
        while not stop.is_set():
            mat.run_once(limit=300)

    def write(k: int) -> None:
        for b in range(10):
            store.insert_predictions("m", [_row(k * 10_000 + b * 100 + i) for i in range(100)], now=1.0)

    folder = threading.Thread(target=fold)
    folder.start()
    writers = [threading.Thread(target=write, args=(k,)) for k in range(4)]
    for w in writers:
        w.start()
    for w in writers:
        w.join()
    stop.set()
    folder.join()
    mat.drain()
    assert sum(s[2].predictions for s in _windows(store)) == 4_000
    store.close()


def _windows(store):  # type: ignore[no-untyped-def]
    from assay.watch.materialize import stored_windows

    return [(v, t, s) for v, t, s in stored_windows(store, "m", 300)]


def test_a_pass_overtaken_by_another_writes_nothing_and_is_folded_again(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """SQLite reads a pass's events from a snapshot and writes at the end: should another pass move the cursor
    meanwhile, the stale one writes nothing (no event is folded twice) and the materializer folds again."""
    from assay.store.watch import StaleSnapshot

    cfg = parse_config("window: 5m\nmodels:\n  m: {task: binary, score: score, label: y}\n")
    store = open_event_store(f"sqlite:///{tmp_path / 'w.sqlite'}")
    mat = Materializer(store, {"m": ModelContext("m", cfg.models["m"], cfg)}, 300, time.time)
    store.insert_predictions("m", [_row(i) for i in range(50)], now=1.0)
    with pytest.raises(StaleSnapshot), store.materializing() as stale:
        assert len(stale.new_predictions(None, 1000)) == 50
        assert mat.run_once().predictions == 50  # another pass folds the same events first
        stale.advance(stale.cursor.__class__(0, 50, 0, 0), now=2.0)
    assert sum(s[2].predictions for s in _windows(store)) == 50  # once, not twice
    store.insert_predictions("m", [_row(i) for i in range(50, 80)], now=3.0)
    assert mat.run_once().predictions == 30
    assert sum(s[2].predictions for s in _windows(store)) == 80
    store.close()


def test_group_commit_gives_each_batch_its_own_answer(store_url: str) -> None:
    """Concurrent batches share transactions on SQLite; each still gets its own accepted/duplicate/conflict
    counts, the same as if it had been written alone, and a failing batch fails alone."""
    store = open_event_store(store_url)
    store.insert_predictions("m", [_row(i) for i in range(100)], now=1.0)
    answers: dict[int, tuple[int, int, int]] = {}
    errors: list[BaseException] = []

    def send(k: int) -> None:
        rows = [_row(i) for i in range(50 * k, 50 * k + 100)]  # overlaps the stored rows and the other batches
        if k == 3:
            rows[0] = _row(0, content=b'{"score":0.5}')  # a conflict
        try:
            got = store.insert_predictions("m", rows, now=2.0)
            answers[k] = (got.accepted, got.duplicates, got.conflicts)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    # the keys id-0 .. id-449 were sent; id-0 .. id-99 were stored before: each of the 350 others is accepted by
    # exactly one batch, the one changed row (id-0 under other content) is the one conflict, the rest duplicates
    assert sum(a for a, _, _ in answers.values()) == 350
    assert [k for k, (_, _, c) in answers.items() if c] == [3] and answers[3][2] == 1
    assert all(a + d + c == 100 for a, d, c in answers.values())
    assert store.counts("m")["events"] == 450
    store.close()
