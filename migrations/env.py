"""Alembic environment: async engine, batch mode for SQLite, one migrator at a time on Postgres."""

from __future__ import annotations

import asyncio
from logging.config import fileConfig

from alembic import context
from sqlalchemy.engine import Connection

import app.audit.models
import app.console.models
import app.facecheck.models
import app.notify.models
import app.tenants.models
import app.upstream.models  # noqa: F401
from app.config import Settings
from app.db.base import Base
from app.db.engine import make_engine

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name)

# Replicas starting together all run `serve`; the first takes this lock, the rest wait, then
# find nothing left to do.
MIGRATION_LOCK_ID = 0x46434757  # "FCGW"


def _database_url() -> str:
    url = config.attributes.get("database_url")
    return url if isinstance(url, str) else Settings().effective_database_url


def _run(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_ID})")
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_online() -> None:
    engine = make_engine(_database_url())
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_database_url(), target_metadata=Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_online())
