"""The ledger as the running gateway serves it: a fresh balance read first (best effort, so the
report includes the last charges), then the report, and the drift gauge it sets. A background task
keeps the gauge current for alerting even when nobody asks."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from app.actors import Actor
from app.audit.writer import AuditWriter
from app.background import Background
from app.clock import Clock
from app.db import Database
from app.errors import GatewayError
from app.facecheck.corrections import settle_unresolved
from app.ledger.report import build_report
from app.ledger.schemas import LedgerReport, SettledSearch
from app.observability import metrics
from app.upstream.info import UpstreamInfo

log = logging.getLogger("facecheck_gateway.ledger")


class LedgerService:
    def __init__(self, db: Database, info: UpstreamInfo, audit: AuditWriter, clock: Clock, *, days: int,
                 refresh_seconds: float) -> None:
        self._db = db
        self._audit = audit
        self._info = info
        self._clock = clock
        self._days = days
        self._refresh = refresh_seconds
        self._background = Background("ledger-drift")

    async def report(self, actor: Actor, days: int | None = None, *, fresh_read: bool = True) -> LedgerReport:
        """The company's books: operators only."""
        actor.operator_only("read the ledger")
        return await self._report(days, fresh_read=fresh_read)

    async def _report(self, days: int | None = None, *, fresh_read: bool = True) -> LedgerReport:
        if fresh_read:
            with contextlib.suppress(GatewayError):  # upstream away: the recorded reads still tell
                await self._info.get(fresh=True)
        async with self._db.transaction() as session:
            report = await build_report(session, self._clock.now(), days or self._days)
        if days is None or days == self._days:
            metrics.LEDGER_DRIFT.set(report.drift)
        return report

    async def settle(self, actor: Actor, id_search: str, *, charge: bool) -> SettledSearch:
        """An operator settles an unresolved search (the quota store follows at the tracker's next
        reconciliation)."""
        actor.operator_only("settle a search")
        return SettledSearch.of(await settle_unresolved(self._db, self._audit, self._clock, id_search, charge=charge))

    def start(self) -> None:
        self._background.start(self._run())

    async def stop(self) -> None:
        await self._background.stop()

    async def _run(self) -> None:
        while True:
            try:  # the tracker reads the balance every BALANCE_REFRESH_SECONDS; no extra upstream call
                await self._report(fresh_read=False)
            except GatewayError as exc:
                log.debug("ledger drift not refreshed", extra={"reason": type(exc).__name__})
            await asyncio.sleep(self._refresh)
