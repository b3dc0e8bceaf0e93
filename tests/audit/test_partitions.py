"""Migrations create the monthly-partitioned table on PostgreSQL (with a DEFAULT partition) and a
plain table on SQLite; retention drops whole old months and verification starts from the anchor."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from app.audit import partitions
from app.audit import repository as repo
from app.audit.chain import chain_key
from app.audit.service import verify
from app.config import Settings
from app.db import Database
from app.db.migrate import upgrade
from tests.fixtures.services import PostgresServer

KEY = chain_key(b"partition-test-secret")
NOW = datetime.now(UTC)


def _row(moment: datetime) -> dict[str, object]:
    return {"event_id": uuid.uuid4().hex, "time": moment, "action": "info", "outcome": "ok",
            "credits_reserved": 0, "credits_charged": 0, "credits_refunded": 0}


def _partitions(server: PostgresServer, db: str) -> set[str]:
    out = server.psql("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                      "WHERE i.inhparent = 'audit_events'::regclass", db)
    return set(out.split())


def test_postgres_table_is_partitioned_by_month(postgres_server: PostgresServer, postgres_db: str,
                                                tmp_path: Path) -> None:
    upgrade(Settings(_env_file=None, data_dir=tmp_path, database_url=postgres_db))
    db = postgres_db.rsplit("/", 1)[1]
    assert postgres_server.psql("SELECT partstrat FROM pg_partitioned_table p JOIN pg_class c "
                                "ON c.oid = p.partrelid WHERE c.relname = 'audit_events'", db) == "r"
    expected = {partitions.partition_name(partitions.month_start(NOW, s)) for s in range(3)}
    assert _partitions(postgres_server, db) == expected | {"audit_events_default"}


def test_sqlite_table_is_plain(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path)
    upgrade(settings)

    async def kinds() -> list[str]:
        database = Database(settings.effective_database_url)
        try:
            async with database.transaction() as session:
                rows = await session.execute(text("SELECT type FROM sqlite_master WHERE name = 'audit_events'"))
                return [r[0] for r in rows]
        finally:
            await database.close()

    assert asyncio.run(kinds()) == ["table"]


def test_retention_drops_old_months_and_verify_starts_at_the_anchor(
    postgres_server: PostgresServer, postgres_db: str, tmp_path: Path
) -> None:
    upgrade(Settings(_env_file=None, data_dir=tmp_path, database_url=postgres_db))
    old = datetime(2020, 1, 15, tzinfo=UTC)

    async def run() -> None:
        database = Database(postgres_db)
        try:
            async with database.transaction() as session:
                await session.execute(text(partitions.create_sql(partitions.month_start(old))))
                await partitions.ensure_ahead(session, NOW)
            for moment in [old, old + timedelta(days=1), NOW, NOW]:
                async with database.transaction() as session:
                    assert await repo.append(session, KEY, _row(moment))
            assert await verify(database, KEY) == (4, None)
            async with database.transaction() as session:
                dropped = await partitions.drop_older_than(session, NOW, retention_days=90)
            assert dropped == ["audit_events_y2020m01"]
            async with database.transaction() as session:
                head = await repo.head(session)
            assert (head.anchor_seq, head.seq) == (2, 4)
            assert await verify(database, KEY) == (2, None)  # the two kept, chained from the anchor
        finally:
            await database.close()

    asyncio.run(run())
    assert "audit_events_y2020m01" not in _partitions(postgres_server, postgres_db.rsplit("/", 1)[1])
