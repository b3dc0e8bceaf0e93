"""Operator purges of the result cache: one search's cached result, a tenant's, or everything. The admin API and the
command line both call this."""

from __future__ import annotations

from pydantic import BaseModel, Field

from app.cache.service import ResultCache
from app.db import Database
from app.errors import NotFound
from app.facecheck import repository as search_repo
from app.tenants.lookup import existing_tenant


class Purged(BaseModel):
    purged: int = Field(description="cache entries deleted")


class CachePurge:
    def __init__(self, db: Database, cache: ResultCache) -> None:
        self._db = db
        self._cache = cache

    async def everything(self) -> Purged:
        return Purged(purged=await self._cache.purge())

    async def tenant(self, tenant_ref: str) -> Purged:
        """Every entry the tenant's searches produced (in its own scope and in the global one)."""
        async with self._db.transaction() as session:
            tenant = await existing_tenant(session, tenant_ref)
        return Purged(purged=await self._cache.purge(tenant_id=tenant.id))

    async def search(self, search_id: str) -> Purged:
        """The entry holding this search's result (the one it produced, or the one it was answered from)."""
        async with self._db.transaction() as session:
            search = await search_repo.by_id(session, search_id)
        if search is None:
            raise NotFound("Search not found.")
        if search.cache_key is None:
            return Purged(purged=0)
        return Purged(purged=await self._cache.purge(key=search.cache_key))
