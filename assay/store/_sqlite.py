"""The SQLite run store: one file, WAL mode, one transaction per write, parameterised queries only.

::

    runs        run_id PRIMARY KEY, model_name, model_version, dataset_name, fingerprint, task, created_at,
                added_at, git_commit, source, document (JSON), sha256 (of the JSON with sorted keys)
    promotions  id (order of promotion), run_id -> runs, model_name, promoted_at, note

Times are ISO 8601 in UTC with microseconds, so that text order is time order. ``PRAGMA user_version`` holds the
schema version. A store file is created at the first write; reading one that does not exist finds no runs.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from assay.errors import message
from assay.store._base import (
    Clock,
    GitLookup,
    Promotion,
    Record,
    RunInfo,
    StoreBase,
    StoreError,
    git_commit_here,
)

SCHEMA_VERSION = 1
BUSY_TIMEOUT = 30.0  # seconds a writer waits for another writer's transaction

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id        TEXT PRIMARY KEY,
    model_name    TEXT,
    model_version TEXT,
    dataset_name  TEXT,
    fingerprint   TEXT NOT NULL,
    task          TEXT,
    created_at    TEXT,
    added_at      TEXT NOT NULL,
    git_commit    TEXT,
    source        TEXT,
    document      TEXT NOT NULL,
    sha256        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_by_time ON runs (COALESCE(created_at, added_at));
CREATE INDEX IF NOT EXISTS runs_by_model ON runs (model_name);
CREATE TABLE IF NOT EXISTS promotions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id      TEXT NOT NULL REFERENCES runs (run_id),
    model_name  TEXT NOT NULL,
    promoted_at TEXT NOT NULL,
    note        TEXT
);
CREATE INDEX IF NOT EXISTS promotions_by_model ON promotions (model_name, id);
"""

_COLUMNS = """
r.run_id, r.model_name, r.model_version, r.dataset_name, r.fingerprint, r.task, r.created_at, r.added_at,
       r.git_commit, r.source,
       EXISTS (SELECT 1 FROM promotions p
               WHERE p.model_name = r.model_name
                 AND p.id = (SELECT MAX(q.id) FROM promotions q WHERE q.model_name = r.model_name)
                 AND p.run_id = r.run_id) AS promoted
"""
_INFO = f"SELECT {_COLUMNS} FROM runs r"


def _info(row: tuple[Any, ...]) -> RunInfo:
    run_id, model_name, model_version, dataset_name, fingerprint, task, created_at, added_at, commit, source = row[:10]
    return RunInfo(run_id, model_name, model_version, dataset_name, fingerprint, task, created_at, added_at, commit,
                   source, promoted=bool(row[10]))


class SQLiteStore(StoreBase):
    """Runs in a SQLite file at ``path`` (created with its folder at the first write).

    Each operation opens its own connection, so several processes (or threads, each with its own store object) can
    share the file; writers wait up to ``BUSY_TIMEOUT`` seconds for one another. ``now`` and ``git_commit`` are
    those of :class:`~assay.store._base.StoreBase`.
    """

    def __init__(self, path: str | Path, *, now: Clock | None = None,
                 git_commit: GitLookup | None = git_commit_here) -> None:
        super().__init__(now=now, git_commit=git_commit)
        self.path = Path(path)

    @property
    def location(self) -> str:
        return str(self.path)

    # connections --------------------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _connection(self, *, write: bool) -> Iterator[sqlite3.Connection | None]:
        """A connection; for ``write`` inside one ``BEGIN IMMEDIATE`` transaction. None: nothing stored yet."""
        if not write and not self.path.is_file():
            yield None
            return
        if write:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None)
        except sqlite3.DatabaseError as exc:
            raise self._unusable(exc) from None
        try:
            if not self._prepare(conn, write=write):
                yield None
            elif not write:
                yield conn
            else:
                try:
                    yield conn
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
        finally:
            conn.close()

    def _prepare(self, conn: sqlite3.Connection, *, write: bool) -> bool:
        """Check the schema version (creating the schema for a write) and begin a write; False: no schema yet."""
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(message(
                    where=f"run store {str(self.path)!r}",
                    expected=f"schema version {SCHEMA_VERSION} or older",
                    found=f"version {version}, written by a newer assay",
                    fix="upgrade assay",
                ))
            if not write:
                return version == SCHEMA_VERSION  # else an empty file, or one whose creation never finished
            if version < SCHEMA_VERSION:
                self._create(conn)
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("BEGIN IMMEDIATE")
            return True
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
                raise StoreError(message(
                    where=f"run store {str(self.path)!r}",
                    expected=f"to get the write lock within {BUSY_TIMEOUT:g} s",
                    found="another writer holding it",
                    fix="try again",
                )) from None
            raise self._unusable(exc) from None

    def _unusable(self, exc: Exception) -> StoreError:
        return StoreError(message(
            where=f"run store {str(self.path)!r}",
            expected="an assay run store (a SQLite database)",
            found=f"a file SQLite cannot use ({exc})",
            fix="pass --home (or set ASSAY_HOME to) another folder, or move the file away",
        ))

    @staticmethod
    def _create(conn: sqlite3.Connection) -> None:
        """WAL mode (it persists in the file) and the schema, in one transaction."""
        deadline = time.monotonic() + BUSY_TIMEOUT
        while conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            try:
                conn.execute("PRAGMA journal_mode = WAL")
            except sqlite3.OperationalError as exc:  # the switch does not wait for another connection's lock
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
        conn.execute("BEGIN IMMEDIATE")
        try:
            if conn.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:  # another writer may have won
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _read(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._connection(write=False) as conn:
            return [] if conn is None else conn.execute(sql, params).fetchall()

    # primitives ---------------------------------------------------------------------------------------------------

    def _put(self, record: Record) -> str | None:
        with self._connection(write=True) as conn:
            assert conn is not None
            row = conn.execute("SELECT sha256 FROM runs WHERE run_id = ?", (record.run_id,)).fetchone()
            if row is not None:
                return str(row[0])
            conn.execute(
                "INSERT INTO runs (run_id, model_name, model_version, dataset_name, fingerprint, task, created_at, "
                "added_at, git_commit, source, document, sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (record.run_id, record.model_name, record.model_version, record.dataset_name, record.fingerprint,
                 record.task, record.created_at, record.added_at, record.git_commit, record.source,
                 record.document, record.sha256),
            )
            return None

    def _matching(self, text: str, *, prefix: bool, limit: int) -> list[RunInfo]:
        if prefix:
            rows = self._read(f"{_INFO} WHERE substr(r.run_id, 1, ?) = ? ORDER BY r.run_id LIMIT ?",
                              (len(text), text, limit))
        else:
            rows = self._read(f"{_INFO} WHERE r.run_id = ? LIMIT ?", (text, limit))
        return [_info(row) for row in rows]

    def _runs(self, *, model: str | None, limit: int) -> list[RunInfo]:
        rows = self._read(
            f"{_INFO} WHERE ? IS NULL OR r.model_name = ? "
            "ORDER BY COALESCE(r.created_at, r.added_at) DESC, r.rowid DESC LIMIT ?",
            (model, model, limit),
        )
        return [_info(row) for row in rows]

    def _load(self, run_id: str) -> tuple[RunInfo, dict[str, Any]]:
        rows = self._read(f"SELECT {_COLUMNS}, r.document FROM runs r WHERE r.run_id = ?", (run_id,))
        if not rows:  # removed between resolving the reference and loading it: only by hand, outside assay
            raise StoreError(f"run {run_id!r} is no longer in {self.location}")
        row = rows[0]
        return _info(row[:11]), json.loads(row[11])

    def _current_promotion(self, model: str | None) -> Promotion | None:
        rows = self._read(
            "SELECT run_id, model_name, promoted_at, note FROM promotions WHERE ? IS NULL OR model_name = ? "
            "ORDER BY id DESC LIMIT 1",
            (model, model),
        )
        return Promotion(*rows[0]) if rows else None

    def _history(self, model: str) -> list[Promotion]:
        rows = self._read("SELECT run_id, model_name, promoted_at, note FROM promotions WHERE model_name = ? "
                          "ORDER BY id", (model,))
        return [Promotion(*row) for row in rows]

    def _promote(self, promotion: Promotion) -> None:
        with self._connection(write=True) as conn:
            assert conn is not None
            row = conn.execute("SELECT run_id FROM promotions WHERE model_name = ? ORDER BY id DESC LIMIT 1",
                               (promotion.model_name,)).fetchone()
            if row is not None and row[0] == promotion.run_id:
                return
            conn.execute("INSERT INTO promotions (run_id, model_name, promoted_at, note) VALUES (?, ?, ?, ?)",
                         (promotion.run_id, promotion.model_name, promotion.promoted_at, promotion.note))

    def _models(self) -> list[str]:
        rows = self._read("SELECT DISTINCT model_name FROM runs WHERE model_name IS NOT NULL ORDER BY model_name")
        return [row[0] for row in rows]
