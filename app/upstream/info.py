"""Upstream /api/info, cached for a few seconds: tenants' info calls, /readyz probes and the balance
guard all need it, upstream should see it rarely. A failure is remembered for the same time, so a
load balancer probing every replica cannot hammer an upstream that is already struggling. Each
balance read is handed to the ledger's recorder (balance.py)."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from pydantic import BaseModel

from app.actors import Actor
from app.clock import Clock
from app.errors import GatewayError, error_code
from app.upstream.balance import BalanceRecorder
from app.upstream.client import UpstreamClient, raise_in_band


class UpstreamStatus(BaseModel):
    """Upstream's /api/info and the circuit breaker, as the admin API shows them. When upstream cannot
    be asked, the info fields are null and `error` says why."""

    remaining_credits: int | None
    is_online: bool | None
    faces: int | None
    error: str | None = None
    circuit: Literal["closed", "half_open", "open"] = "closed"
    consecutive_failures: int = 0
    retry_after_seconds: int = 0


def _int(value: object) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


class UpstreamInfo:
    def __init__(self, upstream: UpstreamClient, clock: Clock, ttl_seconds: float,
                 recorder: BalanceRecorder | None = None) -> None:
        self._upstream = upstream
        self._recorder = recorder
        self._clock = clock
        self._ttl = ttl_seconds
        self._cached: dict[str, Any] | GatewayError | None = None
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()

    async def get(self, *, fresh: bool = False) -> dict[str, Any]:
        async with self._lock:  # one upstream call however many callers arrive together
            if fresh or self._cached is None or self._clock.monotonic() - self._fetched_at > self._ttl:
                sent_at = self._clock.now()
                credits: int | None = None
                try:
                    body = await self._upstream.info()
                    raise_in_band(body, None)
                    self._cached, credits = body, _int(body.get("remaining_credits"))
                except GatewayError as exc:
                    self._cached = exc
                self._fetched_at = self._clock.monotonic()
                if credits is not None and self._recorder is not None:
                    await self._recorder.record(sent_at, credits)
            if isinstance(self._cached, GatewayError):
                raise self._cached
            return self._cached

    async def balance(self) -> int:
        """The company's remaining upstream credits, freshly read."""
        value = (await self.get(fresh=True)).get("remaining_credits")
        return int(value) if isinstance(value, int | float) else 0

    async def status(self, actor: Actor) -> UpstreamStatus:
        """The company's account and the circuit breaker: operators only."""
        actor.operator_only("see the company's upstream account")
        circuit = self._upstream.circuit
        breaker: dict[str, Any] = {}
        if circuit is not None:
            breaker = {"circuit": circuit.state.name.lower(), "consecutive_failures": circuit.consecutive_failures,
                       "retry_after_seconds": circuit.retry_after()}
        try:
            info = await self.get()
        except GatewayError as exc:
            return UpstreamStatus(remaining_credits=None, is_online=None, faces=None, error=error_code(exc), **breaker)
        online = info.get("is_online")
        return UpstreamStatus(remaining_credits=_int(info.get("remaining_credits")),
                              is_online=online if isinstance(online, bool) else None, faces=_int(info.get("faces")),
                              **breaker)
