"""The audit writer's cost per event: CPU time of this process (not the database's) and wall time, for
rounds of concurrent `AuditWriter.record` calls, on PostgreSQL and on embedded SQLite. Also counts
the commits they took (fewer than events when writes are group-committed).

    python -m bench.audit_writer [--callers 10] [--rounds 300] [--database-url postgresql+asyncpg://...]

Without --database-url it starts its own PostgreSQL (tests.fixtures.services) in a temporary folder.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event

from app.audit.chain import chain_key
from app.audit.service import verify
from app.audit.spool import Spool
from app.clock import SystemClock
from app.config import Settings
from app.db import Database
from app.db.migrate import upgrade

KEY = chain_key(b"audit-writer-bench")


async def bench(url: str, spool_dir: Path, callers: int, rounds: int) -> dict[str, Any]:
    from app.audit.writer import AuditWriter  # after the settings: the metrics module loads here

    db = Database(url)
    commits = 0

    def committed(_conn: Any) -> None:
        nonlocal commits
        commits += 1

    event.listen(db.engine.sync_engine, "commit", committed)
    writer = AuditWriter(db, Spool(spool_dir), KEY, SystemClock())
    try:
        for _ in range(20):  # warm the pool, the statement caches and the prepared statements
            await asyncio.gather(*(writer.record("info", tenant_id="t", key_id="k") for _ in range(callers)))
        commits = 0
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(rounds):
            await asyncio.gather(*(writer.record("info", tenant_id="t", key_id="k") for _ in range(callers)))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        events, made = callers * rounds, commits
        checked, broken = await verify(db, KEY)
        assert broken is None, broken
        return {"events": events, "commits": made, "cpu_ms_per_event": 1000 * cpu / events,
                "wall_ms_per_event": 1000 * wall / events, "chain_checked": checked}
    finally:
        await writer.stop()
        await db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--callers", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="audit-writer-bench-") as tmp:
        sqlite = Settings(_env_file=None, data_dir=Path(tmp) / "sqlite")
        upgrade(sqlite)
        results = {"sqlite": asyncio.run(bench(sqlite.effective_database_url, Path(tmp) / "spool-sqlite",
                                               args.callers, args.rounds))}
        if args.database_url:
            results["postgres"] = asyncio.run(bench(args.database_url, Path(tmp) / "spool-pg", args.callers,
                                                    args.rounds))
        else:
            from tests.fixtures.services import PostgresServer

            with PostgresServer.start(Path(tmp) / "pg") as server:
                server.create_database("audit_writer_bench")
                url = server.url("audit_writer_bench")
                upgrade(Settings(_env_file=None, database_url=url, data_dir=Path(tmp)))
                results["postgres"] = asyncio.run(bench(url, Path(tmp) / "spool-pg", args.callers, args.rounds))
    print(f"{args.callers} concurrent callers, {args.rounds} rounds")
    print("| backend | events | commits | CPU ms/event | wall ms/event |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, r in results.items():
        cpu, wall = r["cpu_ms_per_event"], r["wall_ms_per_event"]
        print(f"| {name} | {r['events']} | {r['commits']} | {cpu:.3f} | {wall:.3f} |")


if __name__ == "__main__":
    main()
