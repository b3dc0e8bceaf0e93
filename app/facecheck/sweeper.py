"""DELETE_INPUTS_AFTER_SEARCH: the faces a search sent are deleted at the vendor once it has ended.

The search that settles a run deletes its inputs at once; whatever that could not finish (upstream
down, the circuit open, the process gone) is left due in the database (`inputs_due_at`), and the
sweeper, on the tracker's leader, retries it a bounded batch per round, waiting longer between tries
the longer a search has been failing. Ids the gateway never learned (an append whose answer was lost)
are learned from the deletes' own answers, which list the images the search still holds. What cannot
be deleted: images of a new upload whose answer was lost, since upstream never told the search's id
(docs/money.md).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from app.background import Background
from app.clock import Clock
from app.db import Database
from app.errors import GatewayError
from app.facecheck import repository as repo
from app.facecheck.models import Search
from app.upstream.client import Body, UpstreamClient

log = logging.getLogger("facecheck_gateway.inputs")
BATCH = 20  # searches per round: each costs a delete per image
MAX_RETRY = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Swept:
    done: bool  # every image it could name is gone (or upstream cannot be asked about the rest)
    images: list[dict[str, str]] | None  # the search's records with the ids learned meanwhile; None: none


def _gone(body: Body) -> bool:
    """An in-band "not found" (the image or the search): already deleted, or forgotten by upstream."""
    return "not found" in str(body.get("error")).lower()


def _learn(images: list[dict[str, str]], id_pic: str) -> None:
    """An id upstream named that the gateway never got: it belongs to an image recorded without one."""
    for image in images:
        if not image.get("id_pic"):
            image["id_pic"] = id_pic
            return
    images.append({"id_pic": id_pic, "sha256": ""})


async def delete_inputs(upstream: UpstreamClient, search: Search) -> Swept:
    """Delete every input of the search at the vendor, learning ids it never had on the way."""
    images = [dict(image) for image in search.images]
    done = await _delete(upstream, search, images)
    return Swept(done, images if images != search.images else None)


async def _delete(upstream: UpstreamClient, search: Search, images: list[dict[str, str]]) -> bool:
    todo = [image["id_pic"] for image in images if image.get("id_pic")]
    seen = set(todo)
    while todo:
        id_pic = todo.pop(0)
        try:
            body = await upstream.delete_pic(search.upstream_id, id_pic)
        except GatewayError as exc:
            log.warning("input image not deleted upstream; retried later", extra={"reason": type(exc).__name__})
            return False
        if body.get("error"):
            if _gone(body):
                continue
            log.warning("input image not deleted upstream; retried later", extra={"reason": "in-band error"})
            return False
        for pic in body.get("input") or []:
            new = pic.get("id_pic") if isinstance(pic, dict) else None
            if isinstance(new, str) and new and new not in seen:
                seen.add(new)
                todo.append(new)
                _learn(images, new)
    if any(not image.get("id_pic") for image in images):
        log.warning("input images whose ids upstream never gave cannot be deleted")
    return True


class InputSweeper:
    def __init__(self, db: Database, upstream: UpstreamClient, clock: Clock, *, grace: timedelta) -> None:
        self._db = db
        self._upstream = upstream
        self._clock = clock
        self._grace = grace  # a search that just ended is being swept by whoever settled it
        self._min_retry = timedelta(seconds=1)
        self._background = Background("input-sweeper")

    def start(self, leading: Callable[[], bool], interval: float) -> None:
        self._min_retry = timedelta(seconds=interval)
        self._background.start(self._run(leading, interval))

    async def stop(self) -> None:
        await self._background.stop()

    async def _run(self, leading: Callable[[], bool], interval: float) -> None:
        while True:
            try:
                if leading():
                    await self.sweep()
            except Exception:  # keep sweeping whatever one round ran into
                log.exception("input sweep round failed")
            await asyncio.sleep(interval)

    async def sweep(self) -> int:
        """One round: at most BATCH due searches; how many were swept clean."""
        now = self._clock.now()
        async with self._db.transaction() as session:
            due = await repo.inputs_due(session, now, now - self._grace, BATCH)
        done = 0
        for search in due:
            done += await self.sweep_search(search)
        return done

    async def sweep_search(self, search: Search) -> bool:
        swept = await delete_inputs(self._upstream, search)
        now = self._clock.now()
        failing_for = now - (search.finished_at or now)
        retry = None if swept.done else now + min(max(failing_for, self._min_retry), MAX_RETRY)
        async with self._db.transaction() as session:
            await repo.inputs_swept(session, search.id, swept.images, retry)
        search.images, search.inputs_due_at = swept.images or search.images, retry
        return swept.done
