"""The search state machine and its money: claim, reserve, submit exactly once, settle exactly once.

A submit claims the search in the database and records its reservation there (so a rebuild or a
restart knows it), then reserves in the quota store (`reserve_claimed`, shared by a run and by a
charged cache hit), then asks upstream. Any failure before the request may have left undoes both.

Settlement follows upstream's word (verdicts.py, docs/money.md): committed on its final output,
refunded only when its answer to the submit refused it, a status check shows an uncertain submit
never started, or it reports the run failed. A lost answer, a timeout, a 5xx or an error on a status
check settles nothing: the search stays held (`uncertain` when the submit's own answer was lost) and
is asked about again. Settling is the store first (idempotent), then the database, conditionally, so
however many polls or replicas race, one of them settles and the others find nothing to do. That one
also caches the result, ends the single flight and (if configured) deletes the inputs upstream.

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
from app.cache.outcomes import COALESCED, MISS, Outcome
from app.cache.service import Entry, ResultCache
from app.cache.status_checks import StatusChecks
from app.clock import Clock
from app.db import Database
from app.errors import CircuitOpen, GatewayError
from app.facecheck import audit_events, corrections
from app.facecheck import repository as repo
from app.facecheck.models import (
    FAILED,
    FINISHED,
    HELD_STATES,
    SUBMITTED,
    SUBMITTING,
    UNCERTAIN,
    UPLOADED,
    Search,
)
from app.facecheck.sweeper import InputSweeper
from app.facecheck.verdicts import Verdict, of_status, of_submit
from app.observability import metrics
from app.quotas.policy import COMMITTED, PENDING, REFUNDED, Limits, Reservation
from app.quotas.service import QuotaService
from app.tenants import repository as tenant_repo
from app.upstream.client import Body, UpstreamClient, raise_in_band

log = logging.getLogger("facecheck_gateway.searches")


IN_FLIGHT = "Search in progress; waiting for the face-search service to report on it."


def is_final(body: Body) -> bool:
    return body.get("output") is not None


@dataclass(slots=True)
class Answer:
    """What one /api/search call answers: upstream's envelope, how the cache played, and the
    RateLimit headers of a new reservation."""

    body: Body
    outcome: Outcome = MISS
    headers: dict[str, str] = field(default_factory=dict)
    known: bool = True  # False: upstream could not be asked, this is the last known status


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
        grace = timedelta(seconds=upstream_timeout + 5)
        self.sweeper = InputSweeper(db, upstream, clock, grace=grace) if delete_inputs else None
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
        except CircuitOpen:  # refused before anything was sent: nothing ran
            await asyncio.shield(self.release(search, reservation_state=REFUNDED))
            raise
        except Exception:
            # The request may have reached upstream: the outcome is unknown and the credits stay
            # held until upstream says whether it started (never a refund on a guess). The caller
            # hears it is in flight; its next poll asks upstream.
            await asyncio.shield(self._now_uncertain(search, demo, reservation.cost))
            return Answer(self._in_flight(None), MISS, headers, known=False)
        except BaseException:  # cancelled mid-request: the same, and the cancellation goes on
            await asyncio.shield(self._now_uncertain(search, demo, reservation.cost))
            raise
        verdict = of_submit(body)
        if verdict is Verdict.REFUSED:  # upstream's own answer: it did not start it
            await asyncio.shield(self.release(search, reservation_state=REFUNDED))
            await self._refused(search, str(body.get("code") or "EXCEPTION"))
            raise_in_band(body, search.id)
        if verdict is Verdict.UNKNOWN:
            await self._now_uncertain(search, demo, reservation.cost)
            return Answer(self._in_flight(body), MISS, headers)
        await self._moved(search, (SUBMITTING,), SUBMITTED, demo=demo)
        metrics.search_submitted(await self.tenant_name(search.tenant_id), demo, reservation.cost)
        if is_final(body):
            await self.finish(search, FINISHED, body)
        return Answer(body, MISS, headers)

    async def _now_uncertain(self, search: Search, demo: bool, cost: int) -> None:
        """A submit whose answer was lost: held, and resolved by asking upstream (`check`)."""
        if await self._moved(search, (SUBMITTING,), UNCERTAIN, demo=demo):
            log.warning("submit outcome unknown; credits held until upstream says", extra={"credits": cost})
            metrics.search_submitted(await self.tenant_name(search.tenant_id), demo, cost)

    async def _moved(self, search: Search, from_status: tuple[str, ...], status: str, **values: Any) -> bool:
        async with self._db.transaction() as session:
            moved = await repo.transition(session, search.id, from_status, status=status, **values)
        if moved:
            search.status = status
            for name, value in values.items():
                setattr(search, name, value)
        return moved

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

    async def _refused(self, search: Search, code: str | None) -> None:
        """Upstream did not start the search: refunded, and it may be submitted again (not its end)."""
        try:
            await audit_events.refused(self._audit, search, code)
        except GatewayError:
            log.error("audit event of a refused submit could not be recorded")

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
        """Ask upstream (coalesced) where the search is, and settle it only on upstream's word
        (app/facecheck/verdicts.py). When upstream cannot be asked or cannot tell, a held search
        answers its last known status: in flight, never an error, and nothing settles."""
        try:
            body, shared = await self._status_checks.fetch(search.upstream_id, bool(search.demo))
        except GatewayError:
            if search.status not in HELD_STATES:
                raise
            return await self._last_known(search)
        verdict = of_status(body)
        if verdict is Verdict.FINISHED:
            if search.status in HELD_STATES:
                await self.finish(search, FINISHED, body)
            elif search.status == FAILED or search.reservation == REFUNDED:
                await self._delivered_after_refund(search, body)
        elif verdict is Verdict.FAILED and search.status in HELD_STATES:
            await self.finish(search, FAILED, error_code=str(body.get("code") or "EXCEPTION"))
        elif verdict is Verdict.RUNNING and search.status == UNCERTAIN:
            await self._moved(search, (UNCERTAIN,), SUBMITTED)
        elif verdict is Verdict.NOT_STARTED and search.status == UNCERTAIN:
            await self._never_started(search)
        elif verdict is Verdict.UNKNOWN and search.status in HELD_STATES:
            return await self._last_known(search)
        if body.get("error") and search.status not in HELD_STATES:
            raise_in_band(body, search.id)
        return Answer(body, COALESCED if shared else MISS)

    async def _last_known(self, search: Search) -> Answer:
        body = await self._status_checks.last_known(search.upstream_id)
        return Answer(self._in_flight(body), MISS, known=False)

    @staticmethod
    def _in_flight(body: Body | None) -> Body:
        """The last status upstream gave that was neither an error nor final, else a plain in-flight one."""
        if body is not None and not body.get("error") and body.get("progress") is not None and not is_final(body):
            return body
        return {"message": IN_FLIGHT, "progress": 0}

    async def _never_started(self, search: Search) -> None:
        """Upstream has an uncertain submit as never started: refund it, it may be submitted again."""
        await self._quotas.refund(search.id)
        values: dict[str, Any] = {"submitted_at": None, "reservation": REFUNDED}
        if await self._moved(search, (UNCERTAIN,), UPLOADED, **values):
            log.info("uncertain submit never started upstream; refunded")
            await self._refused(search, "NOT_STARTED")
            if search.cache_key is not None:
                await self._cache.leave(search.cache_key, search.id)

    async def _delivered_after_refund(self, search: Search, body: Body) -> None:
        if await corrections.charge_after_refund(self._db, self._audit, self._clock, search, body):
            await self._quotas.recount()  # the store's counters follow the database

    async def finish(self, search: Search, status: str, body: Body | None = None, error_code: str | None = None
                     ) -> None:
        if status == FINISHED:
            await self._quotas.commit(search.id)
        else:
            await self._quotas.refund(search.id)
        async with self._db.transaction() as session:
            moved = await repo.transition(
                session, search.id, HELD_STATES, status=status, error_code=error_code, finished_at=self._clock.now()
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
        """DELETE_INPUTS_AFTER_SEARCH: remove the faces from the vendor (sweeper.py). What is left
        is retried by the sweeper; a failure never costs the result, which is already settled."""
        if self.sweeper is None:
            return
        try:
            await self.sweeper.sweep_search(search)
        except Exception:  # the sweeper finds the search still due
            log.warning("input images not swept now; the sweeper retries")

    async def tenant_name(self, tenant_id: str) -> str:
        """Metrics are labelled by tenant name (which admins may change): looked up on each settle
        outside the caller's request (the tracker has no caller), which is rare next to polls."""
        async with self._db.transaction() as session:
            tenant = await tenant_repo.tenant_by_ref(session, tenant_id)
        return tenant.name if tenant is not None else metrics.NO_TENANT

    async def resolve_stale_claim(self, search: Search) -> None:
        """A process died between claiming a submit and recording its outcome: the same as a submit
        whose answer was lost. Uncertain, then settled on upstream's word (`check`)."""
        await self._now_uncertain(search, bool(search.demo), search.credits_reserved)
        if search.status == UNCERTAIN:
            await self.check(search)

    async def flag_unresolved(self, search: Search) -> None:
        await corrections.flag_unresolved(self._db, self._audit, search)
