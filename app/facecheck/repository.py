"""All SQL for search requests. State changes are conditional updates, so concurrent requests
on several replicas agree on who moves a search forward."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.facecheck.models import (
    FAILED,
    FINISHED,
    HELD_STATES,
    SUBMITTED,
    SUBMITTING,
    UNCERTAIN,
    UPLOAD_FAILED,
    UPLOADED,
    UPLOADING,
    Search,
)
from app.quotas.policy import COMMITTED, HELD, PENDING, REFUNDED


async def add(session: AsyncSession, search: Search) -> None:
    session.add(search)
    await session.flush()


async def owned(session: AsyncSession, search_id: str, tenant_id: str) -> Search | None:
    stmt = select(Search).where(Search.id == search_id, Search.tenant_id == tenant_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def by_id(session: AsyncSession, search_id: str) -> Search | None:
    """Any tenant's search: only for following a source search internally, never to answer a caller."""
    return await session.get(Search, search_id)


async def transition(
    session: AsyncSession, search_id: str, from_status: tuple[str, ...], **values: Any
) -> bool:
    """Move a search out of one of `from_status`; False when another request got there first."""
    stmt = update(Search).where(Search.id == search_id, Search.status.in_(from_status)).values(**values)
    result = await session.execute(stmt)
    assert isinstance(result, CursorResult)
    return result.rowcount == 1


async def claim_submit(
    session: AsyncSession, search_id: str, now: datetime, stale_before: datetime, **values: Any
) -> bool:
    """Claim the one upstream submit of a search (recording `values`, its reservation, with it);
    a claim left by a crashed process goes stale."""
    stmt = (
        update(Search)
        .where(Search.id == search_id)
        .where(
            (Search.status == UPLOADED)
            | ((Search.status == SUBMITTING) & (Search.submitted_at < stale_before))
        )
        .values(status=SUBMITTING, submitted_at=now, **values)
    )
    result = await session.execute(stmt)
    assert isinstance(result, CursorResult)
    return result.rowcount == 1


async def hold_reservation(session: AsyncSession, search_id: str) -> None:
    """The quota store granted the reservation: it is no longer provisional in a rebuild."""
    stmt = update(Search).where(Search.id == search_id, Search.reservation == PENDING).values(reservation=HELD)
    await session.execute(stmt)


async def settle_reservation(session: AsyncSession, search_id: str, state: str) -> None:
    """Record a held reservation's outcome; a second settle changes nothing."""
    stmt = update(Search).where(Search.id == search_id, Search.reservation == HELD).values(reservation=state)
    await session.execute(stmt)


async def in_flight(session: AsyncSession, limit: int = 500) -> list[Search]:
    """Searches whose credits are held (submitted, uncertain, unresolved), oldest first: the tracker
    follows them until upstream says how they ended."""
    stmt = select(Search).where(Search.status.in_(HELD_STATES)).order_by(Search.submitted_at).limit(limit)
    return list((await session.execute(stmt)).scalars())


async def overdue(session: AsyncSession, before: datetime, limit: int = 100) -> list[Search]:
    """Held searches submitted before `before` that upstream has still not settled."""
    stmt = (select(Search).where(Search.status.in_((SUBMITTED, UNCERTAIN)), Search.submitted_at < before)
            .limit(limit))
    return list((await session.execute(stmt)).scalars())


async def abandon_uploads(session: AsyncSession, before: datetime) -> None:
    """Uploads recorded before `before` whose answer never got recorded (a process died, or the
    database went away after upstream answered): ended, their image hashes kept as the record."""
    stmt = (update(Search).where(Search.status == UPLOADING, Search.created_at < before)
            .values(status=UPLOAD_FAILED))
    await session.execute(stmt)


async def correct_to_committed(session: AsyncSession, search_id: str, now: datetime) -> bool:
    """A refunded search upstream delivered after all: charged (once; False if already corrected)."""
    stmt = (update(Search).where(Search.id == search_id, Search.reservation == REFUNDED, Search.credits_reserved > 0)
            .values(status=FINISHED, reservation=COMMITTED, finished_at=now))
    result = await session.execute(stmt)
    assert isinstance(result, CursorResult)
    return result.rowcount == 1


async def stale_claims(session: AsyncSession, before: datetime, limit: int = 100) -> list[Search]:
    stmt = select(Search).where(Search.status == SUBMITTING, Search.submitted_at < before).limit(limit)
    return list((await session.execute(stmt)).scalars())


async def inputs_due(session: AsyncSession, now: datetime, ended_before: datetime, limit: int) -> list[Search]:
    """Ended searches whose images may still be at the vendor and are due another delete, longest due
    first (one that keeps failing waits longer between tries, so it never starves the others)."""
    stmt = (select(Search).where(Search.status.in_((FINISHED, FAILED)), Search.inputs_due_at <= now,
                                 Search.finished_at < ended_before)
            .order_by(Search.inputs_due_at).limit(limit))
    return list((await session.execute(stmt)).scalars())


async def inputs_swept(session: AsyncSession, search_id: str, images: list[dict[str, str]] | None,
                       due: datetime | None) -> None:
    """Record a sweep of a search's inputs: when to try again (None: done), and the ids learned meanwhile."""
    learned: dict[str, Any] = {} if images is None else {"images": images}
    await session.execute(update(Search).where(Search.id == search_id).values(inputs_due_at=due, **learned))
