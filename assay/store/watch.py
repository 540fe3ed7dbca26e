"""The service store: events, labels and window states on SQLite or PostgreSQL (SQLAlchemy Core, Alembic).

::

    store = open_event_store("sqlite:///.assay/watch.sqlite")   # creates or migrates the schema
    store.insert_predictions("fraud", rows, now=...)   -> Ingested(accepted, duplicates, conflicts, conflict_ids)
    store.insert_labels("fraud", rows, policy="first", now=...)
    with store.materializing() as m:                     # one transaction: read past the cursor, write states
        m.new_predictions(limit) / m.new_labels(limit) / m.labels_for(ids) / m.predictions_for(ids)
        m.windows(keys) / m.put_windows(states) / m.advance(cursor)

A batch is one transaction, acknowledged only after its commit (SQLite in WAL mode with ``synchronous=FULL``).
Identity is (model, version, id) for predictions and (model, id) for labels; a resent identical row is a duplicate,
another row under a known key a conflict (or, for labels under ``label_policy: last``, a replacement).

The materializer's cursor is a pair (tx, seq) per table. On SQLite writers are serialised, so ``seq`` grows in
commit order and ``tx`` is 0. On PostgreSQL several writers commit out of order, so every row carries the id of the
transaction that inserted it, and the materializer reads only rows of transactions older than the oldest one still
running (``pg_snapshot_xmin(pg_current_snapshot())``): every such transaction has ended, so no row can appear
behind the cursor later.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import functools
import hashlib
import itertools
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, NamedTuple, cast

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from assay.errors import ConfigError, InputError
from assay.store.watch_tables import (
    counters,
    cursors,
    decision_log,
    labels,
    predictions,
    rebuilds,
    sli_counts,
    tokens,
    verdicts,
    windows,
)

MATERIALIZER = "materializer"
ADVISORY_KEY = 0x61737361  # "assa"
PAGE_SIZE = 16384  # bytes per page of a new SQLite store
BUSY_TIMEOUT = 30.0  # seconds a SQLite writer waits for the write lock before the store counts as unavailable


class StoreUnavailable(Exception):
    """The database cannot be reached or is saturated: the service answers 503 and acknowledges nothing."""


class StaleSnapshot(Exception):
    """A materializer pass read a snapshot that another pass has since moved past: its writes were dropped."""


class Row(NamedTuple):
    """One prediction to store: its key, event time, the digest of its content and the redacted row as JSON."""

    version: str
    id: str
    event_time: float
    digest: bytes
    payload: bytes


class LabelRow(NamedTuple):
    id: str
    digest: bytes
    payload: bytes


def _key(r: Row | LabelRow) -> tuple[str, ...]:
    """A stored event's key within its model: (version, id) for a prediction, (id,) for a label."""
    return (r.version, r.id) if isinstance(r, Row) else (r.id,)


@dataclass
class Ingested:
    accepted: int = 0
    duplicates: int = 0
    conflicts: int = 0
    conflict_ids: list[str] = field(default_factory=list)
    replaced: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "duplicates": self.duplicates, "conflicts": self.conflicts,
                "conflict_ids": self.conflict_ids}


@dataclass(frozen=True)
class Cursor:
    pred_tx: int = 0
    pred_seq: int = 0
    label_tx: int = 0
    label_seq: int = 0


class StoredPrediction(NamedTuple):
    seq: int
    tx: int
    version: str
    id: str
    event_time: float
    received_at: float
    payload: bytes


class StoredLabel(NamedTuple):
    seq: int
    tx: int
    id: str
    received_at: float
    payload: bytes


def digest(payload: bytes) -> bytes:
    return hashlib.blake2b(payload, digest_size=16).digest()


_ROWS_PER_INSERT = 4000  # 5 parameters a prediction: 20,002 parameters, below SQLite's 32,766
_PAD = 50


def _multi_insert(table: str, cols: str, fields: int, rows: Sequence[tuple[Any, ...]],
                  shared: tuple[Any, ...]) -> tuple[str, list[Any]]:
    """One ``INSERT ... VALUES (...), (...) ON CONFLICT DO NOTHING`` for many rows, and its parameters.

    ``cols`` names the model and receive-time columns (the same for the whole batch) as ``?1`` and ``?2`` and the
    row's own fields as ``?`` in the order of the row's tuple: the batch-wide values are bound once, and the
    parameters are the rows' tuples laid end to end (one C-level ``extend``, no tuple built per row).

    One statement is one call into SQLite, which runs without the interpreter lock: ``executemany`` would give the
    lock up and take it back for every row, and each time it is taken back behind a busy thread it waits for that
    thread's switch interval. The row count is padded to a multiple of 50 with copies of the last row (skipped as
    conflicts with it), so that a handful of statements serve every batch size from SQLite's statement cache."""
    n = len(rows)
    padded = -(-n // _PAD) * _PAD
    flat = list(shared)
    flat.extend(itertools.chain.from_iterable(rows))
    flat.extend(rows[-1] * (padded - n))
    return _insert_sql(table, cols, fields, padded), flat


@functools.lru_cache(maxsize=256)
def _insert_sql(table: str, cols: str, fields: int, n: int) -> str:
    """``cols`` is ``name=?1, name=?, ...``: the column names, and for each the constant slot or ``?`` (the row's
    next field)."""
    names = ", ".join(c.split("=")[0].strip() for c in cols.split(","))
    slots = [c.split("=")[1].strip() for c in cols.split(",")]
    groups = []
    for i in range(n):
        k = 3 + i * fields
        marks = []
        for slot in slots:
            if slot == "?":
                marks.append(f"?{k}")
                k += 1
            else:
                marks.append(slot)
        groups.append("(" + ", ".join(marks) + ")")
    return f"INSERT INTO {table} ({names}) VALUES {', '.join(groups)} ON CONFLICT DO NOTHING"


def _chunks(items: Sequence[Any], size: int = 900) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


GROUP_ROWS = 20_000  # rows per shared ingest transaction on SQLite


@dataclass(eq=False)
class _Job:
    work: Callable[[Connection], Ingested]
    size: int
    done: bool = False
    result: Ingested | None = None
    error: BaseException | None = None


class EventStore:
    """Events, labels, window states, the cursor and tokens in one database."""

    def __init__(self, engine: Engine, reader: Engine | None = None) -> None:
        self.engine = engine
        self.reader = reader or engine
        self.dialect = engine.dialect.name
        self.postgres = self.dialect == "postgresql"
        self._lock = threading.Lock()
        self._queue: collections.deque[_Job] = collections.deque()
        self._queue_lock = threading.Lock()
        self._turn = threading.Lock()

    # -- ingest -----------------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _tx(self) -> Iterator[Connection]:
        try:
            with self.engine.begin() as conn:
                yield conn
        except (OperationalError, DBAPIError) as exc:
            if isinstance(exc, DBAPIError) and not exc.connection_invalidated and not isinstance(
                    exc, OperationalError):
                raise
            raise StoreUnavailable(str(exc.orig) if exc.orig is not None else str(exc)) from exc

    def _write(self, work: Callable[[Connection], Ingested], size: int) -> Ingested:
        """``work(conn)`` in a write transaction. On SQLite the batches of the threads waiting meanwhile share one
        (group commit): whichever thread takes the turn writes every queued batch, up to ``GROUP_ROWS`` rows, in one
        transaction with one commit (one sync to disk), and hands each its own result. Should the shared
        transaction fail other than by the store being unavailable, each batch is written again on its own, so a
        batch only ever fails by itself. PostgreSQL takes concurrent writers as they come."""
        if self.postgres:
            with self._tx() as conn:
                return work(conn)
        job = _Job(work, size)
        with self._queue_lock:
            self._queue.append(job)
        with self._turn:
            if not job.done:
                with self._queue_lock:
                    group: list[_Job] = []
                    rows = 0
                    while self._queue and (not group or rows + self._queue[0].size <= GROUP_ROWS):
                        nxt = self._queue.popleft()
                        group.append(nxt)
                        rows += nxt.size
                self._run_group(group)
        if job.error is not None:
            raise job.error
        assert job.result is not None
        return job.result

    def _run_group(self, group: list[_Job]) -> None:
        try:
            with self._tx() as conn:
                results = [j.work(conn) for j in group]
        except Exception as exc:
            if len(group) == 1 or isinstance(exc, StoreUnavailable):
                for j in group:
                    j.error, j.done = exc, True
                return
            for j in group:
                self._run_group([j])
            return
        for j, r in zip(group, results, strict=True):
            j.result, j.done = r, True

    def insert_predictions(self, model: str, rows: Sequence[Row], *, now: float) -> Ingested:
        """Store the new rows of a batch in one transaction; classify the others as duplicates or conflicts.

        The batch is inserted first, skipping keys already stored (``ON CONFLICT DO NOTHING``); only the rows it
        skipped are looked up, to tell a duplicate (same digest) from a conflict. A batch of new events, the usual
        case, is one driver-level statement and no look-up."""
        out = Ingested()
        fresh: Sequence[Row] = rows
        if len({(r.version, r.id) for r in rows}) < len(rows):  # repeated keys (else, the usual case: all fresh)
            unique: dict[tuple[str, str], Row] = {}
            for r in rows:  # within the batch: the first row of a key counts, an identical repeat is a duplicate
                first = unique.setdefault((r.version, r.id), r)
                if first is not r:
                    if first.digest == r.digest:
                        out.duplicates += 1
                    else:
                        out.conflicts += 1
                        out.conflict_ids.append(r.id)
            fresh = list(unique.values())

        def work(conn: Connection) -> Ingested:  # on a copy of the batch's own counts: a group may run it again
            got = dataclasses.replace(out, conflict_ids=list(out.conflict_ids))
            if fresh:
                skipped = self._insert_new(conn, predictions, model, now, fresh)
                got.accepted = len(fresh) - len(skipped)
                for r in fresh:
                    have = skipped.get((r.version, r.id))
                    if have is None:
                        continue
                    if have == r.digest:
                        got.duplicates += 1
                    else:
                        got.conflicts += 1
                        got.conflict_ids.append(r.id)
            self._count(conn, model, got)
            return got

        return self._write(work, len(fresh))

    def _insert_new(self, conn: Connection, table: sa.Table, model: str, now: float,
                    rows: Sequence[Row] | Sequence[LabelRow]) -> dict[tuple[str, ...], bytes]:
        """Insert the rows (keys unique within ``rows``) except those whose key is already stored; the digests
        stored under the keys it skipped, by key ((version, id) for predictions, (id,) for labels).

        SQLite: multi-row ``INSERT ... ON CONFLICT DO NOTHING`` statements; the write lock is held from BEGIN
        IMMEDIATE, so nothing can come between, and the connection's change count says whether every row went in.
        When some did not, the rows under their keys with a ``seq`` at or below the table's sequence before the
        statement are the stored ones (skipped rows may use up sequence numbers, so the count does not tell).
        PostgreSQL: one ``INSERT ... SELECT FROM unnest(arrays) ON CONFLICT DO NOTHING`` (``tx`` from its column
        default); a key another writer is inserting is waited for, so when the row count falls short the rows under
        the keys that another transaction stored are committed ones, read afterwards (nothing is sent back for the
        usual batch of new events)."""
        is_pred = table is predictions
        cols = "model, version, id, event_time, received_at, digest, payload" if is_pred else \
            "model, id, received_at, digest, payload"
        if not self.postgres:
            raw = conn.connection.driver_connection
            assert raw is not None
            # the rows' own fields in their tuple order (Row: version, id, event_time, digest, payload; LabelRow:
            # id, digest, payload), the model as ?1 and the receive time as ?2
            slots = ("model=?1, version=?, id=?, event_time=?, received_at=?2, digest=?, payload=?" if is_pred else
                     "model=?1, id=?, received_at=?2, digest=?, payload=?")
            fields = 5 if is_pred else 3
            cur = raw.cursor()
            try:
                top = cur.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (table.name,)).fetchone()
                before = raw.total_changes
                for part in _chunks(rows, _ROWS_PER_INSERT):
                    sql, flat = _multi_insert(table.name, slots, fields, part, (model, now))
                    cur.execute(sql, flat)
            finally:
                cur.close()
            top = top[0] if top else None
            if (raw.total_changes - before) % (1 << 32) == len(rows):  # sqlite3_total_changes is a C int
                return {}
            return self._known_digests(conn, table, model, {_key(r) for r in rows}, below=int(top or 0))
        if is_pred:
            sql = (f"INSERT INTO predictions ({cols}) SELECT %s, v, i, t, %s, d, p FROM unnest(%s::text[], "
                   "%s::text[], %s::float8[], %s::bytea[], %s::bytea[]) AS u(v, i, t, d, p) "
                   "ON CONFLICT DO NOTHING")
            preds = cast("Sequence[Row]", rows)
            args: tuple[Any, ...] = (model, now, [r.version for r in preds], [r.id for r in preds],
                                     [r.event_time for r in preds], [r.digest for r in preds],
                                     [r.payload for r in preds])
        else:
            sql = (f"INSERT INTO labels ({cols}) SELECT %s, i, %s, d, p FROM unnest(%s::text[], %s::bytea[], "
                   "%s::bytea[]) AS u(i, d, p) ON CONFLICT DO NOTHING")
            args = (model, now, [r.id for r in rows], [r.digest for r in rows], [r.payload for r in rows])
        if conn.exec_driver_sql(sql, args).rowcount == len(rows):
            return {}
        mine = int(conn.exec_driver_sql("SELECT pg_current_xact_id()::text::bigint").scalar_one())
        return self._known_digests(conn, table, model, {_key(r) for r in rows}, other_than=mine)

    def _known_digests(self, conn: Connection, table: sa.Table, model: str, wanted: set[tuple[str, ...]],
                       below: int | None = None, other_than: int | None = None) -> dict[tuple[str, ...], bytes]:
        """Stored digests under the keys ``wanted`` ((version, id) for predictions, (id,) for labels), only of
        rows with ``seq <= below`` (SQLite) or of another transaction than ``other_than`` (PostgreSQL) when given:
        the rows stored before the batch, not its own."""
        is_pred = table is predictions
        ids = sorted({k[-1] for k in wanted})
        head = "version, id" if is_pred else "id"
        extra = "" if below is None else " AND seq <= ?"
        if other_than is not None:
            extra, below = " AND tx <> %s", other_than
        out: dict[tuple[str, ...], bytes] = {}
        for part in _chunks(ids):
            if self.postgres:
                sql = f"SELECT {head}, digest FROM {table.name} WHERE model = %s AND id = ANY(%s){extra}"
                args: tuple[Any, ...] = (model, list(part))
            else:
                sql = (f"SELECT {head}, digest FROM {table.name} WHERE model = ? AND id IN "
                       f"({', '.join('?' * len(part))}){extra}")
                args = (model, *part)
            if below is not None:
                args += (below,)
            for r in conn.exec_driver_sql(sql, args):
                k = tuple(r[:-1])
                if k in wanted:
                    out[k] = bytes(r[-1])
        return out

    def insert_labels(self, model: str, rows: Sequence[LabelRow], *, policy: str, now: float) -> Ingested:
        out = Ingested()
        unique: dict[str, LabelRow] = {}
        for r in rows:
            first = unique.get(r.id)
            if first is None or policy == "last":
                if first is not None and first.digest == r.digest:
                    out.duplicates += 1
                    continue
                unique[r.id] = r
            elif first.digest == r.digest:
                out.duplicates += 1
            else:
                out.conflicts += 1
                out.conflict_ids.append(r.id)
        t = labels
        fresh = list(unique.values())
        within = out

        def work(conn: Connection) -> Ingested:  # on a copy of the batch's own counts: a group may run it again
            out = dataclasses.replace(within, conflict_ids=list(within.conflict_ids))
            skipped = self._insert_new(conn, t, model, now, fresh) if fresh else {}
            out.accepted = len(fresh) - len(skipped)
            replace = []
            for r in fresh:
                have = skipped.get((r.id,))
                if have is None:
                    continue
                if have == r.digest:
                    out.duplicates += 1
                elif policy == "last":
                    replace.append(r)
                else:
                    out.conflicts += 1
                    out.conflict_ids.append(r.id)
            if replace:  # a new row (a new seq) so the materializer sees it, and its windows are rebuilt
                ids = [r.id for r in replace]
                for part in _chunks(ids):
                    conn.execute(t.delete().where(t.c.model == model, t.c.id.in_(part)))
                self._upsert_rebuilds(conn, model, ids)
                late = self._insert_new(conn, t, model, now, replace)  # another writer's label in between
                for r in replace:
                    have = late.get((r.id,))
                    if have is None:
                        out.accepted += 1
                        out.replaced += 1
                    elif have == r.digest:
                        out.duplicates += 1
                    else:
                        out.conflicts += 1
                        out.conflict_ids.append(r.id)
            self._count(conn, model, out)
            return out

        return self._write(work, len(fresh))

    def _upsert_rebuilds(self, conn: Connection, model: str, ids: Sequence[str]) -> None:
        rows = [{"model": model, "id": i} for i in ids]
        if self.postgres:
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            conn.execute(pg_insert(rebuilds).on_conflict_do_nothing(), rows)
        else:
            from sqlalchemy.dialects.sqlite import insert as lite_insert

            conn.execute(lite_insert(rebuilds).on_conflict_do_nothing(), rows)

    def _count(self, conn: Connection, model: str, out: Ingested) -> None:
        for name, value in (("duplicates", out.duplicates), ("conflicts", out.conflicts)):
            if value:
                self._count_one(conn, model, name, value)

    def _count_one(self, conn: Connection, model: str, name: str, value: int) -> None:
        """Add to a counter in one upsert: two transactions creating the same counter at once must not collide."""
        if self.postgres:
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
        stmt = insert(counters).values(model=model, name=name, value=value)
        conn.execute(stmt.on_conflict_do_update(index_elements=[counters.c.model, counters.c.name],
                                                set_={"value": counters.c.value + stmt.excluded.value}))

    # -- reads ------------------------------------------------------------------------------------------------------
    def counts(self, model: str) -> dict[str, Any]:
        """Events, labels, pending labels (no prediction yet), duplicates and conflicts of one model."""
        p, lab = predictions, labels
        with self.reader.connect() as conn:
            n_pred = conn.execute(sa.select(sa.func.count()).select_from(p).where(p.c.model == model)).scalar_one()
            n_lab = conn.execute(sa.select(sa.func.count()).select_from(lab).where(lab.c.model == model)).scalar_one()
            joined = sa.select(sa.literal(1)).where(p.c.model == model, p.c.id == lab.c.id).exists()
            pending = conn.execute(sa.select(sa.func.count()).select_from(lab)
                                   .where(lab.c.model == model, ~joined)).scalar_one()
            newest = conn.execute(sa.select(sa.func.max(p.c.event_time)).where(p.c.model == model)).scalar()
            c = {name: value for name, value in conn.execute(
                sa.select(counters.c.name, counters.c.value).where(counters.c.model == model))}
        out: dict[str, Any] = {"events": int(n_pred), "labels": int(n_lab), "pending_labels": int(pending),
                               "duplicates": int(c.get("duplicates", 0)), "conflicts": int(c.get("conflicts", 0)),
                               "unfoldable": int(c.get("unfoldable", 0)), "newest_event_time": newest}
        return out

    def counter_values(self, model: str) -> dict[str, int]:
        """The model's counters alone (one indexed read: what ``/metrics`` needs on every scrape)."""
        with self.reader.connect() as conn:
            return {name: int(value) for name, value in conn.execute(
                sa.select(counters.c.name, counters.c.value).where(counters.c.model == model))}

    def event(self, model: str, id_: str) -> tuple[list[StoredPrediction], StoredLabel | None]:
        p, lab = predictions, labels
        with self.reader.connect() as conn:
            rows = conn.execute(sa.select(p.c.seq, p.c.tx, p.c.version, p.c.id, p.c.event_time, p.c.received_at,
                                          p.c.payload).where(p.c.model == model, p.c.id == id_)
                                .order_by(p.c.version)).all()
            lrow = conn.execute(sa.select(lab.c.seq, lab.c.tx, lab.c.id, lab.c.received_at, lab.c.payload)
                                .where(lab.c.model == model, lab.c.id == id_)).first()
        preds = [StoredPrediction(r[0], r[1], r[2], r[3], r[4], r[5], bytes(r[6])) for r in rows]
        return preds, (StoredLabel(lrow[0], lrow[1], lrow[2], lrow[3], bytes(lrow[4])) if lrow else None)

    def cursor(self) -> Cursor:
        with self.reader.connect() as conn:
            return _read_cursor(conn)

    def lag(self) -> tuple[int, int, float | None]:
        """Predictions and labels not yet materialized, and the receive time of the oldest such prediction."""
        cur = self.cursor()
        p, lab = predictions, labels
        with self.reader.connect() as conn:
            behind_p = conn.execute(sa.select(sa.func.count(), sa.func.min(p.c.received_at))
                                    .where(_after(p, cur.pred_tx, cur.pred_seq, self.postgres))).one()
            behind_l = conn.execute(sa.select(sa.func.count()).select_from(lab)
                                    .where(_after(lab, cur.label_tx, cur.label_seq, self.postgres))).scalar_one()
        return int(behind_p[0]), int(behind_l), behind_p[1]

    def window_rows(self, model: str, version: str | None, level: int, start: float,
                    end: float) -> list[tuple[str, float, bytes]]:
        """(version, start, state) of windows of ``level`` with ``start <= window start < end``."""
        w = windows
        q = sa.select(w.c.version, w.c.start, w.c.state).where(
            w.c.model == model, w.c.level == level, w.c.start >= start, w.c.start < end)
        if version is not None:
            q = q.where(w.c.version == version)
        with self.reader.connect() as conn:
            return [(v, s, bytes(b)) for v, s, b in conn.execute(q.order_by(w.c.start, w.c.version))]

    def window_span(self, model: str) -> tuple[float | None, float | None]:
        w = windows
        with self.reader.connect() as conn:
            lo, hi = conn.execute(sa.select(sa.func.min(w.c.start), sa.func.max(w.c.start))
                                  .where(w.c.model == model)).one()
        return lo, hi

    def versions(self, model: str) -> list[str]:
        with self.reader.connect() as conn:
            return [v for (v,) in conn.execute(sa.select(windows.c.version).where(windows.c.model == model)
                                               .distinct().order_by(windows.c.version))]

    def predictions_between(self, model: str, start: float, end: float, *, upto: Cursor | None = None,
                            version: str | None = None) -> list[StoredPrediction]:
        """Stored predictions of event time in ``[start, end)`` (for rebuilding windows), optionally only those
        at or before a cursor."""
        p = predictions
        q = sa.select(p.c.seq, p.c.tx, p.c.version, p.c.id, p.c.event_time, p.c.received_at, p.c.payload).where(
            p.c.model == model, p.c.event_time >= start, p.c.event_time < end)
        if version is not None:
            q = q.where(p.c.version == version)
        if upto is not None:
            q = q.where(~_after(p, upto.pred_tx, upto.pred_seq, self.postgres))
        with self.reader.connect() as conn:
            return [StoredPrediction(r[0], r[1], r[2], r[3], r[4], r[5], bytes(r[6])) for r in conn.execute(q)]

    # -- the materializer -------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def materializing(self, *, locked: bool = False) -> Iterator[Materialization]:
        """One materializer pass: its reads, then its writes (states, cursor, counters) committed together.

        On PostgreSQL the pass is one transaction (MVCC: it blocks no writer). On SQLite, where a write transaction
        excludes every other writer, the pass reads a snapshot (a read transaction in WAL mode, which blocks no
        one) and applies its writes at the end in one short write transaction, so ingest goes on while it folds;
        should the cursor have moved meanwhile (another pass), nothing is written and :class:`StaleSnapshot` is
        raised. A pass with windows to rebuild (``label_policy: last``), or with ``locked``, holds the write lock
        throughout: the rebuild queue is shared with ingest."""
        if not self.postgres and not locked:
            snapshot: Materialization | None = None
            with self.reader.connect() as rconn, rconn.begin():
                m = Materialization(self, rconn, deferred=True)
                if not m.rebuilds_pending():
                    yield m
                    snapshot = m
            if snapshot is not None:
                with self._tx() as wconn:
                    if _read_cursor(wconn) != snapshot.start:
                        raise StaleSnapshot("the materializer's cursor moved during the pass")
                    for write in snapshot.pending:
                        write(wconn)
                return
        with self._tx() as conn:
            yield Materialization(self, conn)

    def checkpoint(self) -> None:
        """On SQLite, copy the write-ahead log back into the database (``PRAGMA wal_checkpoint(PASSIVE)``, which
        waits for no one): the background worker does it after each pass, when it holds no snapshot, so the log
        seldom reaches the size at which a committing ingest transaction would do it on the request's time."""
        if self.postgres:
            return
        with self.reader.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")

    @contextlib.contextmanager
    def materializer_lock(self) -> Iterator[bool]:
        """Whether this process may materialize: a PostgreSQL advisory lock held on its own connection (released
        when the process dies); on SQLite the process that opened the store first in this folder (a file lock)."""
        if self.postgres:
            conn = self.engine.connect()
            try:
                got = bool(conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY}).scalar())
                conn.commit()
                yield got
            finally:
                with contextlib.suppress(Exception):
                    conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
                conn.close()
            return
        import fcntl

        path = self.engine.url.database
        if not path or path == ":memory:":
            yield True
            return
        with open(path + ".materializer.lock", "a+") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    # -- retention --------------------------------------------------------------------------------------------------
    def expire(self, *, now: float, events_before: float, windows_before: float, window_seconds: int) -> int:
        """Delete raw events received before ``events_before`` (already materialized) and window states whose
        window ended before ``windows_before``; the number of rows deleted."""
        cur = self.cursor()
        deleted = 0
        with self._tx() as conn:
            p, lab = predictions, labels
            done_p = ~_after(p, cur.pred_tx, cur.pred_seq, self.postgres)
            done_l = ~_after(lab, cur.label_tx, cur.label_seq, self.postgres)
            deleted += conn.execute(p.delete().where(p.c.received_at < events_before, done_p)).rowcount
            deleted += conn.execute(lab.delete().where(lab.c.received_at < events_before, done_l)).rowcount
            w = windows
            deleted += conn.execute(w.delete().where(w.c.start + w.c.level < windows_before)).rowcount
            deleted += conn.execute(sli_counts.delete().where(sli_counts.c.start + sli_counts.c.level
                                                              < windows_before)).rowcount
        return deleted

    # -- tokens -----------------------------------------------------------------------------------------------------
    def add_token(self, name: str, token_digest: str, scopes: Sequence[str], *, now: float) -> None:
        with self._tx() as conn:
            have = conn.execute(sa.select(tokens.c.name).where(tokens.c.name == name)).first()
            if have is not None:
                raise InputError(f"token {name!r}: expected a new name, found a token of that name. "
                                 f"Fix: pick another name, or `assay tokens revoke {name}` first")
            conn.execute(tokens.insert().values(name=name, digest=token_digest, scopes=" ".join(sorted(scopes)),
                                                created_at=now, revoked_at=None))

    def token_scopes(self, token_digest: str) -> tuple[str, frozenset[str]] | None:
        t = tokens
        with self.reader.connect() as conn:
            row = conn.execute(sa.select(t.c.name, t.c.scopes).where(t.c.digest == token_digest,
                                                                      t.c.revoked_at.is_(None))).first()
        return None if row is None else (row[0], frozenset(row[1].split()))

    def list_tokens(self) -> list[dict[str, Any]]:
        t = tokens
        with self.reader.connect() as conn:
            rows = conn.execute(sa.select(t.c.name, t.c.scopes, t.c.created_at, t.c.revoked_at)
                                .order_by(t.c.name)).all()
        return [{"name": r[0], "scopes": r[1].split(), "created_at": r[2], "revoked_at": r[3]} for r in rows]

    def revoke_token(self, name: str, *, now: float) -> bool:
        t = tokens
        with self._tx() as conn:
            return bool(conn.execute(t.update().where(t.c.name == name, t.c.revoked_at.is_(None))
                                     .values(revoked_at=now)).rowcount)

    def sli_pieces(self, model: str, version: str | None, sli: str,
                   pieces: Sequence[tuple[int, float, float]]) -> dict[tuple[int, float, float], tuple[int, int]]:
        """(good, total) of each (level, from, to) piece (rows of that level starting in ``[from, to)``), in one
        read: an SLO's period and alert windows are a few dozen day, hour and window rows."""
        wanted = sorted(set(pieces))
        if not wanted:
            return {}
        a = sli_counts
        cond = sa.or_(*(sa.and_(a.c.level == lv, a.c.start >= lo, a.c.start < hi) for lv, lo, hi in wanted))
        q = sa.select(a.c.level, a.c.start, sa.func.sum(a.c.good), sa.func.sum(a.c.total)) \
            .where(a.c.model == model, a.c.sli == sli, cond).group_by(a.c.level, a.c.start)
        if version is not None:
            q = q.where(a.c.version == version)
        with self.reader.connect() as conn:
            rows = conn.execute(q).all()
        out = {p: (0, 0) for p in wanted}
        for lv, start, g, t in rows:
            for p in wanted:
                if p[0] == lv and p[1] <= start < p[2]:
                    og, ot = out[p]
                    out[p] = (og + int(g), ot + int(t))
        return out

    def sli_series(self, model: str, version: str | None, sli: str, level: int, start: float,
                   end: float) -> list[tuple[float, int, int]]:
        """(window start, good, total) of every ``level`` row of an event SLI starting in ``[start, end)``."""
        a = sli_counts
        q = sa.select(a.c.start, sa.func.sum(a.c.good), sa.func.sum(a.c.total)) \
            .where(a.c.model == model, a.c.sli == sli, a.c.level == level, a.c.start >= start, a.c.start < end) \
            .group_by(a.c.start).order_by(a.c.start)
        if version is not None:
            q = q.where(a.c.version == version)
        with self.reader.connect() as conn:
            return [(float(r[0]), int(r[1]), int(r[2])) for r in conn.execute(q).all()]

    def sli_all_time(self, model: str, version: str | None, sli: str) -> tuple[int, int]:
        """(good, total) of an event SLI over everything kept (its day rows): the counters of ``/metrics``."""
        a = sli_counts
        q = sa.select(sa.func.coalesce(sa.func.sum(a.c.good), 0), sa.func.coalesce(sa.func.sum(a.c.total), 0)) \
            .where(a.c.model == model, a.c.sli == sli, a.c.level == 86400)
        if version is not None:
            q = q.where(a.c.version == version)
        with self.reader.connect() as conn:
            row = conn.execute(q).one()
        return int(row[0]), int(row[1])

    # -- live comparisons: verdicts and the audit log ----------------------------------------------------------------
    def verdict(self, name: str) -> tuple[str, float, bytes] | None:
        """The stored promote or rollback of a comparison (decision, time, document), or ``None``."""
        v = verdicts
        with self.reader.connect() as conn:
            row = conn.execute(sa.select(v.c.decision, v.c.at, v.c.document).where(v.c.name == name)).first()
        return None if row is None else (row[0], float(row[1]), bytes(row[2]))

    def set_verdict(self, name: str, decision: str, *, at: float, document: bytes) -> bool:
        """Store the first promote or rollback of a comparison, once: ``True`` only for the call that stored it
        (another worker or a concurrent poll finds it there and gets ``False``); logged in the same transaction."""
        if self.postgres:
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
        stmt = insert(verdicts).values(name=name, decision=decision, at=at, document=document)
        with self._tx() as conn:
            stored = bool(conn.execute(stmt.on_conflict_do_nothing(index_elements=[verdicts.c.name])).rowcount)
            if stored:
                conn.execute(decision_log.insert().values(name=name, at=at, decision=decision, event="verdict",
                                                          document=document))
        return stored

    def reset_verdict(self, name: str, *, at: float, document: bytes) -> bool:
        """Forget a comparison's verdict (a new analysis starts); logged. ``False`` when there was none."""
        with self._tx() as conn:
            gone = bool(conn.execute(verdicts.delete().where(verdicts.c.name == name)).rowcount)
            conn.execute(decision_log.insert().values(name=name, at=at, decision="hold", event="reset",
                                                      document=document))
        return gone

    def log_decision(self, name: str, decision: str, *, at: float, document: bytes) -> None:
        """Append a change of decision to the audit log."""
        with self._tx() as conn:
            conn.execute(decision_log.insert().values(name=name, at=at, decision=decision, event="change",
                                                      document=document))

    def last_logged(self, name: str) -> str | None:
        """The decision of the newest audit-log entry of a comparison."""
        d = decision_log
        with self.reader.connect() as conn:
            row = conn.execute(sa.select(d.c.decision).where(d.c.name == name).order_by(d.c.seq.desc())
                               .limit(1)).first()
        return None if row is None else str(row[0])

    def decision_history(self, name: str, limit: int = 100) -> list[tuple[int, float, str, str, bytes]]:
        """The newest ``limit`` audit-log entries of a comparison, newest first: (seq, time, decision, event,
        document)."""
        d = decision_log
        with self.reader.connect() as conn:
            rows = conn.execute(sa.select(d.c.seq, d.c.at, d.c.decision, d.c.event, d.c.document)
                                .where(d.c.name == name).order_by(d.c.seq.desc()).limit(limit)).all()
        return [(int(r[0]), float(r[1]), str(r[2]), str(r[3]), bytes(r[4])) for r in rows]

    def healthy(self) -> bool:
        try:
            with self.reader.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            return True
        except Exception:
            return False

    def close(self) -> None:
        self.engine.dispose()
        self.reader.dispose()


def _after(t: sa.Table, tx: int, seq: int, postgres: bool) -> sa.ColumnElement[bool]:
    """Rows past the cursor (tx, seq), in a form the database answers from an index: on PostgreSQL a row-value
    comparison on the (tx, seq) index; on SQLite, where ``tx`` is always 0, a range of the rowid. (The equivalent
    ``tx > :tx OR (tx = :tx AND seq > :seq)`` makes SQLite scan and sort the whole table on every pass.)"""
    if postgres:
        return sa.tuple_(t.c.tx, t.c.seq) > sa.tuple_(sa.literal(tx), sa.literal(seq))
    return t.c.seq > seq


def _read_cursor(conn: Connection) -> Cursor:
    row = conn.execute(sa.select(cursors.c.pred_tx, cursors.c.pred_seq, cursors.c.label_tx, cursors.c.label_seq)
                       .where(cursors.c.name == MATERIALIZER)).first()
    return Cursor() if row is None else Cursor(*map(int, row))


class Materialization:
    """The materializer's reads and writes inside one transaction."""

    def __init__(self, store: EventStore, conn: Connection, *, deferred: bool = False) -> None:
        self.store = store
        self.conn = conn
        self.cursor = self.start = _read_cursor(conn)
        # with ``deferred`` (SQLite) ``conn`` reads a snapshot and the writes wait here for the write transaction
        self.deferred = deferred
        self.pending: list[Callable[[Connection], Any]] = []
        # On PostgreSQL, rows of transactions at or above the oldest running one are not read yet
        self.horizon: int | None = None
        if store.postgres:
            self.horizon = int(conn.execute(
                sa.text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")).scalar_one())

    def _new(self, table: str, cols: str, tx: int, seq: int, limit: int) -> list[Any]:
        """Rows of ``table`` past the cursor (tx, seq), oldest first, as the driver's tuples: one statement on the
        raw connection of the pass's transaction (the materializer reads tens of thousands of rows a second, and
        SQLAlchemy's result rows cost more than reading them)."""
        raw: Any = self.conn.connection.driver_connection
        cur = raw.cursor()
        try:
            if self.store.postgres:
                cur.execute(f"SELECT {cols} FROM {table} WHERE (tx, seq) > (%s, %s) AND tx < %s "
                            "ORDER BY tx, seq LIMIT %s", (tx, seq, self.horizon, limit))
            else:
                cur.execute(f"SELECT {cols} FROM {table} WHERE seq > ? ORDER BY seq LIMIT ?", (seq, limit))
            return list(cur.fetchall())
        finally:
            cur.close()

    def new_predictions(self, model: str | None, limit: int) -> list[tuple[str, StoredPrediction]]:
        rows = self._new("predictions", "model, seq, tx, version, id, event_time, received_at, payload",
                         self.cursor.pred_tx, self.cursor.pred_seq, limit)
        make = StoredPrediction._make
        return [(r[0], make((r[1], r[2], r[3], r[4], r[5], r[6], bytes(r[7])))) for r in rows]

    def new_labels(self, limit: int) -> list[tuple[str, StoredLabel]]:
        rows = self._new("labels", "model, seq, tx, id, received_at, payload", self.cursor.label_tx,
                         self.cursor.label_seq, limit)
        make = StoredLabel._make
        return [(r[0], make((r[1], r[2], r[3], r[4], bytes(r[5])))) for r in rows]

    def _ids_in(self, column: Any, ids: Sequence[str]) -> sa.ColumnElement[bool]:
        """``column IN ids`` with the ids as one parameter (a JSON array on SQLite, an array on PostgreSQL): no
        statement with thousands of placeholders to compile for each batch."""
        if self.store.postgres:
            from sqlalchemy.dialects.postgresql import ARRAY

            return column == sa.func.any(sa.bindparam("ids", list(ids), type_=ARRAY(sa.String())))
        ids_json: Any = sa.bindparam("ids", json.dumps(list(ids)))
        each: Any = sa.select(sa.column("value")).select_from(sa.func.json_each(ids_json))
        return column.in_(each.scalar_subquery())

    def labels_for(self, model: str, ids: Sequence[str], upto: Cursor) -> dict[str, StoredLabel]:
        """Labels of these ids at or before the cursor ``upto``."""
        t = labels
        wanted = sorted(set(ids))
        if not wanted or upto.label_tx == upto.label_seq == 0:  # no label is at or before the cursor (0, 0)
            return {}
        q = sa.select(t.c.seq, t.c.tx, t.c.id, t.c.received_at, t.c.payload).where(
            t.c.model == model, self._ids_in(t.c.id, wanted),
            ~_after(t, upto.label_tx, upto.label_seq, self.store.postgres))
        return {r[2]: StoredLabel(r[0], r[1], r[2], r[3], bytes(r[4])) for r in self.conn.execute(q).all()}

    def predictions_for(self, model: str, ids: Sequence[str], upto: Cursor) -> list[StoredPrediction]:
        """Every version's prediction of these ids at or before the cursor ``upto``."""
        p = predictions
        wanted = sorted(set(ids))
        if not wanted:
            return []
        q = sa.select(p.c.seq, p.c.tx, p.c.version, p.c.id, p.c.event_time, p.c.received_at, p.c.payload).where(
            p.c.model == model, self._ids_in(p.c.id, wanted),
            ~_after(p, upto.pred_tx, upto.pred_seq, self.store.postgres))
        return [StoredPrediction(r[0], r[1], r[2], r[3], r[4], r[5], bytes(r[6])) for r in self.conn.execute(q).all()]

    def predictions_between(self, model: str, start: float, end: float, upto: Cursor) -> list[StoredPrediction]:
        p = predictions
        q = sa.select(p.c.seq, p.c.tx, p.c.version, p.c.id, p.c.event_time, p.c.received_at, p.c.payload).where(
            p.c.model == model, p.c.event_time >= start, p.c.event_time < end,
            ~_after(p, upto.pred_tx, upto.pred_seq, self.store.postgres))
        return [StoredPrediction(r[0], r[1], r[2], r[3], r[4], r[5], bytes(r[6])) for r in self.conn.execute(q).all()]

    def _write(self, write: Callable[[Connection], Any]) -> None:
        if self.deferred:
            self.pending.append(write)
        else:
            write(self.conn)

    def rebuilds_pending(self) -> bool:
        return self.conn.execute(sa.select(rebuilds.c.id).limit(1)).first() is not None

    def take_rebuilds(self, limit: int = 10_000) -> list[tuple[str, str]]:
        rows = [(m, i) for m, i in self.conn.execute(sa.select(rebuilds.c.model, rebuilds.c.id).limit(limit))]

        def write(conn: Connection) -> None:
            for model, id_ in rows:
                conn.execute(rebuilds.delete().where(rebuilds.c.model == model, rebuilds.c.id == id_))

        self._write(write)
        return rows

    def windows(self, keys: Sequence[tuple[str, str, int, float]]) -> dict[tuple[str, str, int, float], bytes]:
        """Stored states of (model, version, level, start) keys."""
        out: dict[tuple[str, str, int, float], bytes] = {}
        w = windows
        by_model: dict[tuple[str, int], list[float]] = {}
        for m, _, level, start in keys:
            by_model.setdefault((m, level), []).append(start)
        wanted = set(keys)
        for (m, level), starts in by_model.items():
            for part in _chunks(sorted(set(starts))):
                q = sa.select(w.c.model, w.c.version, w.c.level, w.c.start, w.c.state).where(
                    w.c.model == m, w.c.level == level, w.c.start.in_(part))
                for r in self.conn.execute(q).all():
                    key = (r[0], r[1], int(r[2]), float(r[3]))
                    if key in wanted:
                        out[key] = bytes(r[4])
        return out

    def put_windows(self, states: dict[tuple[str, str, int, float], bytes], *, now: float) -> None:
        if not states:
            return
        w = windows
        rows = [{"model": k[0], "version": k[1], "level": k[2], "start": k[3], "state": v, "updated_at": now}
                for k, v in states.items()]
        stmt: Any
        if self.store.postgres:
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            pstmt = pg_insert(w)
            stmt = pstmt.on_conflict_do_update(index_elements=[w.c.model, w.c.version, w.c.level, w.c.start],
                                               set_={"state": pstmt.excluded.state,
                                                     "updated_at": pstmt.excluded.updated_at})
        else:
            from sqlalchemy.dialects.sqlite import insert as lite_insert

            lstmt = lite_insert(w)
            stmt = lstmt.on_conflict_do_update(index_elements=[w.c.model, w.c.version, w.c.level, w.c.start],
                                               set_={"state": lstmt.excluded.state,
                                                     "updated_at": lstmt.excluded.updated_at})
        self._write(lambda conn: conn.execute(stmt, rows))

    def delete_windows(self, model: str, version: str | None, level: int, start: float, end: float) -> None:
        w = windows
        q = w.delete().where(w.c.model == model, w.c.level == level, w.c.start >= start, w.c.start < end)
        if version is not None:
            q = q.where(w.c.version == version)
        self._write(lambda conn: conn.execute(q))

    def add_sli_counts(self, counts: dict[tuple[str, str, str, int, float], tuple[int, int]]) -> None:
        """Add (good, total) to the event-SLI counts of (model, version, SLI, level, window start), in the pass's
        transaction (so each event counts once)."""
        if not counts:
            return
        a = sli_counts
        rows = [{"model": k[0], "version": k[1], "sli": k[2], "level": k[3], "start": k[4], "good": g, "total": t}
                for k, (g, t) in counts.items()]
        if self.store.postgres:
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
        stmt = insert(a)
        stmt = stmt.on_conflict_do_update(index_elements=[a.c.model, a.c.sli, a.c.level, a.c.start, a.c.version],
                                          set_={"good": a.c.good + stmt.excluded.good,
                                                "total": a.c.total + stmt.excluded.total})
        self._write(lambda conn: conn.execute(stmt, rows))

    def count(self, model: str, name: str, value: int) -> None:
        """Add to a counter of the model, in the materializer's transaction."""
        self._write(lambda conn: self.store._count_one(conn, model, name, value))

    def advance(self, cursor: Cursor, *, now: float) -> None:
        c = cursors
        values = {"pred_tx": cursor.pred_tx, "pred_seq": cursor.pred_seq, "label_tx": cursor.label_tx,
                  "label_seq": cursor.label_seq, "updated_at": now}

        def write(conn: Connection) -> None:
            done = conn.execute(c.update().where(c.c.name == MATERIALIZER).values(**values)).rowcount
            if not done:
                conn.execute(c.insert().values(name=MATERIALIZER, **values))

        self._write(write)
        self.cursor = cursor


# -- opening --------------------------------------------------------------------------------------------------------

def _sqlite_engine(url: sa.URL, *, immediate: bool) -> Engine:
    from pathlib import Path

    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    pool: dict[str, Any] = {"poolclass": sa.pool.QueuePool, "pool_size": 8, "max_overflow": 16}
    if immediate:
        # One writing connection, handed to the writers in the order they asked for it. SQLite runs one writer at a
        # time anyway; this way the writers wait in a queue instead of sleeping in SQLite's busy handler (back-offs
        # of up to 100 ms while the lock is free, and no order: a writer that just committed usually wins again),
        # and the connection's page cache stays warm (a commit from another connection empties a connection's cache).
        from collections import deque

        class _WriterPool(sa.pool.QueuePool):
            def __init__(self, *args: Any, **kw: Any) -> None:
                super().__init__(*args, **kw)
                self._guard = threading.Lock()
                self._waiting: deque[threading.Event] = deque()
                self._held = False

            def _do_get(self) -> Any:
                with self._guard:
                    turn = None
                    if self._held or self._waiting:
                        turn = threading.Event()
                        self._waiting.append(turn)
                    else:
                        self._held = True
                if turn is not None and not turn.wait(self._timeout):
                    with self._guard:
                        if not turn.is_set():  # waited the busy timeout: the same answer as a busy database
                            self._waiting.remove(turn)
                            import sqlite3

                            raise OperationalError("waiting for the write connection", None,
                                                   sqlite3.OperationalError("database is locked"))
                try:
                    return super()._do_get()
                except BaseException:
                    self._hand_over()
                    raise

            def _do_return_conn(self, record: Any) -> None:
                super()._do_return_conn(record)
                self._hand_over()

            def _hand_over(self) -> None:
                with self._guard:
                    if self._waiting:
                        self._waiting.popleft().set()
                    else:
                        self._held = False

        pool = {"poolclass": _WriterPool, "pool_size": 1, "max_overflow": 0, "pool_timeout": 30}
    engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **pool)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _: Any) -> None:
        dbapi_conn.isolation_level = None  # transactions are begun below, IMMEDIATE: the write lock up front
        cur = dbapi_conn.cursor()
        # 16 KiB pages for a new file (a no-op on one that has tables): a commit writes fewer, fuller pages to the
        # log (fewer system calls per event), and the indexes are shallower; measured on this schema at batches of
        # 1,000: about a fifth less CPU per inserted row with time-ordered ids, a third less with random ones
        cur.execute(f"PRAGMA page_size={PAGE_SIZE}")
        for _ in range(100):  # switching a new file to WAL does not wait for another connection's lock
            try:
                cur.execute("PRAGMA journal_mode=WAL")
                break
            except Exception:  # sqlite3.OperationalError: database is locked
                time.sleep(0.05)
        cur.execute("PRAGMA synchronous=FULL")
        # the writer waits for the lock in _on_begin below; once it holds it (WAL), no statement waits for another
        cur.execute(f"PRAGMA busy_timeout={0 if immediate else int(BUSY_TIMEOUT * 1000)}")
        cur.execute("PRAGMA foreign_keys=ON")
        if immediate:  # the one writing connection: a page cache for the indexes' hot pages (up to 256 MiB), and
            # checkpoints every 10,000 pages (~40 MiB of WAL) instead of 1,000: a page rewritten by many commits
            # is copied back to the database once per checkpoint
            cur.execute("PRAGMA cache_size=-262144")
            cur.execute("PRAGMA wal_autocheckpoint=10000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if not immediate:
            conn.exec_driver_sql("BEGIN")
            return
        # Another process holding the write lock (the materializer, another worker): SQLite's busy handler would
        # sleep 1, 2, 5, 10 ... 100 ms between tries, long after the lock is free; poll it every 0.2 ms instead
        # (the lock is held for milliseconds at a time), up to the same 30 s
        raw = conn.connection.dbapi_connection
        assert raw is not None
        deadline = time.monotonic() + BUSY_TIMEOUT
        while True:
            try:
                raw.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if ("locked" not in str(exc) and "busy" not in str(exc)) or time.monotonic() > deadline:
                    raise
            time.sleep(0.0002)

    return engine


def create_engine(url: str) -> tuple[Engine, Engine]:
    """The writing and the reading engine of a store URL (the same one, but on SQLite: there writers take the
    write lock when their transaction begins, readers never do)."""
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        raise ConfigError(f"store {url!r}: expected a URL such as sqlite:///.assay/watch.sqlite or "
                          "postgresql://user@host/db, found something else. Fix: check `store:` or --store") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(parsed, immediate=True), _sqlite_engine(parsed, immediate=False)
    if backend in ("postgresql", "postgres"):
        if parsed.drivername in ("postgresql", "postgres"):
            parsed = parsed.set(drivername="postgresql+psycopg")
        engine = sa.create_engine(parsed, pool_size=10, max_overflow=20, pool_pre_ping=True,
                                  connect_args={"connect_timeout": 5})
        return engine, engine
    raise ConfigError(f"store {url!r}: expected a sqlite:// or postgresql:// URL, found the {backend!r} backend. "
                      "Fix: use SQLite (embedded) or PostgreSQL")


def migrate(engine: Engine) -> None:
    """Create or upgrade the schema to the newest migration (Alembic); a no-op when it is current."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("assay.store") / "migrations"))
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":  # several workers starting at once migrate one after another
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": ADVISORY_KEY + 1})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def open_event_store(url: str, *, create: bool = True) -> EventStore:
    """The store at ``url``, its schema created or migrated on first use."""
    engine, reader = create_engine(url)
    if create:
        try:
            migrate(engine)
        except OperationalError as exc:
            raise ConfigError(f"store {engine.url.render_as_string(hide_password=True)}: expected a reachable "
                              f"database, found {exc.orig}. Fix: check the URL, the server and its credentials"
                              ) from None
    return EventStore(engine, reader)
