"""AuditWriter: every event durably written before the call it records is answered.

The database first; if the database cannot take it, the process's fsync'd spool; if neither can,
AUDIT_UNAVAILABLE. Writes are group-committed: callers queue their event and wait, and one flusher
task chains everything queued in one short transaction (the head locked and moved once), while
new events gather for the next. While this process has events in its spool, new ones follow them
there, so the chain keeps the order they happened in; a background task replays the spool (and
spools of dead processes) once the database is back.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import context as call
from app.audit import partitions
from app.audit import repository as repo
from app.audit.chain import FIELDS, iso
from app.audit.models import OK
from app.audit.spool import Spool
from app.background import Background
from app.clock import Clock
from app.db import Database
from app.errors import AuditUnavailable, GatewayError
from app.observability import context as request_context
from app.observability import metrics

log = logging.getLogger("facecheck_gateway.audit")
PARTITION_EVERY = 3600.0
BATCH = 200  # events per commit at most: a bounded transaction, and a bounded wait for the last in it


class AuditWriter:
    def __init__(self, db: Database, spool: Spool, key: bytes, clock: Clock, *, postgres: bool = False,
                 retention_days: int = 0, replay_interval: float = 5.0) -> None:
        self._db = db
        self._spool = spool
        self._key = key
        self._clock = clock
        self._postgres = postgres
        self._retention_days = retention_days
        self._interval = replay_interval
        self._lock = asyncio.Lock()  # spool appends and the end of a replay
        self._pending = 0  # events in our own spool file not yet in the database
        self._offset = 0  # how far our spool file has been replayed
        self._background = Background("audit-replay")
        self._maintained_at = float("-inf")
        self._queue: list[tuple[dict[str, Any], asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None

    # -- recording --------------------------------------------------------------------------------
    async def record(self, action: str, outcome: str = OK, *, session: AsyncSession | None = None,
                     **fields: Any) -> None:
        """One event: the call's facts (address, purpose, request id...) filled in when in a request.
        With `session`, it is chained inside that transaction (committed or not with the change it
        records)."""
        row = self._row(action, outcome, fields)
        if session is not None:
            await repo.append(session, self._key, row)
            self._mark()
            return
        written = asyncio.get_running_loop().create_future()
        self._queue.append((row, written))
        if self._flusher is None or self._flusher.done():
            # A context of its own: the flusher writes for many calls, and carries none's facts.
            self._flusher = asyncio.create_task(self._flush(), name="audit-flush", context=contextvars.Context())
        await written  # cancelling a caller stops its wait, never the batch's write
        self._mark()

    async def admin_action(self, actor: str, action: str, *, tenant_id: str | None = None,
                           key_id: str | None = None, detail: dict[str, Any] | None = None) -> None:
        """An operator changed something (`action` like "tenant.create", "cache.purge")."""
        await self.record(f"admin.{action}", actor=actor, tenant_id=tenant_id, key_id=key_id, detail=detail)

    def _row(self, action: str, outcome: str, fields: dict[str, Any]) -> dict[str, Any]:
        facts = call.current()
        stats = request_context.current()
        # Every hashed field starts empty; seq and prev_hash are set when the event is chained.
        row: dict[str, Any] = {name: None for name in FIELDS if name not in ("seq", "prev_hash")}
        row.update(event_id=uuid.uuid4().hex, time=self._clock.now(), action=action, outcome=outcome,
                   credits_reserved=0, credits_charged=0, credits_refunded=0)
        if facts is not None:
            row.update(client_ip=facts.client_ip, user_agent=facts.user_agent, request_id=facts.request_id,
                       purpose=facts.purpose, case_id=facts.case_id, tenant_id=facts.tenant_id,
                       key_id=facts.key_id, actor=facts.actor)
        if stats is not None:
            row.update(cache=stats.cache, upstream_ms=round(stats.upstream_seconds * 1000))
        row.update({k: v for k, v in fields.items() if v is not None})
        return row

    @staticmethod
    def _mark() -> None:
        facts = call.current()
        if facts is not None:
            facts.recorded = True

    # -- group commit -----------------------------------------------------------------------------
    async def _flush(self) -> None:
        """Write what is queued, a batch at a time in queue order, until the queue is empty."""
        batch: list[tuple[dict[str, Any], asyncio.Future[None]]] = []
        try:
            while self._queue:
                batch = self._queue[:BATCH]
                del self._queue[:BATCH]
                await self._write(batch)
        finally:  # a no-op unless cancelled (the loop closing): then no caller waits forever
            for _, written in [*batch, *self._queue]:
                written.cancel()
            self._queue.clear()

    async def _write(self, batch: list[tuple[dict[str, Any], asyncio.Future[None]]]) -> None:
        """One transaction for the batch; if the database cannot take it (or earlier events wait in
        the spool), each event goes to the spool in order, each caller told its own outcome."""
        try:
            if self._pending == 0 and await self._commit([row for row, _ in batch]):
                for _, written in batch:
                    _settle(written)
                return
        except Exception as exc:  # a fault, not an outage: every caller of the batch sees it
            for _, written in batch:
                _settle(written, exc)
            return
        for row, written in batch:
            try:
                await self._to_spool(row)
            except Exception as exc:
                _settle(written, exc)
            else:
                _settle(written)

    async def _commit(self, rows: list[dict[str, Any]]) -> bool:
        """False when the database is unavailable. An unknown outcome then spooled is safe: replay
        skips event ids already in."""
        try:
            async with self._db.transaction() as session:
                await repo.append_many(session, self._key, rows)
        except GatewayError:
            log.warning("audit database unavailable; spooling", extra={"events": len(rows)})
            return False
        metrics.AUDIT_COMMIT_EVENTS.observe(len(rows))
        return True

    async def _to_spool(self, row: dict[str, Any]) -> None:
        async with self._lock:
            try:
                await asyncio.to_thread(self._spool.append, {**row, "time": iso(row["time"])})
            except OSError as exc:
                log.error("audit spool unwritable and database unavailable: call refused")
                raise AuditUnavailable() from exc
            self._pending += 1
            metrics.AUDIT_SPOOL_DEPTH.set(self._pending)

    # -- replay -----------------------------------------------------------------------------------
    async def replay(self) -> int:
        """Move spooled events into the database in order; returns how many went in."""
        moved = 0
        for path, fd in self._spool.orphans():  # files of dead processes: replay whole, then remove
            try:
                moved += await self._replay_file(path)
            except BaseException:
                os.close(fd)  # kept for the next round
                raise
            self._spool.remove(path, fd)
        own = self._spool.own_path
        # Until the file is emptied: once the last event is in, one more round finds nothing new
        # (under the lock) and truncates it, so it neither grows across outages nor replays at start.
        while own is not None and (self._pending or self._offset):
            events, offset = Spool.read(own, self._offset)
            if not events:
                async with self._lock:
                    events, offset = Spool.read(own, self._offset)
                    if not events:  # nothing arrived since: the spool is drained
                        self._spool.reset_own()
                        self._offset, self._pending = 0, 0
                        metrics.AUDIT_SPOOL_DEPTH.set(0)
                        break
            for event in events:
                moved += await self._insert(event)
                self._pending = max(0, self._pending - 1)
            self._offset = offset
            metrics.AUDIT_SPOOL_DEPTH.set(self._pending)
        return moved

    async def _replay_file(self, path: Path) -> int:
        events, _ = Spool.read(path, 0)
        return sum([await self._insert(event) for event in events])

    async def _insert(self, event: dict[str, Any]) -> int:
        row = {**event, "time": datetime.fromisoformat(event["time"])}
        async with self._db.transaction() as session:
            return 1 if await repo.append(session, self._key, row, replay=True) else 0

    # -- background -------------------------------------------------------------------------------
    def start(self) -> None:
        self._background.start(self._run())

    async def stop(self) -> None:
        """Stop replaying; events already queued are written (their callers get their outcome)."""
        await self._background.stop()
        while self._flusher is not None and not self._flusher.done():
            await asyncio.wait([self._flusher])
        self._spool.close()

    async def _run(self) -> None:
        while True:
            try:
                await self.replay()
                await self.maintain()
            except GatewayError:
                log.info("audit replay deferred: database unavailable")
            except Exception:  # keep replaying whatever one round ran into
                log.exception("audit replay round failed")
            await asyncio.sleep(self._interval)

    async def maintain(self) -> None:
        """PostgreSQL: months ahead exist, months past retention are dropped (hourly)."""
        if not self._postgres or self._clock.monotonic() - self._maintained_at < PARTITION_EVERY:
            return
        now = self._clock.now()
        async with self._db.transaction() as session:
            await partitions.ensure_ahead(session, now)
            if self._retention_days:
                await partitions.drop_older_than(session, now, self._retention_days)
        self._maintained_at = self._clock.monotonic()

    @property
    def pending(self) -> int:
        return self._pending


def _settle(written: asyncio.Future[None], error: BaseException | None = None) -> None:
    if written.done():  # its caller was cancelled
        return
    if error is None:
        written.set_result(None)
    else:
        written.set_exception(error)
