"""The service store's tables (SQLAlchemy Core), the same on SQLite and PostgreSQL.

The schema is created and migrated by Alembic (:mod:`assay.store.migrations`); these declarations are what the code
reads and writes, and a test holds them equal to the migrated schema.

==============  ==============================================================================================
``predictions`` one row per (model, version, id): event time, receive time, content digest, the redacted row as
                JSON; ``seq`` numbers rows, and on PostgreSQL ``tx`` is the inserting transaction's id, so the
                materializer never passes an event whose transaction is still running
``labels``      one row per (model, id): the label and outcome columns as JSON, with ``seq`` and ``tx`` likewise
``windows``     one mergeable state per (model, version, level, start): level is the window length in seconds
                (the configured window, 1 h and 1 d rollups)
``cursors``     the materializer's durable position in both event tables
``rebuilds``    windows to rebuild from the stored events (a label replaced under ``label_policy: last``)
``counters``    per model: duplicates and conflicts seen at ingest
``tokens``      API tokens: a name, scopes and the SHA-256 of the secret (never the secret)
``verdicts``    per live comparison: its first promote or rollback, kept until the comparison is reset
``decision_log`` per live comparison: every change of decision, verdict and reset, with the evidence (audit log)
``alerts``      one row per alert (by the fingerprint of its labels): pending, firing or resolved, since when
``silences``    matchers, expiry, author and comment of each silence
``deliveries``  the delivery log of notifications: receiver, alert, status, attempts, error
``sli_counts``  per (model, event SLI, level, window, version): good and total events, counted by the materializer
                at the configured window and the 1 h and 1 d rollups:
                the event's time for SLIs known at prediction time, at the label's arrival for ``correct``
==============  ==============================================================================================
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

metadata = MetaData()

# BIGINT on PostgreSQL; on SQLite an INTEGER PRIMARY KEY is the rowid (a BIGINT one would not be)
SEQ = BigInteger().with_variant(Integer(), "sqlite")
TX_DEFAULT = {"postgresql": "(pg_current_xact_id()::text::bigint)", "sqlite": "0"}

predictions = Table(
    "predictions", metadata,
    Column("seq", SEQ, primary_key=True, autoincrement=True),
    Column("model", String(100), nullable=False),
    Column("version", String(200), nullable=False),  # "" for events without a version
    Column("id", String(200), nullable=False),
    Column("event_time", Float, nullable=False),  # epoch seconds
    Column("received_at", Float, nullable=False),
    Column("digest", LargeBinary(16), nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("tx", BigInteger, nullable=False, server_default=text("0")),
    UniqueConstraint("model", "id", "version", name="uq_predictions_key"),
    sqlite_autoincrement=True,  # never reuse a seq the cursor has passed (a deleted newest row)
)
Index("ix_predictions_time", predictions.c.model, predictions.c.event_time)

labels = Table(
    "labels", metadata,
    Column("seq", SEQ, primary_key=True, autoincrement=True),
    Column("model", String(100), nullable=False),
    Column("id", String(200), nullable=False),
    Column("received_at", Float, nullable=False),
    Column("digest", LargeBinary(16), nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("tx", BigInteger, nullable=False, server_default=text("0")),
    UniqueConstraint("model", "id", name="uq_labels_key"),
    sqlite_autoincrement=True,
)

windows = Table(
    "windows", metadata,
    Column("model", String(100), primary_key=True),
    Column("version", String(200), primary_key=True),
    Column("level", Integer, primary_key=True),
    Column("start", Float, primary_key=True),
    Column("state", LargeBinary, nullable=False),
    Column("updated_at", Float, nullable=False),
)

cursors = Table(
    "cursors", metadata,
    Column("name", String(50), primary_key=True),
    Column("pred_tx", BigInteger, nullable=False),
    Column("pred_seq", BigInteger, nullable=False),
    Column("label_tx", BigInteger, nullable=False),
    Column("label_seq", BigInteger, nullable=False),
    Column("updated_at", Float, nullable=False),
)

rebuilds = Table(
    "rebuilds", metadata,
    Column("model", String(100), primary_key=True),
    Column("id", String(200), primary_key=True),
)

counters = Table(
    "counters", metadata,
    Column("model", String(100), primary_key=True),
    Column("name", String(50), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

tokens = Table(
    "tokens", metadata,
    Column("name", String(100), primary_key=True),
    Column("digest", String(64), nullable=False, unique=True),
    Column("scopes", String(200), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("revoked_at", Float, nullable=True),
)

verdicts = Table(
    "verdicts", metadata,
    Column("name", String(200), primary_key=True),
    Column("decision", String(20), nullable=False),
    Column("at", Float, nullable=False),
    Column("document", LargeBinary, nullable=False),
)

decision_log = Table(
    "decision_log", metadata,
    Column("seq", SEQ, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("at", Float, nullable=False),
    Column("decision", String(20), nullable=False),
    Column("event", String(20), nullable=False),  # change | verdict | reset
    Column("document", LargeBinary, nullable=False),
    sqlite_autoincrement=True,
)
Index("ix_decision_log_name", decision_log.c.name, decision_log.c.seq)

sli_counts = Table(  # keyed (model, sli, level, start, version): a range of windows of one SLI is one index range
    "sli_counts", metadata,
    Column("model", String(100), primary_key=True),
    Column("sli", String(300), primary_key=True),
    Column("level", Integer, primary_key=True),
    Column("start", Float, primary_key=True),
    Column("version", String(200), primary_key=True),
    Column("good", BigInteger, nullable=False),
    Column("total", BigInteger, nullable=False),
)

alerts = Table(
    "alerts", metadata,
    Column("fingerprint", String(64), primary_key=True),
    Column("labels", Text, nullable=False),
    Column("annotations", Text, nullable=False),
    Column("state", String(20), nullable=False),
    Column("starts_at", Float, nullable=False),
    Column("ends_at", Float, nullable=True),
    Column("last_sent_at", Float, nullable=True),
    Column("updated_at", Float, nullable=False),
)

silences = Table(
    "silences", metadata,
    Column("id", String(64), primary_key=True),
    Column("matchers", Text, nullable=False),
    Column("starts_at", Float, nullable=False),
    Column("ends_at", Float, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("comment", Text, nullable=False),
)

deliveries = Table(
    "deliveries", metadata,
    Column("seq", SEQ, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("receiver", String(100), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("status", String(20), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("error", Text, nullable=True),
    sqlite_autoincrement=True,
)
