"""The first schema of the service store: events, labels, window states, cursors, counters, tokens.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _tx_default() -> sa.TextClause:
    if op.get_bind().dialect.name == "postgresql":
        return sa.text("(pg_current_xact_id()::text::bigint)")
    return sa.text("0")


def upgrade() -> None:
    op.create_table(
        "predictions",
        sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
        sa.Column("model", sa.String(100), nullable=False),
        sa.Column("version", sa.String(200), nullable=False),
        sa.Column("id", sa.String(200), nullable=False),
        sa.Column("event_time", sa.Float, nullable=False),
        sa.Column("received_at", sa.Float, nullable=False),
        sa.Column("digest", sa.LargeBinary(16), nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("tx", sa.BigInteger, nullable=False, server_default=_tx_default()),
        sa.UniqueConstraint("model", "id", "version", name="uq_predictions_key"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_predictions_time", "predictions", ["model", "event_time"])
    op.create_table(
        "labels",
        sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
        sa.Column("model", sa.String(100), nullable=False),
        sa.Column("id", sa.String(200), nullable=False),
        sa.Column("received_at", sa.Float, nullable=False),
        sa.Column("digest", sa.LargeBinary(16), nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("tx", sa.BigInteger, nullable=False, server_default=_tx_default()),
        sa.UniqueConstraint("model", "id", name="uq_labels_key"),
        sqlite_autoincrement=True,
    )
    if op.get_bind().dialect.name == "postgresql":
        op.create_index("ix_predictions_tx", "predictions", ["tx", "seq"])
        op.create_index("ix_labels_tx", "labels", ["tx", "seq"])
    op.create_table(
        "windows",
        sa.Column("model", sa.String(100), primary_key=True),
        sa.Column("version", sa.String(200), primary_key=True),
        sa.Column("level", sa.Integer, primary_key=True),
        sa.Column("start", sa.Float, primary_key=True),
        sa.Column("state", sa.LargeBinary, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "cursors",
        sa.Column("name", sa.String(50), primary_key=True),
        sa.Column("pred_tx", sa.BigInteger, nullable=False),
        sa.Column("pred_seq", sa.BigInteger, nullable=False),
        sa.Column("label_tx", sa.BigInteger, nullable=False),
        sa.Column("label_seq", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "rebuilds",
        sa.Column("model", sa.String(100), primary_key=True),
        sa.Column("id", sa.String(200), primary_key=True),
    )
    op.create_table(
        "counters",
        sa.Column("model", sa.String(100), primary_key=True),
        sa.Column("name", sa.String(50), primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "tokens",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("digest", sa.String(64), nullable=False, unique=True),
        sa.Column("scopes", sa.String(200), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("revoked_at", sa.Float, nullable=True),
    )


def downgrade() -> None:
    for name in ("tokens", "counters", "rebuilds", "cursors", "windows", "labels", "predictions"):
        op.drop_table(name)
