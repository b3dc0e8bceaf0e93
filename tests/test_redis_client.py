"""The Redis factory: one builder for each REDIS_MODE, and settings that refuse an incomplete
sentinel configuration at start rather than at the first spending call."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError
from redis.asyncio import Redis, RedisCluster
from redis.asyncio.sentinel import SentinelConnectionPool

from app.config import Settings
from app.redis_client import build_client, build_listener


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)


def test_no_url_means_no_redis() -> None:
    assert build_client(settings()) is None
    assert build_listener(settings()) is None


async def test_standalone_and_cluster_clients_have_short_timeouts_and_no_retries() -> None:
    standalone = build_client(settings(redis_url="redis://127.0.0.1:1/0", redis_timeout_seconds=0.25))
    assert isinstance(standalone, Redis)
    assert standalone.connection_pool.connection_kwargs["socket_timeout"] == 0.25
    retry = standalone.get_retry()
    assert retry is not None and retry.get_retries() == 0
    cluster = build_client(settings(redis_mode="cluster", redis_url="redis://127.0.0.1:1", redis_timeout_seconds=0.25))
    assert isinstance(cluster, RedisCluster)
    assert cluster.retry.get_retries() == 0
    for client in (standalone, cluster):
        await client.aclose()


async def test_sentinel_client_takes_password_db_and_tls_from_the_url() -> None:
    client = build_client(settings(
        redis_mode="sentinel", redis_url="rediss://:pw@primary/3", redis_sentinels="10.0.0.1:26379, [::1]:26380",
        redis_sentinel_master="gateway", redis_sentinel_password="sentinel-pw",
    ))  # fmt: skip
    assert isinstance(client, Redis)
    pool = client.connection_pool
    assert isinstance(pool, SentinelConnectionPool)
    assert pool.service_name == "gateway"
    assert pool.connection_kwargs["password"] == "pw" and pool.connection_kwargs["db"] == 3
    assert "SSL" in pool.connection_class.__name__
    sentinels = pool.sentinel_manager.sentinels
    assert [s.connection_pool.connection_kwargs["port"] for s in sentinels] == [26379, 26380]
    assert all(s.connection_pool.connection_kwargs["password"] == "sentinel-pw" for s in sentinels)
    await client.aclose()


@pytest.mark.parametrize("values", [
    {"redis_sentinels": "", "redis_sentinel_master": "gateway"},
    {"redis_sentinels": "10.0.0.1:26379", "redis_sentinel_master": ""},
    {"redis_sentinels": "10.0.0.1", "redis_sentinel_master": "gateway"},
])  # fmt: skip
def test_incomplete_sentinel_settings_refuse_to_start(values: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        settings(redis_mode="sentinel", redis_url="redis://gateway/0", **values)
