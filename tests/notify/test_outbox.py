"""The outbox on both backends, in-process: several replicas' budget checks racing over the same
crossing write one row per threshold, and several senders racing over the same rows send each
once; a crossing is compared with credits charged, never with credits merely held."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator
from functools import partial
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from app.actors import CLI_ACTOR
from app.clock import SystemClock
from app.config import Settings
from app.db import Database
from app.db.migrate import upgrade
from app.facecheck import ledger
from app.facecheck.ledger import charged_by_tenant
from app.facecheck.models import FINISHED, Search
from app.notify.check import BudgetCheck
from app.notify.models import BudgetNotification
from app.notify.schemas import WebhookIn
from app.notify.sender import DeliveryPolicy, Sender
from app.notify.service import NotifyService
from app.quotas.policy import COMMITTED, HELD, month_of
from app.tenants.schemas import TenantSettingsIn
from app.tenants.service import TenantService
from tests.fixtures.webhooks import Receiver, serve_receiver

SECRET = b"outbox-test-secret-" + b"s" * 24
REPLICAS = 4


@pytest.fixture(params=["sqlite", "postgres"])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    url = request.getfixturevalue("postgres_db") if request.param == "postgres" else ""
    settings = Settings(_env_file=None, data_dir=tmp_path, database_url=url)
    await asyncio.to_thread(upgrade, settings)
    database = Database(settings.effective_database_url)
    yield database
    await database.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serve_receiver() as r:
        yield r


async def spend(db: Database, tenant_id: str, credits: int, reservation: str) -> None:
    now = SystemClock().now()
    async with db.transaction() as session:
        session.add(Search(id=secrets.token_hex(16), upstream_id="u", tenant_id=tenant_id, key_id="k",
                           status=FINISHED, created_at=now, reservation=reservation, credits_reserved=credits,
                           reserved_month=month_of(now), reserved_day=now.strftime("%Y-%m-%d")))  # fmt: skip


async def charged(db: Database, month: str, tenant_ids: list[str] | None) -> dict[str, int]:
    async with db.transaction() as session:
        return await charged_by_tenant(session, month, tenant_ids)


async def rows(db: Database) -> list[BudgetNotification]:
    async with db.transaction() as session:
        return list((await session.execute(select(BudgetNotification).order_by(BudgetNotification.threshold)))
                    .scalars())  # fmt: skip


async def test_racing_checks_and_senders_notify_each_threshold_once(db: Database, receiver: Receiver) -> None:
    clock = SystemClock()
    tenants = TenantService(db, SECRET, clock, ledger)
    tenant = await tenants.create_tenant(CLI_ACTOR, f"outbox-{secrets.token_hex(3)}")
    await tenants.update_tenant(CLI_ACTOR, tenant.name, TenantSettingsIn(credits_per_month=10))
    service = NotifyService(db, SECRET, clock)
    await service.set_webhook(CLI_ACTOR, tenant.name, WebhookIn(url=receiver.url, thresholds=[50, 80, 100]))
    await spend(db, tenant.id, 3, COMMITTED)
    await spend(db, tenant.id, 6, HELD)  # held: not spent yet
    checks = [BudgetCheck(db, clock, partial(charged, db)) for _ in range(REPLICAS)]
    await asyncio.gather(*(check.run() for check in checks))
    assert await rows(db) == []  # 3 of 10 charged: under 50 %, whatever is held
    await spend(db, tenant.id, 5, COMMITTED)  # 8 of 10
    await asyncio.gather(*(check.run(full=i % 2 == 0) for i, check in enumerate(checks)))
    assert [(r.threshold, r.credits_used, r.status) for r in await rows(db)] == [(50, 8, "pending"), (80, 8, "pending")]

    policy = DeliveryPolicy(timeout_seconds=5, max_attempts=3, retry_seconds=1)
    clients = [httpx.AsyncClient() for _ in range(REPLICAS)]
    senders = [Sender(db, client, SECRET, clock, policy) for client in clients]
    delivered = await asyncio.gather(*(s.deliver_due() for s in senders))
    for sender in senders:
        await sender.close()
    assert sum(delivered) == 2
    assert sorted(r.json["threshold"] for r in receiver.received) == [50, 80]
    assert [(r.status, r.attempts) for r in await rows(db)] == [("delivered", 1), ("delivered", 1)]
    # The quick check after a charge still looks at this tenant (100 % is not notified yet), then not.
    await spend(db, tenant.id, 2, COMMITTED)
    assert await checks[1].run(full=False) == 3
    assert await checks[1].run(full=False) == 0
