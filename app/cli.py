"""The `facecheck-gateway` command: serve, migrate, the sandbox alone, tenants and keys.

Tenant and key commands call the same service layer as the HTTP surface.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import orjson
import uvicorn
from pydantic import BaseModel

from app.clock import SystemClock
from app.config import Settings
from app.db import Database
from app.db.migrate import upgrade
from app.errors import GatewayError
from app.observability.logging import configure_logging
from app.observability.multiprocess import shared_metrics_dir
from app.tenants.service import TenantService, validate_limits

DEMO_TENANT = "demo"


def _print_json(value: Any) -> None:
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    elif isinstance(value, list):
        value = [v.model_dump(mode="json") if isinstance(v, BaseModel) else v for v in value]
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


def _with_tenants(settings: Settings, work: Callable[[TenantService], Awaitable[Any]]) -> Any:
    """Run one tenant-service operation against an up-to-date database."""
    upgrade(settings)

    async def run() -> Any:
        db = Database(settings.effective_database_url)
        try:
            return await work(TenantService(db, settings.secret_bytes, SystemClock()))
        finally:
            await db.close()

    return asyncio.run(run())


async def _first_start_demo(service: TenantService) -> str | None:
    """On an empty sandbox install, create a demo tenant and return its key (shown once)."""
    if await service.has_tenants():
        return None
    await service.create_tenant(DEMO_TENANT)
    return (await service.create_key(DEMO_TENANT, name="first-start")).key


def _print_welcome(key: str, host: str, port: int) -> None:
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    base = f"http://{shown_host}:{port}"
    sys.stdout.write(
        "\nSandbox mode: no FACECHECK_API_TOKEN is set, so searches run against the built-in simulator.\n"
        f"Created tenant '{DEMO_TENANT}' with this API key (shown once, store it now):\n\n    {key}\n\n"
        "Try it:\n\n"
        f"    curl -s -H 'Authorization: {key}' -F images=@photo.jpg {base}/api/upload_pic\n\n"
    )
    sys.stdout.flush()


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    if args.workers > 1 and not settings.redis_url:
        sys.stderr.write("--workers above 1 needs REDIS_URL: limits and search state must be shared.\n")
        return 2
    if args.workers > 1 and settings.sandbox_mode:
        sys.stderr.write("--workers above 1 needs a served upstream; the embedded sandbox is per process.\n")
        return 2
    key: str | None = None
    if settings.sandbox_mode:
        key = _with_tenants(settings, _first_start_demo)
    else:
        upgrade(settings)
    if key:
        _print_welcome(key, args.host, args.port)
    # Before anything imports prometheus_client (the app does, in each worker): see multiprocess.py.
    with shared_metrics_dir(settings.prometheus_multiproc_dir, args.workers):
        uvicorn.run(
            "app.main:app",
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_config=None,
            access_log=False,
            proxy_headers=False,
        )
    return 0


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    upgrade(settings, args.revision)
    sys.stdout.write(f"database at {args.revision}\n")
    return 0


def cmd_sandbox(settings: Settings, args: argparse.Namespace) -> int:
    # Imported here, not at the top: `serve` must run before anything imports prometheus_client.
    from app.lifespan import sandbox_config
    from app.sandbox import create_sandbox_app

    tokens = [t.strip() for t in settings.sandbox_tokens.split(",") if t.strip()]
    app = create_sandbox_app(sandbox_config(settings, tokens))
    uvicorn.run(app, host=args.host, port=args.port, log_config=None, access_log=False)
    return 0


LIMIT_FIELDS = ("credits_per_month", "searches_per_day", "requests_per_minute", "max_concurrent_searches")


def _limit(value: str) -> int | None:
    """A limit on the command line: a whole number, or `none` to remove it."""
    if value.lower() in ("none", "unlimited"):
        return None
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number or 'none', got {value!r}") from None


def _limit_changes(args: argparse.Namespace) -> dict[str, int | bool | None]:
    changes: dict[str, int | bool | None] = {f: getattr(args, f) for f in LIMIT_FIELDS if hasattr(args, f)}
    if getattr(args, "demo_only", None) is not None:
        changes["demo_only"] = args.demo_only
    return changes


def cmd_tenants(settings: Settings, args: argparse.Namespace) -> int:
    if args.action == "create":
        limits = validate_limits(_limit_changes(args))
        _print_json(_with_tenants(settings, lambda s: s.create_tenant(args.name, limits)))
    elif args.action == "update":
        _print_json(_with_tenants(settings, lambda s: s.update_limits(args.name, _limit_changes(args))))
    elif args.action == "show":
        _print_json(_with_tenants(settings, lambda s: s.get_tenant(args.name)))
    elif args.action == "usage":
        _print_json(_with_tenants(settings, lambda s: s.usage(args.name)))
    else:
        _print_json(_with_tenants(settings, lambda s: s.list_tenants()))
    return 0


def cmd_keys(settings: Settings, args: argparse.Namespace) -> int:
    if args.action == "create":
        scopes = frozenset(s.strip() for s in args.scopes.split(",") if s.strip())
        _print_json(_with_tenants(settings, lambda s: s.create_key(
            args.tenant, name=args.name, scopes=scopes, requests_per_minute=args.requests_per_minute)))
    elif args.action == "list":
        _print_json(_with_tenants(settings, lambda s: s.list_keys(args.tenant)))
    else:
        _print_json(_with_tenants(settings, lambda s: s.revoke_key(args.key_id)))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="facecheck-gateway", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="apply migrations, then serve the gateway")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(func=cmd_serve)

    migrate = sub.add_parser("migrate", help="apply database migrations")
    migrate.add_argument("revision", nargs="?", default="head")
    migrate.set_defaults(func=cmd_migrate)

    sandbox = sub.add_parser("sandbox", help="serve the FaceCheck simulator alone")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8100)
    sandbox.set_defaults(func=cmd_sandbox)

    tenants = sub.add_parser("tenants", help="manage tenants")
    tsub = tenants.add_subparsers(dest="action", required=True)
    for action in ("create", "update"):
        limits = tsub.add_parser(action, help=f"{action} a tenant and its limits (omitted limits: "
                                 + ("unlimited)" if action == "create" else "unchanged; 'none' removes one)"))
        limits.add_argument("name", help="tenant name" + ("" if action == "create" else " or id"))
        for field in LIMIT_FIELDS:
            limits.add_argument(f"--{field.replace('_', '-')}", type=_limit, default=argparse.SUPPRESS)
        demo = limits.add_mutually_exclusive_group()
        demo.add_argument("--demo-only", dest="demo_only", action="store_true", default=None)
        demo.add_argument("--no-demo-only", dest="demo_only", action="store_false")
    tsub.add_parser("show", help="a tenant and its limits").add_argument("name")
    tsub.add_parser("usage", help="this month's and today's usage").add_argument("name")
    tsub.add_parser("list")
    tenants.set_defaults(func=cmd_tenants)

    keys = sub.add_parser("keys", help="manage API keys")
    ksub = keys.add_subparsers(dest="action", required=True)
    kcreate = ksub.add_parser("create", help="create a key; prints it in clear once")
    kcreate.add_argument("tenant", help="tenant id or name")
    kcreate.add_argument("--name", default="")
    kcreate.add_argument("--scopes", default="search,info")
    kcreate.add_argument("--requests-per-minute", type=int, default=None, help="this key's own rate limit")
    ksub.add_parser("list").add_argument("tenant")
    ksub.add_parser("revoke").add_argument("key_id")
    keys.set_defaults(func=cmd_keys)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    problems = settings.startup_problems()
    if problems and args.command == "serve":
        for problem in problems:
            sys.stderr.write(f"refusing to start: {problem}\n")
        return 2
    try:
        code: int = args.func(settings, args)
    except GatewayError as exc:
        sys.stderr.write(f"error: {exc.message} ({exc.code})\n")
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
