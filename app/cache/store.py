"""The protocol both cache backends implement, and the in-process one.

Redis (shared by replicas, one Lua script per multi-step atomic operation) and memory (one process,
same semantics: no method awaits between its reads and writes, so each is atomic in one event loop).
Both raise `StoreUnavailable` when they cannot answer; the cache service fails open on it.

Three kinds of state, all TTL-bounded:
- entries: a finished search's output under its cache key, indexed by the tenant that paid for it;
- flights: cache key -> the search running upstream for it (single flight);
- polls: per upstream search, the last status upstream gave and a short lock on asking again.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from app.clock import Clock
from app.observability import metrics


class PollStep(NamedTuple):
    locked: bool  # this caller took the poll lock (its window is the caller's token): it asks upstream
    status: bytes | None  # otherwise the shared status (None: nothing shared yet)
    # How long `status` stays the answer: it was saved in the lock's own window, so until the lock
    # expires nobody asks upstream again and every poll reads this same status. 0 when it was saved
    # in an earlier window (the holder has not answered yet) or nothing is shared.
    fresh_ms: int


class CacheStore(Protocol):
    async def get(self, key: str) -> bytes | None: ...

    async def put(self, key: str, value: bytes, ttl_ms: int, tenant_id: str) -> None:
        """Store an entry and index it under the tenant whose search produced it."""
        ...

    async def purge_key(self, key: str) -> int:
        """Delete one entry; how many were deleted (0 or 1)."""
        ...

    async def purge_tenant(self, tenant_id: str) -> int:
        """Delete every entry the tenant's searches produced."""
        ...

    async def purge_all(self) -> int:
        """Delete every entry and every shared status (both may hold result thumbnails)."""
        ...

    async def join(self, key: str, search_id: str, ttl_ms: int) -> str:
        """Lead the flight for `key` if nobody does; the leading search id either way."""
        ...

    async def leave(self, key: str, search_id: str) -> None:
        """End the flight for `key` if `search_id` still leads it."""
        ...

    async def poll_lock(self, upstream_id: str, ttl_ms: int) -> bool:
        """True for at most one caller per `ttl_ms` per upstream search: that one asks upstream."""
        ...

    async def poll(self, upstream_id: str, ttl_ms: int, token: str) -> PollStep:
        """`poll_lock` (a window named `token`, unique per attempt), and when another caller holds
        the lock, `last_status` and how long it stays the window's answer, in one step."""
        ...

    async def last_status(self, upstream_id: str) -> bytes | None: ...

    async def save_status(self, upstream_id: str, value: bytes, ttl_ms: int, window: str = "") -> None:
        """Share upstream's latest answer, saved in the poll window `window` (the holder's token)."""
        ...

    async def ping(self) -> bool: ...


_SWEEP_EVERY = 1024
_SWEEP_SECONDS = 10.0
# What one entry costs beyond its key and value bytes (tuple, dict slot, strings' headers).
_ENTRY_OVERHEAD = 200


@dataclass(slots=True)
class _Expiring:
    """Values with a deadline. Expired ones read as absent, and are swept now and then (as Redis
    expires keys) so a long-running process does not keep results past their TTL."""

    values: dict[str, tuple[bytes | str, float]] = field(default_factory=dict)
    writes: int = 0
    next_sweep: float = 0.0

    def get(self, key: str, now: float) -> bytes | str | None:
        found = self.values.get(key)
        if found is None:
            return None
        if found[1] <= now:
            del self.values[key]
            return None
        return found[0]

    def set(self, key: str, value: bytes | str, ttl_ms: int, now: float) -> None:
        self.values[key] = (value, now + ttl_ms / 1000)
        self.writes += 1
        if self.writes % _SWEEP_EVERY == 0 or now >= self.next_sweep:
            self.values = {k: v for k, v in self.values.items() if v[1] > now}
            self.next_sweep = now + _SWEEP_SECONDS


@dataclass(slots=True)
class _Results:
    """Cached results, least recently used first, held to `max_bytes` in all: the embedded mode has
    no Redis `maxmemory`, and a day's TTL alone would let the cache grow with every new search."""

    max_bytes: int
    values: OrderedDict[str, tuple[bytes, float, str]] = field(default_factory=OrderedDict)  # value, deadline, tenant
    owners: dict[str, set[str]] = field(default_factory=dict)  # tenant -> its entries' keys
    size: int = 0

    def get(self, key: str, now: float) -> bytes | None:
        found = self.values.get(key)
        if found is None:
            return None
        if found[1] <= now:
            self.pop(key)
            return None
        self.values.move_to_end(key)
        return found[0]

    def put(self, key: str, value: bytes, deadline: float, tenant_id: str) -> None:
        self.pop(key)
        cost = _cost(key, value)
        if cost > self.max_bytes:
            return
        while self.values and self.size + cost > self.max_bytes:
            self.pop(next(iter(self.values)))
            metrics.CACHE_EVICTIONS.inc()
        self.values[key] = (value, deadline, tenant_id)
        self.owners.setdefault(tenant_id, set()).add(key)
        self.size += cost

    def pop(self, key: str) -> bool:
        found = self.values.pop(key, None)
        if found is None:
            return False
        self.size -= _cost(key, found[0])
        keys = self.owners.get(found[2])
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self.owners[found[2]]
        return True

    def clear(self) -> int:
        count = len(self.values)
        self.values.clear()
        self.owners.clear()
        self.size = 0
        return count


def _cost(key: str, value: bytes) -> int:
    return len(key) + len(value) + _ENTRY_OVERHEAD


class MemoryCacheStore:
    """CacheStore for the one-process embedded mode; expiry follows the injected clock."""

    def __init__(self, clock: Clock, max_bytes: int = 64 * 1024 * 1024) -> None:
        self._clock = clock
        self._entries = _Results(max_bytes)
        self._flights = _Expiring()
        self._locks = _Expiring()
        self._statuses = _Expiring()
        self._windows = _Expiring()  # the window each shared status was saved in

    async def get(self, key: str) -> bytes | None:
        return self._entries.get(key, self._clock.monotonic())

    async def put(self, key: str, value: bytes, ttl_ms: int, tenant_id: str) -> None:
        self._entries.put(key, value, self._clock.monotonic() + ttl_ms / 1000, tenant_id)

    async def purge_key(self, key: str) -> int:
        return int(self._entries.pop(key))

    async def purge_tenant(self, tenant_id: str) -> int:
        return sum(self._entries.pop(key) for key in list(self._entries.owners.get(tenant_id, ())))

    async def purge_all(self) -> int:
        self._statuses.values.clear()
        self._windows.values.clear()
        return self._entries.clear()

    async def join(self, key: str, search_id: str, ttl_ms: int) -> str:
        now = self._clock.monotonic()
        leader = self._flights.get(key, now)
        if leader is None:
            self._flights.set(key, search_id, ttl_ms, now)
            return search_id
        return str(leader)

    async def leave(self, key: str, search_id: str) -> None:
        if self._flights.get(key, self._clock.monotonic()) == search_id:
            del self._flights.values[key]

    async def poll_lock(self, upstream_id: str, ttl_ms: int) -> bool:
        now = self._clock.monotonic()
        if self._locks.get(upstream_id, now) is not None:
            return False
        self._locks.set(upstream_id, b"1", ttl_ms, now)
        return True

    async def poll(self, upstream_id: str, ttl_ms: int, token: str) -> PollStep:
        now = self._clock.monotonic()
        window = self._locks.get(upstream_id, now)
        if window is None:
            self._locks.set(upstream_id, token, ttl_ms, now)
            return PollStep(True, None, 0)
        status = await self.last_status(upstream_id)
        if status is None or self._windows.get(upstream_id, now) != window:
            return PollStep(False, status, 0)
        return PollStep(False, status, max(1, round((self._locks.values[upstream_id][1] - now) * 1000)))

    async def last_status(self, upstream_id: str) -> bytes | None:
        value = self._statuses.get(upstream_id, self._clock.monotonic())
        return value if isinstance(value, bytes) else None

    async def save_status(self, upstream_id: str, value: bytes, ttl_ms: int, window: str = "") -> None:
        now = self._clock.monotonic()
        self._statuses.set(upstream_id, value, ttl_ms, now)
        self._windows.set(upstream_id, window, ttl_ms, now)

    async def ping(self) -> bool:
        return True
