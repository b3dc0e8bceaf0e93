"""All SQL for search requests. State changes are conditional updates, so concurrent requests
on several replicas agree on who moves a search forward."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.facecheck.models import SUBMITTING, UPLOADED, Search


async def add(session: AsyncSession, search: Search) -> None:
    session.add(search)
    await session.flush()


async def owned(session: AsyncSession, search_id: str, tenant_id: str) -> Search | None:
    stmt = select(Search).where(Search.id == search_id, Search.tenant_id == tenant_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def transition(
    session: AsyncSession, search_id: str, from_status: tuple[str, ...], **values: Any
) -> bool:
    """Move a search out of one of `from_status`; False when another request got there first."""
    stmt = update(Search).where(Search.id == search_id, Search.status.in_(from_status)).values(**values)
    result = await session.execute(stmt)
    assert isinstance(result, CursorResult)
    return result.rowcount == 1


async def claim_submit(session: AsyncSession, search_id: str, now: datetime, stale_before: datetime) -> bool:
    """Claim the one upstream submit of a search; a claim left by a crashed process goes stale."""
    stmt = (
        update(Search)
        .where(Search.id == search_id)
        .where(
            (Search.status == UPLOADED)
            | ((Search.status == SUBMITTING) & (Search.submitted_at < stale_before))
        )
        .values(status=SUBMITTING, submitted_at=now)
    )
    result = await session.execute(stmt)
    assert isinstance(result, CursorResult)
    return result.rowcount == 1
