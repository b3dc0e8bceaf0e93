"""One suite for both CacheStore backends (in-process, and real Redis -- one server, a cluster, a
primary behind Sentinel -- through separate clients standing in for replicas), and the cache keys."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from app.cache.keys import cache_key, effective_scope, scope_name, wants_fresh
from app.cache.redis_store import RedisCacheStore
from app.cache.store import CacheStore, MemoryCacheStore
from tests.fixtures.clock import ManualClock
from tests.fixtures.redis_topologies import RedisTarget

DAY_MS = 86_400_000


@pytest.fixture
async def replicas(backend: str | RedisTarget) -> AsyncIterator[list[CacheStore]]:
    if backend == "memory":
        store = MemoryCacheStore(ManualClock())
        yield [store, store]
        return
    assert isinstance(backend, RedisTarget)
    clients = [backend.client() for _ in range(2)]
    yield [RedisCacheStore(client) for client in clients]
    for client in clients:
        await client.aclose()


def test_keys_ignore_order_and_separate_demo_scope_and_secret() -> None:
    key = cache_key(b"secret", ["aa", "bb"], False, "tenant:t1")
    assert key == cache_key(b"secret", ["bb", "aa"], False, "tenant:t1")
    others = {cache_key(b"secret", ["aa", "bb"], True, "tenant:t1"),
              cache_key(b"secret", ["aa", "bb"], False, "tenant:t2"),
              cache_key(b"secret", ["aa", "bb"], False, "global"),
              cache_key(b"other", ["aa", "bb"], False, "tenant:t1"),
              cache_key(b"secret", ["aa"], False, "tenant:t1")}  # fmt: skip
    assert key not in others and len(others) == 5
    assert "aa" not in key and len(key) == 64


def test_scopes_and_cache_control() -> None:
    assert [effective_scope("tenant", None), effective_scope("tenant", "global"), effective_scope("global", "none"),
            effective_scope("off", None)] == ["tenant", "global", "off", "off"]
    assert (scope_name("tenant", "t1"), scope_name("global", "t1")) == ("tenant:t1", "global")
    assert wants_fresh("no-cache") and wants_fresh("max-age=0, No-Cache") and wants_fresh("no-store")
    assert not wants_fresh(None) and not wants_fresh("max-age=60")


async def test_entries_are_shared_and_purged_by_key_tenant_and_all(replicas: list[CacheStore]) -> None:
    one, two = replicas
    await one.put("k1", b"v1", DAY_MS, "ta")
    await one.put("k2", b"v2", DAY_MS, "ta")
    await two.put("k3", b"v3", DAY_MS, "tb")
    assert (await two.get("k1"), await one.get("k3"), await one.get("nope")) == (b"v1", b"v3", None)
    assert await two.purge_key("k2") == 1 and await one.purge_key("k2") == 0
    assert await two.purge_tenant("ta") == 1  # k1; k2 was already gone
    assert (await one.get("k1"), await one.get("k3")) == (None, b"v3")
    await one.save_status("u1", b"status", DAY_MS)
    assert await two.purge_all() == 1
    assert (await one.get("k3"), await two.last_status("u1")) == (None, None)


async def test_one_leader_per_flight_until_it_leaves(replicas: list[CacheStore]) -> None:
    one, two = replicas
    assert await one.join("k", "s1", DAY_MS) == "s1"
    assert await two.join("k", "s2", DAY_MS) == "s1"
    await two.leave("k", "s2")  # not the leader: nothing changes
    assert await two.join("k", "s3", DAY_MS) == "s1"
    await one.leave("k", "s1")
    assert await two.join("k", "s3", DAY_MS) == "s3"


async def test_one_poller_per_interval_and_a_shared_status(replicas: list[CacheStore]) -> None:
    one, two = replicas
    assert await one.poll_lock("u", DAY_MS) is True
    assert await two.poll_lock("u", DAY_MS) is False
    assert await two.poll_lock("other", DAY_MS) is True
    assert await two.last_status("u") is None
    await one.save_status("u", b'{"progress": 40}', DAY_MS)
    assert await two.last_status("u") == b'{"progress": 40}'


async def test_one_step_poll_takes_the_lock_or_reads_the_shared_status(replicas: list[CacheStore]) -> None:
    one, two = replicas
    assert await one.poll("u", DAY_MS, "w1") == (True, None, 0)
    assert await two.poll("u", DAY_MS, "w2") == (False, None, 0)  # locked, nothing shared yet
    await one.save_status("u", b'{"progress": 40}', DAY_MS, "w1")
    step = await two.poll("u", DAY_MS, "w3")
    assert (step.locked, step.status) == (False, b'{"progress": 40}')
    assert await one.poll_lock("u", DAY_MS) is False  # the one-step poll holds the same lock
    assert (await two.poll("other", DAY_MS, "w4")).locked is True


async def test_a_status_saved_in_the_window_stays_its_answer_until_the_lock_ends(replicas: list[CacheStore]) -> None:
    one, two = replicas
    await one.save_status("u", b'{"progress": 10}', DAY_MS, "earlier")  # an earlier window's answer
    assert (await one.poll("u", 60_000, "now")).locked is True  # a new window: one asks upstream
    assert await two.poll("u", 60_000, "two") == (False, b'{"progress": 10}', 0)  # not this window's
    await one.save_status("u", b'{"progress": 40}', DAY_MS, "now")
    late = await two.poll("u", 60_000, "two")
    assert (late.locked, late.status) == (False, b'{"progress": 40}')
    assert 0 < late.fresh_ms <= 60_000  # the window's own answer, for the lock's time left


async def test_memory_entries_expire_with_the_clock() -> None:
    clock = ManualClock()
    store = MemoryCacheStore(clock)
    await store.put("k", b"v", 2_000, "t")
    assert await store.poll_lock("u", 1_000)
    clock.advance(1.5)
    assert await store.get("k") == b"v" and await store.poll_lock("u", 1_000)
    clock.advance(1)
    assert await store.get("k") is None


async def test_memory_entries_are_held_to_a_byte_bound_least_recently_used_first() -> None:
    from prometheus_client import REGISTRY

    def evictions() -> float:
        return REGISTRY.get_sample_value("facecheck_gateway_cache_evictions_total") or 0.0

    value = b"x" * 10_000
    store = MemoryCacheStore(ManualClock(), max_bytes=35_000)  # room for three entries, not four
    for name in ("a", "b", "c"):
        await store.put(name, value, DAY_MS, "t1")
    assert await store.get("a") == value  # "a" is now the most recently used
    before = evictions()
    await store.put("d", value, DAY_MS, "t2")
    assert await store.get("b") is None  # the least recently used went first
    assert [await store.get(k) for k in ("a", "c", "d")] == [value] * 3
    assert evictions() == before + 1
    for n in range(100):  # however many are stored, three at most are kept
        await store.put(f"n{n}", value, DAY_MS, "t3")
    assert evictions() == before + 101
    assert await store.purge_tenant("t1") == 0 and await store.purge_tenant("t3") == 3
    await store.put("huge", b"y" * 50_000, DAY_MS, "t1")  # larger than the whole bound: not kept
    assert await store.get("huge") is None
