"""Migrations upgrade and downgrade cleanly on SQLite and PostgreSQL, and concurrent starters
(several replicas running `migrate` at once) all succeed."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from app.config import Settings
from app.db.migrate import downgrade, upgrade
from tests.fixtures.services import PostgresServer

TABLES = {"tenants", "api_keys", "searches", "audit_events", "audit_chain", "budget_webhooks", "budget_notifications",
          "budget_webhook_attempts", "upstream_balance_reads", "alembic_version"}


def _tables(url: str) -> set[str]:
    async def run() -> set[str]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        finally:
            await engine.dispose()

    return asyncio.run(run())


@pytest.fixture(params=["sqlite", "postgres"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    url = request.getfixturevalue("postgres_db") if request.param == "postgres" else ""
    return Settings(_env_file=None, data_dir=tmp_path, database_url=url)


def test_upgrade_downgrade_upgrade(settings: Settings) -> None:
    url = settings.effective_database_url
    upgrade(settings)
    assert _tables(url) >= TABLES
    downgrade(settings, "base")
    assert _tables(url) & TABLES <= {"alembic_version"}
    upgrade(settings)
    assert _tables(url) >= TABLES


def test_concurrent_migrators_all_succeed(postgres_server: PostgresServer, postgres_db: str, tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": postgres_db, "DATA_DIR": str(tmp_path)}
    procs = [subprocess.Popen([sys.executable, "-m", "app.cli", "migrate"], env=env, cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(4)]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], [r[1].decode()[-500:] for r in results]
    assert _tables(postgres_db) >= TABLES
