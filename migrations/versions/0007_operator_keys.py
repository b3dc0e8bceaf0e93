"""operator keys: an API key bound to no tenant (tenant_id NULL) acts as an operator

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.alter_column("tenant_id", existing_type=sa.String(32), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM api_keys WHERE tenant_id IS NULL")
    with op.batch_alter_table("api_keys") as batch:
        batch.alter_column("tenant_id", existing_type=sa.String(32), nullable=False)
