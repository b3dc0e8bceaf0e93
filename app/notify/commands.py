"""`facecheck-gateway webhooks ...`: a tenant's budget webhook and delivery log, from a shell."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from app.actors import CLI_ACTOR
from app.audit.commands import audited
from app.clock import SystemClock
from app.config import Settings
from app.db import Database
from app.db.migrate import upgrade
from app.tenants.commands import print_json
from app.tenants.service import validated

if TYPE_CHECKING:
    from app.notify.service import NotifyService


def _with_service(settings: Settings, work: Callable[[NotifyService], Awaitable[Any]]) -> Any:
    # Here, not at the top: `serve` must run before anything imports prometheus_client.
    from app.notify.service import NotifyService

    upgrade(settings)

    async def run() -> Any:
        db = Database(settings.effective_database_url)
        try:
            return await work(NotifyService(db, settings.secret_bytes, SystemClock()))
        finally:
            await db.close()

    return asyncio.run(run())


def cmd_webhooks(settings: Settings, args: argparse.Namespace) -> int:
    from app.notify.schemas import WebhookIn

    if args.action == "set":
        values: dict[str, Any] = {"url": args.url, "rotate_secret": args.rotate_secret}
        if args.thresholds:
            values["thresholds"] = [t.strip() for t in args.thresholds.split(",")]
        body = validated(WebhookIn, values)
        out = _with_service(settings, lambda s: s.set_webhook(CLI_ACTOR, args.tenant, body))
        print_json(audited(settings, "webhook.set", out, {"thresholds": out.thresholds,
                                                          "rotate_secret": args.rotate_secret}))
    elif args.action == "show":
        print_json(_with_service(settings, lambda s: s.get_webhook(CLI_ACTOR, args.tenant)))
    elif args.action == "remove":
        tenant_id = _with_service(settings, lambda s: s.remove_webhook(CLI_ACTOR, args.tenant))
        audited(settings, "webhook.remove", SimpleNamespace(tenant_id=tenant_id))
        print_json({"removed": True, "tenant_id": tenant_id})
    else:
        print_json(_with_service(settings, lambda s: s.deliveries(CLI_ACTOR, args.tenant, args.limit)))
    return 0


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    hooks = sub.add_parser("webhooks", help="tenants' budget webhooks and their delivery log")
    wsub = hooks.add_subparsers(dest="action", required=True)
    put = wsub.add_parser("set", help="set a tenant's webhook; prints the signing secret when it is new")
    put.add_argument("tenant", help="tenant id or name")
    put.add_argument("url")
    put.add_argument("--thresholds", help="percents of the monthly budget, comma-separated (default 50,80,100)")
    put.add_argument("--rotate-secret", action="store_true", help="derive a new signing secret")
    for action, text in (("show", "show a tenant's webhook"), ("remove", "remove a tenant's webhook"),
                         ("deliveries", "a tenant's notifications and every delivery attempt")):
        parser = wsub.add_parser(action, help=text)
        parser.add_argument("tenant", help="tenant id or name")
        if action == "deliveries":
            parser.add_argument("--limit", type=int, default=50)
    hooks.set_defaults(func=cmd_webhooks)
