"""The ledger, from the database alone (so the command line can print it without a server).

Upstream's side is the recorded balance reads: a day's `upstream_spent` is the net fall of the
balance between the last read before it (or its own first read) and its last read, so a refund of a
failed search cancels its charge. The gateway's side is the searches' reservations, by the UTC day
they were reserved (upstream charges at submit, within moments): committed and held credits of
searches that ran upstream. Cache hits never reach upstream and are left out, even when a tenant is
charged CACHE_HIT_CREDIT_COST for them.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.cache.outcomes import HIT
from app.facecheck.models import SUBMITTING, UNCERTAIN, UNRESOLVED, Search
from app.ledger.schemas import LedgerDay, LedgerReport, UnsettledSearch
from app.quotas.policy import COMMITTED, HELD
from app.upstream.balance import reads_since

UNSETTLED = (SUBMITTING, UNCERTAIN, UNRESOLVED)
MAX_LISTED = 200


async def build_report(session: AsyncSession, now: datetime, days: int) -> LedgerReport:
    start = (now - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    first_day = start.date().isoformat()
    spent, reads = await _upstream_side(session, start)
    charged, held = await _gateway_side(session, first_day)
    uncertain, unresolved, listed = await _unsettled(session, first_day)
    rows: list[LedgerDay] = []
    for offset in range(days):
        day = (start + timedelta(days=offset)).date().isoformat()
        gateway = charged[day] + held[day]
        rows.append(LedgerDay(day=day, upstream_spent=spent[day], balance_reads=reads[day],
                              gateway_charged=charged[day], gateway_held=held[day], drift=spent[day] - gateway,
                              uncertain=uncertain[day], unresolved=unresolved[day]))
    total_spent = sum(r.upstream_spent for r in rows)
    total_charged, total_held = sum(r.gateway_charged for r in rows), sum(r.gateway_held for r in rows)
    return LedgerReport(since=first_day, days=rows, upstream_spent=total_spent, gateway_charged=total_charged,
                        gateway_held=total_held, drift=total_spent - total_charged - total_held, unsettled=listed)


async def _upstream_side(session: AsyncSession, start: datetime) -> tuple[defaultdict[str, int],
                                                                            defaultdict[str, int]]:
    spent: defaultdict[str, int] = defaultdict(int)
    reads: defaultdict[str, int] = defaultdict(int)
    previous: int | None = None
    for read_at, credits in await reads_since(session, start):
        if read_at >= start:
            day = read_at.date().isoformat()
            reads[day] += 1
            if previous is not None:
                spent[day] += previous - credits
        previous = credits
    return spent, reads


async def _gateway_side(session: AsyncSession, first_day: str) -> tuple[defaultdict[str, int],
                                                                          defaultdict[str, int]]:
    charged: defaultdict[str, int] = defaultdict(int)
    held: defaultdict[str, int] = defaultdict(int)
    stmt = (select(Search.reserved_day, Search.reservation, func.sum(Search.credits_reserved))
            .where(Search.reserved_day >= first_day, Search.reservation.in_((COMMITTED, HELD)),
                   or_(Search.cache_outcome.is_(None), Search.cache_outcome != HIT))
            .group_by(Search.reserved_day, Search.reservation))
    for day, reservation, credits in (await session.execute(stmt)).all():
        (charged if reservation == COMMITTED else held)[str(day)] += int(credits or 0)
    return charged, held


async def _unsettled(session: AsyncSession, first_day: str) -> tuple[defaultdict[str, int], defaultdict[str, int],
                                                                     list[UnsettledSearch]]:
    uncertain: defaultdict[str, int] = defaultdict(int)
    unresolved: defaultdict[str, int] = defaultdict(int)
    counts = (select(Search.reserved_day, Search.status, func.count())
              .where(Search.status.in_(UNSETTLED), Search.reserved_day >= first_day)
              .group_by(Search.reserved_day, Search.status))
    for day, status, n in (await session.execute(counts)).all():
        (unresolved if status == UNRESOLVED else uncertain)[str(day)] += int(n)
    stmt = (select(Search).where(Search.status.in_(UNSETTLED)).order_by(Search.submitted_at).limit(MAX_LISTED))
    listed = [UnsettledSearch(id_search=s.id, tenant_id=s.tenant_id, status=s.status, submitted_at=s.submitted_at,
                              credits_reserved=s.credits_reserved) for s in (await session.execute(stmt)).scalars()]
    return uncertain, unresolved, listed
