"""Live comparisons: the first promote or rollback of each comparison (kept until a reset) and the audit log.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "verdicts",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("decision", sa.String(20), nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("document", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "decision_log",
        sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("decision", sa.String(20), nullable=False),
        sa.Column("event", sa.String(20), nullable=False),
        sa.Column("document", sa.LargeBinary, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_decision_log_name", "decision_log", ["name", "seq"])


def downgrade() -> None:
    op.drop_index("ix_decision_log_name", "decision_log")
    op.drop_table("decision_log")
    op.drop_table("verdicts")
