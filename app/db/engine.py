"""Engine and short transactions.

Services open one short transaction per step (`async with db.transaction() as s`) and never
hold one across an upstream call: SQLite has a single writer, and a Postgres row lock held
for the seconds an upstream call takes would serialise unrelated requests.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

from app.errors import InternalError, ServiceUnavailable

log = logging.getLogger("facecheck_gateway.db")
# PostgreSQL error classes that mean the server or the connection is away: connection exceptions,
# operator intervention (shutdown, cannot connect now), insufficient resources.
_UNAVAILABLE_SQLSTATES = ("08", "57P", "53")
# SQLite's operational errors that are about reaching the file, not about the statement.
_SQLITE_UNAVAILABLE = ("locked", "busy", "unable to open", "disk i/o", "disk is full")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def lost_connection(exc: BaseException) -> bool:
    """True when the database could not be reached or the connection broke; anything else (a bad
    value, a missing table, a constraint) is a fault in the gateway, not an outage."""
    chain = list(_chain(exc))
    for err in chain:
        if isinstance(err, sqlite3.Error):
            return isinstance(err, sqlite3.OperationalError) and any(w in str(err).lower() for w in _SQLITE_UNAVAILABLE)
    for err in chain:
        if isinstance(err, OSError | asyncio.TimeoutError | DisconnectionError | PoolTimeout):
            return True
        if isinstance(err, DBAPIError) and (err.connection_invalidated or isinstance(err, InterfaceError)):
            return True
        sqlstate = getattr(err, "sqlstate", None)
        if isinstance(sqlstate, str) and sqlstate.startswith(_UNAVAILABLE_SQLSTATES):
            return True
    return isinstance(exc, OperationalError)


def translate(exc: SQLAlchemyError | OSError) -> ServiceUnavailable | InternalError:
    """The error a caller sees for a database failure: unavailable for a lost connection, otherwise
    an internal error, logged here (the log line carries the request id, as the answer's header does)."""
    if lost_connection(exc):
        return ServiceUnavailable("The gateway database is unavailable; try again shortly.")
    log.error("database error", exc_info=exc)
    return InternalError("Internal error; quote the request id (X-Request-ID) to the gateway operators.")


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
    engine = create_async_engine(url, pool_size=10, max_overflow=20, pool_timeout=5)
    _ping_idle_connections(engine)
    return engine


# A pooled connection that was in use this recently is alive; one idle longer is pinged before use.
PING_IDLE_SECONDS = 1.0
_LAST_USED = "last_used"


def _ping_idle_connections(engine: AsyncEngine) -> None:
    """Check a connection before use only when it has sat idle, so a restarted database costs no
    failed request. SQLAlchemy's `pool_pre_ping` pings at every checkout, and its asyncpg ping is
    three round trips (BEGIN, `;`, ROLLBACK): on a status poll that was as much as the query itself.
    A connection that fails its ping is replaced: the pool retries the checkout with a new one."""

    @event.listens_for(engine.sync_engine, "connect")
    def _connected(_dbapi_conn: DBAPIConnection, record: ConnectionPoolEntry) -> None:
        record.info[_LAST_USED] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _checkout(dbapi_conn: DBAPIConnection, record: ConnectionPoolEntry, _proxy: PoolProxiedConnection) -> None:
        if time.monotonic() - record.info.get(_LAST_USED, 0.0) <= PING_IDLE_SECONDS:
            return
        try:
            dbapi_conn.ping()
        except Exception as exc:
            raise DisconnectionError("idle connection failed its ping") from exc

    @event.listens_for(engine.sync_engine, "checkin")
    def _checkin(_dbapi_conn: DBAPIConnection, record: ConnectionPoolEntry) -> None:
        record.info[_LAST_USED] = time.monotonic()


class Database:
    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One committed unit of work; database failures are translated (see `translate`)."""
        try:
            async with self.sessions() as session, session.begin():
                yield session
        except (SQLAlchemyError, OSError) as exc:
            raise translate(exc) from exc

    async def ping(self) -> None:
        """`SELECT 1`; raises whatever the driver raises when the database is away. Tried twice: after
        a database restart, a pooled connection used within the ping window is dead without being
        pinged, and failing on it invalidates it, so the second try meets a fresh connection."""
        for attempt in (1, 2):
            try:
                async with self.engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
                return
            except DBAPIError as exc:
                if attempt == 2 or not exc.connection_invalidated:
                    raise

    async def close(self) -> None:
        await self.engine.dispose()
