"""The search state machine and its money: claim, reserve, submit exactly once, settle exactly once.

A submit claims the search in the database and records its reservation there (so a rebuild or a
restart knows it), then reserves in the quota store (`reserve_claimed`, shared by a run and by a
charged cache hit), then asks upstream. Any failure before upstream has the search undoes both.
Completion commits the reservation, an upstream error refunds it: the store first (idempotent),
then the database, conditionally, so however many polls or replicas race, one of them settles and
the others find nothing to do. That one also caches the result, ends the single flight and (if
configured) deletes the inputs upstream.

Status checks go through the coalesced status checks, so upstream hears about each search at most
once per poll interval whoever asks (clients, the tracker, `with_progress: false` waits).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.writer import AuditWriter
from app.cache.service import COALESCED, MISS, Entry, Outcome, ResultCache
from app.cache.status_checks import StatusChecks
from app.clock import Clock
from app.db import Database
from app.errors import GatewayError, error_code
from app.facecheck import audit_events
from app.facecheck import repository as repo
from app.facecheck.models import FAILED, FINISHED, SUBMITTED, SUBMITTING, UPLOADED, Search
from app.observability import metrics
from app.quotas.policy import COMMITTED, PENDING, REFUNDED, Limits, Reservation
from app.quotas.service import QuotaService
from app.tenants import repository as tenant_repo
from app.upstream.client import Body, UpstreamClient, raise_in_band

log = logging.getLogger("facecheck_gateway.searches")


def is_final(body: Body) -> bool:
    return body.get("output") is not None


@dataclass(slots=True)
class Answer:
    """What one /api/search call answers: upstream's envelope, how the cache played, and the
    RateLimit headers of a new reservation."""

    body: Body
    outcome: Outcome = MISS
    headers: dict[str, str] = field(default_factory=dict)


class SearchLifecycle:
    def __init__(
        self, db: Database, upstream: UpstreamClient, quotas: QuotaService, status_checks: StatusChecks,
        cache: ResultCache, audit: AuditWriter, clock: Clock, *, upstream_timeout: float, result_urls: bool,
        delete_inputs: bool,
    ) -> None:  # fmt: skip
        self._db = db
        self._upstream = upstream
        self._quotas = quotas
        self._status_checks = status_checks
        self._cache = cache
        self._audit = audit
        self._clock = clock
        self._result_urls = result_urls
        self._delete_inputs = delete_inputs
        # A claim older than this belongs to a process that died mid-submit (the submit call
        # itself cannot outlive the upstream timeout).
        self._stale_claim = timedelta(seconds=upstream_timeout + 5)

    def reservation(self, search: Search, demo: bool) -> Reservation:
        return self._quotas.reservation(search.id, search.tenant_id, demo)

    def stale_cutoff(self) -> datetime:
        """Claims made before this are stale (their process died mid-submit)."""
        return self._clock.now() - self._stale_claim

    async def claim(self, search: Search, reservation: Reservation, **columns: Any) -> bool:
        """Take the search for a submit, recording its reservation as pending (and `columns`);
        False means another call did (so: a status check)."""
        now = self._clock.now()
        async with self._db.transaction() as session:
            return await repo.claim_submit(
                session, search.id, now, now - self._stale_claim, reservation=PENDING,
                credits_reserved=reservation.cost, **columns,
            )  # fmt: skip

    async def reserve_claimed(self, search: Search, reservation: Reservation, limits: Limits,
                              **cleared: Any) -> dict[str, str]:
        """Reserve a claimed search in the quota store and hold it in the database; on any failure
        the claim is released (with `cleared` columns reset). Returns the RateLimit headers."""
        try:
            await self._quotas.reserve(reservation, limits)
            async with self._db.transaction() as session:
                await repo.hold_reservation(session, search.id)
            # Verify the grant now that the database records it: normally a no-op (reserve is
            # idempotent), but if a rebuild replaced the counters between the grant and that write,
            # the grant was not in the rebuild and this checks the limits again before spending.
            return await self._quotas.reserve(reservation, limits)
        except BaseException:
            await asyncio.shield(self.release(search, reservation_state=None, **cleared))
            raise

    async def submit(self, search: Search, demo: bool, reservation: Reservation, limits: Limits) -> Answer:
        """Reserve a claimed search and run it upstream."""
        headers = await self.reserve_claimed(search, reservation, limits)
        try:
            await audit_events.submitted(self._audit, search, demo, reservation.cost)  # else not run
        except BaseException:
            await asyncio.shield(self.release(search, reservation_state=None))
            raise
        try:
            body = await self._upstream.search(search.upstream_id, status_only=False, demo=demo)
        except BaseException as exc:
            # Not started (or unknown): give the money back and release the claim so a retry can
            # submit; upstream treats a repeated submit of the same id as a status check.
            await asyncio.shield(self.release(search, reservation_state=REFUNDED))
            await self._submit_failed(search, error_code(exc) if isinstance(exc, GatewayError) else None)
            raise
        if body.get("error"):
            await asyncio.shield(self.release(search, reservation_state=REFUNDED))
            await self._submit_failed(search, str(body.get("code") or "EXCEPTION"))
            raise_in_band(body, search.id)
        async with self._db.transaction() as session:
            await repo.transition(session, search.id, (SUBMITTING,), status=SUBMITTED, demo=demo)
        search.status = SUBMITTED
        metrics.search_submitted(await self.tenant_name(search.tenant_id), demo, reservation.cost)
        if is_final(body):
            await self.finish(search, FINISHED, body)
        return Answer(body, MISS, headers)

    async def finish_charged(self, search: Search, cost: int,
                             record: Callable[[AsyncSession], Awaitable[None]]) -> None:
        """A reserved search that needs nothing from upstream (a charged cache hit): commit its
        credits and finish it, `record`ing it in the same transaction."""
        await self._quotas.commit(search.id)
        search.credits_reserved = cost
        async with self._db.transaction() as session:
            await repo.transition(session, search.id, (SUBMITTING,), status=FINISHED, finished_at=self._clock.now())
            await repo.settle_reservation(session, search.id, COMMITTED)
            await record(session)

    async def _submit_failed(self, search: Search, code: str | None) -> None:
        """The submit never started upstream: its reservation was refunded (the search may be retried)."""
        try:
            await audit_events.ended(self._audit, search, FAILED, None, code, result_urls=self._result_urls)
        except GatewayError:
            log.error("audit event of a failed submit could not be recorded")

    async def load(self, search_id: str) -> Search | None:
        async with self._db.transaction() as session:
            return await repo.by_id(session, search_id)

    async def release(self, search: Search, *, reservation_state: str | None, **cleared: Any) -> None:
        """Undo a claim that never reached upstream: refund, back to `uploaded` (with `cleared`
        columns reset too), so a retry can submit."""
        await self._quotas.refund(search.id)
        values: dict[str, Any] = {"status": UPLOADED, "submitted_at": None, "reservation": reservation_state,
                                  **cleared}
        if reservation_state is None:
            values.update(credits_reserved=0, reserved_month=None, reserved_day=None)
        async with self._db.transaction() as session:
            await repo.transition(session, search.id, (SUBMITTING,), **values)
        search.status = UPLOADED
        if search.cache_key is not None:  # attached searches will find their leader gone and retry
            await self._cache.leave(search.cache_key, search.id)

    async def peek(self, upstream_id: str, demo: bool, id_search: str) -> Answer:
        """Upstream's status of a search this one shares (coalesced); its errors under `id_search`."""
        body, shared = await self._status_checks.fetch(upstream_id, demo)
        raise_in_band(body, id_search)
        return Answer(body, COALESCED if shared else MISS)

    async def check(self, search: Search) -> Answer:
        """Ask upstream (coalesced) where the search is; settle it when upstream says it is over."""
        body, shared = await self._status_checks.fetch(search.upstream_id, bool(search.demo))
        if body.get("error"):
            if search.status == SUBMITTED:
                await self.finish(search, FAILED, error_code=str(body.get("code") or "EXCEPTION"))
            raise_in_band(body, search.id)
        if is_final(body) and search.status == SUBMITTED:
            await self.finish(search, FINISHED, body)
        return Answer(body, COALESCED if shared else MISS)

    async def finish(self, search: Search, status: str, body: Body | None = None, error_code: str | None = None
                     ) -> None:
        if status == FINISHED:
            await self._quotas.commit(search.id)
        else:
            await self._quotas.refund(search.id)
        async with self._db.transaction() as session:
            moved = await repo.transition(
                session, search.id, (SUBMITTED,), status=status, error_code=error_code, finished_at=self._clock.now()
            )
            await repo.settle_reservation(session, search.id, COMMITTED if status == FINISHED else REFUNDED)
            if moved:  # the one call that moved it records the end, in the same transaction
                await audit_events.ended(self._audit, search, status, body, error_code, session=session,
                                         result_urls=self._result_urls)
        search.status = status
        if moved:  # however many polls saw the end, one of them moved the row: count that one
            tenant = await self.tenant_name(search.tenant_id)
            metrics.search_ended(tenant, status == FINISHED, bool(search.demo), search.credits_reserved)
            await self._after_end(search, body if status == FINISHED else None)

    async def _after_end(self, search: Search, final: Body | None) -> None:
        """Once per search, by whoever settled it: cache a result (never a failure), end the single
        flight after that (so late arrivals find the entry), and delete the inputs if configured."""
        if search.cache_key is not None and search.cache_outcome == MISS:
            if final is not None and isinstance(final.get("output"), dict):
                entry = Entry(final["output"], search.id, search.upstream_id, search.tenant_id)
                await self._cache.save(search.cache_key, entry)
            await self._cache.leave(search.cache_key, search.id)
        await self.delete_inputs(search)

    async def delete_inputs(self, search: Search) -> None:
        """DELETE_INPUTS_AFTER_SEARCH: remove the faces from the vendor. A failure is logged and
        never costs the result, which is already settled."""
        if not self._delete_inputs:
            return
        for image in search.images:
            if not image.get("id_pic"):
                continue
            try:
                await self._upstream.delete_pic(search.upstream_id, image["id_pic"])
            except GatewayError as exc:
                log.warning("input image not deleted upstream", extra={"reason": type(exc).__name__})

    async def tenant_name(self, tenant_id: str) -> str:
        """Metrics are labelled by tenant name (which admins may change): looked up on each settle
        outside the caller's request (the tracker has no caller), which is rare next to polls."""
        async with self._db.transaction() as session:
            tenant = await tenant_repo.tenant_by_ref(session, tenant_id)
        return tenant.name if tenant is not None else metrics.NO_TENANT

    async def resolve_stale_claim(self, search: Search) -> None:
        """A process died between claiming a submit and recording its outcome: ask upstream
        whether the search started, then settle accordingly."""
        body, _ = await self._status_checks.fetch(search.upstream_id, bool(search.demo))
        started = body.get("progress") is not None or is_final(body)
        if body.get("error") or not started:
            log.info("stale submit claim released", extra={"search_started": started})
            await self.release(search, reservation_state=REFUNDED)
            return
        async with self._db.transaction() as session:
            await repo.transition(session, search.id, (SUBMITTING,), status=SUBMITTED)
        search.status = SUBMITTED
        if is_final(body):
            await self.finish(search, FINISHED, body)
