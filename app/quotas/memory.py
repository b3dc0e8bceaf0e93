"""In-process QuotaStore: the reference semantics, and the backend of the one-process embedded mode.

No method awaits between reading and updating counters, so in one event loop each is as atomic as a
Lua script in Redis. The Redis backend reuses the rules here (first_failure, describe, epoch_ms), so
both backends decide and report identically."""

from __future__ import annotations

import bisect
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from app.quotas.policy import (
    CONCURRENCY_LIMIT,
    DAILY_LIMIT,
    NEEDS_BALANCE,
    NEEDS_REBUILD,
    NO_CREDITS,
    QUOTA_EXCEEDED,
    RATE_LIMITED,
    Decision,
    GlobalLimits,
    Limits,
    Reservation,
    Snapshot,
    Usage,
    day_of,
    month_of,
    seconds_to_next_day,
    seconds_to_next_month,
)

WINDOW_MS = 60_000  # the rate limit's sliding window
CONCURRENCY_RESET_S = 1.0  # a slot frees whenever any search ends: only a hint to retry soon
_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_ms(now: datetime) -> int:
    """Whole milliseconds since 1970, computed exactly (no float rounding), so a window edge falls on
    the same millisecond in both backends."""
    return (now - _UNIX_EPOCH) // timedelta(milliseconds=1)


@dataclass(frozen=True, slots=True)
class Counters:
    """One consistent view of everything a reservation is checked against."""

    global_in_flight: int
    in_flight: int
    today: int
    used: int
    outstanding: int
    balance: int | None


def first_failure(c: Counters, cost: int, limits: Limits, glob: GlobalLimits) -> tuple[str | None, str]:
    """The first limit a new reservation would break, in the protocol's order, and its scope."""
    if c.global_in_flight >= glob.max_concurrent_searches:
        return CONCURRENCY_LIMIT, "global"
    if limits.max_concurrent_searches is not None and c.in_flight >= limits.max_concurrent_searches:
        return CONCURRENCY_LIMIT, "tenant"
    if limits.searches_per_day is not None and c.today >= limits.searches_per_day:
        return DAILY_LIMIT, "tenant"
    if cost > 0:  # demo searches cost nothing, so neither credit check applies
        if limits.credits_per_month is not None and c.used + cost > limits.credits_per_month:
            return QUOTA_EXCEEDED, "tenant"
        if c.balance is None:
            return NEEDS_BALANCE, "global"
        if c.balance - c.outstanding < cost:
            return NO_CREDITS, "global"
    return None, "tenant"


def describe(code: str | None, scope: str, c: Counters, cost: int, limits: Limits, glob: GlobalLimits,
             now: datetime) -> Decision:
    """The Decision for `code`, from the counters as they stand after the check (and the take)."""
    if code is None:
        return _tightest(c, cost, limits, now)
    if code == CONCURRENCY_LIMIT:
        cap = glob.max_concurrent_searches if scope == "global" else limits.max_concurrent_searches
        return Decision(code, cap, 0, CONCURRENCY_RESET_S, scope)
    if code == DAILY_LIMIT and (cap := limits.searches_per_day) is not None:
        return Decision(code, cap, max(0, cap - c.today), seconds_to_next_day(now), scope)
    if code == QUOTA_EXCEEDED and (cap := limits.credits_per_month) is not None:
        return Decision(code, cap, max(0, cap - c.used), seconds_to_next_month(now), scope)
    if code == NO_CREDITS and c.balance is not None:
        return Decision(code, None, max(0, c.balance - c.outstanding), None, "global")
    return Decision(code, scope=scope)


def _tightest(c: Counters, cost: int, limits: Limits, now: datetime) -> Decision:
    """The tenant limit with least room left (ties: concurrency, day, credits; credits if cost > 0)."""
    room: list[tuple[int, int, float]] = []
    if (cap := limits.max_concurrent_searches) is not None:
        room.append((cap, cap - c.in_flight, CONCURRENCY_RESET_S))
    if (cap := limits.searches_per_day) is not None:
        room.append((cap, cap - c.today, seconds_to_next_day(now)))
    if cost > 0 and (cap := limits.credits_per_month) is not None:
        room.append((cap, cap - c.used, seconds_to_next_month(now)))
    if not room:
        return Decision(None)
    cap, remaining, reset = min(room, key=lambda entry: entry[1])
    return Decision(None, cap, max(0, remaining), reset)


@dataclass(slots=True)
class _Generation:
    """All rebuildable counters; a rebuild swaps in a whole new one, as Redis switches epochs."""

    used: dict[tuple[str, str], int] = field(default_factory=dict)  # (tenant, month) -> credits
    today: dict[tuple[str, str], int] = field(default_factory=dict)  # (tenant, day) -> searches
    in_flight: dict[str, int] = field(default_factory=dict)
    global_in_flight: int = 0
    outstanding: int = 0
    held: dict[str, Reservation] = field(default_factory=dict)
    newest_day: str = ""

    def counters(self, r: Reservation, balance: int | None) -> Counters:
        t = r.tenant_id
        return Counters(self.global_in_flight, self.in_flight.get(t, 0), self.today.get((t, r.day), 0),
                        self.used.get((t, r.month), 0), self.outstanding, balance)

    def hold(self, r: Reservation) -> None:
        """In-flight slots and the outstanding hold, without credits or day (a rebuild has those)."""
        self.in_flight[r.tenant_id] = self.in_flight.get(r.tenant_id, 0) + 1
        self.global_in_flight, self.outstanding = self.global_in_flight + 1, self.outstanding + r.cost
        self.held[r.search_id] = r

    def take(self, r: Reservation) -> None:
        if r.day > self.newest_day:  # what Redis TTLs do: day counters live ~2 days, months ~40 days
            self.newest_day, new = r.day, date.fromisoformat(r.day)
            yesterday = (new - timedelta(days=1)).isoformat()
            last_month = (new.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
            self.today = {k: v for k, v in self.today.items() if k[1] >= yesterday}
            self.used = {k: v for k, v in self.used.items() if k[1] >= last_month}
        if r.cost:
            self.used[(r.tenant_id, r.month)] = self.used.get((r.tenant_id, r.month), 0) + r.cost
        self.today[(r.tenant_id, r.day)] = self.today.get((r.tenant_id, r.day), 0) + 1
        self.hold(r)

    def release(self, search_id: str) -> Reservation | None:
        r = self.held.pop(search_id, None)
        if r is not None:
            if (left := self.in_flight.pop(r.tenant_id, 0) - 1) > 0:
                self.in_flight[r.tenant_id] = left
            self.global_in_flight, self.outstanding = self.global_in_flight - 1, self.outstanding - r.cost
        return r

    def give_back(self, r: Reservation) -> None:
        """Lower counters that still exist, never below zero: a counter for a period that rolled
        over, or that a rebuild for another period never wrote, has nothing to give back."""
        for counts, key, by in ((self.used, (r.tenant_id, r.month), r.cost), (self.today, (r.tenant_id, r.day), 1)):
            if key in counts:
                counts[key] = max(0, counts[key] - by)


class MemoryStore:
    """QuotaStore for one process. Starts without counters, so the first reservation after a start
    asks for a rebuild from the database: that is how a restart recovers."""

    def __init__(self) -> None:
        self._gen: _Generation | None = None
        self._balance: int | None = None
        self._windows: dict[tuple[str, str], list[int]] = {}  # sorted ms timestamps, like a ZSET
        self._locks: dict[str, tuple[str, float]] = {}  # name -> (owner, monotonic expiry)
        self._next_sweep_ms = 0

    async def reserve(self, reservation: Reservation, limits: Limits, global_limits: GlobalLimits,
                      now: datetime) -> Decision:
        gen = self._gen
        if gen is None:
            return Decision(NEEDS_REBUILD)
        held = reservation.search_id in gen.held  # then allowed again, and nothing is taken twice
        before = gen.counters(reservation, self._balance)
        code, scope = (None, "tenant") if held else first_failure(before, reservation.cost, limits, global_limits)
        if code is None and not held:
            gen.take(reservation)
        after = gen.counters(reservation, self._balance)
        return describe(code, scope, after, reservation.cost, limits, global_limits, now)

    async def commit(self, search_id: str) -> bool:
        r = self._gen.release(search_id) if self._gen is not None else None
        if r is not None and self._balance is not None:
            self._balance -= r.cost  # not clamped: below zero must keep refusing until refreshed
        return r is not None

    async def refund(self, search_id: str) -> bool:
        r = self._gen.release(search_id) if self._gen is not None else None
        if r is not None and self._gen is not None:
            self._gen.give_back(r)
        return r is not None

    async def hit_rate(self, tenant_id: str, tenant_rpm: int | None, key_id: str, key_rpm: int | None,
                       now: datetime) -> Decision:
        now_ms = epoch_ms(now)
        if now_ms >= self._next_sweep_ms:  # once a window: keys that have gone quiet leave no list behind
            self._windows = {k: log for k, log in self._windows.items() if log and log[-1] > now_ms - WINDOW_MS}
            self._next_sweep_ms = now_ms + WINDOW_MS
        windows = [(self._windows.setdefault((scope, ident), []), cap, scope)
                   for scope, ident, cap in (("tenant", tenant_id, tenant_rpm), ("key", key_id, key_rpm))
                   if cap is not None]
        if not windows:
            return Decision(None)
        refusal: Decision | None = None
        for log, cap, scope in windows:
            del log[: bisect.bisect_right(log, now_ms - WINDOW_MS)]  # entries at or before now - 60 s left
            if len(log) >= cap:  # room again once the entry `cap` places from the newest leaves
                reset = _leaves_in(log, len(log) - cap, now_ms)
                if refusal is None or (refusal.reset_seconds or 0.0) < reset:
                    refusal = Decision(RATE_LIMITED, cap, 0, reset, scope)
        if refusal is not None:  # the window that frees last decides; nothing is counted
            return refusal
        for log, _, _ in windows:
            bisect.insort(log, now_ms)
        log, cap, scope = min(windows, key=lambda w: w[1] - len(w[0]))
        return Decision(None, cap, cap - len(log), _leaves_in(log, 0, now_ms), scope)

    async def usage(self, tenant_id: str, now: datetime) -> Usage:
        probe = Reservation("", tenant_id, 0, month_of(now), day_of(now))
        c = (self._gen or _Generation()).counters(probe, self._balance)
        return Usage(c.used, c.today, c.in_flight, self._balance, c.outstanding)

    async def set_balance(self, credits: int) -> None:
        self._balance = credits

    async def rebuild(self, snapshot: Snapshot) -> bool:
        if self._gen is not None:
            return False
        gen = _Generation(newest_day=snapshot.day)
        gen.used = {(tenant, snapshot.month): n for tenant, n in snapshot.credits_used.items()}
        gen.today = {(tenant, snapshot.day): n for tenant, n in snapshot.searches_today.items()}
        for r in snapshot.held:
            gen.hold(r)
        self._gen = gen
        return True

    async def invalidate(self) -> None:
        self._gen = None

    async def has_counters(self) -> bool:
        return self._gen is not None

    async def held_ids(self) -> set[str]:
        return set(self._gen.held) if self._gen is not None else set()

    async def try_lock(self, name: str, owner: str, ttl_seconds: float) -> bool:
        if (holder := self._locks.get(name)) and holder[0] != owner and holder[1] > time.monotonic():
            return False
        self._locks[name] = (owner, time.monotonic() + ttl_seconds)
        return True

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        """Nothing to release: the counters die with the process, and a restart rebuilds them."""


def _leaves_in(log: list[int], index: int, now_ms: int) -> float:
    """Seconds until entry `index` leaves the window (a whole window when there is none)."""
    return ((log[index] + WINDOW_MS - now_ms) if index < len(log) else WINDOW_MS) / 1000
