"""Engine and short transactions.

Services open one short transaction per step (`async with db.transaction() as s`) and never
hold one across an upstream call: SQLite has a single writer, and a Postgres row lock held
for the seconds an upstream call takes would serialise unrelated requests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from app.errors import ServiceUnavailable


def make_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 15})

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True, pool_timeout=5)


class Database:
    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One committed unit of work; database failures become SERVICE_UNAVAILABLE."""
        try:
            async with self.sessions() as session, session.begin():
                yield session
        except (SQLAlchemyError, OSError) as exc:
            raise ServiceUnavailable("The gateway database is unavailable; try again shortly.") from exc

    async def ping(self) -> None:
        """One round trip (`SELECT 1`); raises whatever the driver raises when the database is away."""
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def close(self) -> None:
        await self.engine.dispose()
