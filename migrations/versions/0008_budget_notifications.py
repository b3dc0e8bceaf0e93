"""budget notifications: tenants' webhooks, the notification outbox and the delivery log

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "budget_webhooks",
        sa.Column("tenant_id", sa.String(32), sa.ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("thresholds", sa.String(100), nullable=False),
        sa.Column("secret_salt", sa.String(64), nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
    )
    op.create_table(
        "budget_notifications",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("tenant_id", sa.String(32), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("credits_used", sa.Integer(), nullable=False),
        sa.Column("credits_budget", sa.Integer(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _TIME, nullable=False),
        sa.Column("claimed_until", _TIME, nullable=True),
        sa.Column("claim_token", sa.String(32), nullable=True),
        sa.Column("delivered_at", _TIME, nullable=True),
        sa.UniqueConstraint("tenant_id", "period", "threshold", name="uq_budget_notifications_tenant_id"),
    )
    op.create_index("ix_budget_notifications_due", "budget_notifications", ["status", "next_attempt_at"])
    op.create_table(
        "budget_webhook_attempts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("notification_id", sa.String(32),
                  sa.ForeignKey("budget_notifications.id", ondelete="CASCADE"), nullable=False),
        sa.Column("tenant_id", sa.String(32), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("at", _TIME, nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("error", sa.String(200), nullable=True),
    )
    op.create_index("ix_budget_webhook_attempts_notification_id", "budget_webhook_attempts", ["notification_id"])
    op.create_index("ix_budget_webhook_attempts_tenant", "budget_webhook_attempts", ["tenant_id", "id"])


def downgrade() -> None:
    op.drop_table("budget_webhook_attempts")
    op.drop_table("budget_notifications")
    op.drop_table("budget_webhooks")
