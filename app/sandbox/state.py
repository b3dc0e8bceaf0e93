"""Search lifecycle, credits and counters of the simulator.

Pure logic with no HTTP and no awaits: every method runs to completion on the event loop, so there are
no locks to take. A search's phase is computed from the injected clock at each call instead of being
driven by background tasks, which keeps the app usable without its lifespan and makes time in tests a
value to advance rather than something to wait for.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from app.sandbox.config import SandboxConfig
from app.sandbox.models import (
    MAX_IMAGES,
    SEARCH_COST,
    InputPic,
    Phase,
    SandboxError,
    Search,
    Stats,
    Status,
    new_id_search,
)
from app.sandbox.results import results_key

# What the simulator keeps, as FaceCheck itself forgets: a search is dropped this long after it
# ended (or after its upload, if never submitted), and never more than this many are held.
RETAIN_SECONDS = 600.0
MAX_SEARCHES = 10_000
_FORGET_EVERY = 256


class SandboxState:
    """All mutable state of one simulator instance."""

    def __init__(self, config: SandboxConfig, clock: Callable[[], float]) -> None:
        self.config = config
        self._clock = clock
        self.reset()

    def reset(self) -> None:
        """Forget every search, zero the counters, refill credits and reseed the draws."""
        self.searches: dict[str, Search] = {}
        self._uploads = 0
        self.credits = self.config.initial_credits
        self.stats = Stats()
        self._queue: deque[Search] = deque()
        self._running: list[Search] = []
        self._reseed()

    def _reseed(self) -> None:
        # Separate streams so that enabling a fault knob never changes which searches fail.
        self._fail_rng = random.Random(f"fail:{self.config.seed}")
        self._fault_rng = random.Random(f"fault:{self.config.seed}")
        self._answer_rng = random.Random(f"answer:{self.config.seed}")
        self._late_rng = random.Random(f"late:{self.config.seed}")

    def update_config(self, patch: Mapping[str, Any]) -> SandboxConfig:
        """Apply a partial update atomically; raises pydantic.ValidationError and keeps the old config."""
        new = SandboxConfig.model_validate({**self.config.model_dump(), **patch})
        reseed = new.seed != self.config.seed
        self.config = new
        if reseed:
            self._reseed()
        return new

    # -- faults -----------------------------------------------------------------------------------------

    def draw_faults(self) -> tuple[bool, bool]:
        """Decide (hang, answer 503) for one /api call, counting what was injected."""
        cfg = self.config
        hang = cfg.timeout_rate > 0 and self._fault_rng.random() < cfg.timeout_rate
        fail = cfg.http_5xx_rate > 0 and self._fault_rng.random() < cfg.http_5xx_rate
        self.stats.timeouts += hang
        self.stats.http_5xx += fail
        return hang, fail

    def draw_answer_faults(self, *, submitted: bool, status_check: bool, uploaded: bool = False
                           ) -> tuple[bool, bool, bool]:
        """Decide (lose the answer, answer a status error, answer slowly) for a call just processed:
        only a new submit's (or, with `lost_upload_rate`, an upload's) answer can be lost, only a
        status check can get the status error."""
        cfg, rng = self.config, self._answer_rng
        lost = submitted and cfg.lost_answer_rate > 0 and rng.random() < cfg.lost_answer_rate
        lost = lost or (uploaded and cfg.lost_upload_rate > 0 and rng.random() < cfg.lost_upload_rate)
        status_error = status_check and cfg.status_error_rate > 0 and rng.random() < cfg.status_error_rate
        slow = cfg.slow_answer_rate > 0 and rng.random() < cfg.slow_answer_rate
        self.stats.lost_answers += lost
        self.stats.status_errors += status_error
        self.stats.slow_answers += slow and not lost
        return lost, status_error, slow and not lost

    def draw_delete_error(self) -> bool:
        """Whether a delete is refused in-band (``delete_error_rate``), the image left in place."""
        rate = self.config.delete_error_rate
        return rate > 0 and self._fault_rng.random() < rate

    # -- images -----------------------------------------------------------------------------------------

    def _get(self, id_search: str | None) -> Search:
        if not id_search:
            raise SandboxError("id_search is required.")
        search = self.searches.get(id_search)
        if search is None:
            raise SandboxError("Search request not found", id_search)
        return search

    def add_pics(self, id_search: str | None, pics: list[InputPic]) -> Search:
        """Start a search request (no id) or append to one that has not been submitted yet."""
        if not pics:
            raise SandboxError("No images uploaded. Send 1 to 3 files in the 'images' field.", id_search)
        if id_search:
            search = self._get(id_search)
            if search.submitted_at is not None:
                raise SandboxError("Search already submitted; images can no longer be added.", id_search)
        else:
            search = Search(id_search=new_id_search(), created_at=self._clock())
            self._forget()
        if len(search.pics) + len(pics) > MAX_IMAGES:
            raise SandboxError(f"A search request holds at most {MAX_IMAGES} images.", search.id_search)
        search.pics.extend(pics)
        self.searches[search.id_search] = search
        self.stats.uploads += 1
        return search

    def delete_pic(self, id_search: str | None, id_pic: str | None) -> Search:
        search = self._get(id_search)
        for pic in search.pics:
            if pic.id_pic == id_pic:
                search.pics.remove(pic)
                self.stats.deletes += 1
                return search
        raise SandboxError("Image not found in this search request.", search.id_search)

    def _forget(self) -> None:
        """Drop searches retained long enough, then the oldest beyond the cap (upload order)."""
        self._uploads += 1
        if self._uploads % _FORGET_EVERY and len(self.searches) < MAX_SEARCHES:
            return
        now, run = self._clock(), self.config.queue_seconds + self.config.search_seconds
        self.settle()
        self.searches = {
            sid: s for sid, s in self.searches.items()
            if now - (s.created_at if s.submitted_at is None else s.submitted_at + run) < RETAIN_SECONDS
        }  # fmt: skip
        while len(self.searches) >= MAX_SEARCHES:
            del self.searches[next(iter(self.searches))]

    # -- searching --------------------------------------------------------------------------------------

    def search(self, id_search: str | None, *, status_only: bool, demo: bool) -> Status:
        """One /api/search call: submit a new search, or report status (never a second charge)."""
        self.settle()
        search = self._get(id_search)
        if status_only or search.submitted_at is not None:
            self.stats.status_polls += 1
            self.stats.duplicate_submits += not status_only
            return self.status(search.id_search)
        try:
            cost = self._submit_cost(search, demo)
        except SandboxError:
            self.stats.status_polls += 1  # a refused submit is still a call on a known search
            raise
        self.credits -= cost
        self.stats.credits_spent += cost
        self.stats.search_submits += 1
        search.submitted_at = self._clock()
        search.demo = demo
        search.charged = cost
        search.will_fail = self.config.error_rate > 0 and self._fail_rng.random() < self.config.error_rate
        late = self.config.late_output_rate
        search.late_output = not search.will_fail and late > 0 and self._late_rng.random() < late
        search.results_key = results_key((p.sha256 for p in search.pics), demo, self.config.seed)
        search.images_in_bundle = len(search.pics)
        self._queue.append(search)
        self._running.append(search)
        return self.status(search.id_search)

    def _submit_cost(self, search: Search, demo: bool) -> int:
        if not search.pics:
            raise SandboxError("The search request has no images left.", search.id_search)
        cost = 0 if demo else SEARCH_COST
        if self.credits < cost:
            raise SandboxError("Not enough credits", search.id_search)
        return cost

    def status(self, id_search: str) -> Status:
        """Where a search stands now; no counters move, so waits may call it repeatedly."""
        search = self._get(id_search)
        self.settle()
        base = Status(
            id_search=search.id_search,
            phase=Phase.NOT_SUBMITTED,
            results_key=search.results_key,
            demo=search.demo,
            images_in_bundle=search.images_in_bundle,
        )
        if search.submitted_at is None:
            return base
        queue, run = self.config.queue_seconds, self.config.search_seconds
        elapsed = self._clock() - search.submitted_at
        if elapsed >= queue + run:
            late = search.late_output and elapsed < queue + run + self.config.late_output_seconds
            return replace(base, phase=Phase.FAILED if search.will_fail or late else Phase.DONE, progress=100)
        left = queue + run - elapsed
        if elapsed < queue:
            return replace(base, phase=Phase.QUEUED, progress=0, position=self._position(search), seconds_left=left)
        progress = min(99, int(99 * (elapsed - queue) / run))
        return replace(base, phase=Phase.SEARCHING, progress=progress, seconds_left=left)

    def _position(self, search: Search) -> int:
        """1-based place in the FIFO queue: searches submitted earlier that are still queued go first."""
        now = self._clock()
        while self._queue and now - (self._queue[0].submitted_at or 0.0) >= self.config.queue_seconds:
            self._queue.popleft()
        ahead = 0
        for queued in self._queue:
            if queued is search:
                break
            ahead += 1
        return ahead + 1

    def ledger(self) -> list[dict[str, object]]:
        """Every search upstream knows: what it was charged in the end (net of a refund) and how many
        input images it still holds. The per-search witness money tests compare the gateway with."""
        self.settle()
        return [{"id_search": s.id_search, "submitted": s.submitted_at is not None,
                 "charged": 0 if s.refunded else s.charged, "pics": len(s.pics),
                 "sha256": [p.sha256 for p in s.pics]} for s in self.searches.values()]

    def settle(self) -> None:
        """Close the books on searches whose run has ended: failed ones are counted and refunded."""
        now = self._clock()
        limit = self.config.queue_seconds + self.config.search_seconds
        still: list[Search] = []
        for search in self._running:
            if now - (search.submitted_at or 0.0) < limit:
                still.append(search)
                continue
            if search.will_fail:
                search.refunded = True
                self.stats.failed_searches += 1
                self.credits += search.charged
                self.stats.credits_spent -= search.charged
        self._running = still
