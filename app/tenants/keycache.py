"""A short in-process cache of key lookups, dropped on every replica within a second of a change.

Every /api and /admin call authenticates, and a database round trip per call is what the cache saves.
Its entries live `ttl` seconds at most, but a revocation, rotation, suspension or resumption must not
wait for that: the change is published on a Redis channel and each replica's listener empties its
cache on receipt. While a replica is not subscribed (Redis down, reconnecting) it does not trust the
cache at all. Without Redis there is one process, and clearing locally is enough. Expiry needs no
message: entries carry `expires_at`, which is compared with the clock at every use.

It also remembers, for the same time, which client addresses were found not braked by the
brute-force brake (throttle.py), sparing that Redis round trip on every call. When an address is
braked anywhere, a "braked" message empties that part on every replica, as a key change does.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime

from redis.asyncio import Redis

from app.background import Background
from app.clock import Clock
from app.tenants.schemas import Principal

log = logging.getLogger("facecheck_gateway.tenants")


_BRAKED = b"braked"


def channel_for(prefix: str) -> str:
    return f"{prefix}:keys:changed"


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """What authentication needs to know about one key, as the database had it."""

    principal: Principal
    revoked: bool
    tenant_active: bool
    expires_at: datetime | None


class KeyCache:
    def __init__(self, clock: Clock, ttl_seconds: float, publisher: Redis | None = None,
                 channel: str = channel_for("fcg")) -> None:
        self._clock = clock
        self._ttl = ttl_seconds
        self._publisher = publisher
        self._channel = channel
        self._entries: dict[str, tuple[float, KeyRecord]] = {}
        self._generation = 0
        self._unbraked: dict[str, float] = {}  # address -> when the brake last said "not braked"
        self._brake_generation = 0
        self._live = publisher is None  # with Redis, trusted only once subscribed
        self._background = Background("key-cache-listener")

    @property
    def generation(self) -> int:
        """Read before a database lookup; `put` ignores results older than the last change."""
        return self._generation

    def get(self, key_hash: str) -> KeyRecord | None:
        if not self._live:
            return None
        found = self._entries.get(key_hash)
        if found is None or self._clock.monotonic() - found[0] > self._ttl:
            return None
        return found[1]

    def put(self, key_hash: str, record: KeyRecord, generation: int) -> None:
        if generation != self._generation or self._ttl <= 0:
            return
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[key_hash] = (self._clock.monotonic(), record)

    def clear(self) -> None:
        self._generation += 1
        self._entries.clear()
        self.clear_unbraked()

    @property
    def brake_generation(self) -> int:
        """Read before asking the brake; `put_unbraked` ignores answers older than the last braking."""
        return self._brake_generation

    def unbraked(self, address: str) -> bool:
        """True if the brake recently said `address` may authenticate (and nothing was braked since)."""
        if not self._live:
            return False
        seen = self._unbraked.get(address)
        return seen is not None and self._clock.monotonic() - seen <= self._ttl

    def put_unbraked(self, address: str, generation: int) -> None:
        if generation != self._brake_generation or self._ttl <= 0:
            return
        if len(self._unbraked) > 10_000:
            self._unbraked.clear()
        self._unbraked[address] = self._clock.monotonic()

    def clear_unbraked(self) -> None:
        self._brake_generation += 1
        self._unbraked.clear()

    async def changed(self) -> None:
        """A key or tenant changed: forget here, and tell every other replica."""
        self.clear()
        await self._publish(b"changed")

    async def braked(self) -> None:
        """An address was just braked: no replica may go on trusting that it is not."""
        self.clear_unbraked()
        await self._publish(_BRAKED)

    async def _publish(self, message: bytes) -> None:
        if self._publisher is None:
            return
        try:
            await self._publisher.publish(self._channel, message)
        except Exception:  # the other replicas still drop their entries within the TTL
            log.warning("could not publish a key change; other replicas catch up within %ss", self._ttl)

    def start(self, subscriber: Redis) -> None:
        self._background.start(self._listen(subscriber))

    async def stop(self) -> None:
        await self._background.stop()

    async def _listen(self, subscriber: Redis) -> None:
        while True:
            try:
                async with subscriber.pubsub() as pubsub:
                    await pubsub.subscribe(self._channel)
                    self.clear()  # whatever changed while we were not listening
                    self._live = True
                    async for message in pubsub.listen():
                        if message.get("type") != "message":
                            continue
                        if message.get("data") == _BRAKED:
                            self.clear_unbraked()
                        else:
                            self.clear()
            except asyncio.CancelledError:
                raise
            except Exception:
                if self._live:  # once per outage, not once per retry
                    log.warning("key-change listener lost Redis; not caching keys until it is back")
            self._live = False
            self.clear()
            await asyncio.sleep(0.5)
