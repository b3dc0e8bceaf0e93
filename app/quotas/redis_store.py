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
    {fcg}:q:<epoch>:res:<search_id>        hash {tenant, cost, month, day} of one held reservation (TTL ~40 days)
    {fcg}:q:<epoch>:held                   set of held search ids
    {fcg}:rl:t:<tenant>, {fcg}:rl:k:<key>  rate windows (ZSET of ms timestamps)
    {fcg}:lock:<name>                      leases

Every script names every key it touches in KEYS (Redis Cluster and managed offerings require it),
all under the one {tag}, so all in one slot. The generation's keys depend on the epoch, which the
store remembers: each script checks that the epoch it was given is still current and otherwise
answers with the current one, and the store asks again (normally one round trip). A rebuild writes
a whole new generation and switches the epoch in one script, so no reader ever sees half of one.

The decision rules (and the Decision each outcome reports) are memory.py's, so both backends answer
identically: the scripts decide atomically, then Python describes the outcome from the counters.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

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
from app.redis_client import RedisClient
from app.store_errors import UNAVAILABLE, StoreUnavailable, lua, translated

MONTH_TTL_S = 40 * 86_400  # outlives its month, whichever day it was last touched
DAY_TTL_S = 2 * 86_400
OLD_GENERATION_TTL_S = 86_400  # a replaced generation is never read again; keep it a day for inspection
_EPOCH_TRIES = 5  # a generation replaced between two tries is rare; five in a row is not load


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
    Script on NOSCRIPT, e.g. after a Redis restart or on a newly promoted primary."""

    def __init__(self, client: RedisClient, prefix: str = "fcg") -> None:
        if "{" in prefix or "}" in prefix:
            raise ValueError("the prefix becomes a {hash tag} and must not contain braces")
        self._client = client
        self._tag = "{" + prefix + "}"
        self._epoch_key = f"{self._tag}:q:epoch"
        self._balance_key = f"{self._tag}:q:balance"
        self._epoch: str | None = None  # the generation last seen; the scripts check it
        self._reserve = self._script("reserve")
        self._settle = self._script("settle")
        self._rate = self._script("rate")
        self._rebuild = self._script("rebuild")
        self._usage = self._script("usage")
        self._held = self._script("held")
        self._invalidate = self._script("invalidate")
        self._lock = self._script("lock")

    def _script(self, name: str) -> AsyncScript:
        return self._client.register_script(lua("app.quotas", name))

    def _gen(self, epoch: str, name: str) -> str:
        return f"{self._tag}:q:{epoch}:{name}"

    async def _run(self, script: AsyncScript, keys: list[str], *args: str | int) -> Any:
        return await translated(script(keys=keys, args=args))

    async def _in_generation(self, script: AsyncScript, keys: Callable[[str], list[str]], *args: str | int) -> Any:
        """Run `script` on the current generation's keys: its reply without the leading 'OK', or
        None when there is no generation (no counters)."""
        for _ in range(_EPOCH_TRIES):
            if self._epoch is None:
                epoch = await translated(self._client.get(self._epoch_key))
                if epoch is None:
                    return None
                self._epoch = _text(epoch)
            epoch = self._epoch
            reply = await self._run(script, [self._epoch_key, self._balance_key, *keys(epoch)], epoch, *args)
            if _text(reply[0]) != "EPOCH":
                return reply
            self._epoch = _text(reply[1]) or None
            if self._epoch is None:
                return None
        raise StoreUnavailable("the quota counters' generation kept changing")

    async def reserve(self, reservation: Reservation, limits: Limits, global_limits: GlobalLimits,
                      now: datetime) -> Decision:
        r = reservation

        def keys(epoch: str) -> list[str]:
            return [self._gen(epoch, "in_flight_all"), self._gen(epoch, "in_flight"), self._gen(epoch, "outstanding"),
                    self._gen(epoch, f"used:{r.tenant_id}:{r.month}"), self._gen(epoch, f"day:{r.tenant_id}:{r.day}"),
                    self._gen(epoch, f"res:{r.search_id}"), self._gen(epoch, "held")]

        reply = await self._in_generation(
            self._reserve, keys, r.search_id, r.tenant_id, r.cost, r.month, r.day,
            _opt(limits.credits_per_month), _opt(limits.searches_per_day), _opt(limits.max_concurrent_searches),
            global_limits.max_concurrent_searches, MONTH_TTL_S, DAY_TTL_S,
        )  # fmt: skip
        if reply is None:
            return Decision(NEEDS_REBUILD)
        code, scope = _text(reply[0]), _text(reply[1])
        g, t, today, used, outstanding = (int(v) for v in reply[2:7])
        counters = Counters(g, t, today, used, outstanding, _int_or_none(reply[7]))
        return describe(None if code == "OK" else code, scope, counters, r.cost, limits, global_limits, now)

    async def commit(self, search_id: str) -> bool:
        return await self._settle_one(search_id, "commit")

    async def refund(self, search_id: str) -> bool:
        return await self._settle_one(search_id, "refund")

    async def _settle_one(self, search_id: str, mode: str) -> bool:
        record = ["", "", ""]  # tenant, month, day: a refund learns them from its first try

        def keys(epoch: str) -> list[str]:
            tenant, month, day = record
            return [self._gen(epoch, "in_flight_all"), self._gen(epoch, "in_flight"), self._gen(epoch, "outstanding"),
                    self._gen(epoch, f"res:{search_id}"), self._gen(epoch, "held"),
                    self._gen(epoch, f"used:{tenant}:{month}"), self._gen(epoch, f"day:{tenant}:{day}")]

        for _ in range(_EPOCH_TRIES):
            reply = await self._in_generation(self._settle, keys, search_id, mode, *record)
            if reply is None:
                return False
            if _text(reply[0]) != "RECORD":
                return bool(int(reply[1]))
            record = [_text(v) for v in reply[1:4]]
        raise StoreUnavailable("the reservation kept changing while it was settled")

    async def hit_rate(self, tenant_id: str, tenant_rpm: int | None, key_id: str, key_rpm: int | None,
                       now: datetime) -> Decision:
        if tenant_rpm is None and key_rpm is None:
            return Decision(None)  # nothing limits: touch nothing, not even the network
        member = f"{epoch_ms(now)}-{uuid.uuid4().hex}"  # unique, so simultaneous hits all count
        reply = await self._run(
            self._rate, [f"{self._tag}:rl:t:{tenant_id}", f"{self._tag}:rl:k:{key_id}"], epoch_ms(now),
            _opt(tenant_rpm), _opt(key_rpm), member, WINDOW_MS,
        )  # fmt: skip
        allowed, scope, cap, remaining, reset_ms = reply
        return Decision(None if int(allowed) else RATE_LIMITED, int(cap), int(remaining), int(reset_ms) / 1000,
                        _text(scope))

    async def usage(self, tenant_id: str, now: datetime) -> Usage:
        month, day = month_of(now), day_of(now)

        def keys(epoch: str) -> list[str]:
            return [self._gen(epoch, f"used:{tenant_id}:{month}"), self._gen(epoch, f"day:{tenant_id}:{day}"),
                    self._gen(epoch, "in_flight"), self._gen(epoch, "outstanding")]

        reply = await self._in_generation(self._usage, keys, tenant_id)
        if reply is None:  # no counters: nothing counted, the balance may still be known
            return Usage(0, 0, 0, _int_or_none(await translated(self._client.get(self._balance_key))), 0)
        used, today, in_flight, outstanding = (int(v) for v in reply[1:5])
        return Usage(used, today, in_flight, _int_or_none(reply[5]), outstanding)

    async def set_balance(self, credits: int) -> None:
        await translated(self._client.set(self._balance_key, credits))

    async def rebuild(self, snapshot: Snapshot) -> bool:
        epoch = secrets.token_hex(8)  # never reused, so a new generation starts from no keys at all
        used, today = sorted(snapshot.credits_used.items()), sorted(snapshot.searches_today.items())
        keys = [self._epoch_key, *(self._gen(epoch, name) for name in ("in_flight_all", "outstanding", "in_flight",
                                                                        "held"))]
        keys += [self._gen(epoch, f"used:{tenant}:{snapshot.month}") for tenant, _ in used]
        keys += [self._gen(epoch, f"day:{tenant}:{snapshot.day}") for tenant, _ in today]
        keys += [self._gen(epoch, f"res:{r.search_id}") for r in snapshot.held]
        payload = json.dumps({
            "used": used,
            "today": today,
            "held": [[r.search_id, r.tenant_id, r.cost, r.month, r.day] for r in snapshot.held],
        })  # fmt: skip
        done = bool(await self._run(self._rebuild, keys, epoch, payload, MONTH_TTL_S, DAY_TTL_S))
        self._epoch = None  # whoever rebuilt, the next call learns the new generation
        return done

    async def invalidate(self) -> None:
        def keys(epoch: str) -> list[str]:
            return [self._gen(epoch, name) for name in ("in_flight_all", "outstanding", "in_flight", "held")]

        await self._in_generation(self._invalidate, keys, OLD_GENERATION_TTL_S)
        self._epoch = None

    async def has_counters(self) -> bool:
        return bool(await translated(self._client.exists(self._epoch_key)))

    async def held_ids(self) -> set[str]:
        reply = await self._in_generation(self._held, lambda epoch: [self._gen(epoch, "held")])
        return set() if reply is None else {_text(v) for v in reply[1:]}

    async def try_lock(self, name: str, owner: str, ttl_seconds: float) -> bool:
        ttl_ms = max(1, round(ttl_seconds * 1000))
        return bool(await self._run(self._lock, [f"{self._tag}:lock:{name}"], owner, ttl_ms))

    async def ping(self) -> bool:
        """A health probe: False rather than StoreUnavailable when Redis does not answer."""
        try:
            return bool(await self._client.ping())
        except UNAVAILABLE:
            return False

    async def close(self) -> None:
        """Nothing to release: the Redis client belongs to the lifespan, which closes it."""
