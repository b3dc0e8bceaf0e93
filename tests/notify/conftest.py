"""Two gateway replicas on one PostgreSQL and one Redis, with budget checks and retries fast enough
for a test, and a webhook receiver served by the test: shared by the module's tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.fixtures.processes import start_gateway, start_sandbox
from tests.fixtures.replicas import Replicas
from tests.fixtures.services import PostgresServer, RedisServer
from tests.fixtures.stack import gateway_env, sandbox_env
from tests.fixtures.webhooks import Receiver, serve_receiver

FAST_NOTIFY = {
    "NOTIFY_INTERVAL_SECONDS": "0.5", "WEBHOOK_RETRY_SECONDS": "0.3", "WEBHOOK_TIMEOUT_SECONDS": "2",
    "WEBHOOK_MAX_ATTEMPTS": "5",
}  # fmt: skip


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with serve_receiver() as r:
        yield r


@pytest.fixture(scope="module")
def pair(
    tmp_path_factory: pytest.TempPathFactory, postgres_server: PostgresServer, redis_server: RedisServer
) -> Iterator[Replicas]:
    postgres_server.start_again()
    redis_server.start_again()
    name = f"n_{uuid.uuid4().hex[:12]}"
    postgres_server.create_database(name)
    tmp = tmp_path_factory.mktemp("notify")
    sandbox = start_sandbox(tmp, env={**sandbox_env(), "SANDBOX_INITIAL_CREDITS": "100000"}, cwd=tmp)
    env = gateway_env(tmp, sandbox.base_url, postgres_server.url(name), REDIS_URL=redis_server.url,
                      REDIS_KEY_PREFIX=f"n{uuid.uuid4().hex[:6]}", **FAST_NOTIFY)
    replicas = Replicas(tmp, sandbox, [], env, name)
    try:
        replicas.gateways.extend(start_gateway(tmp, env=env, cwd=tmp) for _ in range(2))
        yield replicas
    finally:
        replicas.stop()
