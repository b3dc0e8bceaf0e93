"""/metrics after a scripted sequence of calls against the real stack shows exactly what happened.

Counters are compared as deltas around each script (other tests in the module share the gateway),
and upstream counts against the sandbox's own tally of what reached it. Cache hits, quota rejections
and credits are not asserted: the features that move them do not exist yet.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from tests.fixtures.api import delta as stats_delta
from tests.fixtures.api import search, upload
from tests.fixtures.images import make_image
from tests.fixtures.processes import start_gateway
from tests.fixtures.scrape import Scrape, dashboard_metric_names, delta, scrape
from tests.fixtures.services import wait_for
from tests.fixtures.stack import SANDBOX_DEFAULTS, Stack, gateway_env, running_stack

PREFIX = "facecheck_gateway_"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    # Every info call goes upstream (no reuse), and the balance is read once, at start.
    with running_stack(tmp_path_factory.mktemp("metrics"), INFO_CACHE_SECONDS="0",
                       BALANCE_REFRESH_SECONDS="3600") as s:
        wait_for(lambda: s.stats()["info_calls"] >= 1, deadline_s=30, what="the tracker's first balance read")
        yield s


@pytest.fixture
def knobs_back(stack: Stack) -> Iterator[Stack]:
    yield stack
    stack.knobs(**SANDBOX_DEFAULTS)


def requests_for(s: Scrape, route: str, tenant: str, status: str = "200") -> float:
    return s.value(PREFIX + "requests_total", route=route, method="POST", status=status, tenant=tenant)


def test_scripted_sequence_gives_exact_counts(knobs_back: Stack) -> None:
    stack = knobs_back
    tenant, key = stack.new_tenant("metrics")
    before, sandbox_before = scrape(stack.url), stack.stats()

    # A search that finishes: upload, submit, then wait for the result.
    sid = upload(stack, key, make_image(701))["id_search"]
    assert search(stack, key, sid)["error"] is None
    assert search(stack, key, sid, with_progress=False)["progress"] == 100
    info = stack.post("/api/info", key).json()
    # Upstream answers 5xx: the upload is not retried, info (idempotent) is retried once.
    stack.knobs(http_5xx_rate=1.0)
    assert upload(stack, key, make_image(702))["code"] == "UPSTREAM_UNAVAILABLE"
    assert stack.post("/api/info", key).json()["code"] == "UPSTREAM_UNAVAILABLE"
    # Upstream back, but the next search fails in-band.
    stack.knobs(http_5xx_rate=0.0, error_rate=1.0)
    failing = upload(stack, key, make_image(703))["id_search"]
    assert search(stack, key, failing, with_progress=False)["code"] == "EXCEPTION"
    # A caller with a wrong key.
    assert stack.post("/api/info", "fcg_not-a-real-key").json()["code"] == "INVALID_TOKEN"
    # A tenant with no budget left: refused before anything reaches upstream.
    broke = stack.cli_json("tenants", "create", f"broke-{tenant}", "--credits-per-month", "0")["name"]
    broke_key = stack.cli_json("keys", "create", broke)["key"]
    unpaid = upload(stack, broke_key, make_image(704))["id_search"]
    assert search(stack, broke_key, unpaid)["code"] == "QUOTA_EXCEEDED"

    after, moved = scrape(stack.url), stats_delta(sandbox_before, stack.stats())

    def d(name: str, **labels: str) -> float:
        return delta(before, after, PREFIX + name, **labels)

    assert requests_for(after, "/api/upload_pic", tenant) == 3
    assert requests_for(after, "/api/search", tenant) == 3
    assert requests_for(after, "/api/info", tenant) == 2
    assert d("requests_total", route="/api/info", method="POST", status="200", tenant="-") == 1
    for route, code in (("/api/upload_pic", "UPSTREAM_UNAVAILABLE"), ("/api/info", "UPSTREAM_UNAVAILABLE"),
                        ("/api/search", "EXCEPTION")):  # fmt: skip
        assert after.value(PREFIX + "errors_total", route=route, code=code, tenant=tenant) == 1
    assert after.total(PREFIX + "errors_total", tenant=tenant) == 3
    assert d("errors_total", route="/api/info", code="INVALID_TOKEN", tenant="-") == 1

    assert after.value(PREFIX + "searches_submitted_total", tenant=tenant, demo="false") == 2
    assert after.value(PREFIX + "searches_finished_total", tenant=tenant, demo="false") == 1
    assert after.value(PREFIX + "searches_failed_total", tenant=tenant, demo="false") == 1
    assert after.value(PREFIX + "credits_reserved_total", tenant=tenant) == 6
    assert after.value(PREFIX + "credits_charged_total", tenant=tenant) == 3
    assert after.value(PREFIX + "credits_refunded_total", tenant=tenant) == 3
    assert after.value(PREFIX + "quota_rejections_total", tenant=broke, code="QUOTA_EXCEEDED") == 1
    assert after.total(PREFIX + "quota_rejections_total", tenant=tenant) == 0

    # Upstream, attempt by attempt, against the sandbox's own count.
    assert moved["uploads"] == 3 and d("upstream_requests_total", endpoint="upload_pic", outcome="ok") == 3
    assert moved["search_submits"] == 2 and d("upstream_requests_total", endpoint="search", outcome="ok") == 2
    assert moved["info_calls"] == 1 and d("upstream_requests_total", endpoint="info", outcome="ok") == 1
    assert moved["http_5xx"] == 3
    assert d("upstream_requests_total", endpoint="upload_pic", outcome="http_error") == 1
    assert d("upstream_requests_total", endpoint="info", outcome="http_error") == 2
    assert d("upstream_requests_total", endpoint="search_status", outcome="error") == 1
    polls = d("upstream_requests_total", endpoint="search_status", outcome="ok") + 1
    assert polls == moved["status_polls"] >= 2
    for endpoint, calls in (("upload_pic", 4), ("search", 2), ("search_status", polls), ("info", 3)):
        assert d("upstream_request_duration_seconds_count", endpoint=endpoint) == calls

    for route, calls in (("/api/upload_pic", 4), ("/api/search", 4), ("/api/info", 3)):
        assert d("request_duration_seconds_count", route=route) == calls
        assert d("gateway_overhead_seconds_count", route=route) == calls
        assert d("gateway_overhead_seconds_sum", route=route) < d("request_duration_seconds_sum", route=route)

    assert after.value(PREFIX + "upstream_balance_credits") == info["remaining_credits"]
    assert after.value(PREFIX + "upstream_indexed_faces") == info["faces"]
    assert after.value(PREFIX + "database_up") == 1


def test_every_response_carries_request_id_and_overhead(stack: Stack) -> None:
    _, key = stack.new_tenant("hdr")
    responses = [
        stack.post("/api/info", key),
        stack.post("/api/info", "fcg_wrong"),
        stack.post("/api/nope", key),
        requests.get(stack.url + "/api/info", timeout=10),
        requests.get(stack.url + "/healthz", timeout=10),
        requests.get(stack.url + "/metrics", timeout=10),
        stack.post("/api/upload_pic", key, data=b"x" * (14 * 1024 * 1024)),  # refused by the body limit
    ]
    for response in responses:
        assert response.headers["X-Request-ID"]
        assert float(response.headers["X-Gateway-Overhead-Ms"]) >= 0, response.headers


def test_metrics_need_no_key_and_carry_no_secret_or_raw_path(stack: Stack) -> None:
    _, key = stack.new_tenant("leak")
    sid = upload(stack, key, make_image(704))["id_search"]
    stack.post("/api/search", key, json={"id_search": sid, "status_only": True})
    stack.post(f"/api/delete_pic?id_search={sid}&id_pic=nope", key)
    stack.post(f"/api/no-such-thing/{sid}", key)
    text = scrape(stack.url).text
    for secret in (key, sid, stack.env["FACECHECK_API_TOKEN"], stack.env["GATEWAY_SECRET"]):
        assert secret not in text
    routes = {labels["route"] for labels in scrape(stack.url).series(PREFIX + "requests_total")}
    assert "unmatched" in routes
    assert all(route == "unmatched" or "?" not in route for route in routes)
    assert routes <= {"unmatched", "/api/upload_pic", "/api/search", "/api/delete_pic", "/api/info",
                      "/healthz", "/readyz", "/metrics"}  # fmt: skip


def test_dashboard_queries_name_only_exposed_metrics(stack: Stack) -> None:
    used = dashboard_metric_names()
    assert len(used) >= 20
    missing = used - scrape(stack.url).names
    assert not missing, f"dashboard queries metrics /metrics does not expose: {sorted(missing)}"


def test_metrics_can_be_switched_off(stack: Stack) -> None:
    env = gateway_env(stack.tmp / "off", stack.sandbox.base_url, METRICS_ENABLED="false")
    gateway = start_gateway(stack.tmp / "off", env=env, cwd=stack.tmp)
    try:
        assert requests.get(gateway.base_url + "/metrics", timeout=10).status_code == 404
        assert requests.get(gateway.base_url + "/readyz", timeout=10).status_code == 200
    finally:
        gateway.terminate()
