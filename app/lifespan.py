"""Builds and closes every shared resource, once per process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

import httpx
from fastapi import FastAPI

from app.audit.chain import chain_key
from app.audit.spool import Spool
from app.audit.writer import AuditWriter
from app.cache.redis_store import RedisCacheStore
from app.cache.service import ResultCache
from app.cache.status_checks import StatusChecks
from app.cache.store import CacheStore, MemoryCacheStore
from app.clock import Clock
from app.config import EMBEDDED_SANDBOX_TOKEN, Settings
from app.db import Database
from app.facecheck import ledger
from app.facecheck.lifecycle import SearchLifecycle
from app.facecheck.purge import CachePurge
from app.facecheck.service import SearchService, SearchSettings
from app.facecheck.sharing import SearchSharing, SharingSettings
from app.facecheck.tracker import Tracker
from app.ledger.service import LedgerService
from app.notify.service import NotifyService
from app.notify.watch import BudgetWatch, build_notify
from app.observability.exposition import worker_exited
from app.observability.logging import configure_logging
from app.observability.readiness import Readiness
from app.quotas.memory import MemoryStore
from app.quotas.redis_store import RedisStore
from app.quotas.service import QuotaService
from app.quotas.storage import QuotaStore
from app.redis_client import RedisClient, build_client, build_listener
from app.sandbox import SandboxConfig, create_sandbox_app
from app.tenants.auth import Authenticator
from app.tenants.keycache import KeyCache, channel_for
from app.tenants.service import TenantService
from app.tenants.throttle import AuthThrottle, MemoryThrottle, RedisThrottle
from app.upstream.balance import BalanceRecorder
from app.upstream.circuit import CircuitBreaker
from app.upstream.client import UpstreamClient
from app.upstream.info import UpstreamInfo


@dataclass
class Resources:
    settings: Settings
    db: Database
    http: httpx.AsyncClient
    redis: RedisClient | None
    tenants: TenantService
    auth: Authenticator
    key_cache: KeyCache
    upstream_info: UpstreamInfo
    quotas: QuotaService
    cache: ResultCache
    purge: CachePurge
    searches: SearchService
    audit: AuditWriter
    tracker: Tracker
    readiness: Readiness
    notify: NotifyService
    budget_watch: BudgetWatch
    ledger: LedgerService


def sandbox_config(settings: Settings, tokens: list[str]) -> SandboxConfig:
    return SandboxConfig(
        tokens=tokens,
        initial_credits=settings.sandbox_initial_credits,
        queue_seconds=settings.sandbox_queue_seconds,
        search_seconds=settings.sandbox_search_seconds,
        latency_ms=settings.sandbox_latency_ms,
        error_rate=settings.sandbox_error_rate,
        url_shape=settings.sandbox_url_shape,
    )


def build_upstream_http(settings: Settings) -> tuple[httpx.AsyncClient, str]:
    """The real FaceCheck over HTTP when a token is set; otherwise the simulator, in-process."""
    timeout = httpx.Timeout(settings.upstream_timeout_seconds, connect=settings.upstream_connect_timeout_seconds)
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
    if settings.facecheck_api_token is not None:
        client = httpx.AsyncClient(base_url=settings.facecheck_base_url, timeout=timeout, limits=limits)
        return client, settings.facecheck_api_token.get_secret_value()
    sandbox = create_sandbox_app(sandbox_config(settings, [EMBEDDED_SANDBOX_TOKEN]))
    transport = httpx.ASGITransport(app=sandbox)
    client = httpx.AsyncClient(transport=transport, base_url="http://sandbox.internal", timeout=timeout)
    return client, EMBEDDED_SANDBOX_TOKEN


def build_redis(settings: Settings) -> RedisClient | None:
    """Short timeouts and no retries: an unreachable Redis must fail a spending call fast."""
    return build_client(settings)


def build_key_cache(settings: Settings, clock: Clock, redis: RedisClient | None) -> KeyCache:
    return KeyCache(clock, settings.key_cache_seconds, redis, channel_for(settings.redis_key_prefix))


def build_auth(
    settings: Settings, clock: Clock, db: Database, redis: RedisClient | None
) -> tuple[TenantService, Authenticator, KeyCache]:
    cache = build_key_cache(settings, clock, redis)
    limit, window = settings.auth_failure_limit, settings.auth_failure_window_seconds
    throttle: AuthThrottle = (RedisThrottle(redis, settings.redis_key_prefix, limit, window) if redis is not None
                              else MemoryThrottle(clock, limit, window))
    tenants = TenantService(db, settings.secret_bytes, clock, ledger, cache.changed)
    admin = settings.admin_token.get_secret_value() if settings.admin_token else None
    auth = Authenticator(tenants.keys, cache, throttle, settings.secret_bytes, clock, admin)
    return tenants, auth, cache


def build_resources(settings: Settings, clock: Clock) -> Resources:
    db = Database(settings.effective_database_url)
    http, token = build_upstream_http(settings)
    redis = build_redis(settings)
    circuit = CircuitBreaker(clock, failure_threshold=settings.circuit_failure_threshold,
                             open_seconds=settings.circuit_open_seconds)
    upstream = UpstreamClient(http, token, circuit=circuit)
    info = UpstreamInfo(upstream, clock, settings.info_cache_seconds,
                        BalanceRecorder(db, clock, settings.ledger_record_seconds))
    store: QuotaStore = RedisStore(redis, settings.redis_key_prefix) if redis is not None else MemoryStore()
    quotas = QuotaService(store, db, ledger, clock, info.balance, search_price=settings.search_credit_cost,
                          fail_mode=settings.quota_fail_mode,
                          max_concurrent_searches=settings.upstream_max_concurrent_searches)
    audit = AuditWriter(db, Spool(settings.spool_dir), chain_key(settings.secret_bytes), clock,
                        postgres=not settings.is_sqlite, retention_days=settings.audit_retention_days,
                        replay_interval=settings.audit_replay_interval_seconds)
    cache_store: CacheStore = (RedisCacheStore(redis, settings.redis_key_prefix) if redis is not None
                               else MemoryCacheStore(clock, settings.cache_max_bytes))
    cache = ResultCache(cache_store, settings.cache_ttl_seconds)
    status_checks = StatusChecks(cache_store, upstream, clock, poll_interval=settings.upstream_poll_interval_seconds,
                                 upstream_timeout=settings.upstream_timeout_seconds)
    lifecycle = SearchLifecycle(db, upstream, quotas, status_checks, cache, audit, clock,
                                upstream_timeout=settings.upstream_timeout_seconds,
                                result_urls=settings.audit_result_urls,
                                delete_inputs=settings.delete_inputs_after_search)
    sharing = SearchSharing(lifecycle, cache, audit, db, clock, SharingSettings(
        settings.cache_scope, settings.secret_bytes, settings.search_credit_cost, settings.cache_hit_credit_cost,
        settings.audit_result_urls))
    readiness = Readiness(db, redis, info, timeout=settings.readyz_timeout_seconds)
    tenants, auth, key_cache = build_auth(settings, clock, db, redis)

    async def charged(month: str, tenant_ids: list[str] | None) -> dict[str, int]:  # the ledger sits above notify
        async with db.transaction() as session:
            return await ledger.charged_by_tenant(session, month, tenant_ids)

    notify, budget_watch = build_notify(settings, db, clock, charged)
    quotas.on_commit = budget_watch.wake
    return Resources(
        settings=settings,
        db=db,
        http=http,
        redis=redis,
        tenants=tenants,
        auth=auth,
        key_cache=key_cache,
        upstream_info=info,
        quotas=quotas,
        cache=cache,
        purge=CachePurge(db, cache),
        searches=SearchService(db, upstream, sharing, info, quotas, audit, clock, SearchSettings(
            settings.search_credit_cost, settings.search_wait_seconds, settings.upstream_poll_interval_seconds)),
        tracker=Tracker(db, lifecycle, sharing, quotas, clock, interval=settings.tracker_interval_seconds,
                        balance_every=settings.balance_refresh_seconds,
                        unresolved_after=timedelta(hours=settings.unresolved_after_hours),
                        probe_due=circuit.probe_due),
        audit=audit,
        readiness=readiness,
        notify=notify,
        budget_watch=budget_watch,
        ledger=LedgerService(db, info, audit, clock, days=settings.ledger_days,
                             refresh_seconds=settings.ledger_refresh_seconds),
    )


def make_lifespan(settings: Settings, clock: Clock) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.log_level, settings.log_format)
        resources = build_resources(settings, clock)
        app.state.resources = resources
        resources.tracker.start()
        resources.ledger.start()
        resources.audit.start()  # replays what a previous run left in the spool, then keeps watch
        resources.budget_watch.start()
        # Pub/sub holds its connection open waiting, so it gets a client without the short timeouts.
        listener = build_listener(settings)
        if listener is not None:
            resources.key_cache.start(listener)
        try:
            yield
        finally:
            await resources.key_cache.stop()
            if listener is not None:
                await listener.aclose()
            await resources.tracker.stop()
            await resources.budget_watch.stop()
            await resources.ledger.stop()
            await resources.audit.stop()
            await resources.quotas.store.close()
            await resources.http.aclose()
            if resources.redis is not None:
                await resources.redis.aclose()
            await resources.db.close()
            worker_exited()

    return lifespan
