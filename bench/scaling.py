"""Tenant scaling: the per-request cost of auth and the credits/concurrency checks must not grow
with the number of tenants. The load is spread evenly over N tenants (each with a monthly budget and
a concurrency limit), for N = 1, 10, 100, 1000 by default."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis

from app.quotas.policy import GlobalLimits, Limits, Reservation, Snapshot, day_of, month_of
from app.quotas.redis_store import RedisStore
from bench import load
from bench.cpu import group_cpu_seconds
from bench.load import LoadResult, Request
from bench.stack import Client, Services
from tests.fixtures.processes import ManagedProcess

LIMITS = {"credits_per_month": 10**9, "max_concurrent_searches": 50}
RESERVATIONS = 2000


def run(client: Client, proc: ManagedProcess, services: Services, args: argparse.Namespace,
        tool: str) -> list[dict[str, Any]]:
    assert services.redis is not None and proc.pid is not None
    keys: list[str] = []
    rows: list[dict[str, Any]] = []
    for n in args.tenants:
        while len(keys) < n:
            keys.append(client.new_tenant(f"scale-{len(keys):04d}", **LIMITS))
        request = Request(client.base_url + "/api/info", {}, keys=tuple(keys))
        load.run(request, seconds=1, connections=args.connections, tool=tool)  # warm the key cache
        results: list[LoadResult] = []
        cpu: list[float] = []
        for _ in range(args.rounds):
            before = group_cpu_seconds(proc.pid)
            result = load.run(request, seconds=args.seconds, connections=args.connections, tool=tool)
            cpu.append((group_cpu_seconds(proc.pid) - before) * 1000 / max(1, result.requests))
            results.append(result)
        reserve = asyncio.run(_reserve_commit(services.redis.url, n))
        rows.append({
            "tenants": n,
            "rps": statistics.median(r.rps for r in results),
            "p50_ms": statistics.median(r.p50_ms for r in results),
            "p99_ms": statistics.median(r.p99_ms for r in results),
            "cpu_ms_per_request": statistics.median(cpu),
            "errors": sum(r.errors for r in results),
            **reserve,
        })
    return rows


async def _reserve_commit(redis_url: str, tenants: int) -> dict[str, float]:
    """Reserve-then-commit round trips on the Redis store (the same Lua scripts the gateway runs),
    spread over `tenants`, under a prefix of their own so the gateway's counters stay untouched."""
    client = Redis.from_url(redis_url)
    store = RedisStore(client, prefix=f"bench{tenants}")
    now = datetime.now(UTC)
    month, day = month_of(now), day_of(now)
    await store.rebuild(Snapshot(month, day, {}, {}, []))
    await store.set_balance(10**12)  # the company balance is not what this measures
    limits = Limits(credits_per_month=LIMITS["credits_per_month"],
                    max_concurrent_searches=LIMITS["max_concurrent_searches"])
    unlimited = GlobalLimits(10**6)
    timings: list[float] = []
    try:
        for i in range(RESERVATIONS):
            reservation = Reservation(f"s{i}", f"tenant-{i % tenants}", 3, month, day)
            started = time.perf_counter()
            decision = await store.reserve(reservation, limits, unlimited, now)
            await store.commit(reservation.search_id)
            timings.append((time.perf_counter() - started) * 1000)
            if not decision.allowed:
                raise RuntimeError(f"reservation refused: {decision.code}")
    finally:
        await client.aclose()
    timings.sort()
    return {"reserve_p50_ms": timings[len(timings) // 2], "reserve_p99_ms": timings[int(len(timings) * 0.99)]}
