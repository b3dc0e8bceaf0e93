"""The result cache in one gateway process, on the in-process store and on Redis: a repeated image
set costs nothing upstream, within the scope it may be shared in, until it expires or is purged.
The sandbox's stats are the witness of what reached upstream."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.fixtures.api import delta, tenant
from tests.fixtures.cache_calls import ask, final_output, images, new_search, run
from tests.fixtures.replicas import StartGateway
from tests.fixtures.scrape import scrape
from tests.fixtures.services import wait_for


def test_same_images_again_answer_from_the_cache_for_free(start_gateway: StartGateway) -> None:
    stack = start_gateway().stack()
    name, key = tenant(stack, "--credits-per-month", "3")
    first_id, first = run(stack, key, images(1, 2))
    assert first.x_cache == "MISS"
    output = final_output(first)
    before = stack.stats()
    second_id, second = run(stack, key, images(2, 1))  # the same set, in another order
    assert second.x_cache == "HIT" and final_output(second) == output
    assert second.body["id_search"] == second_id != first_id
    moved = delta(before, stack.stats())
    assert (moved["search_submits"], moved["status_polls"], moved["credits_spent"]) == (0, 0, 0)
    again = ask(stack, key, second_id)  # a later poll of the hit reads the cache too
    assert again.x_cache == "HIT" and final_output(again) == output
    usage = stack.cli_json("tenants", "usage", name)
    assert usage["credits_charged"] == 3  # the budget of 3 would refuse a second charged search
    report = stack.admin("GET", f"/admin/tenants/{name}/usage").json()
    assert [(t["searches"], t["cache_hits"], t["credits_saved"]) for t in report["totals"]] == [(1, 1, 3)]
    metrics = scrape(stack.url)
    counts = [metrics.value(f"facecheck_gateway_cache_{m}_total", tenant=name) for m in ("hits", "misses")]
    assert counts == [1, 1]  # per search, not per poll
    assert metrics.value("facecheck_gateway_cache_credits_saved_total", tenant=name) == 3


def test_scope_tenant_by_default_and_global_when_chosen(start_gateway: StartGateway) -> None:
    stack = start_gateway().stack()
    _, key_a = tenant(stack)
    name_b, key_b = tenant(stack)
    output = final_output(run(stack, key_a, images(10))[1])
    before = stack.stats()
    other = run(stack, key_b, images(10))[1]
    assert other.x_cache == "MISS" and delta(before, stack.stats())["search_submits"] == 1
    # A tenant that opts into the global scope shares with other global tenants only.
    name_c, key_c = tenant(stack)
    for name in (name_b, name_c):  # through the server, which forgets its cached key lookups at once
        patched = stack.admin("PATCH", f"/admin/tenants/{name}", json={"cache_scope": "global"})
        assert patched.json()["cache_scope"] == "global"
    final_output(run(stack, key_b, images(11))[1])
    before = stack.stats()
    shared = run(stack, key_c, images(11))[1]
    assert shared.x_cache == "HIT" and delta(before, stack.stats())["search_submits"] == 0
    assert run(stack, key_a, images(11))[1].x_cache == "MISS"  # A stays in its own scope
    assert output is not None


def test_global_scope_setting_shares_across_tenants(start_gateway: StartGateway) -> None:
    stack = start_gateway(cache_scope="global").stack()
    _, key_a = tenant(stack)
    _, key_b = tenant(stack)
    output = final_output(run(stack, key_a, images(20))[1])
    before = stack.stats()
    hit = run(stack, key_b, images(20))[1]
    assert hit.x_cache == "HIT" and final_output(hit) == output
    assert delta(before, stack.stats())["search_submits"] == 0


def test_scope_off_and_tenant_none_share_nothing(start_gateway: StartGateway) -> None:
    stack = start_gateway(cache_scope="off").stack()
    _, key = tenant(stack)
    before = stack.stats()
    for _ in range(2):
        assert run(stack, key, images(30))[1].x_cache == "MISS"
    assert delta(before, stack.stats())["search_submits"] == 2


def test_tenant_scope_none_overrides_the_default(start_gateway: StartGateway) -> None:
    stack = start_gateway().stack()
    name, key = tenant(stack)
    assert stack.cli_json("tenants", "update", name, "--cache-scope", "none")["cache_scope"] == "none"
    before = stack.stats()
    assert [run(stack, key, images(31))[1].x_cache for _ in range(2)] == ["MISS", "MISS"]
    assert delta(before, stack.stats())["search_submits"] == 2


def test_no_cache_forces_a_fresh_charged_search(start_gateway: StartGateway) -> None:
    stack = start_gateway().stack()
    name, key = tenant(stack)
    final_output(run(stack, key, images(40))[1])
    before = stack.stats()
    fresh_id, fresh = run(stack, key, images(40), fresh=True)
    assert fresh.x_cache == "MISS"
    final_output(fresh)
    moved = delta(before, stack.stats())
    assert (moved["search_submits"], moved["credits_spent"]) == (1, 3)
    assert stack.cli_json("tenants", "usage", name)["credits_charged"] == 6
    # The fresh result replaced the cached one: purging that search's entry leaves no hit behind.
    assert stack.admin("DELETE", f"/admin/cache/searches/{fresh_id}").json() == {"purged": 1}
    assert run(stack, key, images(40))[1].x_cache == "MISS"


def test_entries_expire_after_the_ttl(start_gateway: StartGateway) -> None:
    stack = start_gateway(cache_ttl_seconds=2).stack()
    _, key = tenant(stack)
    final_output(run(stack, key, images(50))[1])
    assert run(stack, key, images(50))[1].x_cache == "HIT"
    seen: list[str | None] = []

    def expired() -> bool:  # each probe is a real repeat search; the first one after expiry misses
        seen.append(run(stack, key, images(50))[1].x_cache)
        return seen[-1] == "MISS"

    wait_for(expired, deadline_s=30, what="the cached result to expire")
    assert set(seen[:-1]) <= {"HIT"}


def test_ttl_zero_stores_nothing(start_gateway: StartGateway) -> None:
    stack = start_gateway(cache_ttl_seconds=0).stack()
    _, key = tenant(stack)
    before = stack.stats()
    assert [run(stack, key, images(51))[1].x_cache for _ in range(2)] == ["MISS", "MISS"]
    assert delta(before, stack.stats())["search_submits"] == 2


def test_purge_by_search_tenant_and_all(start_gateway: StartGateway) -> None:
    stack = start_gateway().stack()
    name_a, key_a = tenant(stack)
    _, key_b = tenant(stack)
    first_id, _ = run(stack, key_a, images(60))
    run(stack, key_a, images(61))
    run(stack, key_b, images(62))
    hit_id, hit = run(stack, key_a, images(60))
    assert hit.x_cache == "HIT"
    assert stack.admin("DELETE", f"/admin/cache/searches/{hit_id}").json() == {"purged": 1}
    assert stack.admin("DELETE", f"/admin/cache/searches/{first_id}").json() == {"purged": 0}  # already gone
    assert run(stack, key_a, images(60))[1].x_cache == "MISS"
    assert stack.admin("DELETE", "/admin/cache", params={"tenant": name_a}).json() == {"purged": 2}
    assert run(stack, key_a, images(61))[1].x_cache == "MISS"
    assert run(stack, key_b, images(62))[1].x_cache == "HIT"  # another tenant's entries stay
    assert stack.admin("DELETE", "/admin/cache").json()["purged"] >= 2
    assert run(stack, key_b, images(62))[1].x_cache == "MISS"
    for path in ("/admin/cache/searches/unknownsearch", "/admin/cache?tenant=nobody"):
        missing = stack.admin("DELETE", path)
        assert missing.status_code == 404 and missing.json()["code"] == "NOT_FOUND"
    assert stack.admin("DELETE", "/admin/cache", token=None).status_code == 401


def test_failed_searches_are_never_cached(start_gateway: StartGateway) -> None:
    stack = start_gateway().stack()
    name, key = tenant(stack)
    stack.knobs(error_rate=1.0)
    failed = run(stack, key, images(70))[1]
    assert failed.body["code"] == "EXCEPTION" and failed.body["output"] is None
    stack.knobs(error_rate=0.0)
    before = stack.stats()
    retry = run(stack, key, images(70))[1]
    assert retry.x_cache == "MISS"
    final_output(retry)
    assert delta(before, stack.stats())["search_submits"] == 1
    assert stack.cli_json("tenants", "usage", name)["credits_charged"] == 3


def test_hit_credit_cost_goes_through_the_budget(start_gateway: StartGateway) -> None:
    stack = start_gateway(cache_hit_credit_cost=1).stack()
    name, key = tenant(stack, "--credits-per-month", "4")
    final_output(run(stack, key, images(80))[1])
    hit = run(stack, key, images(80))[1]
    assert hit.x_cache == "HIT"
    final_output(hit)
    assert stack.cli_json("tenants", "usage", name)["credits_charged"] == 4
    refused = run(stack, key, images(80))[1]
    assert refused.body["code"] == "QUOTA_EXCEEDED" and refused.body["output"] is None


def test_identical_searches_at_once_share_one_upstream_search(start_gateway: StartGateway) -> None:
    stack = start_gateway().stack()
    name, key = tenant(stack)
    ids = [new_search(stack, key, images(90, 91)) for _ in range(6)]
    before = stack.stats()
    with ThreadPoolExecutor(max_workers=len(ids)) as pool:
        replies = list(pool.map(lambda sid: ask(stack, key, sid, with_progress=False), ids))
    outputs = [final_output(r) for r in replies]
    assert all(o == outputs[0] for o in outputs)
    assert sorted(r.x_cache or "" for r in replies) == ["COALESCED"] * 5 + ["MISS"]
    assert delta(before, stack.stats())["search_submits"] == 1
    assert stack.cli_json("tenants", "usage", name)["credits_charged"] == 3


def test_inputs_deleted_upstream_once_searches_end(start_gateway: StartGateway) -> None:
    stack = start_gateway(delete_inputs_after_search=True).stack()
    _, key = tenant(stack)
    before = stack.stats()
    final_output(run(stack, key, images(100, 101))[1])
    wait_for(lambda: delta(before, stack.stats())["deletes"] == 2, deadline_s=20, what="both inputs deleted")
    hit_id, hit = run(stack, key, images(101, 100))
    assert hit.x_cache == "HIT"
    wait_for(lambda: delta(before, stack.stats())["deletes"] == 4, deadline_s=20, what="the hit's inputs deleted")
    assert final_output(ask(stack, key, hit_id)) == final_output(hit)  # the result outlives its inputs
