"""The search lifecycle: upload, submit exactly once, status checks, completion.

A search belongs to the tenant that uploaded it; every other tenant is told "not found".
The first `/api/search` that may submit claims the search in the database, so however many
polls arrive on however many replicas, upstream is asked to run it once; every other call
is a status check (`status_only: true` upstream, coalesced). A new search may instead be
answered from the result cache or attached to an identical running search (sharing.py); the
`X-Cache` header says which: HIT, COALESCED (another caller's upstream call answered) or MISS.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace

from app.audit import context as audit_call
from app.audit.writer import AuditWriter
from app.cache.outcomes import COALESCED
from app.clock import Clock
from app.db import Database
from app.errors import (
    ENVELOPE_KEYS,
    DemoOnly,
    GatewayError,
    NotFound,
    PurposeRequired,
    SearchConflict,
    UpstreamUnavailable,
)
from app.facecheck import audit_events
from app.facecheck import repository as repo
from app.facecheck.images import CheckedImage
from app.facecheck.lifecycle import Answer, is_final
from app.facecheck.models import SUBMITTING, UPLOAD_FAILED, UPLOADED, UPLOADING, Search
from app.facecheck.rows import SearchRows
from app.facecheck.schemas import ID_SEARCH, SearchRequest
from app.facecheck.sharing import SearchSharing
from app.observability import context, metrics
from app.quotas.service import QuotaService
from app.store_errors import StoreUnavailable
from app.tenants.schemas import Principal
from app.upstream.client import Body, ImageFile, UpstreamClient, raise_in_band, wait_on_upstream
from app.upstream.info import UpstreamInfo


def new_search_id() -> str:
    """Opaque and unguessable: 192 random bits, so ids cannot be enumerated across tenants."""
    return secrets.token_urlsafe(24)


@dataclass(frozen=True, slots=True)
class SearchSettings:
    search_price: int  # SEARCH_CREDIT_COST: what /api/info says a search needs
    wait_seconds: float  # SEARCH_WAIT_SECONDS: the longest `with_progress: false` wait
    poll_interval: float  # UPSTREAM_POLL_INTERVAL_SECONDS


class SearchService:
    def __init__(
        self, db: Database, upstream: UpstreamClient, sharing: SearchSharing, info: UpstreamInfo,
        quotas: QuotaService, audit: AuditWriter, clock: Clock, settings: SearchSettings,
    ) -> None:  # fmt: skip
        self._db = db
        self._upstream = upstream
        self._sharing = sharing
        self._info = info
        self._quotas = quotas
        self._audit = audit
        self._clock = clock
        self._settings = settings
        self._rows = SearchRows(clock)

    async def _owned(self, principal: Principal, id_search: str | None, *, held: bool = False) -> Search:
        """The tenant's search, else "not found". `held`: a search past submission may come from this
        replica's memory of it (status calls); changes to its images always read the database."""
        if not id_search or not ID_SEARCH.match(id_search):
            raise NotFound()
        if held and (search := self._rows.get(id_search, principal.tenant_id)) is not None:
            return search
        async with self._db.transaction() as session:
            search = await repo.owned(session, id_search, principal.tenant_id)
        if search is None or search.status in (UPLOADING, UPLOAD_FAILED):  # never given to a client
            raise NotFound()
        return search

    # -- upload_pic ---------------------------------------------------------------------------
    async def upload(
        self, principal: Principal, images: Sequence[CheckedImage], id_search: str | None
    ) -> Body:
        """Recorded before any image leaves (`uploading`, with the images' hashes), so nothing ever
        sits at the vendor unrecorded; an upload refused or whose answer is lost ends the record."""
        existing = await self._owned(principal, id_search) if id_search else None
        if existing is not None and existing.status != UPLOADED:
            raise SearchConflict()
        known = list(existing.images) if existing is not None else []
        search = await self._record_upload(principal, existing, [{"id_pic": "", "sha256": img.sha256}
                                                                 for img in images])
        files = [ImageFile(img.data, img.content_type, img.extension) for img in images]
        try:
            body = await self._upstream.upload_pic(files, existing.upstream_id if existing else None)
            raise_in_band(body, id_search)
            upstream_id = body.get("id_search")
            if not isinstance(upstream_id, str) or not upstream_id:
                raise UpstreamUnavailable("The face-search service sent an upload answer without id_search.")
        except BaseException:
            if existing is None:
                await asyncio.shield(self._upload_failed(search))
            raise
        inputs = _image_records(known, body.get("input"), images)
        try:
            async with self._db.transaction() as session:
                moved = await repo.transition(session, search.id, (UPLOADING, UPLOADED), status=UPLOADED,
                                              upstream_id=upstream_id, images=inputs,
                                              inputs_due_at=self._clock.now())
        except BaseException:
            await asyncio.shield(self._withdraw(upstream_id, known, body))
            raise
        if not moved:
            await self._withdraw(upstream_id, known, body)
            raise SearchConflict()
        search.status, search.upstream_id, search.images = UPLOADED, upstream_id, inputs
        await audit_events.uploaded(self._audit, search)
        out = self._present(search, body)
        if not out["message"]:
            out["message"] = f"Uploaded {len(images)} image(s)."
        return out

    async def _record_upload(self, principal: Principal, existing: Search | None,
                             pending: list[dict[str, str]]) -> Search:
        """A new search as `uploading`, or an existing one with the new images' hashes added (an
        append whose answer is lost keeps them: the images may be at the vendor)."""
        async with self._db.transaction() as session:
            if existing is None:
                search = Search(id=new_search_id(), upstream_id="", tenant_id=principal.tenant_id,
                                key_id=principal.key_id, status=UPLOADING, images=pending,
                                created_at=self._clock.now())
                await repo.add(session, search)
                return search
            images = [*existing.images, *pending]
            if not await repo.transition(session, existing.id, (UPLOADED,), images=images):
                raise SearchConflict()
        existing.images = images
        return existing

    async def _withdraw(self, upstream_id: str, known: list[dict[str, str]], body: Body) -> None:
        """Upstream stored the images but the gateway could not record their ids: delete them now,
        as no record would let anything delete them later (best effort; the caller hears an error)."""
        old = {image.get("id_pic") for image in known}
        for pic in body.get("input") or []:
            id_pic = pic.get("id_pic") if isinstance(pic, dict) else None
            if isinstance(id_pic, str) and id_pic and id_pic not in old:
                with contextlib.suppress(GatewayError):
                    await self._upstream.delete_pic(upstream_id, id_pic)

    async def _upload_failed(self, search: Search) -> None:
        """Refused (nothing stored upstream) or unknown (the images may be there): the record ends,
        keeping the hashes; the search id was never given out."""
        async with self._db.transaction() as session:
            await repo.transition(session, search.id, (UPLOADING,), status=UPLOAD_FAILED)

    # -- search -------------------------------------------------------------------------------
    async def search(
        self, principal: Principal, request: SearchRequest, *, fresh: bool = False
    ) -> tuple[Body, dict[str, str]]:
        """The envelope, and its headers: X-Cache, and the RateLimit ones of a new reservation.
        `fresh` (Cache-Control: no-cache) runs a new upstream search whatever the cache holds."""
        search = await self._owned(principal, request.id_search, held=True)
        starting = False
        try:
            answer: Answer | None = None
            if not request.status_only and search.status in (UPLOADED, SUBMITTING):
                starting = True
                answer = await self._start(principal, search, request, fresh)
            started = answer is not None
            if answer is None:
                answer = await self._sharing.progress(search)
                if not request.status_only and search.status == UPLOADED:  # upstream never started it: now
                    starting = True
                    started_now = await self._start(principal, search, request, fresh)
                    answer, started = started_now or answer, started_now is not None
            if not request.with_progress and not is_final(answer.body) and search.status != UPLOADED:
                answer = await self._wait(search, answer)
        finally:
            # Held as a status call left it, past submission only; a start's outcome is read back from
            # the database by the next call (a failed submit puts the row back before submission).
            if starting:
                self._rows.drop(search.id)
            else:
                self._rows.keep(search)
        stats = context.current()
        if stats is not None:
            stats.cache = answer.outcome
        if started or answer.outcome == COALESCED:  # hits and misses count searches, not their polls
            metrics.cache_outcome(principal.tenant_name, answer.outcome)
        return self._present(search, answer.body), {**answer.headers, "X-Cache": answer.outcome.upper()}

    async def _start(self, principal: Principal, search: Search, request: SearchRequest, fresh: bool
                     ) -> Answer | None:
        if principal.limits.demo_only and not request.demo:
            raise DemoOnly()
        if principal.require_purpose and not audit_call.purpose():
            raise PurposeRequired()
        return await self._sharing.start(search, request.demo, principal, fresh)

    async def _wait(self, search: Search, answer: Answer) -> Answer:
        """`with_progress: false`: hold the call until the result is final or the wait limit."""
        deadline = self._clock.monotonic() + self._settings.wait_seconds
        interval = self._settings.poll_interval
        while not is_final(answer.body) and search.status != UPLOADED:
            remaining = deadline - self._clock.monotonic()
            if remaining <= 0:
                break
            await wait_on_upstream(min(interval, remaining))
            # The call's cache outcome is what it did first (a new search, a hit, an attach).
            answer = replace(await self._sharing.progress(search), headers=answer.headers, outcome=answer.outcome)
        return answer

    # -- delete_pic / info --------------------------------------------------------------------
    async def delete_pic(self, principal: Principal, id_search: str | None, id_pic: str | None) -> Body:
        search = await self._owned(principal, id_search)
        if not id_pic:
            raise NotFound("Image not found in this search request.")
        body = await self._upstream.delete_pic(search.upstream_id, id_pic)
        raise_in_band(body, search.id)
        remaining = [img for img in search.images if img.get("id_pic") != id_pic]
        if len(remaining) != len(search.images):
            self._rows.drop(search.id)
            async with self._db.transaction() as session:
                await repo.transition(session, search.id, (search.status,), images=remaining)
        await self._audit.record("delete_pic", tenant_id=search.tenant_id, key_id=principal.key_id,
                                 id_search=search.id, detail={"id_pic": id_pic[:64]})
        return self._present(search, body)

    async def info(self, principal: Principal) -> Body:
        """Upstream's info, but `remaining_credits` is what this tenant can still spend: the
        lesser of its monthly budget left and the company's balance not already held."""
        body = dict(await self._info.get())
        upstream_left = body.get("remaining_credits")
        remaining = int(upstream_left) if isinstance(upstream_left, int | float) else 0
        try:
            usage = await self._quotas.usage(principal.tenant_id)
        except StoreUnavailable:
            usage = None
        if usage is not None and usage.upstream_balance is not None:
            remaining = min(remaining, max(0, usage.upstream_balance - usage.outstanding))
        budget = principal.limits.credits_per_month
        if budget is not None:
            used = usage.credits_used if usage is not None else budget
            remaining = min(remaining, max(0, budget - used))
        if principal.limits.demo_only:
            remaining = 0
        body["remaining_credits"] = remaining
        body["has_credits_to_search"] = remaining >= self._settings.search_price
        await self._audit.record("info")
        return body

    @staticmethod
    def _present(search: Search, body: Body) -> Body:
        """Upstream's envelope with every key present and the gateway's own id in place of upstream's.

        Unknown fields pass through untouched; a final `output` always comes with `progress: 100`.
        """
        out: Body = dict(body)
        for key in ENVELOPE_KEYS:
            out.setdefault(key, None)
        out["id_search"] = search.id
        if out["output"] is not None:
            out["progress"] = 100
        return out


def _image_records(
    known: list[dict[str, str]], upstream_input: object, uploaded: Sequence[CheckedImage]
) -> list[dict[str, str]]:
    """Map upstream's id_pic of each image to its sha256: known ids keep theirs, new ids take
    the hashes of this upload in order."""
    by_id = {rec["id_pic"]: rec["sha256"] for rec in known if "id_pic" in rec}
    fresh = iter(img.sha256 for img in uploaded)
    records: list[dict[str, str]] = []
    for item in upstream_input if isinstance(upstream_input, list) else []:
        id_pic = item.get("id_pic") if isinstance(item, dict) else None
        if not isinstance(id_pic, str):
            continue
        digest = by_id.get(id_pic) or next(fresh, None)
        if digest is not None:
            records.append({"id_pic": id_pic, "sha256": digest})
    if not records:  # upstream gave no ids: still keep the hashes for the record
        records = [{"id_pic": "", "sha256": img.sha256} for img in uploaded]
    return records
