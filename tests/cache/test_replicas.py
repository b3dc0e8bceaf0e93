"""Single flight across replicas sharing Redis, and the cache failing open when Redis is down."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.fixtures.api import delta, tenant
from tests.fixtures.cache_calls import ask, final_output, images, new_search, run
from tests.fixtures.replicas import StartReplicas
from tests.fixtures.services import RedisServer


def test_twenty_identical_searches_across_two_replicas_pay_once(start_replicas: StartReplicas) -> None:
    replicas = start_replicas(2)
    stack = replicas.stack()
    name, key = tenant(stack)
    ids = [new_search(replicas.stack(i % 2), key, images(300, 301)) for i in range(20)]
    before = stack.stats()
    with ThreadPoolExecutor(max_workers=20) as pool:
        replies = list(pool.map(lambda i: ask(replicas.stack(i % 2), key, ids[i], with_progress=False), range(20)))
    outputs = [final_output(r) for r in replies]
    assert all(o == outputs[0] for o in outputs)
    assert sorted(r.x_cache or "" for r in replies) == ["COALESCED"] * 19 + ["MISS"]
    moved = delta(before, stack.stats())
    assert (moved["search_submits"], moved["credits_spent"], moved["duplicate_submits"]) == (1, 3, 0)
    usage = stack.cli_json("tenants", "usage", name)
    assert (usage["credits_charged"], usage["searches_committed"], usage["credits_held"]) == (3, 1, 0)
    report = stack.admin("GET", f"/admin/tenants/{name}/usage").json()
    assert [(t["searches"], t["cache_hits"], t["credits_saved"]) for t in report["totals"]] == [(1, 19, 57)]
    # Every attached search answers later polls too, on either replica.
    for i in (3, 4):
        assert final_output(ask(replicas.stack(i % 2), key, ids[i])) == outputs[0]


def test_an_attached_search_fails_with_its_leader_and_pays_nothing(start_replicas: StartReplicas) -> None:
    replicas = start_replicas(2)
    stack = replicas.stack()
    name, key = tenant(stack)
    ids = [new_search(stack, key, images(310)) for _ in range(4)]
    stack.knobs(error_rate=1.0)
    with ThreadPoolExecutor(max_workers=4) as pool:
        replies = list(pool.map(lambda i: ask(replicas.stack(i % 2), key, ids[i], with_progress=False), range(4)))
    assert all(r.body["code"] == "EXCEPTION" and r.body["output"] is None for r in replies), replies
    assert {r.body["id_search"] for r in replies} == set(ids)  # each under its own id, never the leader's
    assert stack.cli_json("tenants", "usage", name)["credits_charged"] == 0
    stack.knobs(error_rate=0.0)
    assert run(stack, key, images(310))[1].x_cache == "MISS"  # the failure was not cached


def test_redis_down_the_cache_fails_open(start_replicas: StartReplicas, redis_server: RedisServer) -> None:
    replicas = start_replicas(1, quota_fail_mode="open")
    stack = replicas.stack()
    name, key = tenant(stack)
    final_output(run(stack, key, images(320))[1])
    assert run(stack, key, images(320))[1].x_cache == "HIT"
    sid = new_search(stack, key, images(320))
    redis_server.stop()
    try:
        before = stack.stats()
        miss = ask(stack, key, sid, with_progress=False)  # no cache to read: a real, charged search
        assert miss.x_cache == "MISS"
        final_output(miss)
        assert final_output(ask(stack, key, sid)) == final_output(miss)  # polls go straight upstream
        assert delta(before, stack.stats())["search_submits"] == 1
        purge = stack.admin("DELETE", "/admin/cache")
        assert purge.status_code == 503 and purge.json()["code"] == "SERVICE_UNAVAILABLE"
    finally:
        redis_server.start_again()
    assert stack.cli_json("tenants", "usage", name)["credits_charged"] == 6
