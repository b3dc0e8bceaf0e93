"""Poll coalescing: each in-flight upstream search is asked about at most once per poll interval,
however many clients poll it on however many replicas.

Whoever takes the short per-search lock (PX = the interval) asks upstream and shares the answer;
everyone else reads the shared answer (taking the lock or else reading the answer: one round trip).
A caller arriving before any answer exists waits for it, taking the lock itself if it frees, so the
bound holds even then. Without the store every caller asks upstream directly, as before coalescing
existed.

Within one window (from the lock being taken to its expiry) every poll reads the same answer, so a
replica that has read the window's answer keeps it until the window ends and answers further polls
of that search from memory: a search polled many times a second costs one round trip per window
per replica, not one per poll. Each window is named by its holder's token, saved with its answer,
so an answer from an earlier window (the holder is still asking upstream) is never kept.
"""

from __future__ import annotations

import itertools
import secrets
from collections import OrderedDict

import orjson

from app.cache.store import CacheStore
from app.clock import Clock
from app.store_errors import StoreUnavailable
from app.upstream.client import Body, UpstreamClient, wait_on_upstream

_WAIT_STEP = 0.05
# Window tokens need to be unique, not secret: a random prefix per process and a counter.
_TOKEN_PREFIX = secrets.token_hex(6)
_TOKENS = itertools.count()
# Windows' answers held at once, in bytes (a final answer carries the result's thumbnails). Each is
# held for under one interval, and ended ones go as new ones come.
_MAX_KEPT_BYTES = 8 * 1024 * 1024


def _new_token() -> str:
    return f"{_TOKEN_PREFIX}{next(_TOKENS):x}"


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
        self._kept: OrderedDict[str, tuple[bytes, float]] = OrderedDict()  # upstream id -> (answer, window end)
        self._kept_bytes = 0

    async def fetch(self, upstream_id: str, demo: bool) -> tuple[Body, bool]:
        """Upstream's status answer for the search, and whether it was another caller's answer.
        While the circuit breaker is open, upstream is not asked (CircuitOpen, unless this call is the
        probe that closes it): callers answer from the last known status instead."""
        await self._upstream.admit()
        now = self._clock.monotonic()
        kept = self._kept.get(upstream_id)
        if kept is not None:
            if now < kept[1]:
                return orjson.loads(kept[0]), True
            self._forget(upstream_id)
        deadline = now + self._patience
        try:
            while True:
                asked_at, token = self._clock.monotonic(), _new_token()
                step = await self._store.poll(upstream_id, self._interval_ms, token)
                if step.locked:
                    return await self._ask(upstream_id, demo, window=(token, asked_at)), False
                if step.status is not None:
                    if step.fresh_ms > 0:
                        self._keep(upstream_id, step.status, step.fresh_ms / 1000)
                    return orjson.loads(step.status), True
                if self._clock.monotonic() >= deadline:
                    break
                await wait_on_upstream(_WAIT_STEP)  # the lock holder is asking upstream right now
        except StoreUnavailable:
            pass
        return await self._ask(upstream_id, demo), False

    async def _ask(self, upstream_id: str, demo: bool, *, window: tuple[str, float] | None = None) -> Body:
        """Upstream's answer; shared (and kept to the window's end) when this caller holds the lock:
        `window` is its token and when it was taken."""
        body = await self._upstream.search(upstream_id, status_only=True, demo=demo)
        if window is not None:
            token, taken_at = window
            raw = orjson.dumps(body)
            try:
                await self._store.save_status(upstream_id, raw, self._status_ttl_ms, token)
            except StoreUnavailable:  # then only this caller has the answer
                return body
            self._keep(upstream_id, raw, taken_at + self._interval_ms / 1000 - self._clock.monotonic())
        return body

    def _keep(self, upstream_id: str, raw: bytes, seconds: float) -> None:
        """Answer this search's polls with `raw` for `seconds`, the rest of its window."""
        if seconds <= 0 or len(raw) > _MAX_KEPT_BYTES:
            return
        now = self._clock.monotonic()
        self._forget(upstream_id)
        self._kept[upstream_id] = (raw, now + seconds)
        self._kept_bytes += len(raw)
        # Oldest first: ended windows go as new ones come (all end within an interval of being kept),
        # and the oldest live ones too while over the byte bound. Memory follows the poll rate.
        while self._kept:
            oldest, (_, until) = next(iter(self._kept.items()))
            if until > now and self._kept_bytes <= _MAX_KEPT_BYTES:
                break
            self._forget(oldest)

    def _forget(self, upstream_id: str) -> None:
        kept = self._kept.pop(upstream_id, None)
        if kept is not None:
            self._kept_bytes -= len(kept[0])

    async def last_known(self, upstream_id: str) -> Body | None:
        """The last status answer shared for the search, while it is kept; None without one."""
        try:
            raw = await self._store.last_status(upstream_id)
        except StoreUnavailable:
            return None
        return orjson.loads(raw) if raw is not None else None
