"""searches: when the input sweeper may next delete a search's images at the vendor

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Searches that ended before this revision are left alone: their inputs were deleted (or not) as
    # DELETE_INPUTS_AFTER_SEARCH said then, and a backlog of deletes would only find them gone.
    with op.batch_alter_table("searches") as batch:
        batch.add_column(sa.Column("inputs_due_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_searches_inputs_due", ["status", "inputs_due_at"])


def downgrade() -> None:
    with op.batch_alter_table("searches") as batch:
        batch.drop_index("ix_searches_inputs_due")
        batch.drop_column("inputs_due_at")
