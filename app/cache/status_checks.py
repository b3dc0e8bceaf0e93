"""Poll coalescing: each in-flight upstream search is asked about at most once per poll interval,
however many clients poll it on however many replicas.

Whoever takes the short per-search lock (PX = the interval) asks upstream and shares the answer;
everyone else reads the shared answer (taking the lock or else reading the answer: one round trip).
A caller arriving before any answer exists waits for it, taking the lock itself if it frees, so the
bound holds even then. Without the store every caller asks upstream directly, as before coalescing
existed.
"""

from __future__ import annotations

import contextlib

import orjson

from app.cache.store import CacheStore
from app.clock import Clock
from app.store_errors import StoreUnavailable
from app.upstream.client import Body, UpstreamClient, wait_on_upstream

_WAIT_STEP = 0.05


class StatusChecks:
    def __init__(self, store: CacheStore, upstream: UpstreamClient, clock: Clock, *, poll_interval: float,
                 upstream_timeout: float) -> None:
        self._store = store
        self._upstream = upstream
        self._clock = clock
        self._interval_ms = max(1, round(poll_interval * 1000))
        # A shared status is replaced every interval while anyone polls; the TTL only clears it
        # (it may hold result thumbnails) once nobody does.
        self._status_ttl_ms = max(30_000, 5 * self._interval_ms)
        self._patience = upstream_timeout + poll_interval

    async def fetch(self, upstream_id: str, demo: bool) -> tuple[Body, bool]:
        """Upstream's status answer for the search, and whether it was another caller's answer.
        While the circuit breaker is open, upstream is not asked (CircuitOpen, unless this call is the
        probe that closes it): callers answer from the last known status instead."""
        await self._upstream.admit()
        deadline = self._clock.monotonic() + self._patience
        try:
            while True:
                locked, raw = await self._store.poll(upstream_id, self._interval_ms)
                if locked:
                    return await self._ask(upstream_id, demo, share=True), False
                if raw is not None:
                    return orjson.loads(raw), True
                if self._clock.monotonic() >= deadline:
                    break
                await wait_on_upstream(_WAIT_STEP)  # the lock holder is asking upstream right now
        except StoreUnavailable:
            pass
        return await self._ask(upstream_id, demo, share=False), False

    async def _ask(self, upstream_id: str, demo: bool, *, share: bool) -> Body:
        body = await self._upstream.search(upstream_id, status_only=True, demo=demo)
        if share:
            with contextlib.suppress(StoreUnavailable):  # then only this caller has the answer
                await self._store.save_status(upstream_id, orjson.dumps(body), self._status_ttl_ms)
        return body

    async def last_known(self, upstream_id: str) -> Body | None:
        """The last status answer shared for the search, while it is kept; None without one."""
        try:
            raw = await self._store.last_status(upstream_id)
        except StoreUnavailable:
            return None
        return orjson.loads(raw) if raw is not None else None
