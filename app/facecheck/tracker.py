"""Follows searches that no client is polling, so every reservation ends committed or refunded:
after a client gives up, and after a restart (the database lists what was in flight).

One process leads (a lease in the quota store) so replicas do not all poll upstream for the same
searches; settling is idempotent, so a brief overlap during a lease hand-over costs nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable

from app.background import Background
from app.clock import Clock
from app.db import Database
from app.errors import GatewayError
from app.facecheck import repository as repo
from app.facecheck.lifecycle import SearchLifecycle
from app.facecheck.sharing import SearchSharing
from app.observability import metrics
from app.quotas.service import QuotaService
from app.store_errors import StoreUnavailable

log = logging.getLogger("facecheck_gateway.tracker")


class Tracker:
    def __init__(self, db: Database, lifecycle: SearchLifecycle, sharing: SearchSharing, quotas: QuotaService,
                 clock: Clock, *, interval: float, balance_every: float) -> None:
        self._db = db
        self._lifecycle = lifecycle
        self._sharing = sharing
        self._quotas = quotas
        self._interval = interval
        self._balance_every = balance_every
        self._clock = clock
        self._background = Background("search-tracker")
        self._balance_at = float("-inf")

    def start(self) -> None:
        self._background.start(self._run())

    async def stop(self) -> None:
        await self._background.stop()

    async def _run(self) -> None:
        while True:
            try:
                if await self._quotas.lead("tracker", self._interval * 3):
                    await self.tick()
            except Exception:  # keep tracking whatever one round ran into
                log.exception("tracker round failed")
            await asyncio.sleep(self._interval)

    async def tick(self) -> None:
        """One round; each step stands alone, so an unreachable Redis or upstream only skips what
        needs it and the rest (settling in the database) still happens."""
        quotas = self._quotas
        due = self._clock.monotonic() - self._balance_at >= self._balance_every
        if due and await self._guarded(quotas.refresh_balance()):
            self._balance_at = self._clock.monotonic()
        async with self._db.transaction() as session:
            stale = await repo.stale_claims(session, self._lifecycle.stale_cutoff())
            running = await repo.in_flight(session)
        metrics.SEARCHES_IN_FLIGHT.set(len(running) + len(stale))
        for search in stale:
            await self._guarded(self._lifecycle.resolve_stale_claim(search))
        for search in running:
            await self._guarded(self._sharing.progress(search))  # coalesced with clients' polls
        await self._guarded(quotas.reconcile())

    @staticmethod
    async def _guarded(step: Awaitable[object]) -> bool:
        try:
            await step
        except (GatewayError, StoreUnavailable) as exc:  # settled inside, or retried next round
            log.debug("tracker step deferred", extra={"reason": type(exc).__name__})
            return False
        return True
