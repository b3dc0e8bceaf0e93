"""Durable record of the upstream balance reads the gateway already makes (/api/info).

A read is written when the balance moved since this process last wrote one, or when LEDGER_RECORD_
SECONDS have passed: enough for the ledger to see every drop, without a row per cached info call.
Recording never fails the call that read the balance: a database outage only costs a row.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.clock import Clock
from app.db import Database
from app.errors import GatewayError
from app.upstream.models import BalanceRead

log = logging.getLogger("facecheck_gateway.ledger")


class BalanceRecorder:
    def __init__(self, db: Database, clock: Clock, every_seconds: float) -> None:
        self._db = db
        self._clock = clock
        self._every = every_seconds
        self._last: int | None = None
        self._last_at = float("-inf")

    async def record(self, sent_at: datetime, remaining_credits: int) -> None:
        now = self._clock.monotonic()
        if remaining_credits == self._last and now - self._last_at < self._every:
            return
        try:
            async with self._db.transaction() as session:
                session.add(BalanceRead(read_at=sent_at, remaining_credits=remaining_credits))
        except GatewayError:
            log.warning("upstream balance read not recorded (database unavailable)")
            return
        self._last, self._last_at = remaining_credits, now


async def reads_since(session: AsyncSession, since: datetime) -> list[tuple[datetime, int]]:
    """Every recorded read from `since` on, plus the last one before it (the starting balance)."""
    before = (select(BalanceRead.read_at, BalanceRead.remaining_credits).where(BalanceRead.read_at < since)
              .order_by(BalanceRead.read_at.desc(), BalanceRead.id.desc()).limit(1))
    after = (select(BalanceRead.read_at, BalanceRead.remaining_credits).where(BalanceRead.read_at >= since)
             .order_by(BalanceRead.read_at, BalanceRead.id))
    first = [(r[0], r[1]) for r in (await session.execute(before)).all()]
    return first + [(r[0], r[1]) for r in (await session.execute(after)).all()]
