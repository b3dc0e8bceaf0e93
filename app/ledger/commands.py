"""`facecheck-gateway ledger`: the same report as GET /admin/ledger, from the database alone (the
balance reads the running gateway recorded)."""

from __future__ import annotations

import argparse
import asyncio

from app.clock import SystemClock
from app.config import Settings
from app.db import Database
from app.db.migrate import upgrade
from app.ledger.report import build_report
from app.ledger.schemas import LedgerReport
from app.tenants.commands import print_json


def cmd_ledger(settings: Settings, args: argparse.Namespace) -> int:
    upgrade(settings)

    async def run() -> LedgerReport:
        db = Database(settings.effective_database_url)
        try:
            async with db.transaction() as session:
                return await build_report(session, SystemClock().now(), args.days or settings.ledger_days)
        finally:
            await db.close()

    print_json(asyncio.run(run()))
    return 0


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ledger = sub.add_parser("ledger", help="credits upstream took against credits the gateway charged, per day")
    ledger.add_argument("--days", type=int, default=None, help="days to cover (default LEDGER_DAYS)")
    ledger.set_defaults(func=cmd_ledger)
