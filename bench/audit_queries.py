"""Audit-log admin queries at scale: fill N rows (default 10 million) into a real PostgreSQL, then time
the /admin/audit queries (filters, first and deep cursor pages), a bounded export and the hashing cost of
verification. Prints a Markdown table and writes bench/results/audit_queries.{json,md}.

    python -m bench.audit_queries [--rows 10000000] [--database-url postgresql+asyncpg://...]

Without --database-url it starts its own PostgreSQL (tests.fixtures.services) in a temporary folder.
The filled rows are spread over 12 months, 50 tenants, 500 keys and six actions; their chain is not
valid (verification speed is measured on hashing a sample, not on the filled chain).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from app.audit import partitions
from app.audit import repository as repo
from app.audit.chain import chain_key, event_hash
from app.audit.repository import Filters
from app.config import Settings
from app.db import Database
from app.db.migrate import upgrade

RESULTS = Path(__file__).resolve().parent / "results"
BATCH = 1_000_000
MONTHS = 12
FILL = """
INSERT INTO audit_events (seq, time, event_id, action, outcome, code, tenant_id, key_id, id_search, demo,
  credits_reserved, credits_charged, credits_refunded, result_count, max_score, upstream_ms, client_ip,
  user_agent, request_id, purpose, prev_hash, hash)
SELECT i, CAST(:start AS timestamptz) + (i * :step) * interval '1 second', md5(i::text),
  (ARRAY['upload','search.submitted','search.finished','info','search','delete_pic'])[1 + i % 6],
  CASE WHEN i % 17 = 0 THEN 'rejected' ELSE 'ok' END, CASE WHEN i % 17 = 0 THEN 'RATE_LIMITED' END,
  't' || (i % 50), 'k' || (i % 500), md5((i / 3)::text), i % 5 = 0, 3, 3, 0, 10, 87.5, 1200,
  '10.0.' || (i % 200) || '.' || (i % 250), 'bench/1.0', md5('r' || i),
  CASE WHEN i % 4 = 0 THEN 'fraud investigation' ELSE 'kyc' END, repeat('0', 64), repeat('0', 64)
FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) AS i
"""


async def fill(db: Database, rows: int, start: datetime) -> dict[str, float]:
    """Bulk load with the secondary indexes dropped, then rebuild them from their own definitions
    (the usual way to load in bulk); returns the seconds each phase took."""
    step = MONTHS * 30 * 86400 / max(rows, 1)
    async with db.transaction() as session:
        for shift in range(MONTHS + partitions.MONTHS_AHEAD + 1):
            await session.execute(text(partitions.create_sql(partitions.month_start(start, shift))))
        found = await session.execute(text("SELECT indexname, indexdef FROM pg_indexes "
                                           "WHERE tablename = 'audit_events' AND indexname LIKE 'ix_%'"))
        indexes: dict[str, str] = {str(name): str(definition) for name, definition in found}
        for name in indexes:
            await session.execute(text(f"DROP INDEX {name}"))
        await session.execute(text("ALTER TABLE audit_events DROP CONSTRAINT uq_audit_events_event_id"))
    began = time.perf_counter()
    for lo in range(1, rows + 1, BATCH):
        async with db.transaction() as session:
            await session.execute(text("SET LOCAL synchronous_commit = off"))
            values = {"start": start, "step": step, "lo": lo, "hi": min(rows, lo + BATCH - 1)}
            await session.execute(text(FILL), values)
    filled = time.perf_counter() - began
    began = time.perf_counter()
    async with db.transaction() as session:
        await session.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
        await session.execute(text("ALTER TABLE audit_events ADD CONSTRAINT uq_audit_events_event_id "
                                   "UNIQUE (event_id, time)"))
        for definition in indexes.values():  # pg_indexes says ON ONLY (the parent alone): build them all
            await session.execute(text(definition.replace(" ON ONLY ", " ON ")))
        await session.execute(text("UPDATE audit_chain SET seq = :rows WHERE id = 1"), {"rows": rows})
    indexed = time.perf_counter() - began
    async with db.transaction() as session:
        await session.execute(text("ANALYZE audit_events"))
    return {"fill_s": filled, "index_s": indexed}


async def timed(work: Callable[[], Awaitable[int]], repeat: int = 5) -> dict[str, float]:
    """Median and worst wall time of `repeat` runs (after one warm-up), and the rows the last returned."""
    await work()
    samples, count = [], 0
    for _ in range(repeat):
        began = time.perf_counter()
        count = await work()
        samples.append(time.perf_counter() - began)
    return {"median_ms": statistics.median(samples) * 1000, "max_ms": max(samples) * 1000, "rows": count}


async def queries(db: Database, rows: int, start: datetime) -> dict[str, dict[str, float]]:
    end = start + timedelta(days=MONTHS * 30)
    month = (end - timedelta(days=40), end - timedelta(days=10))

    def first_page(selection: Filters, cursor: int | None = None) -> Callable[[], Awaitable[int]]:
        async def run() -> int:
            async with db.transaction() as session:
                return len(await repo.page(session, selection, cursor, 100))
        return run

    async def export() -> int:
        selection = Filters(tenant_id="t7", since=month[0], until=month[1])
        async with db.sessions() as session:
            return sum([1 async for _ in repo.stream(session, selection)])

    async def rejections() -> int:
        async with db.transaction() as session:
            return len(await repo.rejections_by_code(session, "t7", month[0]))

    key = chain_key(b"bench")

    async def verify_sample() -> int:
        async with db.transaction() as session:
            sample = await repo.walk(session, rows // 2, batch=100_000)
        for row in sample:
            event_hash(key, row)
        return len(sample)

    plan: dict[str, Callable[[], Awaitable[int]]] = {
        "tenant, first page": first_page(Filters(tenant_id="t7")),
        "key, first page": first_page(Filters(key_id="k123")),
        "action + outcome=rejected, first page": first_page(Filters(action="search", outcome="rejected")),
        "id_search": first_page(Filters(id_search=_md5_of(rows // 3))),
        "purpose, first page": first_page(Filters(purpose="fraud investigation")),
        "tenant + one week, first page": first_page(Filters(tenant_id="t7", since=month[0],
                                                             until=month[0] + timedelta(days=7))),
        "tenant, deep cursor page (middle of the table)": first_page(Filters(tenant_id="t7"), rows // 2),
        "export: tenant + one month (stream)": export,
        "rejections by code: tenant, one month": rejections,
    }
    results = {name: await timed(work) for name, work in plan.items()}
    results["verify: fetch + hash 100k events"] = await timed(verify_sample, repeat=1)
    return results


def _md5_of(i: int) -> str:
    import hashlib

    return hashlib.md5(str(i).encode(), usedforsecurity=False).hexdigest()


def report(rows: int, phases: dict[str, float], results: dict[str, dict[str, float]]) -> str:
    lines = [f"# Audit queries at {rows:,} rows", "",
             f"Fill {phases['fill_s']:.1f} s, index build {phases['index_s']:.1f} s.", "",
             "| query | median ms | max ms | rows |", "| --- | ---: | ---: | ---: |"]
    for name, r in results.items():
        lines.append(f"| {name} | {r['median_ms']:.2f} | {r['max_ms']:.2f} | {int(r['rows'])} |")
    return "\n".join(lines) + "\n"


async def bench(url: str, rows: int) -> str:
    db = Database(url)
    start = partitions.month_start(datetime.now(UTC), -MONTHS)
    try:
        phases = await fill(db, rows, start)
        results = await queries(db, rows, start)
    finally:
        await db.close()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "audit_queries.json").write_text(json.dumps({"rows": rows, **phases, "queries": results}, indent=2))
    markdown = report(rows, phases, results)
    (RESULTS / "audit_queries.md").write_text(markdown)
    return markdown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--database-url", default="", help="an empty PostgreSQL database (default: start one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="audit-bench-") as tmp:
        if args.database_url:
            upgrade(Settings(_env_file=None, database_url=args.database_url, data_dir=Path(tmp)))
            out = asyncio.run(bench(args.database_url, args.rows))
        else:
            from tests.fixtures.services import PostgresServer

            with PostgresServer.start(Path(tmp) / "pg") as server:
                server.create_database("audit_bench")
                upgrade(Settings(_env_file=None, database_url=server.url("audit_bench"), data_dir=Path(tmp)))
                out = asyncio.run(bench(server.url("audit_bench"), args.rows))
    print(out)


if __name__ == "__main__":
    main()
