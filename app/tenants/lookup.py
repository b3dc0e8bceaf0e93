"""Finding a tenant (or answering NOT_FOUND), new row ids, and the default change hook: what the
tenant and key services share."""

from __future__ import annotations

import secrets

from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import NotFound
from app.tenants import repository as repo
from app.tenants.models import Tenant


def new_id() -> str:
    return secrets.token_hex(8)


async def no_change() -> None:
    return None


async def existing_tenant(session: AsyncSession, tenant_ref: str) -> Tenant:
    """The tenant named or identified by `tenant_ref`; NOT_FOUND when there is none."""
    tenant = await repo.tenant_by_ref(session, tenant_ref)
    if tenant is None:
        raise NotFound("Tenant not found.")
    return tenant
