"""The connection pool against a real PostgreSQL: a restart while the gateway sits idle costs no failed
request, because a connection idle for longer than PING_IDLE_SECONDS is pinged (and replaced) before use."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import text

from app.db import Database
from app.db.engine import PING_IDLE_SECONDS
from tests.fixtures.services import PostgresServer, wait_for


async def _select_one(db: Database) -> int:
    async with db.transaction() as session:
        return int((await session.execute(text("SELECT 1"))).scalar_one())


def test_a_database_restart_while_idle_costs_no_failed_request(postgres_server: PostgresServer,
                                                               postgres_db: str) -> None:
    async def scenario() -> None:
        db = Database(postgres_db)
        try:
            assert await asyncio.gather(*(_select_one(db) for _ in range(3))) == [1, 1, 1]  # pooled connections
            postgres_server.stop()
            postgres_server.start_again()
            restarted = time.monotonic()
            wait_for(lambda: time.monotonic() - restarted > PING_IDLE_SECONDS, deadline_s=5,
                     what="the pooled connections to count as idle")
            assert await asyncio.gather(*(_select_one(db) for _ in range(3))) == [1, 1, 1]
        finally:
            await db.close()

    try:
        asyncio.run(scenario())
    finally:
        postgres_server.start_again()
