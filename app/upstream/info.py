"""Upstream /api/info, cached for a few seconds: tenants' info calls, /readyz probes and the balance
guard all need it, upstream should see it rarely. A failure is remembered for the same time, so a
load balancer probing every replica cannot hammer an upstream that is already struggling."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel

from app.actors import Actor
from app.clock import Clock
from app.errors import GatewayError
from app.upstream.client import UpstreamClient, raise_in_band


class UpstreamStatus(BaseModel):
    """Upstream's /api/info as the admin API shows it. A circuit-breaker state joins once there is one."""

    remaining_credits: int | None
    is_online: bool | None
    faces: int | None


def _int(value: object) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


class UpstreamInfo:
    def __init__(self, upstream: UpstreamClient, clock: Clock, ttl_seconds: float) -> None:
        self._upstream = upstream
        self._clock = clock
        self._ttl = ttl_seconds
        self._cached: dict[str, Any] | GatewayError | None = None
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()

    async def get(self, *, fresh: bool = False) -> dict[str, Any]:
        async with self._lock:  # one upstream call however many callers arrive together
            if fresh or self._cached is None or self._clock.monotonic() - self._fetched_at > self._ttl:
                try:
                    body = await self._upstream.info()
                    raise_in_band(body, None)
                    self._cached = body
                except GatewayError as exc:
                    self._cached = exc
                self._fetched_at = self._clock.monotonic()
            if isinstance(self._cached, GatewayError):
                raise self._cached
            return self._cached

    async def balance(self) -> int:
        """The company's remaining upstream credits, freshly read."""
        value = (await self.get(fresh=True)).get("remaining_credits")
        return int(value) if isinstance(value, int | float) else 0

    async def status(self, actor: Actor) -> UpstreamStatus:
        """The company's account: operators only."""
        actor.operator_only("see the company's upstream account")
        info = await self.get()
        online = info.get("is_online")
        return UpstreamStatus(remaining_credits=_int(info.get("remaining_credits")),
                              is_online=online if isinstance(online, bool) else None, faces=_int(info.get("faces")))
