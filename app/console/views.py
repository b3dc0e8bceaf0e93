"""Console pages: sign in and out, the overview, the audit log. Thin: read the form, call the
console service, render. Tenant pages live in tenant_views.py."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.responses import Response, StreamingResponse

from app.audit.repository import Filters
from app.audit.router import filters as audit_filters
from app.audit.service import ExportFormat
from app.console import widgets
from app.console.web import (
    COOKIE,
    PATH,
    PRE_COOKIE,
    ConsoleDep,
    SignedDep,
    address,
    checked_form,
    is_https,
    redirect,
    render,
    set_session,
    text,
)
from app.errors import Forbidden, InvalidToken, RateLimited
from app.observability.context import note_error

router = APIRouter(prefix=PATH, include_in_schema=False)
AuditFilters = Annotated[Filters, Depends(audit_filters)]


@router.get("")
async def home(request: Request, c: ConsoleDep, who: SignedDep) -> Response:
    if not who.actor.is_operator:
        return redirect(f"{PATH}/tenants/{who.actor.tenant_id}")
    overview = await c.service.overview(who.actor)
    overview.circuit = widgets.circuit_state(c.resources)
    overview.ledger_drift = widgets.ledger_drift(c.resources)
    return render(request, "overview.html", who, overview=overview)


@router.get("/signin")
async def signin_page(request: Request, c: ConsoleDep) -> Response:
    return _signin_form(request, c)


def _signin_form(request: Request, c: ConsoleDep, error: str = "", status: int = 200) -> Response:
    pre = request.cookies.get(PRE_COOKIE) or secrets.token_urlsafe(24)
    response = render(request, "signin.html", None, status, error=error,
                      signin_csrf=c.sessions.csrf_token("signin:" + pre))
    response.set_cookie(PRE_COOKIE, pre, httponly=True, samesite="strict", secure=is_https(request, c.resources),
                        path=PATH, max_age=3600)
    return response


@router.post("/signin")
async def signin(request: Request, c: ConsoleDep) -> Response:
    form = await request.form()
    pre, sent = request.cookies.get(PRE_COOKIE), form.get("csrf")
    if not pre or not c.sessions.csrf_ok("signin:" + pre, sent if isinstance(sent, str) else None):
        raise Forbidden("This form was not sent from the console page (CSRF check failed). Reload and retry.")
    token = text(form, "token")
    if not token:
        return _signin_form(request, c, "Enter the admin token or an admin key.", 400)
    try:
        session_id, _ = await c.sessions.sign_in(token, address(request, c.resources))
    except (InvalidToken, Forbidden, RateLimited) as exc:
        note_error(exc.code)  # audited as a rejected console call
        message = exc.message if not isinstance(exc, InvalidToken) else "This token or key is not valid."
        return _signin_form(request, c, message, exc.status_code)
    response = redirect(PATH)
    set_session(response, session_id, is_https(request, c.resources))
    return response


@router.get("/welcome/{token}")
async def welcome(request: Request, c: ConsoleDep,
                  token: Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{16,64}$")]) -> Response:
    """The one-time link `serve` prints on the embedded default."""
    try:
        session_id, _ = await c.sessions.redeem(token, address(request, c.resources))
    except (InvalidToken, RateLimited) as exc:
        note_error(exc.code)
        return _signin_form(request, c, exc.message, exc.status_code)
    response = redirect(PATH)
    set_session(response, session_id, is_https(request, c.resources))
    return response


@router.post("/signout")
async def signout(request: Request, c: ConsoleDep, who: SignedDep) -> Response:
    await checked_form(request, c, who)
    await c.sessions.sign_out(who.session_id)
    response = redirect(f"{PATH}/signin")
    response.delete_cookie(COOKIE, path=PATH)
    return response


@router.get("/audit")
async def audit(
    request: Request, c: ConsoleDep, who: SignedDep, selection: AuditFilters,
    cursor: Annotated[int | None, Query(ge=0)] = None, limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Response:
    page = await c.service.audit_page(who.actor, selection, cursor, limit)
    kept = {k: v for k, v in request.query_params.items() if k not in ("cursor",) and v}
    return render(request, "audit.html", who, page=page, query=kept, selection=selection, verified=None)


@router.get("/audit/export")
async def audit_export(c: ConsoleDep, who: SignedDep, selection: AuditFilters,
                       format: ExportFormat = "jsonl") -> Response:
    fmt = format
    media = "text/csv" if fmt == "csv" else "application/x-ndjson"
    return StreamingResponse(c.service.audit_export(who.actor, selection, fmt), media_type=media,
                             headers={"Content-Disposition": f'attachment; filename="audit.{fmt}"',
                                      "Cache-Control": "no-store"})


@router.post("/audit/verify")
async def audit_verify(request: Request, c: ConsoleDep, who: SignedDep) -> Response:
    await checked_form(request, c, who)
    checked, broken = await c.service.verify_chain(who.actor)
    page = await c.service.audit_page(who.actor, Filters(), None, 50)
    verified = {"checked": checked, "broken": str(broken) if broken else None}
    return render(request, "audit.html", who, page=page, query={}, selection=Filters(), verified=verified)
