"""SQL over the searches table as the record of every reservation: what the quota engine rebuilds its
counters from and settles against, and what tenant usage reports and tenant deletion read."""

from __future__ import annotations

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.cache.outcomes import COALESCED, HIT
from app.facecheck.models import FINISHED, SUBMITTED, SUBMITTING, Search
from app.quotas.policy import COMMITTED, HELD, PENDING, REFUNDED, Reservation, Snapshot

_SPENT = (HELD, COMMITTED)
_OPEN = (PENDING, HELD)  # not yet settled
_SHARED = (HIT, COALESCED)  # answered from another search's upstream run


async def snapshot(session: AsyncSession, month: str, day: str) -> Snapshot:
    """This month's credits and today's searches per tenant, and every held reservation."""
    used = await session.execute(
        select(Search.tenant_id, func.sum(Search.credits_reserved))
        .where(Search.reserved_month == month, Search.reservation.in_(_SPENT))
        .group_by(Search.tenant_id)
    )
    today = await session.execute(
        select(Search.tenant_id, func.count())
        .where(Search.reserved_day == day, Search.reservation.in_(_SPENT))
        .group_by(Search.tenant_id)
    )
    # Pending intents are left out: their requests verify their grant after recording it (see
    # SearchLifecycle.reserve_claimed), so one lost with the old counters is checked again, not assumed.
    held = await session.execute(
        select(Search.id, Search.tenant_id, Search.credits_reserved, Search.reserved_month, Search.reserved_day)
        .where(Search.reservation == HELD)
    )
    return Snapshot(
        month=month,
        day=day,
        credits_used={t: int(n or 0) for t, n in used.all()},
        searches_today={t: int(n) for t, n in today.all()},
        held=[Reservation(i, t, int(c), m or month, d or day) for i, t, c, m, d in held.all()],
    )


async def charged_by_tenant(session: AsyncSession, month: str, tenant_ids: list[str] | None) -> dict[str, int]:
    """Credits committed in `month` per tenant, for these tenants or all (budget notifications)."""
    stmt = select(Search.tenant_id, func.sum(Search.credits_reserved)).where(
        Search.reserved_month == month, Search.reservation == COMMITTED)
    if tenant_ids is not None:
        stmt = stmt.where(Search.tenant_id.in_(tenant_ids))
    rows = await session.execute(stmt.group_by(Search.tenant_id))
    return {t: int(n or 0) for t, n in rows.all()}


async def tenant_usage(session: AsyncSession, tenant_id: str, month: str, day: str) -> dict[str, int]:
    """A tenant's usage as the database records it (what reports and the CLI show)."""
    row = (
        await session.execute(
            select(
                func.coalesce(func.sum(Search.credits_reserved).filter(Search.reservation == COMMITTED), 0),
                func.coalesce(func.sum(Search.credits_reserved).filter(Search.reservation.in_(_OPEN)), 0),
                func.count().filter(Search.reservation == COMMITTED),
                func.count().filter(Search.reservation == REFUNDED),
                func.count().filter(Search.reservation.in_(_OPEN)),
            ).where(Search.tenant_id == tenant_id, Search.reserved_month == month)
        )
    ).one()
    searches_today = (
        await session.execute(
            select(func.count()).where(
                Search.tenant_id == tenant_id, Search.reserved_day == day, Search.reservation.in_(_SPENT)
            )
        )
    ).scalar_one()
    return {
        "credits_charged": int(row[0]),
        "credits_held": int(row[1]),
        "searches_committed": int(row[2]),
        "searches_refunded": int(row[3]),
        "searches_in_flight": int(row[4]),
        "searches_today": int(searches_today),
    }


async def usage_by_period(
    session: AsyncSession, tenant_id: str, granularity: str
) -> list[tuple[str, str, int, int, int, int, int, int]]:
    """Per period and key: (period, key_id, searches, demo searches, credits charged, refunded, cache
    hits, credits saved). Searches are those that ran upstream (an upload alone reserves nothing);
    cache hits are those answered from another search's run (a cache entry, or an identical search
    they were attached to) that finished."""
    period = Search.reserved_day if granularity == "day" else Search.reserved_month
    demo = func.coalesce(Search.demo, False)
    shared = Search.cache_outcome.in_(_SHARED)
    own = or_(Search.cache_outcome.is_(None), Search.cache_outcome.not_in(_SHARED))
    saved = and_(shared, Search.status == FINISHED)
    rows = await session.execute(
        select(
            period,
            Search.key_id,
            func.count().filter(demo.is_(False), own),
            func.count().filter(demo.is_(True), own),
            func.coalesce(func.sum(Search.credits_reserved).filter(Search.reservation == COMMITTED), 0),
            func.coalesce(func.sum(Search.credits_reserved).filter(Search.reservation == REFUNDED), 0),
            func.count().filter(saved),
            func.coalesce(func.sum(Search.credits_saved).filter(saved), 0),
        )
        .where(Search.tenant_id == tenant_id, period.is_not(None), or_(Search.reservation.is_not(None), shared))
        .group_by(period, Search.key_id)
        .order_by(period.desc(), Search.key_id)
    )
    return [(str(p), str(k), int(s), int(d), int(c), int(r), int(h), int(v))
            for p, k, s, d, c, r, h, v in rows.all()]


async def in_flight(session: AsyncSession, tenant_id: str) -> int:
    """Searches of a tenant that upstream may still be running."""
    running = or_(Search.reservation.in_(_OPEN), Search.status.in_((SUBMITTING, SUBMITTED)))
    stmt = select(func.count()).where(Search.tenant_id == tenant_id, running)
    return int((await session.execute(stmt)).scalar_one())


async def held_ids(session: AsyncSession) -> set[str]:
    """Searches whose reservation the quota store should be holding right now."""
    rows = await session.execute(select(Search.id).where(Search.reservation == HELD))
    return set(rows.scalars().all())


async def unsettled(session: AsyncSession, search_ids: set[str]) -> dict[str, str | None]:
    """The database's reservation state for searches the store still holds."""
    if not search_ids:
        return {}
    rows = await session.execute(select(Search.id, Search.reservation).where(Search.id.in_(search_ids)))
    found = {i: r for i, r in rows.all()}
    return {i: found.get(i) for i in search_ids}


async def spend_by_tenant(session: AsyncSession, month: str, day: str) -> dict[str, tuple[int, int, int]]:
    """Every tenant's credits spent (held or committed) this month and today, and its searches in
    flight (the console's tenant list and overview): two grouped queries, this month's rows only."""
    spent = Search.reservation.in_(_SPENT)
    by_month = select(
        Search.tenant_id,
        func.coalesce(func.sum(Search.credits_reserved).filter(spent), 0),
        func.coalesce(func.sum(Search.credits_reserved).filter(spent, Search.reserved_day == day), 0),
    ).where(Search.reserved_month == month).group_by(Search.tenant_id)
    running = or_(Search.reservation.in_(_OPEN), Search.status.in_((SUBMITTING, SUBMITTED)))
    flying = select(Search.tenant_id, func.count()).where(running).group_by(Search.tenant_id)
    out = {str(t): (int(m), int(d), 0) for t, m, d in await session.execute(by_month)}
    for tenant_id, count in await session.execute(flying):
        m, d, _ = out.get(str(tenant_id), (0, 0, 0))
        out[str(tenant_id)] = (m, d, int(count))
    return out


async def delete_for_tenant(session: AsyncSession, tenant_id: str) -> None:
    """A deleted tenant's (settled) search records."""
    await session.execute(delete(Search).where(Search.tenant_id == tenant_id))
