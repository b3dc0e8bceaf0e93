"""All the console's own SQL: its sessions, and whether the key behind one still works."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.console.models import ConsoleSession
from app.tenants.models import ApiKey, Tenant


async def add(session: AsyncSession, row: ConsoleSession) -> None:
    session.add(row)
    await session.flush()


async def get(session: AsyncSession, id_hash: str, kind: str) -> ConsoleSession | None:
    stmt = select(ConsoleSession).where(ConsoleSession.id_hash == id_hash, ConsoleSession.kind == kind)
    return (await session.execute(stmt)).scalar_one_or_none()


async def take(session: AsyncSession, id_hash: str, kind: str) -> bool:
    """Delete one row; True only for the caller that deleted it (a link is redeemed once)."""
    result = await session.execute(
        delete(ConsoleSession).where(ConsoleSession.id_hash == id_hash, ConsoleSession.kind == kind)
    )
    return bool(getattr(result, "rowcount", 0))


async def touch(session: AsyncSession, id_hash: str, now: datetime) -> None:
    await session.execute(update(ConsoleSession).where(ConsoleSession.id_hash == id_hash).values(last_seen_at=now))


async def expire_idle(session: AsyncSession, kind: str, before: datetime) -> None:
    await session.execute(
        delete(ConsoleSession).where(ConsoleSession.kind == kind, ConsoleSession.last_seen_at < before)
    )


async def key_works(session: AsyncSession, key_id: str, now: datetime) -> bool:
    """The key is unrevoked, unexpired, still has the admin scope, and its tenant (if it has one: an
    operator key has none) is active."""
    stmt = (select(ApiKey.scopes, ApiKey.revoked_at, ApiKey.expires_at, ApiKey.tenant_id, Tenant.status)
            .outerjoin(Tenant, Tenant.id == ApiKey.tenant_id).where(ApiKey.id == key_id))
    row = (await session.execute(stmt)).one_or_none()
    if row is None:
        return False
    scopes, revoked_at, expires_at, tenant_id, status = row
    return ("admin" in scopes.split(",") and revoked_at is None and (tenant_id is None or status == "active")
            and (expires_at is None or expires_at > now))
