"""ledger: durable record of the upstream balance reads

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30

The reads of upstream's /api/info balance the gateway already makes, kept so the ledger can compare
what FaceCheck took with what the gateway charged, per day.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "upstream_balance_reads",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("remaining_credits", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_upstream_balance_reads"),
    )
    op.create_index("ix_upstream_balance_reads_read_at", "upstream_balance_reads", ["read_at"])


def downgrade() -> None:
    op.drop_index("ix_upstream_balance_reads_read_at", table_name="upstream_balance_reads")
    op.drop_table("upstream_balance_reads")
