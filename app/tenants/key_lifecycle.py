"""API key lifecycle: create, list, revoke, rotate, and the lookup authentication caches.

Every change that can make a key stop working calls `on_change`, which empties the key cache on
every replica (see keycache.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from app.clock import Clock
from app.db import Database
from app.errors import BadRequest, NotFound
from app.quotas.policy import Limits
from app.tenants import repository as repo
from app.tenants.keycache import KeyRecord
from app.tenants.keys import DEFAULT_SCOPES, KEY_PREFIX, SCOPES, generate_key, hash_key
from app.tenants.lookup import existing_tenant, new_id, no_change
from app.tenants.models import ApiKey, Tenant
from app.tenants.schemas import CreatedKey, KeyOut, Principal, RotatedKey


def _utc(value: datetime | None) -> datetime | None:
    """An operator's expiry without a zone means UTC (as everything stored is)."""
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def key_out(key: ApiKey) -> KeyOut:
    return KeyOut(
        id=key.id, tenant_id=key.tenant_id, name=key.name, prefix=key.prefix, last4=key.last4,
        scopes=sorted(s for s in key.scopes.split(",") if s), created_at=key.created_at,
        expires_at=key.expires_at,
        revoked_at=key.revoked_at,
        requests_per_minute=key.requests_per_minute,
    )  # fmt: skip


def record(key: ApiKey, tenant: Tenant) -> KeyRecord:
    limits = Limits(
        credits_per_month=tenant.credits_per_month,
        searches_per_day=tenant.searches_per_day,
        requests_per_minute=tenant.requests_per_minute,
        max_concurrent_searches=tenant.max_concurrent_searches,
        demo_only=tenant.demo_only,
    )
    principal = Principal(tenant.id, tenant.name, key.id, frozenset(key.scopes.split(",")), limits,
                          key.requests_per_minute, require_purpose=tenant.require_purpose,
                          cache_scope=tenant.cache_scope)
    return KeyRecord(principal, key.revoked_at is not None, tenant.status == "active", key.expires_at)


class KeyService:
    def __init__(self, db: Database, secret: bytes, clock: Clock,
                 on_change: Callable[[], Awaitable[None]] = no_change) -> None:
        self._db = db
        self._secret = secret
        self._clock = clock
        self._on_change = on_change

    async def create_key(
        self,
        tenant_ref: str,
        *,
        name: str = "",
        scopes: frozenset[str] = DEFAULT_SCOPES,
        expires_at: datetime | None = None,
        requests_per_minute: int | None = None,
    ) -> CreatedKey:
        """Mint a key; the clear value is returned here once and never again."""
        if not scopes or not scopes <= SCOPES:
            raise BadRequest(f"Scopes must be a non-empty subset of {sorted(SCOPES)}.")
        if requests_per_minute is not None and requests_per_minute < 1:
            raise BadRequest("requests_per_minute must be at least 1.")
        clear = generate_key()
        async with self._db.transaction() as session:
            tenant = await existing_tenant(session, tenant_ref)
            key = ApiKey(
                id=new_id(), tenant_id=tenant.id, name=name, key_hash=hash_key(self._secret, clear),
                prefix=clear[: len(KEY_PREFIX) + 4], last4=clear[-4:], scopes=",".join(sorted(scopes)),
                created_at=self._clock.now(), expires_at=_utc(expires_at),
                requests_per_minute=requests_per_minute,
            )  # fmt: skip
            await repo.add(session, key)
        return CreatedKey.model_validate({**key_out(key).model_dump(), "key": clear})

    async def list_keys(self, tenant_ref: str) -> list[KeyOut]:
        async with self._db.transaction() as session:
            tenant = await existing_tenant(session, tenant_ref)
            keys = await repo.list_keys(session, tenant.id)
        return [key_out(k) for k in keys]

    async def revoke_key(self, key_id: str) -> KeyOut:
        async with self._db.transaction() as session:
            key = await repo.key_by_id(session, key_id)
            if key is None:
                raise NotFound("Key not found.")
            if key.revoked_at is None:
                key.revoked_at = self._clock.now()
        await self._on_change()
        return key_out(key)

    async def rotate_key(self, key_id: str, grace_seconds: int) -> RotatedKey:
        """A new key like the old one; the old one keeps working `grace_seconds` (0 to 24 h), then
        expires. Its entry in every cache carries the new expiry, so the end needs no message."""
        if not 0 <= grace_seconds <= 86_400:
            raise BadRequest("grace_seconds must be between 0 and 86400.")
        async with self._db.transaction() as session:
            old = await repo.key_by_id(session, key_id)
        if old is None:
            raise NotFound("Key not found.")
        if old.revoked_at is not None:
            raise BadRequest("A revoked key cannot be rotated; create a new key instead.")
        new = await self.create_key(old.tenant_id, name=old.name, scopes=frozenset(old.scopes.split(",")),
                                    requests_per_minute=old.requests_per_minute)
        ends = self._clock.now() + timedelta(seconds=grace_seconds)
        async with self._db.transaction() as session:
            key = await repo.key_by_id(session, key_id)
            if key is None:
                raise NotFound("Key not found.")
            if key.expires_at is None or key.expires_at > ends:
                key.expires_at = ends
        await self._on_change()
        return RotatedKey(new=new, old=key_out(key))

    async def lookup(self, key_hash: str) -> KeyRecord | None:
        async with self._db.transaction() as session:
            found = await repo.key_with_tenant(session, key_hash)
        return None if found is None else record(*found)
