"""Admin purges of the result cache. Thin: validate, call the purge service, return."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from app.deps import Admin, AuditDep, CachePurgeDep
from app.facecheck.purge import Purged
from app.openapi import ADMIN_ERRORS
from app.tenants.schemas import TENANT_NAME_PATTERN

router = APIRouter(prefix="/admin/cache", tags=["Admin: result cache"], responses=ADMIN_ERRORS)
_UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"description": "Cache store unreachable; nothing purged (SERVICE_UNAVAILABLE)"}
}


@router.delete("", summary="Purge cached results: one tenant's (?tenant=), or all of them",
               responses={404: {"description": "Tenant not found (NOT_FOUND)"}, **_UNAVAILABLE})
async def purge_cache(
    purge: CachePurgeDep,
    audit: AuditDep,
    actor: Admin,
    tenant: Annotated[str | None, Query(pattern=TENANT_NAME_PATTERN, description="tenant id or name")] = None,
) -> Purged:
    purged = await (purge.tenant(tenant) if tenant is not None else purge.everything())
    await audit.admin_action(actor, "cache.purge", detail={"tenant": tenant, "purged": purged.purged})
    return purged


@router.delete("/searches/{id_search}", summary="Purge the cached result of one search",
               responses={404: {"description": "Search not found (NOT_FOUND)"}, **_UNAVAILABLE})
async def purge_search(
    id_search: Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="the gateway's id_search")],
    purge: CachePurgeDep,
    audit: AuditDep,
    actor: Admin,
) -> Purged:
    purged = await purge.search(id_search)
    await audit.admin_action(actor, "cache.purge", detail={"id_search": id_search, "purged": purged.purged})
    return purged
