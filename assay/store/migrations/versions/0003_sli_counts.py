"""Event SLIs: good and total events per (model, SLI, level, window, version), counted by the materializer, at the
configured window and the 1 h and 1 d rollups (so that a month is a few rows).

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
        "sli_counts",
        sa.Column("model", sa.String(100), primary_key=True),
        sa.Column("sli", sa.String(300), primary_key=True),
        sa.Column("level", sa.Integer, primary_key=True),
        sa.Column("start", sa.Float, primary_key=True),
        sa.Column("version", sa.String(200), primary_key=True),
        sa.Column("good", sa.BigInteger, nullable=False),
        sa.Column("total", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("sli_counts")
