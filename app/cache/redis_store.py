"""CacheStore on Redis, shared by every replica. Multi-step operations are one Lua script each.

Key layout (prefix "fcg"; the hash tag `{fcg}` is the quota store's, so everything shares one slot):

    {fcg}:c:e:<key>        a result entry (JSON: output and where it came from)     TTL CACHE_TTL_SECONDS
    {fcg}:c:t:<tenant>     set of entry keys the tenant's searches produced (purge index)
    {fcg}:c:f:<key>        the search leading the single flight for <key>
    {fcg}:c:l:<upstream>   poll lock: whoever sets it asks upstream; PX = the poll interval
    {fcg}:c:s:<upstream>   last status upstream gave for that search (short TTL)
    {fcg}:c:w:<upstream>   the poll window (lock holder's token) that status was saved in
"""

from __future__ import annotations

from typing import Any

from redis.commands.core import AsyncScript

from app.cache.store import PollStep
from app.redis_client import RedisClient
from app.store_errors import UNAVAILABLE, StoreUnavailable, lua, translated

_SCAN_BATCH = 500


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisCacheStore:
    def __init__(self, client: RedisClient, prefix: str = "fcg") -> None:
        self._client = client
        self._tag = "{" + prefix + "}"
        self._put = client.register_script(lua("app.cache", "put"))
        self._purge_tenant = client.register_script(lua("app.cache", "purge_tenant"))
        self._join = client.register_script(lua("app.cache", "join"))
        self._leave = client.register_script(lua("app.cache", "leave"))
        self._poll = client.register_script(lua("app.cache", "poll"))
        self._save_status = client.register_script(lua("app.cache", "save_status"))

    def _key(self, kind: str, name: str) -> str:
        return f"{self._tag}:c:{kind}:{name}"

    async def _call(self, operation: Any) -> Any:
        return await translated(operation)

    async def _script(self, script: AsyncScript, keys: list[str], *args: str | int | bytes) -> Any:
        return await self._call(script(keys=keys, args=args))

    async def get(self, key: str) -> bytes | None:
        value = await self._call(self._client.get(self._key("e", key)))
        return value if isinstance(value, bytes) else None

    async def put(self, key: str, value: bytes, ttl_ms: int, tenant_id: str) -> None:
        await self._script(self._put, [self._key("e", key), self._key("t", tenant_id)], value, ttl_ms, key)

    async def purge_key(self, key: str) -> int:
        return int(await self._call(self._client.delete(self._key("e", key))))

    async def purge_tenant(self, tenant_id: str) -> int:
        """Rounds of at most _SCAN_BATCH entries, each one script naming every key it deletes."""
        index, deleted = self._key("t", tenant_id), 0
        while True:
            members = [_text(m) for m in await self._call(self._client.srandmember(index, _SCAN_BATCH))]
            if not members:
                return deleted
            keys = [index, *(self._key("e", m) for m in members)]
            deleted += int(await self._script(self._purge_tenant, keys, *members))

    async def purge_all(self) -> int:
        """SCAN by prefix: rare, operator-driven, and never blocks Redis the way KEYS would."""
        try:
            return await self._scan_and_unlink()
        except UNAVAILABLE as exc:
            raise StoreUnavailable(f"redis unavailable: {exc!r}") from exc

    async def _scan_and_unlink(self) -> int:
        deleted = 0
        for kind in ("e", "t", "s", "w"):
            batch: list[Any] = []
            async for name in self._client.scan_iter(match=self._key(kind, "*"), count=_SCAN_BATCH):
                batch.append(name)
                if len(batch) >= _SCAN_BATCH:
                    deleted += await self._unlink(batch, count=kind == "e")
                    batch = []
            deleted += await self._unlink(batch, count=kind == "e")
        return deleted

    async def _unlink(self, names: list[Any], *, count: bool) -> int:
        if not names:
            return 0
        removed = int(await self._call(self._client.unlink(*names)))
        return removed if count else 0

    async def join(self, key: str, search_id: str, ttl_ms: int) -> str:
        return _text(await self._script(self._join, [self._key("f", key)], search_id, ttl_ms))

    async def leave(self, key: str, search_id: str) -> None:
        await self._script(self._leave, [self._key("f", key)], search_id)

    async def poll_lock(self, upstream_id: str, ttl_ms: int) -> bool:
        return bool(await self._call(self._client.set(self._key("l", upstream_id), b"1", nx=True, px=ttl_ms)))

    async def poll(self, upstream_id: str, ttl_ms: int, token: str) -> PollStep:
        keys = [self._key("l", upstream_id), self._key("s", upstream_id), self._key("w", upstream_id)]
        reply = await self._script(self._poll, keys, ttl_ms, token)
        if int(reply[0]) == 1:
            return PollStep(True, None, 0)
        status = reply[1] if len(reply) > 1 else None
        fresh = int(reply[2]) if len(reply) > 2 and status is not None else 0
        return PollStep(False, status if isinstance(status, bytes) else None, fresh)

    async def last_status(self, upstream_id: str) -> bytes | None:
        value = await self._call(self._client.get(self._key("s", upstream_id)))
        return value if isinstance(value, bytes) else None

    async def save_status(self, upstream_id: str, value: bytes, ttl_ms: int, window: str = "") -> None:
        await self._script(self._save_status, [self._key("s", upstream_id), self._key("w", upstream_id)], value,
                           ttl_ms, window)

    async def ping(self) -> bool:
        try:
            return bool(await self._client.ping())
        except UNAVAILABLE:
            return False
