"""The result cache over whichever store is configured, failing open.

The cache saves money; it must never cost availability. When the store cannot answer, a lookup is a
miss, a write is skipped and a flight is led alone (so the search simply runs upstream, and the quota
store's own fail mode decides about spending). Only an operator's purge reports the outage, because
a purge that silently did nothing would leave thumbnails behind.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import orjson

from app.cache.store import CacheStore
from app.errors import ServiceUnavailable
from app.store_errors import StoreUnavailable

log = logging.getLogger("facecheck_gateway.cache")

# A flight ends when its search settles; this only bounds one whose settling was lost.
FLIGHT_TTL_MS = 3_600_000


@dataclass(frozen=True, slots=True)
class Entry:
    """A finished search's output and where it came from (never the input images)."""

    output: dict[str, Any]
    source_search: str
    source_upstream: str
    tenant_id: str

    def dumps(self) -> bytes:
        return orjson.dumps({"output": self.output, "search": self.source_search,
                             "upstream": self.source_upstream, "tenant": self.tenant_id})

    @classmethod
    def loads(cls, raw: bytes) -> Entry | None:
        try:
            data = orjson.loads(raw)
            return cls(data["output"], data["search"], data["upstream"], data["tenant"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return None


class ResultCache:
    def __init__(self, store: CacheStore, ttl_seconds: int) -> None:
        self.store = store
        self._ttl_ms = ttl_seconds * 1000

    @property
    def stores_results(self) -> bool:
        return self._ttl_ms > 0

    async def lookup(self, key: str) -> Entry | None:
        if not self.stores_results:
            return None
        try:
            raw = await self.store.get(key)
        except StoreUnavailable:
            log.warning("cache store unreachable; lookup treated as a miss")
            return None
        return Entry.loads(raw) if raw is not None else None

    async def save(self, key: str, entry: Entry) -> None:
        if not self.stores_results:
            return
        try:
            await self.store.put(key, entry.dumps(), self._ttl_ms, entry.tenant_id)
        except StoreUnavailable:
            log.warning("cache store unreachable; result not cached")

    async def join(self, key: str, search_id: str) -> str:
        try:
            return await self.store.join(key, search_id, FLIGHT_TTL_MS)
        except StoreUnavailable:
            return search_id  # lead alone: the search runs upstream as if nobody else asked

    async def leave(self, key: str, search_id: str) -> None:
        try:
            await self.store.leave(key, search_id)
        except StoreUnavailable:
            log.warning("cache store unreachable; flight left to expire")

    async def purge(self, *, key: str | None = None, tenant_id: str | None = None) -> int:
        """Delete one entry, a tenant's entries, or (neither given) everything."""
        try:
            if key is not None:
                return await self.store.purge_key(key)
            if tenant_id is not None:
                return await self.store.purge_tenant(tenant_id)
            return await self.store.purge_all()
        except StoreUnavailable as exc:
            raise ServiceUnavailable("The cache store cannot be reached; nothing was purged.") from exc
