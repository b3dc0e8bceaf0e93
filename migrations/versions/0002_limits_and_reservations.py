"""tenant limits, per-key rate limits, and search reservations

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.add_column(sa.Column("credits_per_month", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("searches_per_day", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("requests_per_minute", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("max_concurrent_searches", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("demo_only", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("requests_per_minute", sa.Integer(), nullable=True))
    with op.batch_alter_table("searches") as batch:
        batch.add_column(sa.Column("reservation", sa.String(16), nullable=True))
        batch.add_column(sa.Column("credits_reserved", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("reserved_month", sa.String(7), nullable=True))
        batch.add_column(sa.Column("reserved_day", sa.String(10), nullable=True))
    op.create_index("ix_searches_reserved_month", "searches", ["reserved_month", "tenant_id"])
    op.create_index("ix_searches_status", "searches", ["status"])


def downgrade() -> None:
    op.drop_index("ix_searches_status", table_name="searches")
    op.drop_index("ix_searches_reserved_month", table_name="searches")
    with op.batch_alter_table("searches") as batch:
        for column in ("reserved_day", "reserved_month", "credits_reserved", "reservation"):
            batch.drop_column(column)
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("requests_per_minute")
    with op.batch_alter_table("tenants") as batch:
        for column in ("demo_only", "max_concurrent_searches", "requests_per_minute", "searches_per_day",
                       "credits_per_month"):
            batch.drop_column(column)
