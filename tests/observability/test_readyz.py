"""/readyz against real parts: PostgreSQL, Redis and the sandbox upstream, each stopped in turn."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.fixtures.scrape import scrape
from tests.fixtures.services import PostgresServer, RedisServer, wait_for
from tests.fixtures.stack import Stack, fresh_database, running_stack

DEADLINE_S = 20.0


@pytest.fixture(scope="module")
def stack(
    postgres_server: PostgresServer, redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    redis_server.start_again()
    database_url = fresh_database(postgres_server, "readyz")
    tmp = tmp_path_factory.mktemp("readyz")
    extra = {"REDIS_URL": redis_server.url, "INFO_CACHE_SECONDS": "0.2", "READYZ_TIMEOUT_SECONDS": "2"}
    try:
        with running_stack(tmp, database_url, **extra) as s:
            yield s
    finally:
        postgres_server.start_again()
        redis_server.start_again()


def readyz(stack: Stack) -> tuple[int, dict[str, Any]]:
    response = requests.get(stack.url + "/readyz", timeout=10)
    body: dict[str, Any] = response.json()
    return response.status_code, body


def wait_readiness(stack: Stack, status: int, what: str) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    def reached() -> bool:
        code, body = readyz(stack)
        seen.update(body)
        return code == status

    wait_for(reached, deadline_s=DEADLINE_S, what=what)
    return seen


def test_ready_when_everything_answers(stack: Stack) -> None:
    status, body = readyz(stack)
    assert status == 200, body
    assert body == {"status": "ready", "checks": {"database": "ok", "redis": "ok", "upstream": "ok"}, "failing": []}
    s = scrape(stack.url)
    assert s.value("facecheck_gateway_database_up") == 1
    assert s.value("facecheck_gateway_redis_up") == 1


def test_upstream_down_names_upstream(stack: Stack) -> None:
    stack.sandbox.terminate()
    try:
        body = wait_readiness(stack, 503, "readyz 503 with the sandbox stopped")
        assert body["status"] == "not ready"
        assert body["failing"] == ["upstream"]
        assert body["checks"]["upstream"] == "UPSTREAM_UNAVAILABLE"
        assert body["checks"]["database"] == "ok"
    finally:
        stack.sandbox.start()
    wait_readiness(stack, 200, "readyz 200 with the sandbox back")


def test_database_down_names_database(stack: Stack, postgres_server: PostgresServer) -> None:
    postgres_server.stop()
    try:
        body = wait_readiness(stack, 503, "readyz 503 with PostgreSQL stopped")
        assert body["failing"] == ["database"]
        assert body["checks"]["database"] in {"unreachable", "timeout"}
        assert scrape(stack.url).value("facecheck_gateway_database_up") == 0
    finally:
        postgres_server.start_again()
    wait_readiness(stack, 200, "readyz 200 with PostgreSQL back")
    assert scrape(stack.url).value("facecheck_gateway_database_up") == 1


def test_redis_down_names_redis(stack: Stack, redis_server: RedisServer) -> None:
    redis_server.stop()
    try:
        body = wait_readiness(stack, 503, "readyz 503 with Redis stopped")
        assert body["failing"] == ["redis"]
        assert scrape(stack.url).value("facecheck_gateway_redis_up") == 0
    finally:
        redis_server.start_again()
    wait_readiness(stack, 200, "readyz 200 with Redis back")


def test_readyz_says_nothing_secret(stack: Stack) -> None:
    stack.sandbox.terminate()
    try:
        wait_readiness(stack, 503, "readyz 503 with the sandbox stopped")
        text = requests.get(stack.url + "/readyz", timeout=10).text
    finally:
        stack.sandbox.start()
    for secret in (stack.env["FACECHECK_API_TOKEN"], stack.env["GATEWAY_SECRET"], stack.env["DATABASE_URL"],
                   stack.sandbox.base_url, "127.0.0.1"):  # fmt: skip
        assert secret not in text
