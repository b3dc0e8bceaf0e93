"""Searches that share another search's upstream run: cache hits and attached identical searches.

`start` decides how a new search gets its result: from the cache (HIT: nothing goes upstream, it
costs CACHE_HIT_CREDIT_COST), by joining an identical search already running in the same cache
scope (COALESCED: nothing reserved, settled with the leader), or by running upstream (MISS). Both
kinds of sharer keep a durable pointer to their source in the database (shared rows), so polls on
them work on any replica and after a restart. An attached search whose leader fails fails the same
way, charged nothing; one whose leader never started goes back to `uploaded`, so its next poll
submits it afresh.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.cache.keys import OFF, cache_key, effective_scope, scope_name
from app.cache.service import COALESCED, HIT, Entry
from app.clock import Clock
from app.config import Settings
from app.db import Database
from app.errors import UpstreamError
from app.facecheck import audit_events
from app.facecheck import repository as repo
from app.facecheck.lifecycle import Answer, SearchLifecycle, is_final
from app.facecheck.models import FAILED, FINISHED, SUBMITTED, SUBMITTING, UPLOADED, Search
from app.observability import metrics
from app.quotas.policy import COMMITTED, PENDING, Limits
from app.tenants.schemas import Principal
from app.upstream.client import Body, wait_on_upstream

LEADER_FAILED = "The identical search this one was attached to failed upstream."
_WAITING: Body = {"message": "Waiting in queue. Position: 1", "progress": 0}


class SharedSearches:
    def __init__(self, lifecycle: SearchLifecycle, db: Database, settings: Settings, clock: Clock) -> None:
        self.lifecycle = lifecycle
        self._db = db
        self._settings = settings
        self._clock = clock

    async def start(self, search: Search, demo: bool, principal: Principal, fresh: bool) -> Answer | None:
        """A new search; None when another call claimed it first (so: a status check)."""
        limits = principal.limits
        scope = effective_scope(self._settings.cache_scope, principal.cache_scope)
        if scope == OFF:
            return await self.lifecycle.try_submit(search, demo, limits)
        key = cache_key(self._settings.secret_bytes, (img["sha256"] for img in search.images), demo,
                        scope_name(scope, search.tenant_id))
        if not fresh and (entry := await self.lifecycle.cache.lookup(key)) is not None:
            return await self._hit(search, entry, key, demo, principal)
        return await self.lifecycle.try_submit(search, demo, limits, cache_key=key, join=not fresh)

    async def status(self, search: Search) -> Answer:
        if search.cache_outcome == HIT:
            return await self._shared_result(search)
        if search.cache_outcome == COALESCED:
            return await self._follow(search)
        return await self.lifecycle.status(search)

    async def wait(self, search: Search, answer: Answer) -> Answer:
        """`with_progress: false`: hold the call until the result is final or the wait limit."""
        deadline = self._clock.monotonic() + self._settings.search_wait_seconds
        interval = self._settings.upstream_poll_interval_seconds
        while not is_final(answer.body) and search.status != UPLOADED:
            remaining = deadline - self._clock.monotonic()
            if remaining <= 0:
                break
            await wait_on_upstream(min(interval, remaining))
            # The call's cache outcome is what it did first (a new search, a hit, an attach).
            answer = replace(await self.status(search), headers=answer.headers, outcome=answer.outcome)
        return answer

    # -- hits -------------------------------------------------------------------------------------
    async def _hit(self, search: Search, entry: Entry, key: str, demo: bool, principal: Principal) -> Answer | None:
        """Finish the search from the cache entry. A non-zero CACHE_HIT_CREDIT_COST is reserved and
        committed through the quota service, so budgets hold for hits too."""
        cost = 0 if demo else self._settings.cache_hit_credit_cost
        reservation = replace(self.lifecycle.quotas.reservation(search.id, search.tenant_id, demo), cost=cost)
        now = self._clock.now()
        pointer: dict[str, Any] = dict(
            demo=demo, source_search_id=entry.source_search, source_upstream_id=entry.source_upstream,
            cache_key=key, cache_outcome=HIT, credits_saved=max(0, self._full_cost(demo) - cost),
            reserved_month=reservation.month, reserved_day=reservation.day,
        )  # fmt: skip
        headers: dict[str, str] = {}
        body = _final(entry.output)
        if cost == 0:
            async with self._db.transaction() as session:
                if not await repo.transition(session, search.id, (UPLOADED,), status=FINISHED, submitted_at=now,
                                             finished_at=now, **pointer):
                    return None
                await self._record_hit(search, pointer, body, session)
        else:
            headers_or_none = await self._charge_hit(search, reservation, pointer, principal.limits, body)
            if headers_or_none is None:
                return None
            headers = headers_or_none
        metrics.credits_saved(principal.tenant_name, search.credits_saved)  # the caller's: no lookup
        await self.lifecycle.delete_inputs(search)
        return Answer(body, HIT, headers)

    async def _record_hit(self, search: Search, pointer: dict[str, Any], body: Body, session: AsyncSession) -> None:
        """The hit's audit events go in the transaction that finishes it: never answered unrecorded."""
        for name, value in pointer.items():
            setattr(search, name, value)
        search.status = FINISHED
        await audit_events.answered_from_cache(self.lifecycle.audit, search, body, session=session,
                                               result_urls=self._settings.audit_result_urls)

    async def _charge_hit(self, search: Search, reservation: Any, pointer: dict[str, Any],
                          limits: Limits, body: Body) -> dict[str, str] | None:
        quotas, now = self.lifecycle.quotas, self._clock.now()
        async with self._db.transaction() as session:
            won = await repo.claim_submit(
                session, search.id, now, now - self.lifecycle.stale_claim, reservation=PENDING,
                credits_reserved=reservation.cost, **pointer,
            )  # fmt: skip
        if not won:
            return None
        try:
            await quotas.reserve(reservation, limits)
            async with self._db.transaction() as session:
                await repo.hold_reservation(session, search.id)
            headers = await quotas.reserve(reservation, limits)  # verified once recorded, as try_submit does
        except BaseException:
            await asyncio.shield(self.lifecycle.release(
                search, reservation_state=None, cache_key=None, cache_outcome=None, source_search_id=None,
                source_upstream_id=None, credits_saved=0))
            raise
        await quotas.commit(search.id)
        search.credits_reserved = reservation.cost
        async with self._db.transaction() as session:
            await repo.transition(session, search.id, (SUBMITTING,), status=FINISHED, finished_at=self._clock.now())
            await repo.settle_reservation(session, search.id, COMMITTED)
            await self._record_hit(search, pointer, body, session)
        return headers

    async def _shared_result(self, search: Search) -> Answer:
        """A finished sharer's result: the cache entry while it lasts, else the source's run upstream."""
        entry = await self.lifecycle.cache.lookup(search.cache_key) if search.cache_key else None
        if entry is not None:
            return Answer(_final(entry.output), HIT if search.cache_outcome == HIT else COALESCED)
        return await self.lifecycle.peek(search.source_upstream_id or search.upstream_id, bool(search.demo),
                                         search.id)

    # -- attached searches ------------------------------------------------------------------------
    async def _follow(self, search: Search) -> Answer:
        if search.status == FINISHED:
            return await self._shared_result(search)
        if search.status == FAILED:
            raise UpstreamError(LEADER_FAILED, search.error_code, search.id)
        source = await self.lifecycle.load(search.source_search_id or "")
        if source is None or source.status == UPLOADED:
            await self._detach(search)
            return Answer({"message": "Search not submitted yet."}, COALESCED)
        if source.status == SUBMITTING:
            return Answer(dict(_WAITING), COALESCED)
        if source.status == FAILED:
            await self._settle(search, FAILED, source.error_code)
            raise UpstreamError(LEADER_FAILED, source.error_code, search.id)
        if source.status == FINISHED:  # settled elsewhere: its result is cached (or still upstream)
            result = await self._shared_result(search)
            await self._settle(search, FINISHED, body=result.body)
            return result
        try:
            answer = await self.lifecycle.status(source)
        except UpstreamError as exc:  # the leader failed now: so does this one, under its own id
            await self._settle(search, FAILED, exc.upstream_code)
            raise UpstreamError(exc.message, exc.upstream_code, search.id) from exc
        if is_final(answer.body):
            await self._settle(search, FINISHED, body=answer.body)
        return Answer(answer.body, COALESCED)

    async def _settle(self, search: Search, status: str, error_code: str | None = None,
                      body: Body | None = None) -> None:
        saved = self._full_cost(bool(search.demo)) if status == FINISHED else 0
        async with self._db.transaction() as session:
            moved = await repo.transition(session, search.id, (SUBMITTED,), status=status, error_code=error_code,
                                          finished_at=self._clock.now(), credits_saved=saved)
            if moved:  # recorded once, with the change, like a search that ran upstream
                await audit_events.ended(self.lifecycle.audit, search, status, body, error_code, session=session,
                                         result_urls=self._settings.audit_result_urls)
        search.status, search.error_code, search.credits_saved = status, error_code, saved
        if moved:
            metrics.credits_saved(await self._tenant(search), saved)
            await self.lifecycle.delete_inputs(search)

    async def _detach(self, search: Search) -> None:
        """The leader never started (refused or released): back to `uploaded`, to be submitted anew."""
        async with self._db.transaction() as session:
            await repo.transition(session, search.id, (SUBMITTED,), status=UPLOADED, submitted_at=None,
                                  reservation=None, reserved_month=None, reserved_day=None, cache_outcome=None,
                                  source_search_id=None, source_upstream_id=None)
        if search.cache_key is not None and search.source_search_id is not None:
            await self.lifecycle.cache.leave(search.cache_key, search.source_search_id)
        search.status, search.cache_outcome, search.source_search_id = UPLOADED, None, None

    def _full_cost(self, demo: bool) -> int:
        return 0 if demo else self._settings.search_credit_cost

    async def _tenant(self, search: Search) -> str:
        return await self.lifecycle.tenant_name(search.tenant_id)


def _final(output: Any) -> Body:
    return {"message": "Search completed.", "progress": 100, "output": output}
