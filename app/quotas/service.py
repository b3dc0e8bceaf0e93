"""Reserve, then commit or refund, over whichever store is configured.

The store answers "no counters" after a restart (memory) or a Redis data loss: the counters are
then rebuilt from the database before any new reservation is granted. When the store cannot be
reached, spending is refused (QUOTA_FAIL_MODE=closed) or allowed and the counters rebuilt once it
is back (open). Settling a reservation never fails a request: the database records the outcome
first-hand and `reconcile` brings the store in line.
"""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
from collections.abc import Awaitable, Callable
from typing import Literal, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from app.clock import Clock
from app.db import Database
from app.errors import (
    ConcurrencyLimited,
    DailyLimit,
    GatewayError,
    NoCredits,
    QuotaExceeded,
    RateLimited,
    ServiceUnavailable,
)
from app.quotas.policy import (
    COMMITTED,
    CONCURRENCY_LIMIT,
    DAILY_LIMIT,
    HELD,
    NEEDS_BALANCE,
    NEEDS_REBUILD,
    NO_CREDITS,
    PENDING,
    QUOTA_EXCEEDED,
    Decision,
    GlobalLimits,
    Limits,
    Reservation,
    Snapshot,
    Usage,
    credit_cost,
    day_of,
    month_of,
)
from app.quotas.storage import QuotaStore
from app.store_errors import StoreUnavailable

log = logging.getLogger("facecheck_gateway.quotas")

_ERRORS: dict[str, type[GatewayError]] = {
    CONCURRENCY_LIMIT: ConcurrencyLimited,
    DAILY_LIMIT: DailyLimit,
    QUOTA_EXCEEDED: QuotaExceeded,
    NO_CREDITS: NoCredits,
}
_REBUILD_ATTEMPTS = 20
_REBUILD_WAIT = 0.1


def rate_headers(decision: Decision) -> dict[str, str]:
    """RateLimit-* headers (and Retry-After on a rejection) for the limit that decided."""
    headers: dict[str, str] = {}
    if decision.limit is not None:
        headers["RateLimit-Limit"] = str(decision.limit)
    if decision.remaining is not None:
        headers["RateLimit-Remaining"] = str(max(0, decision.remaining))
    if decision.reset_seconds is not None:
        reset = str(max(1, math.ceil(decision.reset_seconds)))
        headers["RateLimit-Reset"] = reset
        if not decision.allowed:
            headers["Retry-After"] = reset
    return headers


class Ledger(Protocol):
    """The database's record of reservations (the searches table, kept by app.facecheck.ledger)."""

    async def snapshot(self, session: AsyncSession, month: str, day: str) -> Snapshot: ...

    async def unsettled(self, session: AsyncSession, search_ids: set[str]) -> dict[str, str | None]: ...


class QuotaService:
    def __init__(
        self,
        store: QuotaStore,
        db: Database,
        ledger: Ledger,
        clock: Clock,
        balance_source: Callable[[], Awaitable[int]],
        *,
        search_price: int,
        fail_mode: Literal["open", "closed"],
        max_concurrent_searches: int,
    ) -> None:
        self.store = store
        self._db = db
        self._ledger = ledger
        self._clock = clock
        self._balance_source = balance_source
        self._search_price = search_price
        self._fail_mode = fail_mode
        self._global = GlobalLimits(max_concurrent_searches)
        self._owner = secrets.token_hex(8)
        self._dirty = False  # counters missed a fail-open grant: rebuild before trusting them
        self._rebuild_lock = asyncio.Lock()

    def reservation(self, search_id: str, tenant_id: str, demo: bool) -> Reservation:
        now = self._clock.now()
        cost = credit_cost(self._search_price, demo)
        return Reservation(search_id, tenant_id, cost, month_of(now), day_of(now))

    async def check_rate(self, tenant_id: str, limits: Limits, key_id: str, key_rpm: int | None) -> dict[str, str]:
        """Count one /api call; raises RATE_LIMITED. Fails open: the rate limit protects capacity,
        while money is protected by reservations, which fail closed."""
        if limits.requests_per_minute is None and key_rpm is None:
            return {}
        try:
            decision = await self.store.hit_rate(tenant_id, limits.requests_per_minute, key_id, key_rpm,
                                                 self._clock.now())
        except StoreUnavailable:
            log.warning("rate limit store unreachable; request allowed")
            return {}
        headers = rate_headers(decision)
        if not decision.allowed:
            raise RateLimited(headers=headers)
        return headers

    async def reserve(self, reservation: Reservation, limits: Limits) -> dict[str, str]:
        """Take everything a new search needs, atomically, or raise the deciding limit's error."""
        try:
            if self._dirty:  # grants were made without the store: recount everything from the database
                await self.store.invalidate()
                self._dirty = False
            decision = await self._reserve(reservation, limits)
        except StoreUnavailable as exc:
            if self._fail_mode == "open":
                log.warning("quota store unreachable; reservation allowed (QUOTA_FAIL_MODE=open)")
                self._dirty = True
                return {}
            raise ServiceUnavailable(
                "Limits cannot be checked right now, so no new search can start; try again shortly."
            ) from exc
        headers = rate_headers(decision)
        if not decision.allowed:
            error = _ERRORS.get(decision.code or "", ServiceUnavailable)
            message = None
            if decision.code == CONCURRENCY_LIMIT and decision.scope == "global":
                message = "The gateway is running as many upstream searches as it may; retry shortly."
            raise error(message, headers=headers)
        return headers

    async def _reserve(self, reservation: Reservation, limits: Limits) -> Decision:
        decision = Decision(NEEDS_REBUILD)
        for _ in range(_REBUILD_ATTEMPTS):
            decision = await self.store.reserve(reservation, limits, self._global, self._clock.now())
            if decision.code == NEEDS_REBUILD:
                if not await self.rebuild():
                    await asyncio.sleep(_REBUILD_WAIT)  # another replica is rebuilding
            elif decision.code == NEEDS_BALANCE:
                await self.refresh_balance()
            else:
                return decision
        return decision

    async def rebuild(self) -> bool:
        """Rebuild the store's counters from the database (a no-op if another rebuild got there
        first); False if another process holds the rebuild lease, so the caller should wait."""
        async with self._rebuild_lock:  # one per process; the lease spares the database across replicas
            if not await self.store.try_lock("rebuild", self._owner, 5):
                return False
            now = self._clock.now()
            async with self._db.transaction() as session:
                snapshot = await self._ledger.snapshot(session, month_of(now), day_of(now))
            if await self.store.rebuild(snapshot):
                log.info("quota counters rebuilt from the database", extra={"held": len(snapshot.held)})
            return True

    async def refresh_balance(self) -> None:
        await self.store.set_balance(await self._balance_source())

    async def commit(self, search_id: str) -> None:
        await self._settle(search_id, commit=True)

    async def refund(self, search_id: str) -> None:
        await self._settle(search_id, commit=False)

    async def _settle(self, search_id: str, *, commit: bool) -> None:
        try:
            await (self.store.commit(search_id) if commit else self.store.refund(search_id))
        except StoreUnavailable:
            log.warning("quota store unreachable while settling; reconciliation will finish it")

    async def recount(self) -> None:
        """Replace the store's counters with the database's (after the database changed a settled
        reservation behind the store's back: a refund corrected into a charge)."""
        try:
            await self.store.invalidate()
            await self.rebuild()
        except StoreUnavailable:
            log.warning("quota store unreachable; its counters are rebuilt at the next reservation")

    async def reconcile(self) -> None:
        """Settle in the store every reservation the database no longer holds; rebuild a store that
        lost its counters (so usage reads are right before the next reservation would rebuild it)."""
        if not await self.store.has_counters():
            await self.rebuild()
        held = await self.store.held_ids()
        async with self._db.transaction() as session:
            states = await self._ledger.unsettled(session, held)
        for search_id, state in states.items():
            if state == COMMITTED:
                await self.store.commit(search_id)
            elif state not in (HELD, PENDING):
                await self.store.refund(search_id)

    async def usage(self, tenant_id: str) -> Usage:
        return await self.store.usage(tenant_id, self._clock.now())

    async def lead(self, name: str, ttl_seconds: float) -> bool:
        """Whether this process holds the named lease (one background tracker across replicas)."""
        try:
            return await self.store.try_lock(name, self._owner, ttl_seconds)
        except StoreUnavailable:
            return True  # without the store, every replica tracks; settling is idempotent
