"""`facecheck-gateway cache purge ...`: the same purges as DELETE /admin/cache, from a shell."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from app.actors import CLI_ACTOR
from app.audit.commands import audited
from app.config import Settings
from app.db import Database
from app.db.migrate import upgrade
from app.redis_client import build_client
from app.tenants.commands import print_json


def cmd_cache(settings: Settings, args: argparse.Namespace) -> int:
    if not settings.redis_url:
        sys.stderr.write("Without REDIS_URL the cache lives inside the server process: use DELETE /admin/cache.\n")
        return 2
    upgrade(settings)

    # Imported here: the result store loads prometheus_client, which `serve` must set up first.
    from app.cache.redis_store import RedisCacheStore
    from app.cache.service import ResultCache
    from app.facecheck.purge import CachePurge

    async def run() -> Any:
        db = Database(settings.effective_database_url)
        redis = build_client(settings)
        assert redis is not None  # REDIS_URL is set
        store = RedisCacheStore(redis, settings.redis_key_prefix)
        purge = CachePurge(db, ResultCache(store, settings.cache_ttl_seconds))
        try:
            if args.tenant:
                return await purge.tenant(CLI_ACTOR, args.tenant)
            if args.search:
                return await purge.search(CLI_ACTOR, args.search)
            return await purge.everything(CLI_ACTOR)
        finally:
            await redis.aclose()
            await db.close()

    detail = {"tenant": args.tenant, "id_search": args.search, "all": bool(args.all)}
    print_json(audited(settings, "cache.purge", asyncio.run(run()), detail))
    return 0


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cache = sub.add_parser("cache", help="manage the result cache")
    csub = cache.add_subparsers(dest="action", required=True)
    purge = csub.add_parser("purge", help="delete cached results")
    which = purge.add_mutually_exclusive_group(required=True)
    which.add_argument("--tenant", help="every result the tenant's searches produced (id or name)")
    which.add_argument("--search", help="the cached result of one search (id_search)")
    which.add_argument("--all", action="store_true", help="every cached result")
    cache.set_defaults(func=cmd_cache)
