"""The search lifecycle: upload, submit exactly once, status checks, completion.

A search belongs to the tenant that uploaded it; every other tenant is told "not found".
The first `/api/search` that may submit claims the search in the database, so however many
polls arrive on however many replicas, upstream is asked to run it once; every other call
is a status check (`status_only: true` upstream).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from app.clock import Clock
from app.config import Settings
from app.db import Database
from app.errors import (
    ENVELOPE_KEYS,
    NotFound,
    SearchConflict,
    UpstreamError,
    UpstreamUnavailable,
)
from app.facecheck import repository as repo
from app.facecheck.images import CheckedImage
from app.facecheck.models import FAILED, FINISHED, SUBMITTED, SUBMITTING, UPLOADED, Search
from app.facecheck.schemas import ID_SEARCH, SearchRequest
from app.observability import metrics
from app.tenants.schemas import Principal
from app.upstream.client import UpstreamClient, wait_on_upstream

Body = dict[str, Any]


def new_search_id() -> str:
    """Opaque and unguessable: 192 random bits, so ids cannot be enumerated across tenants."""
    return secrets.token_urlsafe(24)


def is_final(body: Body) -> bool:
    return body.get("output") is not None


def _raise_in_band(body: Body, id_search: str | None) -> None:
    error = body.get("error")
    if error:
        raise UpstreamError(str(error), body.get("code"), id_search)


class SearchService:
    def __init__(self, db: Database, upstream: UpstreamClient, settings: Settings, clock: Clock) -> None:
        self._db = db
        self._upstream = upstream
        self._settings = settings
        self._clock = clock
        # A claim older than this belongs to a process that died mid-submit.
        self._stale_claim = timedelta(seconds=settings.upstream_timeout_seconds * 2 + 10)

    async def _owned(self, principal: Principal, id_search: str | None) -> Search:
        if not id_search or not ID_SEARCH.match(id_search):
            raise NotFound()
        async with self._db.transaction() as session:
            search = await repo.owned(session, id_search, principal.tenant_id)
        if search is None:
            raise NotFound()
        return search

    # -- upload_pic ---------------------------------------------------------------------------
    async def upload(
        self, principal: Principal, images: Sequence[CheckedImage], id_search: str | None
    ) -> Body:
        existing = await self._owned(principal, id_search) if id_search else None
        if existing is not None and existing.status != UPLOADED:
            raise SearchConflict()
        body = await self._upstream.upload_pic(images, existing.upstream_id if existing else None)
        _raise_in_band(body, id_search)
        upstream_id = body.get("id_search")
        if not isinstance(upstream_id, str) or not upstream_id:
            raise UpstreamUnavailable("The face-search service sent an upload answer without id_search.")
        inputs = _image_records(existing.images if existing else [], body.get("input"), images)
        async with self._db.transaction() as session:
            if existing is None:
                search = Search(
                    id=new_search_id(),
                    upstream_id=upstream_id,
                    tenant_id=principal.tenant_id,
                    key_id=principal.key_id,
                    status=UPLOADED,
                    images=inputs,
                    created_at=self._clock.now(),
                )
                await repo.add(session, search)
            else:
                search = existing
                if not await repo.transition(session, search.id, (UPLOADED,), images=inputs):
                    raise SearchConflict()
        out = self._present(search, body)
        if not out["message"]:
            out["message"] = f"Uploaded {len(images)} image(s)."
        return out

    # -- search -------------------------------------------------------------------------------
    async def search(self, principal: Principal, request: SearchRequest) -> Body:
        search = await self._owned(principal, request.id_search)
        body: Body | None = None
        if not request.status_only and search.status in (UPLOADED, SUBMITTING):
            body = await self._try_submit(search, request.demo)
        if body is None:
            body = await self._status(search)
        if not request.with_progress and not is_final(body) and search.status != UPLOADED:
            body = await self._wait(search, body)
        return self._present(search, body)

    async def _try_submit(self, search: Search, demo: bool) -> Body | None:
        """Submit if this call wins the claim; None means someone else did (so: a status check)."""
        now = self._clock.now()
        async with self._db.transaction() as session:
            won = await repo.claim_submit(session, search.id, now, now - self._stale_claim)
        if not won:
            return None
        try:
            body = await self._upstream.search(search.upstream_id, status_only=False, demo=demo)
        except BaseException:
            # Not started (or unknown): release the claim so a retry can submit; upstream itself
            # treats a repeated submit of the same id as a status check, so a retry is safe.
            await asyncio.shield(self._release_claim(search.id))
            raise
        if body.get("error"):
            await asyncio.shield(self._release_claim(search.id))
            _raise_in_band(body, search.id)
        metrics.search_submitted(demo)
        status = FINISHED if is_final(body) else SUBMITTED
        values: dict[str, Any] = {"status": status, "demo": demo}
        if status == FINISHED:
            values["finished_at"] = self._clock.now()
        async with self._db.transaction() as session:
            await repo.transition(session, search.id, (SUBMITTING,), **values)
        search.status, search.demo = status, demo
        metrics.search_ended(status, demo)
        return body

    async def _release_claim(self, search_id: str) -> None:
        async with self._db.transaction() as session:
            await repo.transition(session, search_id, (SUBMITTING,), status=UPLOADED, submitted_at=None)

    async def _status(self, search: Search) -> Body:
        body = await self._upstream.search(search.upstream_id, status_only=True, demo=bool(search.demo))
        if body.get("error"):
            if search.status == SUBMITTED:
                await self._finish(search, FAILED, error_code=str(body.get("code") or "EXCEPTION"))
            _raise_in_band(body, search.id)
        if is_final(body) and search.status == SUBMITTED:
            await self._finish(search, FINISHED)
        return body

    async def _finish(self, search: Search, status: str, error_code: str | None = None) -> None:
        async with self._db.transaction() as session:
            moved = await repo.transition(
                session, search.id, (SUBMITTED,), status=status, error_code=error_code,
                finished_at=self._clock.now(),
            )
        search.status = status
        if moved:  # however many polls saw the end, one of them moved the row: count that one
            metrics.search_ended(status, bool(search.demo))

    async def _wait(self, search: Search, body: Body) -> Body:
        """`with_progress: false`: hold the call until the result is final or the wait limit."""
        deadline = self._clock.monotonic() + self._settings.search_wait_seconds
        interval = self._settings.upstream_poll_interval_seconds
        while not is_final(body):
            remaining = deadline - self._clock.monotonic()
            if remaining <= 0:
                break
            await wait_on_upstream(min(interval, remaining))
            body = await self._status(search)
        return body

    # -- delete_pic / info --------------------------------------------------------------------
    async def delete_pic(self, principal: Principal, id_search: str | None, id_pic: str | None) -> Body:
        search = await self._owned(principal, id_search)
        if not id_pic:
            raise NotFound("Image not found in this search request.")
        body = await self._upstream.delete_pic(search.upstream_id, id_pic)
        _raise_in_band(body, search.id)
        remaining = [img for img in search.images if img.get("id_pic") != id_pic]
        if len(remaining) != len(search.images):
            async with self._db.transaction() as session:
                await repo.transition(session, search.id, (search.status,), images=remaining)
        return self._present(search, body)

    async def info(self, principal: Principal) -> Body:
        body = await self._upstream.info()
        _raise_in_band(body, None)
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
