"""Readiness: can this replica serve searches right now?

A load balancer or orchestrator asks /readyz every few seconds, on every replica, so each check is
bounded by a timeout, and the upstream check reads the process's shared, cached view of upstream
/api/info (at most one upstream call per INFO_CACHE_SECONDS however often /readyz is called).
Failures are reported by part name and a short reason; driver messages are never echoed because
they can hold host names or credentials.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, Protocol

from redis.asyncio import Redis

from app.db import Database
from app.errors import GatewayError, UpstreamError
from app.observability import metrics

OK = "ok"


@dataclass(frozen=True, slots=True)
class Report:
    checks: dict[str, str]

    @property
    def ready(self) -> bool:
        return all(result == OK for result in self.checks.values())

    def body(self) -> dict[str, Any]:
        failing = [name for name, result in self.checks.items() if result != OK]
        return {"status": "ready" if not failing else "not ready", "checks": self.checks, "failing": failing}


class InfoSource(Protocol):
    """Upstream's /api/info as the process caches it (app.upstream.info.UpstreamInfo)."""

    async def get(self) -> dict[str, Any]: ...


class Readiness:
    def __init__(self, db: Database, redis: Redis | None, info: InfoSource, *, timeout: float) -> None:
        self._db = db
        self._redis = redis
        self._info = info
        self._timeout = timeout

    async def check(self) -> Report:
        checks = await self._dependencies()
        checks["upstream"] = await self._upstream_check()
        return Report(checks)

    async def refresh_gauges(self) -> None:
        """Update database_up / redis_up (for a scrape; upstream is left to /readyz and real traffic)."""
        await self._dependencies()

    async def _dependencies(self) -> dict[str, str]:
        checks = {"database": await self._probe(self._db.ping())}
        metrics.set_up(metrics.DATABASE_UP, checks["database"] == OK)
        if self._redis is not None:
            checks["redis"] = await self._probe(self._redis.ping())
        metrics.set_up(metrics.REDIS_UP, checks.get("redis") == OK)
        return checks

    async def _probe(self, work: Awaitable[object]) -> str:
        try:
            await asyncio.wait_for(work, self._timeout)
        except TimeoutError:
            return "timeout"
        except Exception:  # driver errors vary by backend; all mean the same here
            return "unreachable"
        return OK

    async def _upstream_check(self) -> str:
        try:
            body = await asyncio.wait_for(self._info.get(), self._timeout)
        except TimeoutError:
            return "timeout"
        except UpstreamError as exc:
            return metrics.code_label(exc.upstream_code)
        except GatewayError as exc:
            return exc.code
        if body.get("is_online") is False:
            return "offline"
        return OK
