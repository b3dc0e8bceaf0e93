"""The one place Redis clients are built, for each way Redis is run (REDIS_MODE):

- `standalone`: one node at REDIS_URL.
- `cluster`: REDIS_URL names any node; the client learns the others and follows MOVED/ASK. Every
  gateway key carries the `{prefix}` hash tag, so a script's keys all live in one slot.
- `sentinel`: the primary is asked of REDIS_SENTINELS under REDIS_SENTINEL_MASTER on every new
  connection, so a promotion is followed as soon as the old connections fail. REDIS_URL then gives
  only the primary's credentials, database and TLS (`rediss://`); its host is not used.

The command client has short timeouts and never retries: a spending call that cannot reach Redis
fails fast (SERVICE_UNAVAILABLE), and a retried script could not prove it had not already run. The
listener client has no read timeout, since pub/sub waits for messages indefinitely.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, TypeAlias

from redis.asyncio import Redis, RedisCluster
from redis.asyncio.client import PubSub
from redis.asyncio.connection import ConnectionPool, parse_url
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import NoBackoff

from app.config import Settings
from app.store_errors import UNAVAILABLE

RedisClient: TypeAlias = Redis | RedisCluster


class _Cluster(RedisCluster):
    """redis-py's cluster client learns the topology lazily, and calls that start together while it
    does can fail with connection errors (which, retries being off, reach the caller). The first
    caller learns it while the others wait; so does the first caller after a node was lost."""

    _learning: asyncio.Lock | None = None

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        if self._initialize:
            if self._learning is None:
                self._learning = asyncio.Lock()
            async with self._learning:
                await self.initialize()
        return await super().execute_command(*args, **kwargs)


def _no_retry() -> Retry:
    return Retry(NoBackoff(), 0)


def _sentinel(settings: Settings, timeout: float | None) -> tuple[Sentinel, dict[str, Any]]:
    """Sentinels plus the primary's connection options taken from REDIS_URL (credentials, db, TLS)."""
    options: dict[str, Any] = dict(parse_url(settings.redis_url))
    options.pop("host", None)
    options.pop("port", None)
    tls = options.pop("connection_class", None) is not None and settings.redis_url.startswith("rediss")
    if tls:
        options["ssl"] = True
    password = settings.redis_sentinel_password
    sentinel_options: dict[str, Any] = {
        "socket_timeout": settings.redis_timeout_seconds,
        "socket_connect_timeout": settings.redis_timeout_seconds,
        "password": password.get_secret_value() if password is not None else None,
        "ssl": tls,
        **{name: value for name, value in options.items() if tls and name.startswith("ssl_")},  # CA, certs
    }
    sentinel = Sentinel(settings.sentinel_addresses, sentinel_kwargs=sentinel_options,
                        socket_timeout=timeout, socket_connect_timeout=settings.redis_timeout_seconds)  # type: ignore[no-untyped-call]
    return sentinel, options


def build_client(settings: Settings) -> RedisClient | None:
    """The command client every Redis-backed store shares; None when REDIS_URL is empty."""
    if not settings.redis_url:
        return None
    timeout = settings.redis_timeout_seconds
    if settings.redis_mode == "cluster":
        cluster: RedisCluster = _Cluster.from_url(settings.redis_url, socket_timeout=timeout,
                                                  socket_connect_timeout=timeout, retry=_no_retry())
        return cluster
    if settings.redis_mode == "sentinel":
        sentinel, options = _sentinel(settings, timeout)
        master: Redis = sentinel.master_for(settings.redis_sentinel_master, redis_class=Redis,
                                            retry=_no_retry(), **options)
        return master
    return Redis.from_url(settings.redis_url, socket_timeout=timeout, socket_connect_timeout=timeout,
                          retry=_no_retry())


class Subscriber:
    """Opens the pub/sub connection a listener waits on; a new one after each loss.

    In a cluster, a classic PUBLISH reaches every node, so the listener subscribes on any node that
    answers, trying the next one the cluster reports when it loses its node."""

    def __init__(self, client: RedisClient) -> None:
        self._client = client
        self._nodes: dict[str, Redis] = {}
        self._turn = 0

    async def pubsub(self) -> PubSub:
        if isinstance(self._client, Redis):
            return self._client.pubsub()
        with contextlib.suppress(*UNAVAILABLE):
            await self._client.initialize()  # the topology as it is now, after a node loss
        nodes = self._client.get_nodes() or [self._client.get_default_node()]
        node = nodes[self._turn % len(nodes)]
        self._turn += 1
        if node.name not in self._nodes:
            kwargs = {**node.connection_kwargs, "socket_timeout": None}
            self._nodes[node.name] = Redis(connection_pool=ConnectionPool(**kwargs))
        return self._nodes[node.name].pubsub()

    async def aclose(self) -> None:
        for node in self._nodes.values():
            await node.aclose()
        await self._client.aclose()


def build_listener(settings: Settings) -> Subscriber | None:
    """The pub/sub client (key-cache invalidation): same topology, no read timeout."""
    if not settings.redis_url:
        return None
    if settings.redis_mode == "cluster":
        return Subscriber(RedisCluster.from_url(settings.redis_url, socket_timeout=None,
                                                socket_connect_timeout=settings.redis_timeout_seconds,
                                                retry=_no_retry()))
    if settings.redis_mode == "sentinel":
        sentinel, options = _sentinel(settings, None)
        return Subscriber(sentinel.master_for(settings.redis_sentinel_master, redis_class=Redis, **options))
    return Subscriber(Redis.from_url(settings.redis_url))
