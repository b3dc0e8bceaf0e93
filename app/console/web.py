"""The console's plumbing for its views: templates, the session cookie, CSRF, and error pages."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from app.audit import context as audit_call
from app.audit.chain import chain_key
from app.cache.purge import CachePurge
from app.clock import Clock, SystemClock
from app.console.access import Actor
from app.console.service import ConsoleService
from app.console.sessions import ConsoleSessions
from app.errors import Forbidden, GatewayError
from app.lifespan import Resources
from app.netaddr import client_ip, trusted
from app.observability.context import note_error

HERE = Path(__file__).parent
COOKIE = "fcg_console"
PRE_COOKIE = "fcg_console_signin"  # binds the sign-in form's CSRF token before a session exists
PATH = "/console"
templates = Jinja2Templates(directory=HERE / "templates")
# Pages carry clear keys once and tenants' data: never cached, framed, or given a foreign script.
HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'",
}


class Unsigned(Exception):
    """No valid session: the view answers with the sign-in page."""


@dataclass(frozen=True)
class Console:
    resources: Resources
    service: ConsoleService
    sessions: ConsoleSessions


def console(request: Request) -> Console:
    """Built once per process from the shared resources (the lifespan's objects)."""
    resources: Resources = request.app.state.resources
    built: Console | None = getattr(request.app.state, "console", None)
    if built is None or built.resources is not resources:
        clock: Clock = getattr(request.app.state, "clock", None) or SystemClock()
        settings = resources.settings
        service = ConsoleService(resources.db, resources.tenants, resources.audit,
                                 CachePurge(resources.db, resources.cache), resources.upstream_info, clock,
                                 chain_key(settings.secret_bytes))
        sessions = ConsoleSessions(resources.db, resources.auth, settings.secret_bytes, clock,
                                   idle_seconds=settings.console_idle_seconds,
                                   link_seconds=settings.console_link_seconds)
        built = Console(resources, service, sessions)
        request.app.state.console = built
    return built


ConsoleDep = Annotated[Console, Depends(console)]


def address(request: Request, resources: Resources) -> str:
    facts = audit_call.current()
    if facts is not None:
        return facts.client_ip
    peer = request.client.host if request.client is not None else None
    return client_ip(peer, request.headers.get("x-forwarded-for"), resources.settings.trusted_networks)


def is_https(request: Request, resources: Resources) -> bool:
    if request.url.scheme == "https":
        return True
    peer = request.client.host if request.client is not None else None
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return forwarded == "https" and trusted(peer, resources.settings.trusted_networks)


@dataclass(frozen=True)
class Signed:
    actor: Actor
    session_id: str
    csrf: str


async def signed(request: Request, c: ConsoleDep) -> Signed:
    session_id = request.cookies.get(COOKIE)
    actor = await c.sessions.current(session_id)
    if actor is None or session_id is None:
        raise Unsigned()
    audit_call.note_caller(actor.tenant_id, actor.key_id, actor.audit_name)
    return Signed(actor, session_id, c.sessions.csrf_token(session_id))


SignedDep = Annotated[Signed, Depends(signed)]


async def checked_form(request: Request, c: Console, who: Signed) -> FormData:
    """Every change comes from a console form carrying the session's CSRF token."""
    form = await request.form()
    token = form.get("csrf")
    if not c.sessions.csrf_ok(who.session_id, token if isinstance(token, str) else None):
        raise Forbidden("This form was not sent from the console page (CSRF check failed). Reload and retry.")
    return form


def text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def render(request: Request, name: str, who: Signed | None, status: int = 200, **context: Any) -> Response:
    actor = who.actor if who is not None else None
    response = templates.TemplateResponse(
        request, name, {"actor": actor, "csrf": who.csrf if who else "", **context}, status_code=status
    )
    response.headers.update(HEADERS)
    return response


def redirect(url: str) -> Response:
    response = RedirectResponse(url, status_code=303)
    response.headers.update(HEADERS)
    return response


def set_session(response: Response, session_id: str, secure: bool) -> None:
    response.set_cookie(COOKIE, session_id, httponly=True, samesite="strict", secure=secure, path=PATH)
    response.delete_cookie(PRE_COOKIE, path=PATH)


def error_page(request: Request, exc: GatewayError) -> Response:
    """A console request's GatewayError as a page, not a JSON body; noted like any refusal, so the
    audit log records it as a rejected console call."""
    note_error(exc.code)
    response = templates.TemplateResponse(request, "error.html", {"actor": None, "csrf": "", "error": exc},
                                          status_code=exc.status_code)
    response.headers.update(HEADERS)
    response.headers.update(exc.headers)
    return response
