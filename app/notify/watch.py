"""The background budget watch: every NOTIFY_INTERVAL_SECONDS a full check of every budget, soon
after a search is charged a quick one (tenants with a threshold still to notify), and after each,
delivery of what the outbox holds. Every replica runs it; the outbox's unique rows and claims keep
each notification to one sender."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import httpx

from app.background import Background
from app.clock import Clock
from app.config import Settings
from app.db import Database
from app.errors import GatewayError
from app.notify.check import BudgetCheck, ChargedByTenant
from app.notify.sender import DeliveryPolicy, Sender
from app.notify.service import NotifyService

log = logging.getLogger("facecheck_gateway.notify")

_MIN_GAP_SECONDS = 0.2  # a burst of settled searches is one check, not one each


class BudgetWatch:
    def __init__(self, check: BudgetCheck, sender: Sender, interval_seconds: float) -> None:
        self._check = check
        self._sender = sender
        self._interval = interval_seconds
        self._wake = asyncio.Event()
        self._background = Background("budget-watch")

    def wake(self) -> None:
        """Ask for a check soon (after a search is charged): cheap, never blocks the caller."""
        self._wake.set()

    def start(self) -> None:
        self._background.start(self._run())

    async def stop(self) -> None:
        await self._background.stop()
        await self._sender.close()

    async def round(self, *, full: bool) -> None:
        await self._check.run(full=full)
        await self._sender.deliver_due()

    async def _run(self) -> None:
        last_full = float("-inf")
        while True:
            self._wake.clear()
            full = time.monotonic() - last_full >= self._interval
            try:
                await self.round(full=full)
                last_full = time.monotonic() if full else last_full
            except GatewayError as exc:  # the database is away: next round
                log.debug("budget watch deferred", extra={"reason": type(exc).__name__})
            except Exception:  # keep watching whatever one round ran into
                log.exception("budget watch round failed")
            remaining = max(0.0, last_full + self._interval - time.monotonic())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), remaining or self._interval)
            await asyncio.sleep(_MIN_GAP_SECONDS)  # paced: coalesces a burst of wake-ups


def build_notify(
    settings: Settings, db: Database, clock: Clock, charged: ChargedByTenant
) -> tuple[NotifyService, BudgetWatch]:
    """The webhook service and the watch, with their own HTTP client (never the upstream's)."""
    policy = DeliveryPolicy(settings.webhook_timeout_seconds, settings.webhook_max_attempts,
                            settings.webhook_retry_seconds)
    http = httpx.AsyncClient(follow_redirects=False, trust_env=False)
    service = NotifyService(db, settings.secret_bytes, clock)
    sender = Sender(db, http, settings.secret_bytes, clock, policy)
    return service, BudgetWatch(BudgetCheck(db, clock, charged), sender, settings.notify_interval_seconds)
