"""What a tenant may spend, and what a single check decided.

Money is reserved before a search goes upstream and is then either committed (upstream finished
it) or refunded (upstream reported an error): a reservation is the unit every counter moves by.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

# A reservation's states: pending (recorded, not yet granted by the store), held (granted, in
# flight) until upstream finishes (committed) or fails (refunded).
PENDING, HELD, COMMITTED, REFUNDED = "pending", "held", "committed", "refunded"


def credit_cost(price: int, demo: bool) -> int:
    """What a search costs: a demo search costs nothing, whatever the price."""
    return 0 if demo else price


# Rejection codes, in the order the reserve check applies them.
CONCURRENCY_LIMIT = "CONCURRENCY_LIMIT"
DAILY_LIMIT = "DAILY_LIMIT"
QUOTA_EXCEEDED = "QUOTA_EXCEEDED"
NO_CREDITS = "NO_CREDITS"
RATE_LIMITED = "RATE_LIMITED"


@dataclass(frozen=True, slots=True)
class Limits:
    """A tenant's limits; None means unlimited."""

    credits_per_month: int | None = None
    searches_per_day: int | None = None
    requests_per_minute: int | None = None
    max_concurrent_searches: int | None = None
    demo_only: bool = False


@dataclass(frozen=True, slots=True)
class Reservation:
    """One search's hold on credits (`cost`, 0 for demo), a daily slot and a concurrency slot."""

    search_id: str
    tenant_id: str
    cost: int
    month: str  # "2026-11": the calendar month (UTC) the credits count against
    day: str  # "2026-11-23": the calendar day (UTC) the search counts against


@dataclass(frozen=True, slots=True)
class GlobalLimits:
    max_concurrent_searches: int


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of a check, with what the RateLimit-* headers report.

    `code` is None when allowed, else one of the rejection codes (or NEEDS_REBUILD / NEEDS_BALANCE,
    which the quota service handles itself and never shows a client). `limit` and `remaining` are
    for the limit that decided (or the tightest one when allowed; None when nothing limits);
    `reset_seconds` is when that limit next frees up.
    """

    code: str | None
    limit: int | None = None
    remaining: int | None = None
    reset_seconds: float | None = None
    scope: str = "tenant"  # which limit decided: "tenant", "key" or "global"

    @property
    def allowed(self) -> bool:
        return self.code is None


NEEDS_REBUILD = "NEEDS_REBUILD"  # the store lost its counters (or never had them): rebuild from the DB
NEEDS_BALANCE = "NEEDS_BALANCE"  # the upstream balance is unknown: refresh it from upstream /api/info


@dataclass(frozen=True, slots=True)
class Usage:
    """A tenant's counters as the store holds them now."""

    credits_used: int  # this month: committed + held
    searches_today: int  # today: committed + held
    in_flight: int
    upstream_balance: int | None  # last known upstream balance minus committed spend since
    outstanding: int  # credits held by all tenants' in-flight searches


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The database's truth, from which a store rebuilds its counters."""

    month: str
    day: str
    credits_used: dict[str, int]  # tenant -> credits of held + committed reservations this month
    searches_today: dict[str, int]  # tenant -> held + committed reservations today
    held: list[Reservation]  # every reservation still held (in flight)


def month_of(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m")


def day_of(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m-%d")


def seconds_to_next_day(now: datetime) -> float:
    now = now.astimezone(UTC)
    tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (tomorrow - now).total_seconds()


def seconds_to_next_month(now: datetime) -> float:
    now = now.astimezone(UTC)
    first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    following = (first + timedelta(days=32)).replace(day=1)
    return (following - now).total_seconds()
