"""`facecheck-gateway ledger`: the same report as GET /admin/ledger, from the database alone (the
balance reads the running gateway recorded); `--settle ID --charge|--refund` is an operator's
decision on an unresolved search, as POST /admin/ledger/searches/ID/settle (audited, actor cli)."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from app.audit.chain import chain_key
from app.audit.commands import audited
from app.audit.spool import Spool
from app.clock import SystemClock
from app.config import Settings
from app.db import Database
from app.db.migrate import upgrade
from app.ledger.report import build_report
from app.ledger.schemas import SettledSearch
from app.tenants.commands import print_json


def cmd_ledger(settings: Settings, args: argparse.Namespace) -> int:
    upgrade(settings)
    if args.settle:
        if args.charge is None:
            raise SystemExit("--settle needs --charge or --refund")
        settled = asyncio.run(_settle(settings, args.settle, args.charge))
        print_json(audited(settings, "search.settle", settled, {"id_search": args.settle, "charge": args.charge}))
        return 0

    async def run() -> Any:
        db = Database(settings.effective_database_url)
        try:
            async with db.transaction() as session:
                return await build_report(session, SystemClock().now(), args.days or settings.ledger_days)
        finally:
            await db.close()

    print_json(asyncio.run(run()))
    return 0


async def _settle(settings: Settings, id_search: str, charge: bool) -> SettledSearch:
    # Here, not at the top: `serve` must run before anything imports prometheus_client.
    from app.audit.writer import AuditWriter
    from app.facecheck.corrections import settle_unresolved

    db = Database(settings.effective_database_url)
    writer = AuditWriter(db, Spool(settings.spool_dir), chain_key(settings.secret_bytes), SystemClock())
    try:
        search = await settle_unresolved(db, writer, SystemClock(), id_search, charge=charge)
    finally:
        await writer.stop()
        await db.close()
    return SettledSearch.of(search)


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ledger = sub.add_parser("ledger", help="credits upstream took against credits the gateway charged, per day")
    ledger.add_argument("--days", type=int, default=None, help="days to cover (default LEDGER_DAYS)")
    ledger.add_argument("--settle", metavar="ID_SEARCH", help="settle an unresolved search (with --charge or --refund)")
    choice = ledger.add_mutually_exclusive_group()
    choice.add_argument("--charge", dest="charge", action="store_true", default=None, help="upstream ran it")
    choice.add_argument("--refund", dest="charge", action="store_false", help="upstream did not run or charge it")
    ledger.set_defaults(func=cmd_ledger)
