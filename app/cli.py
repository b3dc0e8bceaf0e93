"""The `facecheck-gateway` command: serve, migrate, the sandbox alone, tenants, keys, cache purges, the ledger.

Tenant and key commands call the same service layer as the HTTP surface.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

import uvicorn

from app.actors import CLI_ACTOR
from app.audit.commands import add_parsers as add_audit_parsers
from app.cache.commands import add_parsers as add_cache_parsers
from app.config import Settings
from app.db.migrate import upgrade
from app.errors import GatewayError
from app.ledger.commands import add_parsers as add_ledger_parsers
from app.notify.commands import add_parsers as add_webhook_parsers
from app.observability.logging import configure_logging
from app.observability.multiprocess import shared_metrics_dir
from app.tenants.commands import add_parsers as add_tenant_parsers
from app.tenants.commands import with_tenants
from app.tenants.service import TenantService

DEMO_TENANT = "demo"


async def _first_start_demo(service: TenantService) -> str | None:
    """On an empty sandbox install, create a demo tenant and return its key (shown once)."""
    if await service.has_tenants():
        return None
    await service.create_tenant(CLI_ACTOR, DEMO_TENANT)
    return (await service.keys.create_key(CLI_ACTOR, DEMO_TENANT, name="first-start")).key


def _sign_in_link(settings: Settings) -> str:
    """A one-time console sign-in token, so a newcomer gets in without setting ADMIN_TOKEN."""
    # Imported here: `serve` must run before anything imports prometheus_client (see multiprocess.py).
    from app.clock import SystemClock
    from app.console.sessions import new_link
    from app.db import Database

    async def run() -> str:
        db = Database(settings.effective_database_url)
        try:
            return await new_link(db, SystemClock(), settings.console_link_seconds)
        finally:
            await db.close()

    return asyncio.run(run())


def _print_welcome(key: str | None, link: str, host: str, port: int) -> None:
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    base = f"http://{shown_host}:{port}"
    if key:
        first = (f"Created tenant '{DEMO_TENANT}' with this API key (shown once, store it now):\n\n    {key}\n\n")
    else:
        key, first = "YOUR_KEY", "Use the API key printed on the first start, or create one in the console.\n\n"
    sys.stdout.write(
        "\nSandbox mode: no FACECHECK_API_TOKEN is set, so searches run against the built-in simulator.\n"
        f"{first}"
        "A first search: upload a photo, then search with the id_search the upload answered:\n\n"
        f"    curl -s -H 'Authorization: {key}' -F images=@photo.jpg {base}/api/upload_pic\n"
        f"    curl -s -H 'Authorization: {key}' -H 'Content-Type: application/json' \\\n"
        "         -d '{\"id_search\": \"ID_SEARCH_FROM_UPLOAD\", \"with_progress\": false, "
        f"\"status_only\": false, \"demo\": false}}' {base}/api/search\n\n"
        f"API reference: {base}/docs (or {base}/redoc)\n"
        f"Admin console, signed in as operator (this link works once):\n\n    {base}/console/welcome/{link}\n\n"
    )
    sys.stdout.flush()


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    if args.workers > 1 and not settings.redis_url:
        sys.stderr.write("--workers above 1 needs REDIS_URL: limits and search state must be shared.\n")
        return 2
    if args.workers > 1 and settings.sandbox_mode:
        sys.stderr.write("--workers above 1 needs a served upstream; the embedded sandbox is per process.\n")
        return 2
    if settings.sandbox_mode:
        key = with_tenants(settings, _first_start_demo)
        _print_welcome(key, _sign_in_link(settings), args.host, args.port)
    else:
        upgrade(settings)
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

    add_tenant_parsers(sub)
    add_audit_parsers(sub)
    add_cache_parsers(sub)
    add_webhook_parsers(sub)
    add_ledger_parsers(sub)
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
