"""Reserve, then commit or refund, over whichever store is configured.

The store answers "no counters" after a restart (memory) or a Redis data loss: the counters are
then rebuilt from the database before any new reservation is granted. When the store cannot be
reached, spending is refused (QUOTA_FAIL_MODE=closed) or allowed and the counters rebuilt once it
is back (open). Settling a reservation never fails a request: the database records the outcome
first-hand and `reconcile` brings the store in line.

A failover can hand over a primary that lost the last writes (replication is asynchronous), so
counters can survive while missing grants. A replica that lost contact with the store therefore
recounts from the database before its next grant, and `reconcile` recounts when the store no longer
holds a reservation the database says is held (whoever lost contact, or nobody noticed).
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

    async def held_ids(self, session: AsyncSession) -> set[str]: ...


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
        self._lost_contact = False  # the store failed us: it may come back as a copy missing writes
        self._rebuild_lock = asyncio.Lock()
        self.on_commit: Callable[[], None] = lambda: None  # told when credits are charged (budget watch)

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
            self._lost_contact = True
            log.warning("rate limit store unreachable; request allowed")
            return {}
        headers = rate_headers(decision)
        if not decision.allowed:
            raise RateLimited(headers=headers)
        return headers

    async def reserve(self, reservation: Reservation, limits: Limits) -> dict[str, str]:
        """Take everything a new search needs, atomically, or raise the deciding limit's error."""
        try:
            if self._dirty or self._lost_contact:  # grants made without the store, or maybe lost by it
                await self._recount()
            decision = await self._reserve(reservation, limits)
        except StoreUnavailable as exc:
            self._lost_contact = True
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

    async def _recount(self) -> None:
        """Drop the counters so the next grant rebuilds them from the database, and re-read the
        balance, which lost commits may have left too high."""
        await self.store.invalidate()
        if self._lost_contact:
            log.warning("quota store was unreachable; recounting from the database")
            try:
                await self.refresh_balance()
            except GatewayError:  # upstream unreachable: the balance stays as it was
                log.warning("balance not refreshed after losing the quota store")
        self._dirty = self._lost_contact = False

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
        self.on_commit()

    async def refund(self, search_id: str) -> None:
        await self._settle(search_id, commit=False)

    async def _settle(self, search_id: str, *, commit: bool) -> None:
        try:
            await (self.store.commit(search_id) if commit else self.store.refund(search_id))
        except StoreUnavailable:
            self._lost_contact = True
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
        lost its counters (so usage reads are right before the next reservation would rebuild it);
        recount when the store lost one the database still holds (a failover to a primary missing
        recent writes). The database is read before and after the store: a reservation held in the
        database both times was held throughout, and the store takes a grant before the database
        records it."""
        if not await self.store.has_counters():
            await self.rebuild()
        async with self._db.transaction() as session:
            expected = await self._ledger.held_ids(session)
        held = await self.store.held_ids()
        async with self._db.transaction() as session:
            states = await self._ledger.unsettled(session, held | expected)
        if any(states.get(search_id) == HELD for search_id in expected - held):
            log.warning("quota store lost held reservations; recounting from the database")
            await self.store.invalidate()
            return
        for search_id, state in states.items():
            if search_id not in held:
                continue
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
            self._lost_contact = True
            return True  # without the store, every replica tracks; settling is idempotent
