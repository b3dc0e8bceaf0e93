"""Several worker processes, one /metrics: whichever worker answers a scrape reports every worker's
counts (prometheus_client multiprocess mode, prepared by `serve`)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.fixtures.processes import start_gateway, start_sandbox
from tests.fixtures.scrape import Scrape, dashboard_metric_names, scrape
from tests.fixtures.services import RedisServer
from tests.fixtures.stack import Stack, gateway_env, sandbox_env

PREFIX = "facecheck_gateway_"
BATCH = 24
MAX_BATCHES = 10


@pytest.fixture(scope="module")
def stack(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    redis_server.start_again()
    tmp = tmp_path_factory.mktemp("workers")
    sandbox = start_sandbox(tmp, env=sandbox_env(), cwd=tmp)
    env = gateway_env(tmp, sandbox.base_url, REDIS_URL=redis_server.url)
    try:
        gateway = start_gateway(tmp, env=env, workers=2, cwd=tmp)
    except BaseException:
        sandbox.terminate()
        raise
    try:
        yield Stack(tmp=tmp, sandbox=sandbox, gateway=gateway, env=env)
    finally:
        gateway.terminate()
        sandbox.terminate()


def info_per_worker(s: Scrape) -> dict[str, float]:
    return {labels["pid"]: s.value(PREFIX + "worker_requests", **labels)
            for labels in s.series(PREFIX + "worker_requests") if labels["route"] == "/api/info"}  # fmt: skip


def test_counts_from_both_workers_are_summed(stack: Stack) -> None:
    tenant, key = stack.new_tenant("workers")

    def call(_: int) -> int:
        # A fresh connection each time (no session), so the kernel spreads them over the workers.
        response = requests.post(stack.url + "/api/info", headers={"Authorization": key}, timeout=30)
        assert response.json().get("is_online") is True, response.text
        return 1

    sent = 0
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(MAX_BATCHES):
            sent += sum(pool.map(call, range(BATCH)))
            served = info_per_worker(scrape(stack.url))
            if len(served) >= 2 and all(count > 0 for count in served.values()):
                break
    assert len(served) == 2 and all(count > 0 for count in served.values()), served
    assert sum(served.values()) == sent

    for _ in range(4):  # successive scrapes may be answered by either worker: each sees the total
        s = scrape(stack.url)
        assert s.value(PREFIX + "requests_total", route="/api/info", method="POST", status="200", tenant=tenant) == sent
        # Upstream saw at most one info call per request: each worker reuses an answer for
        # INFO_CACHE_SECONDS, and the trackers read the balance too.
        assert 1 <= s.value(PREFIX + "upstream_requests_total", endpoint="info", outcome="ok") <= sent + 2


def test_dashboard_metrics_exist_before_any_use_with_several_workers(stack: Stack) -> None:
    """Files only exist for series a worker touched; the rest must still be named in /metrics."""
    missing = dashboard_metric_names() - scrape(stack.url).names
    assert not missing, sorted(missing)


def test_configured_folder_from_env_file_with_one_worker(stack: Stack, tmp_path: Path) -> None:
    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "counter_1.db").write_bytes(b"left over by an earlier run")  # must be cleared at start
    (tmp_path / ".env").write_text(f"PROMETHEUS_MULTIPROC_DIR={folder}\n")
    env = gateway_env(tmp_path, stack.sandbox.base_url)
    gateway = start_gateway(tmp_path, env=env, cwd=tmp_path)
    try:
        requests.post(gateway.base_url + "/api/info", headers={"Authorization": "fcg_unknown"}, timeout=30)
        assert any(folder.glob("counter_*.db"))
        assert not (folder / "counter_1.db").exists()
        s = scrape(gateway.base_url)
        assert s.value(PREFIX + "errors_total", route="/api/info", code="INVALID_TOKEN", tenant="-") == 1
    finally:
        gateway.terminate()


def test_an_empty_folder_setting_means_none(stack: Stack, tmp_path: Path) -> None:
    """An env file copied from .env.example exports `PROMETHEUS_MULTIPROC_DIR=` (empty)."""
    env = gateway_env(tmp_path, stack.sandbox.base_url, PROMETHEUS_MULTIPROC_DIR="")
    gateway = start_gateway(tmp_path, env=env, cwd=tmp_path)
    try:
        requests.post(gateway.base_url + "/api/info", headers={"Authorization": "fcg_unknown"}, timeout=30)
        s = scrape(gateway.base_url)
        assert s.value(PREFIX + "errors_total", route="/api/info", code="INVALID_TOKEN", tenant="-") == 1
    finally:
        gateway.terminate()
