"""How a new search gets its result: a cache hit, joining an identical running search, or a run.

`start` decides: from the cache (HIT: nothing goes upstream, it costs CACHE_HIT_CREDIT_COST), by
joining an identical search already running in the same cache scope (COALESCED: nothing reserved,
settled with the leader), or by running upstream (MISS, through the lifecycle). The single flight
lives here whole: lead or attach, follow the leader, settle or detach with it. Both kinds of sharer
keep a durable pointer to their source in the database, so polls on them work on any replica and
after a restart. An attached search whose leader fails fails the same way, charged nothing; one
whose leader never started goes back to `uploaded`, so its next poll submits it afresh.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.writer import AuditWriter
from app.cache.keys import OFF, cache_key, effective_scope, scope_name
from app.cache.outcomes import COALESCED, HIT, MISS
from app.cache.service import Entry, ResultCache
from app.clock import Clock
from app.db import Database
from app.errors import UpstreamError
from app.facecheck import audit_events
from app.facecheck import repository as repo
from app.facecheck.lifecycle import Answer, SearchLifecycle, is_final
from app.facecheck.models import FAILED, FINISHED, SUBMITTED, SUBMITTING, UPLOADED, Search
from app.observability import metrics
from app.quotas.policy import Limits, credit_cost
from app.tenants.schemas import Principal
from app.upstream.client import Body

LEADER_FAILED = "The identical search this one was attached to failed upstream."
WAITING: Body = {"message": "Waiting in queue. Position: 1", "progress": 0}


@dataclass(frozen=True, slots=True)
class SharingSettings:
    cache_scope: str  # CACHE_SCOPE: the default a tenant may override
    secret: bytes  # keys the cache keys
    search_price: int  # SEARCH_CREDIT_COST: what a hit saves
    hit_price: int  # CACHE_HIT_CREDIT_COST
    result_urls: bool  # AUDIT_RESULT_URLS


class SearchSharing:
    def __init__(self, lifecycle: SearchLifecycle, cache: ResultCache, audit: AuditWriter, db: Database,
                 clock: Clock, settings: SharingSettings) -> None:
        self._lifecycle = lifecycle
        self._cache = cache
        self._audit = audit
        self._db = db
        self._clock = clock
        self._settings = settings

    async def start(self, search: Search, demo: bool, principal: Principal, fresh: bool) -> Answer | None:
        """A new search; None when another call claimed it first (so: a status check)."""
        scope = effective_scope(self._settings.cache_scope, principal.cache_scope)
        if scope == OFF:
            return await self._run(search, demo, principal.limits, None, join=False)
        key = cache_key(self._settings.secret, (img["sha256"] for img in search.images), demo,
                        scope_name(scope, search.tenant_id))
        if not fresh and (entry := await self._cache.lookup(key)) is not None:
            return await self._hit(search, entry, key, demo, principal)
        return await self._run(search, demo, principal.limits, key, join=not fresh)

    async def progress(self, search: Search) -> Answer:
        """Where a search already started stands (its own run, or the run it shares)."""
        if search.cache_outcome == HIT:
            return await self._shared_result(search)
        if search.cache_outcome == COALESCED:
            return await self._follow(search)
        return await self._lifecycle.check(search)

    # -- runs and the single flight ---------------------------------------------------------------
    async def _run(self, search: Search, demo: bool, limits: Limits, key: str | None, *, join: bool
                   ) -> Answer | None:
        """Claim the search; then attach it to an identical running search (with `join`), or run it.
        A `key` is where the result goes."""
        reservation = self._lifecycle.reservation(search, demo)
        outcome = MISS if key else None
        if not await self._lifecycle.claim(search, reservation, reserved_month=reservation.month,
                                           reserved_day=reservation.day, cache_key=key, cache_outcome=outcome):
            return None
        search.cache_key, search.cache_outcome = key, outcome
        search.demo, search.credits_reserved = demo, reservation.cost
        if key is not None and join and (leader := await self._leader(key, search.id)) is not None:
            try:  # recorded before it counts as attached, so a search is never shared unrecorded
                await audit_events.submitted(self._audit, search, demo, 0, cache=COALESCED)
            except BaseException:
                await asyncio.shield(self._lifecycle.release(search, reservation_state=None))
                raise
            await self._attach(search, leader, demo, reservation.month, reservation.day)
            return Answer(dict(WAITING), COALESCED)
        return await self._lifecycle.submit(search, demo, reservation, limits)

    async def _leader(self, key: str, search_id: str) -> Search | None:
        """The live search leading the flight for `key`, or None when this one leads now.
        A flight whose leader never started or failed (its end was lost) is taken over."""
        for _ in range(2):
            leader_id = await self._cache.join(key, search_id)
            if leader_id == search_id:
                return None
            leader = await self._lifecycle.load(leader_id)
            if leader is not None and leader.status not in (UPLOADED, FAILED):
                return leader
            await self._cache.leave(key, leader_id)
        return None

    async def _attach(self, search: Search, leader: Search, demo: bool, month: str, day: str) -> None:
        """Turn this search's claim into a follower of `leader`: it reserves nothing and settles
        when the leader does."""
        values: dict[str, Any] = dict(
            status=SUBMITTED, demo=demo, reservation=None, credits_reserved=0, reserved_month=month,
            reserved_day=day, source_search_id=leader.id, source_upstream_id=leader.upstream_id,
            cache_outcome=COALESCED,
        )  # fmt: skip
        async with self._db.transaction() as session:
            await repo.transition(session, search.id, (SUBMITTING,), **values)
        for name, value in values.items():
            setattr(search, name, value)

    async def _follow(self, search: Search) -> Answer:
        if search.status == FINISHED:
            return await self._shared_result(search)
        if search.status == FAILED:
            raise UpstreamError(LEADER_FAILED, search.error_code, search.id)
        source = await self._lifecycle.load(search.source_search_id or "")
        if source is None or source.status == UPLOADED:
            await self._detach(search)
            return Answer({"message": "Search not submitted yet."}, COALESCED)
        if source.status == SUBMITTING:
            return Answer(dict(WAITING), COALESCED)
        if source.status == FAILED:
            await self._settle(search, FAILED, source.error_code)
            raise UpstreamError(LEADER_FAILED, source.error_code, search.id)
        if source.status == FINISHED:  # settled elsewhere: its result is cached (or still upstream)
            result = await self._shared_result(search)
            await self._settle(search, FINISHED, body=result.body)
            return result
        try:
            answer = await self._lifecycle.check(source)
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
                await audit_events.ended(self._audit, search, status, body, error_code, session=session,
                                         result_urls=self._settings.result_urls)
        search.status, search.error_code, search.credits_saved = status, error_code, saved
        if moved:
            metrics.credits_saved(await self._lifecycle.tenant_name(search.tenant_id), saved)
            await self._lifecycle.delete_inputs(search)

    async def _detach(self, search: Search) -> None:
        """The leader never started (refused or released): back to `uploaded`, to be submitted anew."""
        async with self._db.transaction() as session:
            await repo.transition(session, search.id, (SUBMITTED,), status=UPLOADED, submitted_at=None,
                                  reservation=None, reserved_month=None, reserved_day=None, cache_outcome=None,
                                  source_search_id=None, source_upstream_id=None)
        if search.cache_key is not None and search.source_search_id is not None:
            await self._cache.leave(search.cache_key, search.source_search_id)
        search.status, search.cache_outcome, search.source_search_id = UPLOADED, None, None

    # -- hits -------------------------------------------------------------------------------------
    async def _hit(self, search: Search, entry: Entry, key: str, demo: bool, principal: Principal) -> Answer | None:
        """Finish the search from the cache entry. A non-zero CACHE_HIT_CREDIT_COST is reserved and
        committed through the lifecycle, so budgets hold for hits too."""
        cost = credit_cost(self._settings.hit_price, demo)
        reservation = replace(self._lifecycle.reservation(search, demo), cost=cost)
        now = self._clock.now()
        pointer: dict[str, Any] = dict(
            demo=demo, source_search_id=entry.source_search, source_upstream_id=entry.source_upstream,
            cache_key=key, cache_outcome=HIT, credits_saved=max(0, self._full_cost(demo) - cost),
            reserved_month=reservation.month, reserved_day=reservation.day,
        )  # fmt: skip
        headers: dict[str, str] = {}
        body = _final(entry.output)

        async def record(session: AsyncSession) -> None:
            await self._record_hit(search, pointer, body, session)

        if cost == 0:
            async with self._db.transaction() as session:
                if not await repo.transition(session, search.id, (UPLOADED,), status=FINISHED, submitted_at=now,
                                             finished_at=now, **pointer):
                    return None
                await record(session)
        else:
            if not await self._lifecycle.claim(search, reservation, **pointer):
                return None
            headers = await self._lifecycle.reserve_claimed(
                search, reservation, principal.limits, cache_key=None, cache_outcome=None, source_search_id=None,
                source_upstream_id=None, credits_saved=0)  # fmt: skip
            await self._lifecycle.finish_charged(search, cost, record)
        metrics.credits_saved(principal.tenant_name, search.credits_saved)  # the caller's: no lookup
        await self._lifecycle.delete_inputs(search)
        return Answer(body, HIT, headers)

    async def _record_hit(self, search: Search, pointer: dict[str, Any], body: Body, session: AsyncSession) -> None:
        """The hit's audit events go in the transaction that finishes it: never answered unrecorded."""
        for name, value in pointer.items():
            setattr(search, name, value)
        search.status = FINISHED
        await audit_events.answered_from_cache(self._audit, search, body, session=session,
                                               result_urls=self._settings.result_urls)

    async def _shared_result(self, search: Search) -> Answer:
        """A finished sharer's result: the cache entry while it lasts, else the source's run upstream."""
        entry = await self._cache.lookup(search.cache_key) if search.cache_key else None
        if entry is not None:
            return Answer(_final(entry.output), HIT if search.cache_outcome == HIT else COALESCED)
        return await self._lifecycle.peek(search.source_upstream_id or search.upstream_id, bool(search.demo),
                                          search.id)

    def _full_cost(self, demo: bool) -> int:
        return credit_cost(self._settings.search_price, demo)


def _final(output: Any) -> Body:
    return {"message": "Search completed.", "progress": 100, "output": output}
