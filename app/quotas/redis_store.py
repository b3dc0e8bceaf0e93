"""QuotaStore on Redis, shared by every gateway replica: each operation is one Lua script.

Key layout (prefix "fcg"; every key starts with the hash tag `{fcg}`, so Redis Cluster keeps them all
in one slot, which the global budget and concurrency limit require anyway):

    {fcg}:q:epoch                          current generation; absent = no counters (NEEDS_REBUILD)
    {fcg}:q:balance                        last known upstream balance (not versioned, not rebuilt)
    {fcg}:q:<epoch>:used:<tenant>:<month>  credits held + committed          (TTL ~40 days)
    {fcg}:q:<epoch>:day:<tenant>:<day>     searches held + committed         (TTL ~2 days)
    {fcg}:q:<epoch>:in_flight              hash tenant -> searches in flight
    {fcg}:q:<epoch>:in_flight_all          searches in flight, all tenants
    {fcg}:q:<epoch>:outstanding            credits held by searches in flight
    {fcg}:q:<epoch>:res:<search_id>        hash {tenant, cost, month, day} of one held reservation
    {fcg}:q:<epoch>:held                   set of held search ids
    {fcg}:rl:t:<tenant>, {fcg}:rl:k:<key>  rate windows (ZSET of ms timestamps)
    {fcg}:lock:<name>                      leases

KEYS[1] of every script is a real key; the script derives the other names from KEYS[1]'s `{tag}`,
so every key a script touches is in KEYS[1]'s slot by construction. A rebuild writes a whole new
generation and switches the epoch in one script, so no reader ever sees half of one.

The decision rules (and the Decision each outcome reports) are memory.py's, so both backends answer
identically: the scripts decide atomically, then Python describes the outcome from the counters.
"""

from __future__ import annotations

import json
import secrets
import uuid
from datetime import datetime
from typing import Any

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from app.quotas.memory import WINDOW_MS, Counters, describe, epoch_ms
from app.quotas.policy import (
    NEEDS_REBUILD,
    RATE_LIMITED,
    Decision,
    GlobalLimits,
    Limits,
    Reservation,
    Snapshot,
    Usage,
    day_of,
    month_of,
)
from app.store_errors import UNAVAILABLE, lua, translated

MONTH_TTL_S = 40 * 86_400  # outlives its month, whichever day it was last touched
DAY_TTL_S = 2 * 86_400
OLD_GENERATION_TTL_S = 86_400  # a replaced generation is never read again; keep it a day for inspection


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _opt(value: int | None) -> str | int:
    """None (unlimited) travels as "", which Lua's tonumber turns into nil."""
    return "" if value is None else value


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


class RedisStore:
    """QuotaStore over a client the caller created (retries off, short timeouts: an unreachable
    Redis must fail a spending call fast). Scripts are sent by EVALSHA, and reloaded by redis-py's
    Script on NOSCRIPT, e.g. after a Redis restart."""

    def __init__(self, client: Redis, prefix: str = "fcg") -> None:
        if "{" in prefix or "}" in prefix:
            raise ValueError("the prefix becomes a {hash tag} and must not contain braces")
        self._client = client
        self._tag = "{" + prefix + "}"
        self._epoch_key = f"{self._tag}:q:epoch"
        self._balance_key = f"{self._tag}:q:balance"
        self._reserve = self._script("reserve")
        self._settle = self._script("settle")
        self._rate = self._script("rate")
        self._rebuild = self._script("rebuild")
        self._usage = self._script("usage")
        self._held = self._script("held")
        self._lock = self._script("lock")

    def _script(self, name: str) -> AsyncScript:
        return self._client.register_script(lua("app.quotas", name))

    async def _run(self, script: AsyncScript, key: str, *args: str | int) -> Any:
        return await translated(script(keys=[key], args=args))

    async def reserve(self, reservation: Reservation, limits: Limits, global_limits: GlobalLimits,
                      now: datetime) -> Decision:
        r = reservation
        reply = await self._run(
            self._reserve, self._epoch_key, r.search_id, r.tenant_id, r.cost, r.month, r.day,
            _opt(limits.credits_per_month), _opt(limits.searches_per_day), _opt(limits.max_concurrent_searches),
            global_limits.max_concurrent_searches, MONTH_TTL_S, DAY_TTL_S,
        )  # fmt: skip
        code, scope = _text(reply[0]), _text(reply[1])
        if code == NEEDS_REBUILD:
            return Decision(NEEDS_REBUILD)
        g, t, today, used, outstanding = (int(v) for v in reply[2:7])
        counters = Counters(g, t, today, used, outstanding, _int_or_none(reply[7]))
        return describe(None if code == "OK" else code, scope, counters, r.cost, limits, global_limits, now)

    async def commit(self, search_id: str) -> bool:
        return bool(await self._run(self._settle, self._epoch_key, search_id, "commit"))

    async def refund(self, search_id: str) -> bool:
        return bool(await self._run(self._settle, self._epoch_key, search_id, "refund"))

    async def hit_rate(self, tenant_id: str, tenant_rpm: int | None, key_id: str, key_rpm: int | None,
                       now: datetime) -> Decision:
        if tenant_rpm is None and key_rpm is None:
            return Decision(None)  # nothing limits: touch nothing, not even the network
        member = f"{epoch_ms(now)}-{uuid.uuid4().hex}"  # unique, so simultaneous hits all count
        reply = await self._run(
            self._rate, f"{self._tag}:rl:t:{tenant_id}", epoch_ms(now), _opt(tenant_rpm), key_id,
            _opt(key_rpm), member, WINDOW_MS,
        )  # fmt: skip
        allowed, scope, cap, remaining, reset_ms = reply
        return Decision(None if int(allowed) else RATE_LIMITED, int(cap), int(remaining), int(reset_ms) / 1000,
                        _text(scope))

    async def usage(self, tenant_id: str, now: datetime) -> Usage:
        reply = await self._run(self._usage, self._epoch_key, tenant_id, month_of(now), day_of(now))
        used, today, in_flight, outstanding = (int(v) for v in reply[:4])
        return Usage(used, today, in_flight, _int_or_none(reply[4]), outstanding)

    async def set_balance(self, credits: int) -> None:
        await translated(self._client.set(self._balance_key, credits))

    async def rebuild(self, snapshot: Snapshot) -> bool:
        payload = json.dumps({
            "month": snapshot.month,
            "day": snapshot.day,
            "used": snapshot.credits_used,
            "today": snapshot.searches_today,
            "held": [[r.search_id, r.tenant_id, r.cost, r.month, r.day] for r in snapshot.held],
        })  # fmt: skip
        epoch = secrets.token_hex(8)  # never reused, so a new generation starts from no keys at all
        return bool(await self._run(self._rebuild, self._epoch_key, epoch, payload, MONTH_TTL_S, DAY_TTL_S,
                                    OLD_GENERATION_TTL_S))

    async def invalidate(self) -> None:
        await translated(self._client.delete(self._epoch_key))

    async def has_counters(self) -> bool:
        return bool(await translated(self._client.exists(self._epoch_key)))

    async def held_ids(self) -> set[str]:
        return {_text(v) for v in await self._run(self._held, self._epoch_key)}

    async def try_lock(self, name: str, owner: str, ttl_seconds: float) -> bool:
        ttl_ms = max(1, round(ttl_seconds * 1000))
        return bool(await self._run(self._lock, f"{self._tag}:lock:{name}", owner, ttl_ms))

    async def ping(self) -> bool:
        """A health probe: False rather than StoreUnavailable when Redis does not answer."""
        try:
            return bool(await self._client.ping())
        except UNAVAILABLE:
            return False

    async def close(self) -> None:
        """Nothing to release: the Redis client belongs to the lifespan, which closes it."""
