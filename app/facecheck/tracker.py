"""Follows searches that no client is polling, so every reservation ends committed or refunded:
after a client gives up, and after a restart (the database lists what was in flight).

One process leads (a lease in the quota store) so replicas do not all poll upstream for the same
searches; settling is idempotent, so a brief overlap during a lease hand-over costs nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from app.background import Background
from app.clock import Clock
from app.db import Database
from app.errors import GatewayError
from app.facecheck import repository as repo
from app.facecheck.lifecycle import SearchLifecycle
from app.facecheck.models import UNRESOLVED, Search
from app.facecheck.sharing import SearchSharing
from app.observability import metrics
from app.quotas.service import QuotaService
from app.store_errors import StoreUnavailable

log = logging.getLogger("facecheck_gateway.tracker")
MAX_BACKOFF_SECONDS = 30.0


class Tracker:
    def __init__(self, db: Database, lifecycle: SearchLifecycle, sharing: SearchSharing, quotas: QuotaService,
                 clock: Clock, *, interval: float, balance_every: float, unresolved_after: timedelta,
                 probe_due: Callable[[], bool]) -> None:
        self._db = db
        self._lifecycle = lifecycle
        self._sharing = sharing
        self._quotas = quotas
        self._interval = interval
        self._balance_every = balance_every
        self._unresolved_after = unresolved_after
        self._probe_due = probe_due  # the balance read is the circuit breaker's probe when one is due
        self._clock = clock
        self._background = Background("search-tracker")
        self._balance_at = float("-inf")
        self._failures: dict[str, int] = {}  # per search: status checks in a row that told nothing
        self._retry_at: dict[str, float] = {}
        self._leading = False

    def start(self) -> None:
        self._background.start(self._run())
        if self._lifecycle.sweeper is not None:  # deletes inputs on the leader only, like the tracking
            self._lifecycle.sweeper.start(lambda: self._leading, self._interval)

    async def stop(self) -> None:
        if self._lifecycle.sweeper is not None:
            await self._lifecycle.sweeper.stop()
        await self._background.stop()

    async def _run(self) -> None:
        while True:
            try:
                self._leading = await self._quotas.lead("tracker", self._interval * 3)
                if self._leading:
                    await self.tick()
            except Exception:  # keep tracking whatever one round ran into
                log.exception("tracker round failed")
            await asyncio.sleep(self._interval)

    async def tick(self) -> None:
        """One round; each step stands alone, so an unreachable Redis or upstream only skips what
        needs it and the rest (settling in the database) still happens."""
        quotas = self._quotas
        due = self._clock.monotonic() - self._balance_at >= self._balance_every or self._probe_due()
        if due and await self._guarded(quotas.refresh_balance()):
            self._balance_at = self._clock.monotonic()
        async with self._db.transaction() as session:
            stale = await repo.stale_claims(session, self._lifecycle.stale_cutoff())
            overdue = await repo.overdue(session, self._clock.now() - self._unresolved_after)
            await repo.abandon_uploads(session, self._lifecycle.stale_cutoff())
        for search in overdue:
            await self._guarded(self._lifecycle.flag_unresolved(search))
        for search in stale:
            await self._guarded(self._lifecycle.resolve_stale_claim(search))
        async with self._db.transaction() as session:
            running = await repo.in_flight(session)
        metrics.SEARCHES_IN_FLIGHT.set(len(running))
        metrics.SEARCHES_UNRESOLVED.set(sum(s.status == UNRESOLVED for s in running))
        for name in set(self._retry_at) - {s.id for s in running}:
            self._retry_at.pop(name, None)
            self._failures.pop(name, None)
        for search in running:
            if self._clock.monotonic() >= self._retry_at.get(search.id, float("-inf")):
                await self._follow(search)
        await self._guarded(quotas.reconcile())

    async def _follow(self, search: Search) -> None:
        """Ask about one search (coalesced with clients' polls); while upstream tells nothing, ask it
        less often, down to once per MAX_BACKOFF_SECONDS, however long that lasts."""
        try:
            known = (await self._sharing.progress(search)).known
        except (GatewayError, StoreUnavailable) as exc:
            log.debug("tracker step deferred", extra={"reason": type(exc).__name__})
            known = False
        if known:
            self._failures.pop(search.id, None)
            self._retry_at.pop(search.id, None)
            return
        failures = self._failures[search.id] = self._failures.get(search.id, 0) + 1
        self._retry_at[search.id] = self._clock.monotonic() + min(self._interval * 2**failures, MAX_BACKOFF_SECONDS)

    @staticmethod
    async def _guarded(step: Awaitable[object]) -> bool:
        try:
            await step
        except (GatewayError, StoreUnavailable) as exc:  # settled inside, or retried next round
            log.debug("tracker step deferred", extra={"reason": type(exc).__name__})
            return False
        return True
