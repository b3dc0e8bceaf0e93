"""All SQL for tenants and keys."""

from __future__ import annotations

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.tenants.models import ApiKey, Tenant


async def add(session: AsyncSession, row: Tenant | ApiKey) -> None:
    session.add(row)
    await session.flush()


async def tenant_by_ref(session: AsyncSession, ref: str) -> Tenant | None:
    """A tenant by id or by name, so operators can type either."""
    result = await session.execute(select(Tenant).where(or_(Tenant.id == ref, Tenant.name == ref)))
    return result.scalars().first()


async def tenant_by_name(session: AsyncSession, name: str) -> Tenant | None:
    return (await session.execute(select(Tenant).where(Tenant.name == name))).scalar_one_or_none()


async def list_tenants(session: AsyncSession) -> list[Tenant]:
    return list((await session.execute(select(Tenant).order_by(Tenant.created_at, Tenant.name))).scalars())


async def any_tenant(session: AsyncSession) -> bool:
    return (await session.execute(select(Tenant.id).limit(1))).first() is not None


async def key_with_tenant(session: AsyncSession, key_hash: str) -> tuple[ApiKey, Tenant] | None:
    stmt = select(ApiKey, Tenant).join(Tenant, ApiKey.tenant_id == Tenant.id).where(ApiKey.key_hash == key_hash)
    row = (await session.execute(stmt)).first()
    return None if row is None else (row[0], row[1])


async def key_by_id(session: AsyncSession, key_id: str) -> ApiKey | None:
    return await session.get(ApiKey, key_id)


async def list_keys(session: AsyncSession, tenant_id: str) -> list[ApiKey]:
    stmt = select(ApiKey).where(ApiKey.tenant_id == tenant_id).order_by(ApiKey.created_at)
    return list((await session.execute(stmt)).scalars())


async def delete_tenant(session: AsyncSession, tenant_id: str) -> None:
    """The tenant and its keys (its search records go first, see TenantService.delete_tenant)."""
    await session.execute(delete(ApiKey).where(ApiKey.tenant_id == tenant_id))
    await session.execute(delete(Tenant).where(Tenant.id == tenant_id))
