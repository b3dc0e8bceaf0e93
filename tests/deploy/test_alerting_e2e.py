"""Alerts end to end: two replicas on PostgreSQL and Redis, a real Prometheus scraping them every
second with the shipped rules (windows and `for` shortened), a real Alertmanager sending to a
receiver served here. A tenant past 80 % of its budget and an upstream gone both reach the
receiver, and resolve once the cause is gone; every dashboard query returns series, and none
stays at 0 while its counters moved."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial

import pytest

from tests.fixtures.alerting import Prometheus, monitoring
from tests.fixtures.api import search, upload
from tests.fixtures.images import make_image
from tests.fixtures.processes import start_gateway, start_sandbox
from tests.fixtures.replicas import Replicas
from tests.fixtures.scrape import dashboard_queries
from tests.fixtures.services import PostgresServer, RedisServer, wait_for
from tests.fixtures.stack import gateway_env, sandbox_env
from tests.fixtures.webhooks import Receiver, budgeted_tenant, serve_receiver

_COUNTER = re.compile(r"\bfacecheck_gateway_[a-z0-9_]+_(?:total|bucket)\b")


@dataclass
class Monitored:
    replicas: Replicas
    prometheus: Prometheus
    alerts: Receiver


@pytest.fixture(scope="module")
def monitored(
    tmp_path_factory: pytest.TempPathFactory, postgres_server: PostgresServer, redis_server: RedisServer
) -> Iterator[Monitored]:
    postgres_server.start_again()
    redis_server.start_again()
    name = f"m_{uuid.uuid4().hex[:12]}"
    postgres_server.create_database(name)
    tmp = tmp_path_factory.mktemp("alerting")
    sandbox = start_sandbox(tmp, env={**sandbox_env(), "SANDBOX_INITIAL_CREDITS": "100000"}, cwd=tmp)
    env = gateway_env(
        tmp, sandbox.base_url, postgres_server.url(name), REDIS_URL=redis_server.url,
        REDIS_KEY_PREFIX=f"m{uuid.uuid4().hex[:6]}", NOTIFY_INTERVAL_SECONDS="0.5", BALANCE_REFRESH_SECONDS="0.5",
        TRACKER_INTERVAL_SECONDS="0.5", INFO_CACHE_SECONDS="0", UPSTREAM_TIMEOUT_SECONDS="1",
    )  # fmt: skip
    replicas = Replicas(tmp, sandbox, [], env, name)
    try:
        replicas.gateways.extend(start_gateway(tmp, env=env, cwd=tmp) for _ in range(2))
        targets = [g.base_url.removeprefix("http://") for g in replicas.gateways]
        with serve_receiver() as alerts, monitoring(tmp, targets, alerts.url) as prometheus:
            yield Monitored(replicas, prometheus, alerts)
    finally:
        replicas.stop()


def notified(alerts: Receiver, status: str, alertname: str, **labels: str) -> bool:
    """Whether Alertmanager has sent this alert with this status (firing or resolved)."""
    with alerts.lock:
        sent = [a for r in alerts.received for a in r.json["alerts"]]
    return any(a["status"] == status and a["labels"]["alertname"] == alertname
               and all(a["labels"].get(k) == v for k, v in labels.items()) for a in sent)  # fmt: skip


def wait_alert(alerts: Receiver, status: str, alertname: str, **labels: str) -> None:
    wait_for(lambda: notified(alerts, status, alertname, **labels), deadline_s=60,
             what=f"{alertname} {labels} {status} at the receiver")


def searches(m: Monitored, key: str, seeds: range) -> list[dict[str, object]]:
    out = []
    for i, seed in enumerate(seeds):
        stack = m.replicas.stack(i % 2)
        body = upload(stack, key, make_image(seed))
        assert body["error"] is None, body
        out.append(search(stack, key, body["id_search"], with_progress=False))
    return out


def test_dashboard_queries_return_series_and_follow_their_counters(monitored: Monitored) -> None:
    m, prom = monitored, monitored.prometheus
    stack = m.replicas.stack()
    tenant, key = budgeted_tenant(stack, 6, "dash")
    # The tenant's series exist at 0 on both replicas before its first search, so nothing is lost to rate().
    wait_for(lambda: len(prom.query(f'facecheck_gateway_credits_charged_total{{tenant="{tenant}"}} == 0')) == 2,
             deadline_s=30, what="the tenant's counters born at 0 on both replicas")
    start = time.time()
    names = {n for q in dashboard_queries() for n in _COUNTER.findall(q)}
    before = {n: prom.value(f"sum({n})") for n in names}
    done = searches(m, key, range(8100, 8102))  # the whole budget: 6 credits
    assert all(b["progress"] == 100 for b in done), done
    repeat = searches(m, key, range(8100, 8101))[0]  # the same face again: a cache hit, credits saved
    assert repeat["progress"] == 100, repeat
    refused = searches(m, key, range(8150, 8151))  # over budget: a quota rejection
    assert refused[0]["code"] == "QUOTA_EXCEEDED", refused
    moved = {n for n in names if wait_moved(prom, n, before[n])}
    assert {"facecheck_gateway_credits_charged_total", "facecheck_gateway_cache_credits_saved_total",
            "facecheck_gateway_quota_rejections_total"} <= moved  # fmt: skip
    end = time.time() + 2
    rng = f"{int(end - start) + 5}s"
    grafana = {"$__rate_interval": "5s", "$__range": rng, "$tenant": ".*"}
    for query in dashboard_queries():
        expr = query
        for variable, value in grafana.items():
            expr = expr.replace(variable, value)
        wait_for(partial(has_series, prom, expr), deadline_s=20, what=f"series for {query}")
        counters = set(_COUNTER.findall(query))
        if counters and counters <= moved:  # every counter it reads moved (a ratio's numerator too)
            series = prom.query_range(expr, start, time.time())
            values = [float(v) for s in series for _, v in s["values"] if v not in ("NaN", "+Inf", "-Inf")]
            assert any(v > 0 for v in values), f"stays at 0 while its counter moved: {query}"


def has_series(prom: Prometheus, expr: str) -> bool:
    return bool(prom.query(expr))


def wait_moved(prom: Prometheus, name: str, before: float) -> bool:
    """Whether the counter's sum grew (given a few scrapes to show it); False if it never does."""
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        if prom.value(f"sum({name})") > before:
            return True
        time.sleep(0.5)  # paced: Prometheus scrapes every second
    return False


def test_budget_and_upstream_alerts_fire_and_resolve(monitored: Monitored) -> None:
    m = monitored
    stack = m.replicas.stack()
    tenant, key = budgeted_tenant(stack, 14, "alert")
    searches(m, key, range(8200, 8204))  # 12 of 14 credits: past 80 %, not yet 100 %
    wait_alert(m.alerts, "firing", "TenantBudgetNearlySpent", tenant=tenant)
    m.replicas.sandbox.terminate()  # FaceCheck goes away
    try:
        wait_alert(m.alerts, "firing", "UpstreamUnavailable")
    finally:
        m.replicas.sandbox.start()
    stack.admin("PATCH", f"/admin/tenants/{tenant}", json={"credits_per_month": 1000}).raise_for_status()
    wait_alert(m.alerts, "resolved", "TenantBudgetNearlySpent", tenant=tenant)
    wait_alert(m.alerts, "resolved", "UpstreamUnavailable")
