"""`facecheck-gateway tenants ...` and `keys ...`: the same tenant service the admin API calls.

A change made here reaches running replicas through the same Redis channel (when REDIS_URL is set);
without Redis the one running process catches up within KEY_CACHE_SECONDS.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import orjson
from pydantic import BaseModel
from redis.asyncio import Redis

from app.audit.commands import audited
from app.clock import SystemClock
from app.config import Settings
from app.db import Database
from app.db.migrate import upgrade
from app.facecheck import ledger
from app.tenants.keycache import KeyCache, channel_for
from app.tenants.schemas import LimitsIn, TenantSettingsIn, sent_fields
from app.tenants.service import TenantService, validated

LIMIT_FIELDS = ("credits_per_month", "searches_per_day", "requests_per_minute", "max_concurrent_searches")


def print_json(value: Any) -> None:
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    elif isinstance(value, list):
        value = [v.model_dump(mode="json") if isinstance(v, BaseModel) else v for v in value]
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


def with_tenants(settings: Settings, work: Callable[[TenantService], Awaitable[Any]]) -> Any:
    """Run one tenant-service operation against an up-to-date database."""
    upgrade(settings)

    async def run() -> Any:
        db = Database(settings.effective_database_url)
        redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
        cache = KeyCache(SystemClock(), 0, redis, channel_for(settings.redis_key_prefix))
        try:
            return await work(TenantService(db, settings.secret_bytes, SystemClock(), ledger, cache.changed))
        finally:
            if redis is not None:
                await redis.aclose()
            await db.close()

    return asyncio.run(run())


def _limit(value: str) -> int | None:
    """A limit on the command line: a whole number, or `none` to remove it."""
    if value.lower() in ("none", "unlimited"):
        return None
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number or 'none', got {value!r}") from None


def _changes(args: argparse.Namespace) -> dict[str, Any]:
    changes: dict[str, Any] = {f: getattr(args, f) for f in LIMIT_FIELDS if hasattr(args, f)}
    for field in ("demo_only", "require_purpose", "cache_scope", "new_name"):
        if getattr(args, field, None) is not None:
            changes["name" if field == "new_name" else field] = getattr(args, field)
    if changes.get("cache_scope") == "default":  # follow the gateway's CACHE_SCOPE again
        changes["cache_scope"] = None
    return changes


def cmd_tenants(settings: Settings, args: argparse.Namespace) -> int:
    if args.action == "create":
        limits = validated(LimitsIn, {k: v for k, v in _changes(args).items() if k in LIMIT_FIELDS or k == "demo_only"})
        created = with_tenants(settings, lambda s: s.create_tenant(args.name, limits))
        print_json(audited(settings, "tenant.create", created, {"name": args.name, **sent_fields(limits)}))
    elif args.action == "update":
        changes = validated(TenantSettingsIn, _changes(args))
        updated = with_tenants(settings, lambda s: s.update_tenant(args.name, changes))
        print_json(audited(settings, "tenant.update", updated, sent_fields(changes)))
    elif args.action in ("suspend", "resume"):
        status = "suspended" if args.action == "suspend" else "active"
        changed = with_tenants(settings, lambda s: s.set_status(args.name, status))
        print_json(audited(settings, f"tenant.{args.action}", changed))
    elif args.action == "show":
        print_json(with_tenants(settings, lambda s: s.get_tenant(args.name)))
    elif args.action == "usage":
        print_json(with_tenants(settings, lambda s: s.usage(args.name)))
    else:
        print_json(with_tenants(settings, lambda s: s.list_tenants()))
    return 0


def cmd_keys(settings: Settings, args: argparse.Namespace) -> int:
    if args.action == "create":
        scopes = frozenset(s.strip() for s in args.scopes.split(",") if s.strip())
        print_json(audited(settings, "key.create", with_tenants(settings, lambda s: s.keys.create_key(
            args.tenant, name=args.name, scopes=scopes, expires_at=args.expires_at,
            requests_per_minute=args.requests_per_minute))))
    elif args.action == "list":
        print_json(with_tenants(settings, lambda s: s.keys.list_keys(args.tenant)))
    elif args.action == "rotate":
        rotated = with_tenants(settings, lambda s: s.keys.rotate_key(args.key_id, args.grace_seconds))
        print_json(audited(settings, "key.rotate", rotated, {"grace_seconds": args.grace_seconds}))
    else:
        print_json(audited(settings, "key.revoke", with_tenants(settings, lambda s: s.keys.revoke_key(args.key_id))))
    return 0


def _bool(group: argparse._MutuallyExclusiveGroup, flag: str) -> None:
    dest = flag.replace("-", "_")
    group.add_argument(f"--{flag}", dest=dest, action="store_true", default=None)
    group.add_argument(f"--no-{flag}", dest=dest, action="store_false")


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tenants = sub.add_parser("tenants", help="manage tenants")
    tsub = tenants.add_subparsers(dest="action", required=True)
    for action in ("create", "update"):
        limits = tsub.add_parser(action, help=f"{action} a tenant and its limits (omitted limits: "
                                 + ("unlimited)" if action == "create" else "unchanged; 'none' removes one)"))
        limits.add_argument("name", help="tenant name" + ("" if action == "create" else " or id"))
        for field in LIMIT_FIELDS:
            limits.add_argument(f"--{field.replace('_', '-')}", type=_limit, default=argparse.SUPPRESS)
        _bool(limits.add_mutually_exclusive_group(), "demo-only")
        if action == "update":
            limits.add_argument("--name", dest="new_name", default=None, help="rename the tenant")
            limits.add_argument("--cache-scope", choices=("none", "tenant", "global", "default"), default=None,
                                help="result sharing: none, tenant, global; default = CACHE_SCOPE")
            _bool(limits.add_mutually_exclusive_group(), "require-purpose")
    for action, text in (("show", "a tenant and its limits"), ("usage", "this month's and today's usage"),
                         ("suspend", "every key of the tenant stops working"), ("resume", "undo suspend")):
        tsub.add_parser(action, help=text).add_argument("name")
    tsub.add_parser("list")
    tenants.set_defaults(func=cmd_tenants)

    keys = sub.add_parser("keys", help="manage API keys")
    ksub = keys.add_subparsers(dest="action", required=True)
    kcreate = ksub.add_parser("create", help="create a key; prints it in clear once")
    kcreate.add_argument("tenant", help="tenant id or name")
    kcreate.add_argument("--name", default="")
    kcreate.add_argument("--scopes", default="search,info", help="comma-separated: search, info, admin")
    kcreate.add_argument("--expires-at", type=datetime.fromisoformat, default=None, help="ISO 8601, UTC if no zone")
    kcreate.add_argument("--requests-per-minute", type=int, default=None, help="this key's own rate limit")
    ksub.add_parser("list").add_argument("tenant")
    ksub.add_parser("revoke").add_argument("key_id")
    rotate = ksub.add_parser("rotate", help="a new key; the old one works for the grace period, then stops")
    rotate.add_argument("key_id")
    rotate.add_argument("--grace-seconds", type=int, default=3600, help="0 to 86400 (default 3600)")
    keys.set_defaults(func=cmd_keys)
