"""`facecheck-gateway audit verify` and `audit export`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime
from typing import Any, TypeVar

from app.actors import CLI_ACTOR as OPERATOR
from app.audit import service
from app.audit.chain import chain_key
from app.audit.repository import Filters
from app.audit.spool import Spool
from app.clock import SystemClock
from app.config import Settings
from app.db import Database
from app.db.migrate import upgrade

T = TypeVar("T")
CLI_ACTOR = "cli"


def audited(settings: Settings, action: str, result: T, detail: dict[str, Any] | None = None) -> T:
    """Record an admin action made on the command line (actor "cli"); returns `result` unchanged.
    Written like any event: the database, else the spool (which the gateway replays)."""
    subject = getattr(result, "old", result)  # a rotation: the key rotated
    tenant_id = getattr(subject, "tenant_id", None) or (getattr(subject, "id", None) if action.startswith("tenant")
                                                         else None)
    key_id = getattr(subject, "id", None) if action.startswith("key") else None
    if hasattr(result, "new"):
        detail = {**(detail or {}), "new_key_id": result.new.id}

    async def run() -> None:
        # Here, not at the top: `serve` must run before anything imports prometheus_client.
        from app.audit.writer import AuditWriter

        db = Database(settings.effective_database_url)
        writer = AuditWriter(db, Spool(settings.spool_dir), chain_key(settings.secret_bytes), SystemClock())
        try:
            await writer.admin_action(CLI_ACTOR, action, tenant_id=tenant_id, key_id=key_id, detail=detail)
        finally:
            await writer.stop()
            await db.close()

    asyncio.run(run())
    return result


def cmd_audit(settings: Settings, args: argparse.Namespace) -> int:
    upgrade(settings)
    return asyncio.run(_verify(settings) if args.action == "verify" else _export(settings, args))


async def _verify(settings: Settings) -> int:
    db = Database(settings.effective_database_url)
    try:
        checked, broken = await service.verify(db, chain_key(settings.secret_bytes))
    finally:
        await db.close()
    if broken is not None:
        sys.stderr.write(f"{broken} ({checked} events verified before it)\n")
        return 1
    sys.stdout.write(f"audit chain valid: {checked} events verified\n")
    return 0


async def _export(settings: Settings, args: argparse.Namespace) -> int:
    db = Database(settings.effective_database_url)
    selection = Filters(tenant_id=args.tenant_id, key_id=args.key_id, action=args.action_filter,
                        outcome=args.outcome, id_search=args.id_search, purpose=args.purpose,
                        since=args.since, until=args.until)
    out = sys.stdout.buffer
    try:
        async for chunk in service.export(db, OPERATOR, selection, args.format):
            out.write(chunk)
    finally:
        out.flush()
        await db.close()
    return 0


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    audit = sub.add_parser("audit", help="verify or export the audit log")
    asub = audit.add_subparsers(dest="action", required=True)
    asub.add_parser("verify", help="walk the hash chain; exit 1 naming the first bad event")
    export = asub.add_parser("export", help="print events (oldest first) as JSON lines or CSV")
    export.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    for name in ("tenant-id", "key-id", "outcome", "id-search", "purpose"):
        export.add_argument(f"--{name}", default=None)
    export.add_argument("--action", dest="action_filter", default=None, help="only this action")
    for name in ("since", "until"):
        export.add_argument(f"--{name}", type=datetime.fromisoformat, default=None, help="ISO 8601")
    audit.set_defaults(func=cmd_audit)
