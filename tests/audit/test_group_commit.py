"""Concurrent audit events are group-committed: many calls' events share one transaction, in the
order they were queued, on one valid chain; events chained inside a caller's own transaction
interleave with them. A database outage in the middle of a batch spools every event of it, and
replay puts each in once. A fault (not an outage) reaches every caller of its batch, and the
writer goes on writing; a cancelled caller stops only its own wait."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.audit import repository as repo
from app.audit.chain import chain_key
from app.audit.service import verify
from app.audit.spool import Spool
from app.audit.writer import AuditWriter
from app.clock import SystemClock
from app.config import Settings
from app.db import Database
from app.db.migrate import upgrade
from app.observability import metrics
from tests.fixtures.services import PostgresServer, wait_for

KEY = chain_key(b"group-commit-test-secret")
CALLS = 300


class Writer:
    """An audit writer on a migrated database, counting the commits made on its engine."""

    def __init__(self, url: str, spool: Path) -> None:
        self.db = Database(url)
        self.audit = AuditWriter(self.db, Spool(spool), KEY, SystemClock(), replay_interval=0.05)
        self.commits = 0
        event.listen(self.db.engine.sync_engine, "commit", self._committed)

    def _committed(self, _conn: Any) -> None:
        self.commits += 1

    async def request_ids(self) -> list[str | None]:
        """Every event's request id, in chain order."""
        async with self.db.transaction() as session:
            return [row["request_id"] for row in await repo.walk(session, 1, batch=10 * CALLS)]

    async def close(self) -> None:
        await self.audit.stop()
        await self.db.close()


@pytest.fixture(params=["sqlite", "postgres"])
async def writer(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Writer]:
    url = request.getfixturevalue("postgres_db") if request.param == "postgres" else ""
    settings = Settings(_env_file=None, data_dir=tmp_path, database_url=url)
    await asyncio.to_thread(upgrade, settings)  # migrations run their own event loop
    w = Writer(settings.effective_database_url, tmp_path / "spool")
    yield w
    await w.close()


@pytest.fixture
async def pg_writer(postgres_server: PostgresServer, postgres_db: str, tmp_path: Path) -> AsyncIterator[Writer]:
    await asyncio.to_thread(upgrade, Settings(_env_file=None, data_dir=tmp_path, database_url=postgres_db))
    w = Writer(postgres_db, tmp_path / "spool")
    yield w
    postgres_server.start_again()
    await w.close()


def _commit_histogram() -> tuple[float, float]:
    """(events, commits) the audit commit histogram has counted so far in this process."""
    [collected] = metrics.AUDIT_COMMIT_EVENTS.collect()
    samples = {s.name: s.value for s in collected.samples}
    return samples[metrics.PREFIX + "audit_commit_events_sum"], samples[metrics.PREFIX + "audit_commit_events_count"]


async def test_concurrent_events_share_commits_in_queue_order(writer: Writer) -> None:
    events_before, commits_before = _commit_histogram()
    await asyncio.gather(*(writer.audit.record("info", request_id=f"r{i}") for i in range(CALLS)))
    assert writer.commits < CALLS / 10  # grouped, not one transaction each
    events_counted, commits_counted = _commit_histogram()
    assert (events_counted - events_before, commits_counted - commits_before) == (CALLS, writer.commits)
    assert await writer.request_ids() == [f"r{i}" for i in range(CALLS)]  # each once, in queue order
    assert await verify(writer.db, KEY) == (CALLS, None)


async def test_events_chained_in_a_callers_own_transaction_interleave(writer: Writer) -> None:
    async def own_transaction(i: int) -> None:
        async with writer.db.transaction() as session:
            await writer.audit.record("tenant.update", request_id=f"s{i}", session=session)

    calls = [writer.audit.record("info", request_id=f"r{i}") for i in range(CALLS)]
    await asyncio.gather(*calls, *(own_transaction(i) for i in range(20)))
    recorded = await writer.request_ids()
    assert sorted(map(str, recorded)) == sorted([f"r{i}" for i in range(CALLS)] + [f"s{i}" for i in range(20)])
    queued = [r for r in recorded if r is not None and r.startswith("r")]
    assert queued == [f"r{i}" for i in range(CALLS)]
    assert await verify(writer.db, KEY) == (CALLS + 20, None)


async def test_a_fault_reaches_every_caller_of_its_batch_and_the_writer_goes_on(writer: Writer) -> None:
    good = [writer.audit.record("info", request_id=f"r{i}") for i in range(5)]
    bad = writer.audit.record("info", request_id="bad", detail={"not json": object()})
    outcomes = await asyncio.gather(*good, bad, return_exceptions=True)
    assert all(isinstance(o, TypeError) for o in outcomes), outcomes  # not written, and not hidden
    assert writer.audit.pending == 0  # a fault is not an outage: nothing spooled
    await writer.audit.record("info", request_id="after")
    assert await writer.request_ids() == ["after"]
    assert await verify(writer.db, KEY) == (1, None)


async def _lock_head(db: Database) -> AsyncConnection:
    """A transaction holding the chain's head lock (as a long one on another replica would)."""
    conn = await db.engine.connect()
    await conn.execute(text("UPDATE audit_chain SET seq = seq WHERE id = 1"))
    return conn


async def _batch_waits_on_the_head(server: PostgresServer, url: str) -> None:
    sql = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
    await asyncio.to_thread(wait_for, lambda: server.psql(sql, url.rsplit("/", 1)[1]) == "1", deadline_s=30,
                            what="the batch's transaction waiting on the head lock")


async def test_an_outage_during_a_batch_spools_all_of_it_and_replay_puts_each_in_once(
    pg_writer: Writer, postgres_server: PostgresServer, postgres_db: str
) -> None:
    await asyncio.gather(*(pg_writer.audit.record("info", request_id=f"before{i}") for i in range(3)))
    holder = Database(postgres_db)
    lock = await _lock_head(holder)
    calls = asyncio.gather(*(pg_writer.audit.record("info", request_id=f"r{i}") for i in range(50)))
    await _batch_waits_on_the_head(postgres_server, postgres_db)
    commits = pg_writer.commits
    postgres_server.stop()  # the database goes away in the middle of the batch's transaction
    await calls  # every call answered: its event is in the spool
    assert pg_writer.commits == commits
    assert pg_writer.audit.pending == 50
    await lock.invalidate()
    await holder.close()

    postgres_server.start_again()
    pg_writer.audit.start()
    await asyncio.to_thread(wait_for, lambda: pg_writer.audit.pending == 0, deadline_s=30, what="spool replayed")
    expected = [f"before{i}" for i in range(3)] + [f"r{i}" for i in range(50)]
    assert await pg_writer.request_ids() == expected  # each once, in the order they were queued
    assert await verify(pg_writer.db, KEY) == (53, None)


async def test_a_cancelled_caller_does_not_cancel_the_batch_and_stop_drains_the_queue(
    pg_writer: Writer, postgres_server: PostgresServer, postgres_db: str
) -> None:
    holder = Database(postgres_db)
    lock = await _lock_head(holder)
    calls = [asyncio.create_task(pg_writer.audit.record("info", request_id=f"r{i}")) for i in range(10)]
    await _batch_waits_on_the_head(postgres_server, postgres_db)
    calls[3].cancel()
    stopping = asyncio.create_task(pg_writer.audit.stop())
    await lock.rollback()  # the head is free: the batch goes on
    await lock.close()
    await holder.close()
    await stopping
    assert await pg_writer.request_ids() == [f"r{i}" for i in range(10)]  # stop waited for the batch
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    assert isinstance(outcomes[3], asyncio.CancelledError)
    assert [o for i, o in enumerate(outcomes) if i != 3] == [None] * 9  # the cancelled one's event is in too
    assert await verify(pg_writer.db, KEY) == (10, None)
