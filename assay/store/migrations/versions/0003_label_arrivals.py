"""SLIs known when a label lands: good and total labeled predictions per (model, version, window of arrival).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "label_arrivals",
        sa.Column("model", sa.String(100), primary_key=True),
        sa.Column("version", sa.String(200), primary_key=True),
        sa.Column("start", sa.Float, primary_key=True),
        sa.Column("good", sa.BigInteger, nullable=False),
        sa.Column("total", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("label_arrivals")
