"""One suite for both QuotaStore backends: the in-process store and Redis (a real redis-server; a
three-master Redis Cluster reached through a node that does not own the keys' slot; a primary
found through Sentinel).

Every test runs against each, so the embedded mode and a fleet of replicas keep the same promises.
For Redis, `replicas` are separate clients (separate connections, as separate gateway processes
would have); for memory they are the one store, since that backend serves a single process.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from app.quotas.memory import MemoryStore
from app.quotas.policy import (
    CONCURRENCY_LIMIT,
    DAILY_LIMIT,
    NEEDS_BALANCE,
    NEEDS_REBUILD,
    NO_CREDITS,
    QUOTA_EXCEEDED,
    RATE_LIMITED,
    Decision,
    GlobalLimits,
    Limits,
    Reservation,
    Snapshot,
    Usage,
    day_of,
    month_of,
    seconds_to_next_day,
    seconds_to_next_month,
)
from app.quotas.redis_store import RedisStore
from app.quotas.storage import QuotaStore
from app.store_errors import StoreUnavailable
from tests.fixtures.pytest_services import redis_target
from tests.fixtures.redis_topologies import ClusterTopology, RedisTarget
from tests.fixtures.services import RedisServer, async_wait_for
from tests.fixtures.store_backends import connect

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
MONTH, DAY = month_of(NOW), day_of(NOW)
WIDE = GlobalLimits(1000)
TO_MONTH, TO_DAY = seconds_to_next_month(NOW), seconds_to_next_day(NOW)


@pytest.fixture
async def replicas(backend: str | RedisTarget) -> AsyncIterator[list[QuotaStore]]:
    """Three handles on one backend, standing in for three gateway processes."""
    if backend == "memory":
        store = MemoryStore()
        yield [store, store, store]
        return
    assert isinstance(backend, RedisTarget)
    clients = [backend.client() for _ in range(3)]
    yield [RedisStore(client) for client in clients]
    for client in clients:
        await client.aclose()


@pytest.fixture
def store(replicas: list[QuotaStore]) -> QuotaStore:
    return replicas[0]


def res(search_id: str, tenant: str = "a", cost: int = 3) -> Reservation:
    return Reservation(search_id, tenant, cost, MONTH, DAY)


def snap(used: dict[str, int] | None = None, today: dict[str, int] | None = None,
         held: list[Reservation] | None = None) -> Snapshot:
    return Snapshot(MONTH, DAY, used or {}, today or {}, held or [])


async def ready(store: QuotaStore, snapshot: Snapshot | None = None, balance: int | None = 1000) -> None:
    """Counters rebuilt (from `snapshot`, else empty) and, unless None, a known upstream balance."""
    await store.rebuild(snapshot or snap())
    if balance is not None:
        await store.set_balance(balance)


# ----------------------------------------------------------------------------------- reserve rules


async def test_without_counters_everything_asks_for_a_rebuild(store: QuotaStore) -> None:
    await store.set_balance(10)  # the balance is not a counter: it does not end the need to rebuild
    assert await store.reserve(res("s1"), Limits(), WIDE, NOW) == Decision(NEEDS_REBUILD)
    assert (await store.commit("s1"), await store.refund("s1")) == (False, False)
    assert await store.held_ids() == set()
    assert await store.usage("a", NOW) == Usage(0, 0, 0, 10, 0)
    assert await store.has_counters() is False  # so the tracker knows to rebuild before anyone reads
    await ready(store, snap(used={"a": 6}))
    assert await store.has_counters() is True and (await store.usage("a", NOW)).credits_used == 6
    await store.invalidate()
    assert await store.has_counters() is False


async def test_monthly_credits(store: QuotaStore) -> None:
    await ready(store, snap(used={"a": 24}))
    limits = Limits(credits_per_month=30)
    assert await store.reserve(res("s1"), limits, WIDE, NOW) == Decision(None, 30, 3, TO_MONTH)
    assert await store.reserve(res("s2"), limits, WIDE, NOW) == Decision(None, 30, 0, TO_MONTH)
    assert await store.reserve(res("s3"), limits, WIDE, NOW) == Decision(QUOTA_EXCEEDED, 30, 0, TO_MONTH)
    assert await store.reserve(res("s4", "b"), limits, WIDE, NOW) == Decision(None, 30, 27, TO_MONTH)
    assert await store.usage("a", NOW) == Usage(30, 2, 2, 1000, 9)


async def test_credits_refused_when_the_cost_does_not_fit(store: QuotaStore) -> None:
    await ready(store, snap(used={"a": 28}))
    decision = await store.reserve(res("s1"), Limits(credits_per_month=30), WIDE, NOW)
    assert decision == Decision(QUOTA_EXCEEDED, 30, 2, TO_MONTH, "tenant")


async def test_searches_per_day(store: QuotaStore) -> None:
    await ready(store, snap(today={"a": 4}))
    limits = Limits(searches_per_day=5)
    assert await store.reserve(res("s1"), limits, WIDE, NOW) == Decision(None, 5, 0, TO_DAY)
    assert await store.reserve(res("s2"), limits, WIDE, NOW) == Decision(DAILY_LIMIT, 5, 0, TO_DAY, "tenant")
    assert (await store.reserve(res("s3", "b"), limits, WIDE, NOW)).allowed


async def test_tenant_concurrency_frees_on_commit_and_refund(store: QuotaStore) -> None:
    await ready(store)
    limits = Limits(max_concurrent_searches=2)
    assert await store.reserve(res("s1"), limits, WIDE, NOW) == Decision(None, 2, 1, 1.0)
    assert await store.reserve(res("s2"), limits, WIDE, NOW) == Decision(None, 2, 0, 1.0)
    assert await store.reserve(res("s3"), limits, WIDE, NOW) == Decision(CONCURRENCY_LIMIT, 2, 0, 1.0, "tenant")
    assert await store.commit("s1")
    assert (await store.reserve(res("s3"), limits, WIDE, NOW)).allowed
    assert await store.refund("s2")
    assert (await store.reserve(res("s4"), limits, WIDE, NOW)).allowed


async def test_global_concurrency_is_checked_first(store: QuotaStore) -> None:
    await ready(store)
    two = GlobalLimits(2)
    assert (await store.reserve(res("s1", "a"), Limits(), two, NOW)).allowed
    assert (await store.reserve(res("s2", "b"), Limits(), two, NOW)).allowed
    full = Decision(CONCURRENCY_LIMIT, 2, 0, 1.0, "global")
    assert await store.reserve(res("s3", "c"), Limits(max_concurrent_searches=0), two, NOW) == full


async def test_upstream_balance(store: QuotaStore) -> None:
    await ready(store, balance=None)
    assert await store.reserve(res("s1"), Limits(), WIDE, NOW) == Decision(NEEDS_BALANCE, scope="global")
    assert await store.reserve(res("demo", cost=0), Limits(), WIDE, NOW) == Decision(None)
    await store.set_balance(5)
    assert (await store.reserve(res("s1"), Limits(), WIDE, NOW)).allowed
    assert await store.reserve(res("s2"), Limits(), WIDE, NOW) == Decision(NO_CREDITS, None, 2, None, "global")
    assert await store.commit("s1")
    assert await store.usage("a", NOW) == Usage(3, 2, 1, 2, 0)  # the demo search is still in flight
    assert await store.reserve(res("s2"), Limits(), WIDE, NOW) == Decision(NO_CREDITS, None, 2, None, "global")


async def test_demo_skips_credit_checks_but_takes_day_and_concurrency(store: QuotaStore) -> None:
    await ready(store, balance=None)
    limits = Limits(credits_per_month=0, searches_per_day=2, max_concurrent_searches=5)
    assert await store.reserve(res("d1", cost=0), limits, WIDE, NOW) == Decision(None, 2, 1, TO_DAY)
    assert await store.usage("a", NOW) == Usage(0, 1, 1, None, 0)
    assert (await store.reserve(res("d2", cost=0), limits, WIDE, NOW)).allowed
    assert (await store.reserve(res("d3", cost=0), limits, WIDE, NOW)).code == DAILY_LIMIT


async def test_allowed_reports_the_tightest_tenant_limit(store: QuotaStore) -> None:
    await ready(store)
    assert await store.reserve(res("s1"), Limits(), WIDE, NOW) == Decision(None)
    limits = Limits(credits_per_month=30, searches_per_day=5, max_concurrent_searches=3)
    assert await store.reserve(res("s2"), limits, WIDE, NOW) == Decision(None, 3, 1, 1.0)
    assert await store.reserve(res("s3"), Limits(credits_per_month=10), WIDE, NOW) == Decision(None, 10, 1, TO_MONTH)


# ---------------------------------------------------------------------------- settling, idempotency


async def test_reserve_twice_takes_once(store: QuotaStore) -> None:
    await ready(store)
    limits = Limits(credits_per_month=30, max_concurrent_searches=1)
    first = await store.reserve(res("s1"), limits, WIDE, NOW)
    assert first == Decision(None, 1, 0, 1.0)
    assert await store.reserve(res("s1"), limits, WIDE, NOW) == first  # not CONCURRENCY_LIMIT
    assert await store.usage("a", NOW) == Usage(3, 1, 1, 1000, 3)


async def test_commit_keeps_credits_and_lowers_balance_once(store: QuotaStore) -> None:
    await ready(store, balance=100)
    await store.reserve(res("s1"), Limits(), WIDE, NOW)
    assert await store.commit("s1") is True
    assert await store.usage("a", NOW) == Usage(3, 1, 0, 97, 0)
    assert (await store.commit("s1"), await store.refund("s1")) == (False, False)
    assert await store.usage("a", NOW) == Usage(3, 1, 0, 97, 0)


async def test_refund_restores_everything_once(store: QuotaStore) -> None:
    await ready(store, snap(used={"a": 6}, today={"a": 2}), balance=100)
    before = await store.usage("a", NOW)
    await store.reserve(res("s1"), Limits(), WIDE, NOW)
    assert await store.usage("a", NOW) == Usage(9, 3, 1, 100, 3)
    assert await store.refund("s1") is True
    assert await store.usage("a", NOW) == before == Usage(6, 2, 0, 100, 0)
    assert (await store.refund("s1"), await store.commit("s1")) == (False, False)
    assert await store.usage("a", NOW) == before


async def test_held_ids(store: QuotaStore) -> None:
    await ready(store)
    for sid in ("s1", "s2", "s3"):
        await store.reserve(res(sid), Limits(), WIDE, NOW)
    await store.commit("s1")
    await store.refund("s3")
    assert await store.held_ids() == {"s2"}


# ------------------------------------------------------------------------------------------ rebuild


async def test_rebuild_applies_only_without_counters(store: QuotaStore) -> None:
    await ready(store, snap(used={"old": 20}, today={"old": 3}))
    await store.reserve(res("s1", "old"), Limits(), WIDE, NOW)
    assert await store.rebuild(snap(used={"new": 3})) is False  # counters exist: an old snapshot loses
    assert await store.usage("old", NOW) == Usage(23, 4, 1, 1000, 3)
    assert await store.usage("new", NOW) == Usage(0, 0, 0, 1000, 3)


async def test_invalidate_then_rebuild_replaces_every_counter(store: QuotaStore) -> None:
    await ready(store, snap(used={"old": 20}, today={"old": 3}))
    await store.reserve(res("s1", "old"), Limits(), WIDE, NOW)
    await store.invalidate()
    assert (await store.reserve(res("s2", "old"), Limits(), WIDE, NOW)).code == NEEDS_REBUILD
    held = res("h1", "new")
    assert await store.rebuild(snap(used={"new": 3}, today={"new": 1}, held=[held])) is True
    assert await store.usage("old", NOW) == Usage(0, 0, 0, 1000, 3)  # stale tenant gone; balance kept
    assert await store.usage("new", NOW) == Usage(3, 1, 1, 1000, 3)
    assert await store.held_ids() == {"h1"}
    assert await store.commit("s1") is False
    assert await store.commit("h1") is True
    assert await store.usage("new", NOW) == Usage(3, 1, 0, 997, 0)


async def test_refund_of_a_reservation_from_an_earlier_period_never_goes_negative(store: QuotaStore) -> None:
    october = Reservation("old", "a", 3, "2026-10", "2026-10-31")
    await ready(store, snap(held=[october]))
    assert await store.refund("old") is True
    assert await store.usage("a", NOW) == Usage(0, 0, 0, 1000, 0)


# -------------------------------------------------------------------------- exactness under races


CASES = {  # limit under test -> (limits, global limits, balance, expected refusal code)
    "credits": (Limits(credits_per_month=30), WIDE, 1000, QUOTA_EXCEEDED),
    "day": (Limits(searches_per_day=10), WIDE, 1000, DAILY_LIMIT),
    "tenant_concurrency": (Limits(max_concurrent_searches=10), WIDE, 1000, CONCURRENCY_LIMIT),
    "global_concurrency": (Limits(), GlobalLimits(10), 1000, CONCURRENCY_LIMIT),
    "balance": (Limits(), WIDE, 30, NO_CREDITS),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("n_clients", [1, 3])
async def test_sixty_racing_reserves_exactly_ten_pass(replicas: list[QuotaStore], case: str, n_clients: int) -> None:
    limits, glob, balance, refusal = CASES[case]
    await ready(replicas[0], balance=balance)
    calls = [replicas[i % n_clients].reserve(res(f"s{i}"), limits, glob, NOW) for i in range(60)]
    decisions = await asyncio.gather(*calls)
    assert sum(d.allowed for d in decisions) == 10
    assert {d.code for d in decisions if not d.allowed} == {refusal}
    assert await replicas[0].usage("a", NOW) == Usage(30, 10, 10, balance, 30)


# --------------------------------------------------------------------------------------- rate limit


def at(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


async def burst(store: QuotaStore, n: int, seconds: float, tenant_rpm: int | None = None,
                key: str = "k1", key_rpm: int | None = None) -> list[Decision]:
    return [await store.hit_rate("a", tenant_rpm, key, key_rpm, at(seconds)) for _ in range(n)]


def busiest_minute(accepted: list[float]) -> int:
    """The most accepted requests in any 60 s span; only spans starting at an accepted request
    can be the busiest, so checking those checks every span."""
    return max(sum(1 for t in accepted if start <= t < start + 60) for start in accepted)


async def test_sliding_window_holds_across_the_minute_boundary(store: QuotaStore) -> None:
    limit = 5
    accepted: list[float] = []
    for seconds, n, expect in [(0, 1, 1), (59.9, limit, limit - 1), (60.1, limit, 1),
                               (119.95, limit, limit - 1), (120.1, limit, 1), (180.2, limit, limit)]:
        decisions = await burst(store, n, seconds, tenant_rpm=limit)
        assert sum(d.allowed for d in decisions) == expect, seconds
        accepted += [seconds] * expect
    assert busiest_minute(accepted) == limit


async def test_rate_decisions_report_the_deciding_window(store: QuotaStore) -> None:
    assert await store.hit_rate("a", 3, "k1", None, at(0)) == Decision(None, 3, 2, 60.0, "tenant")
    assert await store.hit_rate("a", 3, "k1", None, at(10)) == Decision(None, 3, 1, 50.0, "tenant")
    assert await store.hit_rate("a", 3, "k1", None, at(20)) == Decision(None, 3, 0, 40.0, "tenant")
    assert await store.hit_rate("a", 3, "k1", None, at(59.9)) == Decision(RATE_LIMITED, 3, 0, 0.1, "tenant")
    assert await store.hit_rate("a", 3, "k1", None, at(60)) == Decision(None, 3, 0, 10.0, "tenant")


async def test_key_limit_alongside_the_tenant_limit(store: QuotaStore) -> None:
    assert await store.hit_rate("a", 3, "k1", 2, at(0)) == Decision(None, 2, 1, 60.0, "key")
    assert (await store.hit_rate("a", 3, "k1", 2, at(1))).allowed
    assert await store.hit_rate("a", 3, "k1", 2, at(2)) == Decision(RATE_LIMITED, 2, 0, 58.0, "key")
    assert await store.hit_rate("a", 3, "k2", 2, at(3)) == Decision(None, 3, 0, 57.0, "tenant")
    assert await store.hit_rate("a", 3, "k2", 2, at(4)) == Decision(RATE_LIMITED, 3, 0, 56.0, "tenant")
    assert await store.hit_rate("b", None, "k9", 1, at(5)) == Decision(None, 1, 0, 60.0, "key")


async def test_refused_requests_are_not_counted(store: QuotaStore) -> None:
    assert sum(d.allowed for d in await burst(store, 2, 0, tenant_rpm=2)) == 2
    assert sum(d.allowed for d in await burst(store, 10, 30, tenant_rpm=2)) == 0
    assert sum(d.allowed for d in await burst(store, 3, 60, tenant_rpm=2)) == 2  # the t=0 pair left at 60 s
    # refused by its key, a request does not count against the tenant either: both or neither
    assert sum(d.allowed for d in await burst(store, 5, 200, tenant_rpm=3, key_rpm=1)) == 1
    assert sum(d.allowed for d in await burst(store, 5, 201, tenant_rpm=3, key="k2", key_rpm=5)) == 2


async def test_no_rate_limit_touches_nothing(store: QuotaStore) -> None:
    assert await store.hit_rate("a", None, "k1", None, at(0)) == Decision(None)
    assert await store.hit_rate("a", 1, "k1", 1, at(1)) == Decision(None, 1, 0, 60.0, "tenant")


async def test_sixty_racing_hits_exactly_ten_pass(replicas: list[QuotaStore]) -> None:
    calls = [replicas[i % 3].hit_rate("a", 10, f"k{i % 4}", None, at(0)) for i in range(60)]
    assert sum(d.allowed for d in await asyncio.gather(*calls)) == 10


# ------------------------------------------------------------------------------------------- leases


async def test_lock_is_exclusive_renewable_and_expires(store: QuotaStore) -> None:
    assert await store.try_lock("rebuild", "one", 0.3) is True
    assert await store.try_lock("rebuild", "two", 0.3) is False
    assert await store.try_lock("rebuild", "one", 0.3) is True  # renewed by its owner
    assert await store.try_lock("tracker", "two", 30) is True  # names are independent
    # taken once the lease lapses
    await async_wait_for(lambda: store.try_lock("rebuild", "two", 30), deadline_s=10, what="lease expiry")
    assert await store.try_lock("rebuild", "one", 30) is False


# ------------------------------------------------------------------------------------ redis outage


async def test_redis_outage_raises_store_unavailable_then_recovers(redis_server: RedisServer, redis_url: str) -> None:
    client = connect(redis_url)
    store = RedisStore(client)
    await ready(store)
    redis_server.stop()
    try:
        calls: list[Callable[[], Awaitable[object]]] = [
            lambda: store.reserve(res("s1"), Limits(), WIDE, NOW), lambda: store.commit("s1"),
            lambda: store.refund("s1"), lambda: store.hit_rate("a", 5, "k1", None, NOW),
            lambda: store.usage("a", NOW), lambda: store.set_balance(5), lambda: store.rebuild(snap()),
            store.held_ids, lambda: store.try_lock("x", "me", 1),
        ]  # fmt: skip
        async with asyncio.timeout(10):  # no retries and 0.5 s timeouts: each fails at once
            for call in calls:
                with pytest.raises(StoreUnavailable) as raised:
                    await call()
                assert isinstance(raised.value.__cause__, (RedisConnectionError, RedisTimeoutError, OSError))
            assert await store.ping() is False
    finally:
        redis_server.start_again()
    # the first call after the restart may meet a dead pooled socket
    await async_wait_for(store.ping, deadline_s=10, what="redis back")
    # A restarted Redis is empty: the store asks for a rebuild (scripts reload after NOSCRIPT).
    assert await store.reserve(res("s1"), Limits(), WIDE, NOW) == Decision(NEEDS_REBUILD)
    await store.close()


async def test_cluster_node_restart_raises_store_unavailable_then_recovers(request: pytest.FixtureRequest) -> None:
    """The node owning the gateway's slot dies and comes back empty (no persistence): calls fail
    fast meanwhile, then the same client finds the node again and the store asks for a rebuild."""
    target = redis_target(request, "cluster")
    cluster: ClusterTopology = request.getfixturevalue("redis_cluster")
    client = target.client()
    store = RedisStore(client)
    await ready(store)
    assert (await store.reserve(res("s1"), Limits(), WIDE, NOW)).allowed
    cluster.owner_of("{fcg}").kill()
    try:
        async with asyncio.timeout(10):
            with pytest.raises(StoreUnavailable):
                await store.reserve(res("s2"), Limits(), WIDE, NOW)
    finally:
        cluster.ready()
    decisions: list[Decision] = []

    async def answered() -> bool:  # the first calls after the restart may meet the old layout or a dead socket
        try:
            decisions.append(await store.reserve(res("s2"), Limits(), WIDE, NOW))
        except StoreUnavailable:
            return False
        return True

    await async_wait_for(answered, deadline_s=10, what="the cluster back")
    assert decisions == [Decision(NEEDS_REBUILD)]
    await ready(store)
    assert (await store.reserve(res("s2"), Limits(), WIDE, NOW)).allowed
    await client.aclose()
