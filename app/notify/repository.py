"""All SQL of budget notifications: webhooks, monthly usage, the outbox and its claims."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.notify.models import PENDING, BudgetNotification, BudgetWebhook, DeliveryAttempt
from app.tenants.models import Tenant


async def webhook(session: AsyncSession, tenant_id: str) -> BudgetWebhook | None:
    return await session.get(BudgetWebhook, tenant_id)


async def save_webhook(session: AsyncSession, hook: BudgetWebhook) -> None:
    await session.merge(hook)


async def remove_webhook(session: AsyncSession, tenant_id: str) -> bool:
    result = await session.execute(delete(BudgetWebhook).where(BudgetWebhook.tenant_id == tenant_id))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def budgets(session: AsyncSession, *, with_webhook: bool) -> list[tuple[Tenant, BudgetWebhook | None]]:
    """Every active tenant with a monthly budget (only those with a webhook, if asked), and its webhook."""
    stmt = (
        select(Tenant, BudgetWebhook)
        .outerjoin(BudgetWebhook, BudgetWebhook.tenant_id == Tenant.id)
        .where(Tenant.status == "active", Tenant.credits_per_month.is_not(None))
    )
    if with_webhook:
        stmt = stmt.where(BudgetWebhook.tenant_id.is_not(None))
    return [(t, hook) for t, hook in (await session.execute(stmt)).all()]


async def notified(session: AsyncSession, period: str, tenant_ids: Sequence[str]) -> set[tuple[str, int]]:
    """(tenant, threshold) pairs already in the outbox for `period`."""
    if not tenant_ids:
        return set()
    rows = await session.execute(
        select(BudgetNotification.tenant_id, BudgetNotification.threshold)
        .where(BudgetNotification.period == period, BudgetNotification.tenant_id.in_(tenant_ids))
    )
    return {(t, int(n)) for t, n in rows.all()}


async def active_tenant_names(session: AsyncSession) -> list[str]:
    return list((await session.execute(select(Tenant.name).where(Tenant.status == "active"))).scalars())


async def add_notifications(session: AsyncSession, rows: Sequence[dict[str, object]]) -> None:
    """Insert each (tenant, period, threshold) once: a row another replica wrote first stays as it is."""
    if not rows:
        return
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(BudgetNotification).values(list(rows))
    await session.execute(stmt.on_conflict_do_nothing(index_elements=["tenant_id", "period", "threshold"]))


async def due(session: AsyncSession, now: datetime, limit: int) -> list[str]:
    stmt = (
        select(BudgetNotification.id)
        .where(BudgetNotification.status == PENDING, BudgetNotification.next_attempt_at <= now,
               or_(BudgetNotification.claimed_until.is_(None), BudgetNotification.claimed_until < now))
        .order_by(BudgetNotification.next_attempt_at)
        .limit(limit)
    )  # fmt: skip
    return list((await session.execute(stmt)).scalars())


async def claim(session: AsyncSession, notification_id: str, token: str, now: datetime, until: datetime) -> bool:
    """Take the row for one delivery attempt. One UPDATE whose condition is checked again under the
    row lock, so of two replicas racing for the same row exactly one sees a row changed."""
    result = await session.execute(
        update(BudgetNotification)
        .where(BudgetNotification.id == notification_id, BudgetNotification.status == PENDING,
               BudgetNotification.next_attempt_at <= now,
               or_(BudgetNotification.claimed_until.is_(None), BudgetNotification.claimed_until < now))
        .values(claim_token=token, claimed_until=until, attempts=BudgetNotification.attempts + 1)
    )  # fmt: skip
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def claimed(
    session: AsyncSession, notification_id: str
) -> tuple[BudgetNotification, str, BudgetWebhook | None] | None:
    row = (
        await session.execute(
            select(BudgetNotification, Tenant.name, BudgetWebhook)
            .join(Tenant, Tenant.id == BudgetNotification.tenant_id)
            .outerjoin(BudgetWebhook, BudgetWebhook.tenant_id == BudgetNotification.tenant_id)
            .where(BudgetNotification.id == notification_id)
        )
    ).one_or_none()
    return None if row is None else (row[0], row[1], row[2])


async def finish(
    session: AsyncSession, notification_id: str, token: str, values: dict[str, object], attempt: DeliveryAttempt
) -> None:
    """Record an attempt's outcome, if the claim is still ours (a claim that outlived its lease may
    have passed to another sender, whose outcome then stands)."""
    result = await session.execute(
        update(BudgetNotification)
        .where(BudgetNotification.id == notification_id, BudgetNotification.claim_token == token)
        .values(claim_token=None, claimed_until=None, **values)
    )
    if result.rowcount:  # type: ignore[attr-defined]
        session.add(attempt)


async def deliveries(
    session: AsyncSession, tenant_id: str, limit: int
) -> list[tuple[BudgetNotification, list[DeliveryAttempt]]]:
    """The tenant's newest notifications, each with its attempts (oldest first)."""
    notes = list((await session.execute(
        select(BudgetNotification).where(BudgetNotification.tenant_id == tenant_id)
        .order_by(BudgetNotification.created_at.desc(), BudgetNotification.threshold.desc()).limit(limit)
    )).scalars())  # fmt: skip
    attempts = list((await session.execute(
        select(DeliveryAttempt).where(DeliveryAttempt.notification_id.in_([n.id for n in notes]))
        .order_by(DeliveryAttempt.id)
    )).scalars()) if notes else []  # fmt: skip
    return [(n, [a for a in attempts if a.notification_id == n.id]) for n in notes]
