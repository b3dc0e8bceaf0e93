"""Readiness in-process: the upstream is asked at most once per cache period, however often and
however concurrently /readyz is called. Time is moved by an injected clock, never waited for."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.db import Database
from app.observability.readiness import Readiness
from app.upstream.client import UpstreamClient
from app.upstream.info import UpstreamInfo
from tests.fixtures.clock import ManualClock

TTL = 5.0


@dataclass
class Upstream:
    """An httpx transport standing in for FaceCheck's /api/info, counting the calls it gets."""

    answer: dict[str, Any] = field(default_factory=lambda: {"remaining_credits": 9, "is_online": True, "faces": 1})
    status: int = 200
    calls: int = 0

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        await asyncio.sleep(0)  # paced: one event-loop turn, no clock time, so concurrent checks queue behind this one
        return httpx.Response(self.status, json=self.answer)


@dataclass
class Parts:
    readiness: Readiness
    upstream: Upstream
    clock: ManualClock


@pytest.fixture
async def parts(tmp_path: Path) -> AsyncIterator[Parts]:
    upstream, clock = Upstream(), ManualClock()
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'ready.db'}")
    http = httpx.AsyncClient(transport=httpx.MockTransport(upstream.handle), base_url="http://upstream.test")
    client = UpstreamClient(http, "token", retries=0)
    try:
        info = UpstreamInfo(client, clock, TTL)
        yield Parts(Readiness(db, None, info, timeout=2.0), upstream, clock)
    finally:
        await http.aclose()
        await db.close()


async def test_upstream_is_asked_once_per_period(parts: Parts) -> None:
    for _ in range(5):
        assert (await parts.readiness.check()).ready
    await asyncio.gather(*(parts.readiness.check() for _ in range(10)))
    assert parts.upstream.calls == 1
    parts.clock.advance(TTL - 0.1)
    await parts.readiness.check()
    assert parts.upstream.calls == 1
    parts.clock.advance(0.2)
    await parts.readiness.check()
    assert parts.upstream.calls == 2


async def test_a_failure_is_cached_too_and_names_upstream(parts: Parts) -> None:
    parts.upstream.status = 503
    for _ in range(3):
        report = await parts.readiness.check()
        assert not report.ready
        assert report.body() == {
            "status": "not ready",
            "checks": {"database": "ok", "upstream": "UPSTREAM_UNAVAILABLE"},
            "failing": ["upstream"],
        }
    assert parts.upstream.calls == 1


@pytest.mark.parametrize(
    ("answer", "result"),
    [
        ({"error": "Invalid API token!", "code": "EXCEPTION"}, "EXCEPTION"),
        ({"error": "odd", "code": "SOMETHING_NEW"}, "UPSTREAM_OTHER"),
        ({"remaining_credits": 1, "is_online": False, "faces": 1}, "offline"),
    ],
)
async def test_upstream_answers_that_are_not_ready(parts: Parts, answer: dict[str, Any], result: str) -> None:
    parts.upstream.answer = answer
    report = await parts.readiness.check()
    assert report.checks["upstream"] == result and not report.ready
