"""Alert state, silences and the delivery log, in the service store (SQLite or PostgreSQL)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import sqlalchemy as sa

from assay.store.watch import EventStore
from assay.store.watch_tables import alerts, deliveries, silences


class AlertStore:
    """Reads and writes of the alert tables over an :class:`EventStore`'s engines."""

    def __init__(self, store: EventStore) -> None:
        self.store = store

    # -- alerts ---------------------------------------------------------------------------------------------------
    def get_all(self, *, states: tuple[str, ...] | None = None, limit: int = 500) -> list[dict[str, Any]]:
        a = alerts
        q = sa.select(a).order_by(a.c.updated_at.desc()).limit(limit)
        if states is not None:
            q = q.where(a.c.state.in_(states))
        with self.store.reader.connect() as conn:
            rows = conn.execute(q).mappings().all()
        return [{**dict(r), "labels": json.loads(r["labels"]), "annotations": json.loads(r["annotations"])}
                for r in rows]

    def put(self, fingerprint: str, *, labels: dict[str, str], annotations: dict[str, str], state: str,
            starts_at: float, ends_at: float | None, last_sent_at: float | None, now: float) -> None:
        a = alerts
        values = {"fingerprint": fingerprint, "labels": json.dumps(labels, sort_keys=True),
                  "annotations": json.dumps(annotations, sort_keys=True), "state": state, "starts_at": starts_at,
                  "ends_at": ends_at, "last_sent_at": last_sent_at, "updated_at": now}
        if self.store.postgres:
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
        stmt = insert(a).values(**values)
        stmt = stmt.on_conflict_do_update(index_elements=[a.c.fingerprint],
                                          set_={k: v for k, v in values.items() if k != "fingerprint"})
        with self.store._tx() as conn:
            conn.execute(stmt)

    # -- silences -------------------------------------------------------------------------------------------------
    def add_silence(self, matchers: dict[str, str], *, starts_at: float, ends_at: float, created_by: str,
                    comment: str) -> str:
        sid = uuid.uuid4().hex
        with self.store._tx() as conn:
            conn.execute(silences.insert().values(id=sid, matchers=json.dumps(matchers, sort_keys=True),
                                                  starts_at=starts_at, ends_at=ends_at, created_by=created_by,
                                                  comment=comment))
        return sid

    def silences(self, *, active_at: float | None = None) -> list[dict[str, Any]]:
        s = silences
        q = sa.select(s).order_by(s.c.starts_at.desc())
        if active_at is not None:
            q = q.where(s.c.starts_at <= active_at, s.c.ends_at > active_at)
        with self.store.reader.connect() as conn:
            rows = conn.execute(q).mappings().all()
        return [{**dict(r), "matchers": json.loads(r["matchers"])} for r in rows]

    def expire_silence(self, sid: str, *, now: float) -> bool:
        s = silences
        with self.store._tx() as conn:
            return bool(conn.execute(s.update().where(s.c.id == sid, s.c.ends_at > now).values(ends_at=now))
                        .rowcount)

    # -- deliveries -----------------------------------------------------------------------------------------------
    def log_delivery(self, *, at: float, receiver: str, fingerprint: str, status: str, attempts: int,
                     error: str | None) -> None:
        with self.store._tx() as conn:
            conn.execute(deliveries.insert().values(at=at, receiver=receiver, fingerprint=fingerprint,
                                                    status=status, attempts=attempts, error=error))

    def deliveries(self, limit: int = 200) -> list[dict[str, Any]]:
        d = deliveries
        with self.store.reader.connect() as conn:
            rows = conn.execute(sa.select(d).order_by(d.c.seq.desc()).limit(limit)).mappings().all()
        return [dict(r) for r in rows]
