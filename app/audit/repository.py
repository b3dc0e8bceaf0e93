"""All SQL of the audit log: chained appends, filtered pages, streaming walks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.audit.chain import event_hash
from app.audit.models import REJECTED, AuditChain, AuditEvent

HEAD = 1
COLUMNS = [c for c in AuditEvent.__table__.columns]


# Built once: the hot path runs them on every audited call, and a prebuilt Core statement skips
# rebuilding and re-keying the statement (most of the append's CPU when built per call).
_EVENTS: Table = AuditEvent.__table__  # type: ignore[assignment]  # a mapped class's Table
_CHAIN: Table = AuditChain.__table__  # type: ignore[assignment]
_LOCK_HEAD = (update(_CHAIN).where(_CHAIN.c.id == HEAD).values(seq=_CHAIN.c.seq)
              .returning(_CHAIN.c.seq, _CHAIN.c.hash))
_SEEN = select(_EVENTS.c.seq).where(_EVENTS.c.event_id == bindparam("event_id"), _EVENTS.c.time == bindparam("time"))
_INSERT = insert(_EVENTS)
_MOVE_HEAD = update(_CHAIN).where(_CHAIN.c.id == HEAD).values(seq=bindparam("new_seq"), hash=bindparam("new_hash"))


async def append(session: AsyncSession, key: bytes, row: dict[str, Any], *, replay: bool = False) -> bool:
    """Chain `row` onto the head and insert it; False when replaying an event already in.

    The first statement writes the head row, which takes its lock on PostgreSQL (every replica
    waits its turn) and the write lock on SQLite, so appends are serialised and `seq` gap-free.
    Three statements on the hot path; a replay first checks the event id (exactly once).
    """
    conn = await session.connection()
    head = (await conn.execute(_LOCK_HEAD)).one()
    if replay and (await conn.execute(_SEEN, {"event_id": row["event_id"], "time": row["time"]})).first():
        return False
    await _chain(conn, key, head.seq, head.hash, [row])
    return True


async def append_many(session: AsyncSession, key: bytes, rows: list[dict[str, Any]]) -> None:
    """Chain `rows` onto the head in their order, in one transaction: the head locked and moved
    once, the rows inserted by one executemany. Same lock as `append`, so the two interleave."""
    conn = await session.connection()
    head = (await conn.execute(_LOCK_HEAD)).one()
    await _chain(conn, key, head.seq, head.hash, rows)


async def _chain(conn: AsyncConnection, key: bytes, seq: int, prev_hash: str, rows: list[dict[str, Any]]) -> None:
    """Insert `rows` after the locked head (`seq`, `prev_hash`), each hashed over its predecessor,
    and move the head to the last."""
    chained = []
    for row in rows:
        seq += 1
        row = {**row, "seq": seq, "prev_hash": prev_hash}
        row["hash"] = prev_hash = event_hash(key, row)
        chained.append(row)
    await conn.execute(_INSERT, chained)
    await conn.execute(_MOVE_HEAD, {"new_seq": seq, "new_hash": prev_hash})


async def head(session: AsyncSession) -> AuditChain:
    return (await session.execute(select(AuditChain).where(AuditChain.id == HEAD))).scalar_one()


@dataclass(frozen=True, slots=True)
class Filters:
    tenant_id: str | None = None
    key_id: str | None = None
    action: str | None = None
    outcome: str | None = None
    code: str | None = None
    id_search: str | None = None
    purpose: str | None = None
    request_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def where(self) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        for name in ("tenant_id", "key_id", "action", "outcome", "code", "id_search", "purpose", "request_id"):
            value = getattr(self, name)
            if value is not None:
                conditions.append(getattr(AuditEvent, name) == value)
        if self.since is not None:
            conditions.append(AuditEvent.time >= self.since)
        if self.until is not None:
            conditions.append(AuditEvent.time < self.until)
        return conditions


def _selection(filters: Filters, before_seq: int | None) -> Select[Any]:
    stmt = select(*COLUMNS).where(*filters.where())
    if before_seq is not None:
        stmt = stmt.where(AuditEvent.seq < before_seq)
    return stmt.order_by(AuditEvent.seq.desc())


async def page(session: AsyncSession, filters: Filters, before_seq: int | None, limit: int) -> list[dict[str, Any]]:
    """Newest first; the next page starts below the last seq returned."""
    rows = await session.execute(_selection(filters, before_seq).limit(limit))
    return [dict(r._mapping) for r in rows]


async def stream(session: AsyncSession, filters: Filters, batch: int = 1000) -> AsyncIterator[dict[str, Any]]:
    """Every selected event, oldest first, in keyset batches (constant memory, short queries)."""
    after = -1
    while True:
        stmt = select(*COLUMNS).where(*filters.where(), AuditEvent.seq > after).order_by(AuditEvent.seq).limit(batch)
        rows = [dict(r._mapping) for r in await session.execute(stmt)]
        for row in rows:
            yield row
        if len(rows) < batch:
            return
        after = rows[-1]["seq"]


async def walk(session: AsyncSession, from_seq: int, batch: int = 5000) -> list[dict[str, Any]]:
    """The next `batch` events from `from_seq` on, in chain order (for verification). From, not after:
    a second row with the last seq checked must not fall between two batches unseen."""
    order = (AuditEvent.seq, AuditEvent.time, AuditEvent.event_id)
    stmt = select(*COLUMNS).where(AuditEvent.seq >= from_seq).order_by(*order).limit(batch)
    return [dict(r._mapping) for r in await session.execute(stmt)]


async def rejections_by_code(session: AsyncSession, tenant_id: str | None, since: datetime,
                             key_id: str | None = None) -> dict[str, int]:
    """By code, for one tenant (or key), or for every caller when `tenant_id` is None."""
    stmt = (select(AuditEvent.code, func.count()).where(AuditEvent.outcome == REJECTED, AuditEvent.time >= since)
            .group_by(AuditEvent.code))
    if tenant_id is not None:
        stmt = stmt.where(AuditEvent.tenant_id == tenant_id)
    if key_id is not None:
        stmt = stmt.where(AuditEvent.key_id == key_id)
    return {str(code): int(n) for code, n in await session.execute(stmt)}
