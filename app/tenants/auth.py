"""Who is calling: tenant keys for /api (and admin-scoped keys or ADMIN_TOKEN for /admin).

Lookups go through the key cache; expiry is checked against the clock at every use, so a rotated
key's grace period ends on time everywhere. Failed attempts are counted per client address, and an
address over the limit is refused before its key is even looked at. Whether an address is braked is
asked once per key-cache period, not on every call; braking an address clears that on every replica.
"""

from __future__ import annotations

import hashlib
import hmac
import math

from app.clock import Clock
from app.errors import Forbidden, InvalidToken, RateLimited
from app.tenants.key_lifecycle import KeyService
from app.tenants.keycache import KeyCache
from app.tenants.keys import hash_key
from app.tenants.schemas import Principal
from app.tenants.throttle import AuthThrottle

ADMIN = "admin"


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


class Authenticator:
    def __init__(self, keys: KeyService, cache: KeyCache, throttle: AuthThrottle, secret: bytes, clock: Clock,
                 admin_token: str | None = None) -> None:
        self._keys = keys
        self._cache = cache
        self._throttle = throttle
        self._secret = secret
        self._clock = clock
        # Compared as digests with compare_digest: constant time, whatever the lengths.
        self._admin = _digest(admin_token) if admin_token else None

    async def principal(self, clear_key: str | None, address: str) -> Principal:
        """Resolve a presented key; every failure is INVALID_TOKEN and reveals nothing else."""
        await self._brake(address)
        if not clear_key:
            raise InvalidToken("Missing API token: send your key in the Authorization header.")
        try:
            return await self._resolve(clear_key)
        except InvalidToken:
            await self._failed(address)
            raise

    async def admin(self, token: str | None, address: str) -> str:
        """The admin token, or a key with the `admin` scope; returns who it was (for the audit)."""
        await self._brake(address)
        if not token:
            raise InvalidToken("Missing admin token: send it as 'Authorization: Bearer <token>'.")
        if self._admin is not None and hmac.compare_digest(_digest(token), self._admin):
            return ADMIN
        try:
            found = await self._resolve(token)
        except InvalidToken:
            await self._failed(address)
            raise
        if ADMIN not in found.scopes:
            raise Forbidden("This key lacks the 'admin' scope.")
        return f"key:{found.key_id}"

    async def _brake(self, address: str) -> None:
        if self._cache.unbraked(address):
            return
        generation = self._cache.brake_generation
        wait = await self._throttle.retry_after(address)
        if wait > 0:
            raise RateLimited("Too many failed authentications from this address; retry after the time in "
                              "Retry-After.", headers={"Retry-After": str(math.ceil(wait))})
        self._cache.put_unbraked(address, generation)

    async def _failed(self, address: str) -> None:
        if await self._throttle.failed(address):
            await self._cache.braked()

    async def _resolve(self, clear_key: str) -> Principal:
        key_hash = hash_key(self._secret, clear_key)
        record = self._cache.get(key_hash)
        if record is None:
            generation = self._cache.generation
            record = await self._keys.lookup(key_hash)
            if record is None:
                raise InvalidToken()
            self._cache.put(key_hash, record, generation)
        if record.revoked or not record.tenant_active:
            raise InvalidToken()
        if record.expires_at is not None and record.expires_at <= self._clock.now():
            raise InvalidToken("Invalid API token! This key has expired.")
        return record.principal
