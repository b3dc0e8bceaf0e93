"""The console's plumbing for its pages: templates, the session cookie, CSRF, and error pages."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from app.actors import Actor
from app.audit import context as audit_call
from app.config import Settings
from app.console.sessions import ConsoleSessions, SignedIn
from app.errors import Forbidden, GatewayError
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


def address(request: Request, settings: Settings) -> str:
    """The caller's address as the audit middleware worked it out (so the brake and the log agree)."""
    facts = audit_call.current()
    if facts is not None:
        return facts.client_ip
    peer = request.client.host if request.client is not None else None
    return client_ip(peer, request.headers.get("x-forwarded-for"), settings.trusted_networks)


def is_https(request: Request, settings: Settings) -> bool:
    if request.url.scheme == "https":
        return True
    peer = request.client.host if request.client is not None else None
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return forwarded == "https" and trusted(peer, settings.trusted_networks)


@dataclass(frozen=True)
class Signed:
    who: SignedIn
    session_id: str
    csrf: str

    @property
    def actor(self) -> Actor:
        return self.who.actor


async def checked_form(request: Request, sessions: ConsoleSessions, who: Signed) -> FormData:
    """Every change comes from a console form carrying the session's CSRF token."""
    form = await request.form()
    token = form.get("csrf")
    if not sessions.csrf_ok(who.session_id, token if isinstance(token, str) else None):
        raise Forbidden("This form was not sent from the console page (CSRF check failed). Reload and retry.")
    return form


def text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def render(request: Request, name: str, who: Signed | None, status: int = 200, **context: Any) -> Response:
    signed_in = who.who if who is not None else None
    response = templates.TemplateResponse(
        request, name, {"actor": signed_in.actor if signed_in else None, "signed_in": signed_in,
                        "csrf": who.csrf if who else "", **context}, status_code=status
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
