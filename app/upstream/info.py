"""Upstream /api/info, cached for a few seconds: tenants' info calls and the balance guard need
it often, upstream should see it rarely."""

from __future__ import annotations

import asyncio
from typing import Any

from app.clock import Clock
from app.upstream.client import UpstreamClient, raise_in_band


class UpstreamInfo:
    def __init__(self, upstream: UpstreamClient, clock: Clock, ttl_seconds: float) -> None:
        self._upstream = upstream
        self._clock = clock
        self._ttl = ttl_seconds
        self._cached: dict[str, Any] | None = None
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()

    async def get(self, *, fresh: bool = False) -> dict[str, Any]:
        async with self._lock:  # one upstream call however many callers arrive together
            if fresh or self._cached is None or self._clock.monotonic() - self._fetched_at > self._ttl:
                body = await self._upstream.info()
                raise_in_band(body, None)
                self._cached, self._fetched_at = body, self._clock.monotonic()
            return self._cached

    async def balance(self) -> int:
        """The company's remaining upstream credits, freshly read."""
        value = (await self.get(fresh=True)).get("remaining_credits")
        return int(value) if isinstance(value, int | float) else 0
