"""The search state machine and its money: submit exactly once, settle exactly once.

Submit: claim the search in the database and record its reservation there (so a rebuild or a
restart knows it), then reserve in the quota store, then ask upstream. Any failure before
upstream has the search undoes both. Completion commits the reservation, an upstream error
refunds it: the store first (idempotent), then the database, conditionally, so however many
polls or replicas race, one of them settles and the others find nothing to do.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

from app.audit import events as audit_events
from app.audit.writer import AuditWriter
from app.clock import Clock
from app.config import Settings
from app.db import Database
from app.errors import GatewayError, error_code
from app.facecheck import repository as repo
from app.facecheck.models import (
    COMMITTED,
    FAILED,
    FINISHED,
    PENDING,
    REFUNDED,
    SUBMITTED,
    SUBMITTING,
    UPLOADED,
    Search,
)
from app.observability import metrics
from app.quotas.policy import Limits
from app.quotas.service import QuotaService
from app.tenants import repository as tenant_repo
from app.upstream.client import UpstreamClient, raise_in_band, wait_on_upstream

Body = dict[str, Any]
log = logging.getLogger("facecheck_gateway.searches")


def is_final(body: Body) -> bool:
    return body.get("output") is not None


class SearchLifecycle:
    def __init__(
        self, db: Database, upstream: UpstreamClient, quotas: QuotaService, settings: Settings, clock: Clock,
        audit: AuditWriter,
    ) -> None:
        self.audit = audit
        self._db = db
        self._upstream = upstream
        self.quotas = quotas
        self._settings = settings
        self._clock = clock
        # A claim older than this belongs to a process that died mid-submit (the submit call
        # itself cannot outlive the upstream timeout).
        self.stale_claim = timedelta(seconds=settings.upstream_timeout_seconds + 5)

    async def try_submit(self, search: Search, demo: bool, limits: Limits) -> tuple[Body, dict[str, str]] | None:
        """Submit if this call wins the claim, returning upstream's answer and the RateLimit headers
        of the reservation; None means another call did (so: a status check)."""
        reservation = self.quotas.reservation(search.id, search.tenant_id, demo)
        now = self._clock.now()
        async with self._db.transaction() as session:
            won = await repo.claim_submit(
                session, search.id, now, now - self.stale_claim,
                reservation=PENDING, credits_reserved=reservation.cost,
                reserved_month=reservation.month, reserved_day=reservation.day,
            )  # fmt: skip
        if not won:
            return None
        search.demo, search.credits_reserved = demo, reservation.cost
        try:
            await self.quotas.reserve(reservation, limits)
            async with self._db.transaction() as session:
                await repo.hold_reservation(session, search.id)
            # Verify the grant now that the database records it: normally a no-op (reserve is
            # idempotent), but if a rebuild replaced the counters between the grant and that write,
            # the grant was not in the rebuild and this checks the limits again before spending.
            headers = await self.quotas.reserve(reservation, limits)
            await audit_events.submitted(self.audit, search, demo, reservation.cost)  # else not run
        except BaseException:
            await asyncio.shield(self._release(search.id, reservation_state=None))
            raise
        try:
            body = await self._upstream.search(search.upstream_id, status_only=False, demo=demo)
        except BaseException as exc:
            # Not started (or unknown): give the money back and release the claim so a retry can
            # submit; upstream treats a repeated submit of the same id as a status check.
            await asyncio.shield(self._release(search.id, reservation_state=REFUNDED))
            await self._submit_failed(search, error_code(exc) if isinstance(exc, GatewayError) else None)
            raise
        if body.get("error"):
            await asyncio.shield(self._release(search.id, reservation_state=REFUNDED))
            await self._submit_failed(search, str(body.get("code") or "EXCEPTION"))
            raise_in_band(body, search.id)
        async with self._db.transaction() as session:
            await repo.transition(session, search.id, (SUBMITTING,), status=SUBMITTED, demo=demo)
        search.status, search.demo, search.credits_reserved = SUBMITTED, demo, reservation.cost
        metrics.search_submitted(await self._tenant_name(search.tenant_id), demo, reservation.cost)
        if is_final(body):
            await self.finish(search, FINISHED, body=body)
        return body, headers

    async def _submit_failed(self, search: Search, code: str | None) -> None:
        """The submit never started upstream: its reservation was refunded (the search may be retried)."""
        try:
            await audit_events.ended(self.audit, search, FAILED, None, code,
                                     result_urls=self._settings.audit_result_urls)
        except GatewayError:
            log.error("audit event of a failed submit could not be recorded")

    async def _release(self, search_id: str, *, reservation_state: str | None) -> None:
        await self.quotas.refund(search_id)
        values: dict[str, Any] = {"status": UPLOADED, "submitted_at": None, "reservation": reservation_state}
        if reservation_state is None:
            values.update(credits_reserved=0, reserved_month=None, reserved_day=None)
        async with self._db.transaction() as session:
            await repo.transition(session, search_id, (SUBMITTING,), **values)

    async def status(self, search: Search) -> Body:
        """Ask upstream where the search is; settle it when upstream says it is over."""
        body = await self._upstream.search(search.upstream_id, status_only=True, demo=bool(search.demo))
        if body.get("error"):
            if search.status == SUBMITTED:
                await self.finish(search, FAILED, error_code=str(body.get("code") or "EXCEPTION"))
            raise_in_band(body, search.id)
        if is_final(body) and search.status == SUBMITTED:
            await self.finish(search, FINISHED, body=body)
        return body

    async def finish(
        self, search: Search, status: str, error_code: str | None = None, body: Body | None = None
    ) -> None:
        if status == FINISHED:
            await self.quotas.commit(search.id)
        else:
            await self.quotas.refund(search.id)
        async with self._db.transaction() as session:
            moved = await repo.transition(
                session, search.id, (SUBMITTED,), status=status, error_code=error_code, finished_at=self._clock.now()
            )
            await repo.settle_reservation(session, search.id, COMMITTED if status == FINISHED else REFUNDED)
            if moved:  # the one call that moved it records the end, in the same transaction
                await audit_events.ended(self.audit, search, status, body, error_code, session=session,
                                         result_urls=self._settings.audit_result_urls)
        search.status = status
        if moved:  # however many polls saw the end, one of them moved the row: count that one
            tenant = await self._tenant_name(search.tenant_id)
            metrics.search_ended(tenant, status, bool(search.demo), search.credits_reserved)

    async def _tenant_name(self, tenant_id: str) -> str:
        """Metrics are labelled by tenant name (which admins may change): looked up on each submit and
        settle, which are rare next to polls."""
        async with self._db.transaction() as session:
            tenant = await tenant_repo.tenant_by_ref(session, tenant_id)
        return tenant.name if tenant is not None else metrics.NO_TENANT

    async def wait(self, search: Search, body: Body) -> Body:
        """`with_progress: false`: hold the call until the result is final or the wait limit."""
        deadline = self._clock.monotonic() + self._settings.search_wait_seconds
        interval = self._settings.upstream_poll_interval_seconds
        while not is_final(body):
            remaining = deadline - self._clock.monotonic()
            if remaining <= 0:
                break
            await wait_on_upstream(min(interval, remaining))
            body = await self.status(search)
        return body

    async def resolve_stale_claim(self, search: Search) -> None:
        """A process died between claiming a submit and recording its outcome: ask upstream
        whether the search started, then settle accordingly."""
        body = await self._upstream.search(search.upstream_id, status_only=True, demo=bool(search.demo))
        started = body.get("progress") is not None or is_final(body)
        if body.get("error") or not started:
            log.info("stale submit claim released", extra={"search_started": started})
            await self._release(search.id, reservation_state=REFUNDED)
            return
        async with self._db.transaction() as session:
            await repo.transition(session, search.id, (SUBMITTING,), status=SUBMITTED)
        search.status = SUBMITTED
        if is_final(body):
            await self.finish(search, FINISHED, body=body)
