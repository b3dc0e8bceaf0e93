"""Brute-force brake: after `limit` failed authentications from one client address within a window,
that address is refused (RATE_LIMITED, Retry-After) until the window ends, valid key or not, so a
guesser cannot keep trying. Redis shares the count across replicas; memory serves one process. A
store that cannot answer lets authentication go ahead: the brake must not become an outage."""

from __future__ import annotations

import logging
from typing import Protocol

from redis.asyncio import Redis

from app.clock import Clock
from app.store_errors import lua

log = logging.getLogger("facecheck_gateway.tenants")


class AuthThrottle(Protocol):
    async def retry_after(self, address: str) -> float:
        """Seconds until `address` may try again; 0 when it may now."""
        ...

    async def failed(self, address: str) -> bool:
        """Count one failure; True when this failure braked the address."""
        ...


class MemoryThrottle:
    def __init__(self, clock: Clock, limit: int, window_seconds: float) -> None:
        self._clock = clock
        self._limit = limit
        self._window = window_seconds
        self._counts: dict[str, tuple[int, float]] = {}  # address -> (failures, window end)

    async def retry_after(self, address: str) -> float:
        count, ends = self._counts.get(address, (0, 0.0))
        now = self._clock.monotonic()
        return ends - now if count >= self._limit and ends > now else 0.0

    async def failed(self, address: str) -> bool:
        now = self._clock.monotonic()
        if len(self._counts) > 10_000:
            self._counts = {a: v for a, v in self._counts.items() if v[1] > now}
        count, ends = self._counts.get(address, (0, 0.0))
        if ends <= now:
            count, ends = 0, now + self._window
        self._counts[address] = (count + 1, ends)
        return count + 1 >= self._limit


class RedisThrottle:
    def __init__(self, redis: Redis, prefix: str, limit: int, window_seconds: float) -> None:
        self._redis = redis
        self._prefix = prefix
        self._limit = limit
        self._window_ms = int(window_seconds * 1000)
        self._script = redis.register_script(lua("app.tenants", "authfail"))

    def _key(self, address: str) -> str:
        return f"{{{self._prefix}}}:af:{address}"

    async def retry_after(self, address: str) -> float:
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.get(self._key(address))
                pipe.pttl(self._key(address))
                count, ttl_ms = await pipe.execute()
        except Exception:
            log.warning("auth throttle unavailable; not braking")
            return 0.0
        return max(int(ttl_ms), 1) / 1000 if count is not None and int(count) >= self._limit else 0.0

    async def failed(self, address: str) -> bool:
        try:
            count = await self._script(keys=[self._key(address)], args=[self._window_ms])
        except Exception:
            log.warning("auth throttle unavailable; failure not counted")
            return False
        return int(count) >= self._limit
