"""result cache: where a search's result comes from, and tenants' cache scope follows the default

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23

A search answered from the cache (hit) or attached to an identical running search (coalesced)
records the search whose upstream run it shares, so polls on it work on any replica and after a
restart. A tenant's `cache_scope` becomes optional: NULL follows CACHE_SCOPE. Nothing acted on the
column before this revision and "tenant" was only its default, so those rows become NULL.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("searches") as batch:
        batch.add_column(sa.Column("source_search_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("source_upstream_id", sa.String(128), nullable=True))
        batch.add_column(sa.Column("cache_key", sa.String(64), nullable=True))
        batch.add_column(sa.Column("cache_outcome", sa.String(16), nullable=True))
        batch.add_column(sa.Column("credits_saved", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("tenants") as batch:
        batch.alter_column("cache_scope", existing_type=sa.String(16), nullable=True, server_default=None)
    op.execute("UPDATE tenants SET cache_scope = NULL WHERE cache_scope = 'tenant'")


def downgrade() -> None:
    op.execute("UPDATE tenants SET cache_scope = 'tenant' WHERE cache_scope IS NULL")
    with op.batch_alter_table("tenants") as batch:
        batch.alter_column("cache_scope", existing_type=sa.String(16), nullable=False, server_default="tenant")
    with op.batch_alter_table("searches") as batch:
        for column in ("credits_saved", "cache_outcome", "cache_key", "source_upstream_id", "source_search_id"):
            batch.drop_column(column)
