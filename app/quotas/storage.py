"""The protocol both backends implement: Redis (one Lua script per atomic operation, shared by
every replica) and in-process memory (the same guarantees for one process).

Every method is one atomic step. Implementations raise `StoreUnavailable` when they cannot
answer (Redis unreachable or timing out); the quota service decides what that means.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from app.quotas.policy import Decision, GlobalLimits, Limits, Reservation, Snapshot, Usage


class QuotaStore(Protocol):
    async def reserve(self, reservation: Reservation, limits: Limits, global_limits: GlobalLimits,
                      now: datetime) -> Decision:
        """Atomically check and take everything a new search needs, or nothing.

        Order of checks: store has counters (else NEEDS_REBUILD); reservation already held for this
        search_id (then allowed, idempotent, nothing taken twice); global concurrency, tenant
        concurrency (CONCURRENCY_LIMIT); searches today (DAILY_LIMIT); credits this month
        (QUOTA_EXCEEDED); upstream balance minus outstanding reservations (NEEDS_BALANCE when the
        balance is unknown and cost > 0, NO_CREDITS when short). A cost of 0 (demo) skips both
        credit checks but takes the daily and concurrency slots.
        """
        ...

    async def commit(self, search_id: str) -> bool:
        """Upstream finished the search: release its concurrency slots and outstanding hold, keep
        its credits and daily slot as spent, and lower the known upstream balance by its cost.
        False (and no change) when no reservation is held for it: commits are idempotent."""
        ...

    async def refund(self, search_id: str) -> bool:
        """Upstream failed (or never started) the search: give back everything it reserved.
        False (and no change) when no reservation is held for it."""
        ...

    async def hit_rate(self, tenant_id: str, tenant_rpm: int | None, key_id: str, key_rpm: int | None,
                       now: datetime) -> Decision:
        """Count one /api request against sliding 60-second windows (tenant, and key when key_rpm
        is set). A rejected request is not counted. Never more than the limit in any 60 s span."""
        ...

    async def usage(self, tenant_id: str, now: datetime) -> Usage: ...

    async def set_balance(self, credits: int) -> None:
        """Record a fresh upstream balance (from upstream /api/info)."""
        ...

    async def rebuild(self, snapshot: Snapshot) -> bool:
        """Install the database's truth as all credit, daily, concurrency and reservation state,
        atomically, and mark the store as having counters -- only while it has none: False (and no
        change) when it already has them, so a rebuild from an older snapshot can never overwrite
        counters that already include later grants. The balance is left to set_balance."""
        ...

    async def invalidate(self) -> None:
        """Drop the counters (their epoch), so that nothing is granted until the next rebuild."""
        ...

    async def has_counters(self) -> bool:
        """False when the store holds no counters at all (Redis restarted empty, flushed): its usage
        figures would read zero until the next rebuild."""
        ...

    async def held_ids(self) -> set[str]:
        """Search ids with a reservation held in the store (for reconciliation with the database)."""
        ...

    async def try_lock(self, name: str, owner: str, ttl_seconds: float) -> bool:
        """Take or renew a named lease (rebuild, tracker leadership); True if `owner` holds it."""
        ...

    async def ping(self) -> bool: ...

    async def close(self) -> None: ...
