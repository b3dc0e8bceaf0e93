"""PostgreSQL monthly partitions of `audit_events`: created ahead, dropped after retention.

A DEFAULT partition catches any month not created yet, so no write is ever refused; creating
months ahead keeps it empty. Retention drops whole months, first recording the last dropped
event as the chain's anchor so `audit verify` starts from there.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

log = logging.getLogger("facecheck_gateway.audit")
PARENT = "audit_events"
MONTHS_AHEAD = 2


def month_start(moment: datetime, shift: int = 0) -> datetime:
    index = moment.year * 12 + moment.month - 1 + shift
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def partition_name(start: datetime) -> str:
    return f"{PARENT}_y{start.year:04d}m{start.month:02d}"


def create_sql(start: datetime) -> str:
    end = month_start(start, 1)
    return (f"CREATE TABLE IF NOT EXISTS {partition_name(start)} PARTITION OF {PARENT} "
            f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')")


async def ensure_ahead(session: AsyncSession, now: datetime) -> None:
    """This month and the next MONTHS_AHEAD exist (idempotent; safe on several replicas)."""
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtext('audit_partitions'))"))
    for shift in range(MONTHS_AHEAD + 1):
        await session.execute(text(create_sql(month_start(now, shift))))


async def drop_older_than(session: AsyncSession, now: datetime, retention_days: int) -> list[str]:
    """Drop every monthly partition that ends before now - retention; returns their names."""
    cutoff = now - timedelta(days=retention_days)
    rows = (await session.execute(text(
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
        "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = CAST(:parent AS regclass)"
    ), {"parent": PARENT})).all()
    dropped: list[str] = []
    for name, bound in sorted(rows):
        if not name.startswith(f"{PARENT}_y"):
            continue  # the DEFAULT partition stays
        start = datetime(int(name[-7:-3]), int(name[-2:]), 1, tzinfo=UTC)
        if month_start(start, 1) > cutoff:
            continue
        # Lock the chain, move the anchor to the last event being dropped, then drop.
        await session.execute(text("SELECT seq FROM audit_chain WHERE id = 1 FOR UPDATE"))
        last = (await session.execute(text(
            f"SELECT seq, hash FROM {name} ORDER BY seq DESC LIMIT 1"  # noqa: S608 (name is ours)
        ))).first()
        if last is not None:
            await session.execute(text(
                "UPDATE audit_chain SET anchor_seq = :seq, anchor_hash = :hash WHERE id = 1 AND anchor_seq < :seq"
            ), {"seq": last[0], "hash": last[1]})
        await session.execute(text(f"DROP TABLE {name}"))
        log.info("audit partition dropped", extra={"partition": name, "bound": bound})
        dropped.append(name)
    return dropped
