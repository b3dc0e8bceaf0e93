"""Reading the audit log: filtered pages, streamed exports, chain verification."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime
from typing import Any, Literal

import orjson

from app.actors import Actor
from app.audit import repository as repo
from app.audit.chain import FIELDS, ChainBreak, Verifier, iso
from app.audit.repository import Filters
from app.db import Database

ExportFormat = Literal["jsonl", "csv"]
EXPORT_COLUMNS = [*FIELDS, "hash"]


def public(row: dict[str, Any]) -> dict[str, Any]:
    return {name: (iso(row[name]) if name == "time" else row.get(name)) for name in EXPORT_COLUMNS}


def _scoped(actor: Actor, filters: Filters) -> Filters:
    """An operator reads any selection; a tenant admin its own tenant's events only."""
    return replace(filters, tenant_id=actor.tenant_filter(filters.tenant_id))


async def page(db: Database, actor: Actor, filters: Filters, cursor: int | None, limit: int) -> dict[str, Any]:
    """Newest first; `next_cursor` (the last seq returned) fetches the next page, null at the end."""
    filters = _scoped(actor, filters)
    async with db.transaction() as session:
        rows = await repo.page(session, filters, cursor, limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return {"events": [public(r) for r in rows], "next_cursor": str(rows[-1]["seq"]) if more else None}


async def rejections(db: Database, actor: Actor, tenant_id: str | None, since: datetime,
                     key_id: str | None) -> dict[str, int]:
    """Rejected calls by code: one tenant's (or key's), or, for an operator asking for none, every tenant's."""
    tenant_id = actor.tenant_filter(tenant_id)
    async with db.transaction() as session:
        return await repo.rejections_by_code(session, tenant_id, since, key_id)


def export(db: Database, actor: Actor, filters: Filters, fmt: ExportFormat) -> AsyncIterator[bytes]:
    """The whole selection, oldest first, one line per event, without holding it in memory. Who may
    read it is settled here, before the stream (and its 200) starts."""
    return _export(db, _scoped(actor, filters), fmt)


async def _export(db: Database, filters: Filters, fmt: ExportFormat) -> AsyncIterator[bytes]:
    if fmt == "csv":
        yield _csv_line(EXPORT_COLUMNS)
    async with db.sessions() as session:
        async for row in repo.stream(session, filters):
            out = public(row)
            if fmt == "jsonl":
                yield orjson.dumps(out) + b"\n"
            else:
                yield _csv_line([_cell(out[c]) for c in EXPORT_COLUMNS])


# A spreadsheet opening the CSV would run a cell starting with one of these as a formula.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    """One CSV cell: lists and objects as JSON, and text that a spreadsheet would read as a formula
    prefixed with `'` (shown as text). JSON lines keep every value exact."""
    if isinstance(value, list | dict):
        value = orjson.dumps(value).decode()
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def _csv_line(values: list[Any]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(values)
    return buffer.getvalue().encode()


async def verify(db: Database, key: bytes) -> tuple[int, ChainBreak | None]:
    """Walk the chain from its anchor; how many events checked, and the first break if any.
    Writers may append meanwhile: the walk ends where the head (read after the last row) says."""
    async with db.transaction() as session:
        head = await repo.head(session)
    verifier = Verifier(key, head.anchor_seq, head.anchor_hash)
    try:
        while True:
            async with db.transaction() as session:
                rows = [r for r in await repo.walk(session, verifier.seq) if not verifier.seen(r)]
                if not rows:
                    head = await repo.head(session)
            for row in rows:
                verifier.check(row)
            if rows:
                continue
            if head.seq > verifier.seq:  # appended since the last walk, or the tail was deleted
                async with db.transaction() as session:
                    if [r for r in await repo.walk(session, verifier.seq, 2) if not verifier.seen(r)]:
                        continue
            verifier.finish(head.seq, head.hash)
            return verifier.checked, None
    except ChainBreak as broken:
        return verifier.checked, broken
