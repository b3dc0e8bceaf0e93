"""All the console's own SQL: its sessions, and the key behind one as it is now."""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class WorkingKey:
    tenant_id: str | None  # None: an operator key
    tenant_name: str | None
    scopes: frozenset[str]


async def working_key(session: AsyncSession, key_id: str, now: datetime) -> WorkingKey | None:
    """The key as it is now, if it still works: unrevoked, unexpired, with the admin scope, and its
    tenant (if it has one: an operator key has none) active."""
    stmt = (select(ApiKey.scopes, ApiKey.revoked_at, ApiKey.expires_at, ApiKey.tenant_id, Tenant.name, Tenant.status)
            .outerjoin(Tenant, Tenant.id == ApiKey.tenant_id).where(ApiKey.id == key_id))
    row = (await session.execute(stmt)).one_or_none()
    if row is None:
        return None
    text, revoked_at, expires_at, tenant_id, name, status = row
    scopes = frozenset(s for s in text.split(",") if s)
    works = ("admin" in scopes and revoked_at is None and (tenant_id is None or status == "active")
             and (expires_at is None or expires_at > now))
    return WorkingKey(tenant_id, name, scopes) if works else None
