"""A tenant's budget webhook, the outbox of notifications and the log of delivery attempts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, UTCDateTime

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"  # gave up after WEBHOOK_MAX_ATTEMPTS, or no webhook left to send to


class BudgetWebhook(Base):
    """Where a tenant's budget notifications go. The signing secret is not stored: it is derived
    from the server secret and `secret_salt`, so the database alone cannot forge a signature."""

    __tablename__ = "budget_webhooks"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    thresholds: Mapped[str] = mapped_column(String(100))  # percents, comma-separated, ascending
    secret_salt: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class BudgetNotification(Base):
    """One threshold crossed in one month: the unique key makes it exist once, whoever saw it."""

    __tablename__ = "budget_notifications"
    __table_args__ = (
        UniqueConstraint("tenant_id", "period", "threshold"),
        Index("ix_budget_notifications_due", "status", "next_attempt_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # the idempotency id receivers see
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    period: Mapped[str] = mapped_column(String(7))
    threshold: Mapped[int] = mapped_column(Integer)
    credits_used: Mapped[int] = mapped_column(Integer)
    credits_budget: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # A sender owns the row until then; past it (the sender died), another may take it.
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    claim_token: Mapped[str | None] = mapped_column(String(32), default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class DeliveryAttempt(Base):
    __tablename__ = "budget_webhook_attempts"
    __table_args__ = (Index("ix_budget_webhook_attempts_tenant", "tenant_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    notification_id: Mapped[str] = mapped_column(
        ForeignKey("budget_notifications.id", ondelete="CASCADE"), index=True
    )
    tenant_id: Mapped[str] = mapped_column(String(32))
    attempt: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    outcome: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(String(200), default=None)
