"""The input sweeper's rounds, on SQLite (migrated) and the in-process sandbox: bounded work per
round, and a search whose deletes keep failing waits longer between tries instead of being retried
every round (or starving the others)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from app.config import Settings
from app.db import Database
from app.db.migrate import upgrade
from app.facecheck import sweeper
from app.facecheck.models import FINISHED, Search
from app.facecheck.sweeper import InputSweeper
from app.sandbox import SandboxConfig, create_sandbox_app
from app.tenants.models import Tenant
from app.upstream.client import ImageFile, UpstreamClient
from tests.fixtures.clock import ManualClock
from tests.fixtures.images import make_image
from tests.fixtures.sandbox_app import FakeClock

TOKEN = "sandbox"


@dataclass
class Rig:
    db: Database
    upstream: UpstreamClient
    sandbox: httpx.AsyncClient
    clock: ManualClock
    sweeper: InputSweeper

    async def ended_search(self, seed: int) -> Search:
        """A search that ended a minute ago with one input at the vendor."""
        body = await self.upstream.upload_pic([ImageFile(make_image(seed), "image/jpeg", "jpg")], None)
        ended = self.clock.now() - timedelta(minutes=1)
        search = Search(id=secrets.token_hex(8), upstream_id=body["id_search"], tenant_id="t", key_id="k",
                        status=FINISHED, images=[{"id_pic": body["input"][0]["id_pic"], "sha256": "x"}],
                        created_at=ended, finished_at=ended, inputs_due_at=ended)
        async with self.db.transaction() as session:
            session.add(search)
        return search

    async def held(self) -> int:
        ledger = (await self.sandbox.get("/_sandbox/searches")).json()
        return sum(s["pics"] for s in ledger)

    async def knobs(self, **values: object) -> None:
        assert (await self.sandbox.post("/_sandbox/config", json=values)).status_code == 200


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    settings = Settings(_env_file=None, data_dir=tmp_path, database_url="")
    await asyncio.to_thread(upgrade, settings)
    db = Database(settings.effective_database_url)
    clock = ManualClock()
    async with db.transaction() as session:
        session.add(Tenant(id="t", name="t", created_at=clock.now()))
    sandbox_clock = FakeClock()
    app = create_sandbox_app(SandboxConfig(tokens=[TOKEN]), clock=sandbox_clock, sleep=sandbox_clock.sleep)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox")
    upstream = UpstreamClient(http, TOKEN)
    yield Rig(db, upstream, http, clock, InputSweeper(db, upstream, clock, grace=timedelta(seconds=8)))
    await http.aclose()
    await db.close()


async def test_a_round_sweeps_a_bounded_batch(rig: Rig) -> None:
    for seed in range(sweeper.BATCH + 1):
        await rig.ended_search(8000 + seed)
    assert await rig.sweeper.sweep() == sweeper.BATCH
    assert await rig.held() == 1
    assert await rig.sweeper.sweep() == 1
    assert await rig.held() == 0
    assert await rig.sweeper.sweep() == 0


async def test_failing_deletes_wait_longer_between_tries(rig: Rig) -> None:
    await rig.ended_search(8100)
    await rig.knobs(delete_error_rate=1.0)
    assert await rig.sweeper.sweep() == 0
    await rig.knobs(delete_error_rate=0.0)
    assert await rig.sweeper.sweep() == 0 and await rig.held() == 1  # not due again yet: it failed for a minute
    rig.clock.advance(61)
    assert await rig.sweeper.sweep() == 1 and await rig.held() == 0
