"""Poll coalescing: however many clients poll, on however many replicas, each in-flight search is
asked about upstream at most once per UPSTREAM_POLL_INTERVAL (1 s here). The sandbox counts every
status poll, the tracker's included. With Redis, a replica that has the current window's answer
answers further polls of that search from memory: Redis sees about one poll per window per replica,
not one per client poll."""

from __future__ import annotations

from collections import Counter

import redis

from tests.fixtures.api import delta, tenant
from tests.fixtures.cache_calls import Reply, ask, images, new_search
from tests.fixtures.pacing import paced_clients
from tests.fixtures.replicas import Replicas, StartGateway, StartReplicas
from tests.fixtures.stack import Stack

SLOW_SEARCH = {"queue_seconds": 1.0, "search_seconds": 60.0}  # stays in flight through the polling


def script_calls(replicas: Replicas) -> int:
    """Scripts Redis has run so far (every poll step is one), or 0 on the in-process backend."""
    if not replicas.env.get("REDIS_URL"):
        return 0
    client = redis.Redis.from_url(replicas.env["REDIS_URL"])
    try:
        stats = client.info("commandstats")
    finally:
        client.close()
    return sum(int(stats.get(f"cmdstat_{name}", {}).get("calls", 0)) for name in ("evalsha", "eval"))


def poll_one_search_hard(replicas: Replicas) -> tuple[list[Reply], dict[str, int]]:
    """Ten clients poll one in-flight search every 100 ms for 5 s, spread over the replicas."""
    stack = replicas.stack()
    stack.knobs(**SLOW_SEARCH)
    _, key = tenant(stack)
    sid = new_search(stack, key, images(200))
    assert ask(stack, key, sid).x_cache == "MISS"
    before, scripts = stack.stats(), script_calls(replicas)
    stacks: list[Stack] = [replicas.stack(i % len(replicas.gateways)) for i in range(10)]
    replies = paced_clients(10, 0.1, 5.0, lambda i: ask(stacks[i], key, sid))
    if replicas.env.get("REDIS_URL"):
        # About one poll step and one shared answer per window and replica, plus the tracker's
        # rounds (a lease and reconciliation each second): far fewer scripts than client polls.
        assert script_calls(replicas) - scripts <= len(replies) // 5, (script_calls(replicas) - scripts, len(replies))
    return replies, delta(before, stack.stats())


def check(replies: list[Reply], moved: dict[str, int]) -> None:
    assert len(replies) >= 100  # the load really happened
    assert all(r.body["error"] is None and r.body["output"] is None for r in replies)
    assert 1 <= moved["status_polls"] <= 6, moved
    assert moved["search_submits"] == 0 and moved["duplicate_submits"] == 0
    outcomes = Counter(r.x_cache for r in replies)
    assert outcomes["MISS"] <= 6 and outcomes["COALESCED"] == len(replies) - outcomes["MISS"]


def test_ten_clients_one_process(start_gateway: StartGateway) -> None:
    check(*poll_one_search_hard(start_gateway(upstream_poll_interval_seconds=1)))


def test_ten_clients_two_replicas(start_replicas: StartReplicas) -> None:
    check(*poll_one_search_hard(start_replicas(2, upstream_poll_interval_seconds=1)))
