"""The console's pages: sign in and out, the overview, tenants, a tenant's page, the audit log.
Thin: read the form, call the console service, render; errors go back beside their field."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError
from starlette.responses import Response, StreamingResponse

from app.audit import context as audit_call
from app.audit.chain import chain_key
from app.audit.repository import Filters
from app.audit.router import filters as audit_filters
from app.audit.service import ExportFormat
from app.clock import Clock, SystemClock
from app.config import Settings
from app.console import forms
from app.console.charts import usage_chart
from app.console.service import ConsoleService
from app.console.sessions import ConsoleSessions
from app.console.web import (
    COOKIE,
    HERE,
    PATH,
    PRE_COOKIE,
    Signed,
    Unsigned,
    address,
    checked_form,
    is_https,
    redirect,
    render,
    set_session,
    text,
)
from app.db import Database
from app.deps import AuditDep, AuthDep, CachePurgeDep, DatabaseDep, LedgerDep, SettingsDep, TenantsDep, UpstreamInfoDep
from app.errors import BadRequest, Forbidden, GatewayError, InvalidToken, RateLimited
from app.observability.context import note_error
from app.tenants.schemas import TENANT_NAME_PATTERN, TenantSettingsIn
from app.tenants.service import TenantBusy, TenantExists

router = APIRouter(prefix=PATH, include_in_schema=False)
TenantRef = Annotated[str, Path(pattern=TENANT_NAME_PATTERN)]
KeyId = Annotated[str, Path(pattern=r"^[A-Za-z0-9]{1,32}$")]
AuditFilters = Annotated[Filters, Depends(audit_filters)]


@dataclass(frozen=True)
class Console:
    settings: Settings
    service: ConsoleService
    sessions: ConsoleSessions
    db: Database  # which lifespan's objects these are


async def console(request: Request, settings: SettingsDep, db: DatabaseDep, tenants: TenantsDep, audit: AuditDep,
                  purge: CachePurgeDep, upstream: UpstreamInfoDep, ledger: LedgerDep,
                  auth: AuthDep) -> Console:
    """Built once per process from the objects the lifespan made."""
    built: Console | None = getattr(request.app.state, "console", None)
    if built is None or built.db is not db:
        clock: Clock = getattr(request.app.state, "clock", None) or SystemClock()
        service = ConsoleService(db, tenants, audit, purge, upstream, ledger, clock, chain_key(settings.secret_bytes))
        sessions = ConsoleSessions(db, auth, settings.secret_bytes, clock, idle_seconds=settings.console_idle_seconds,
                                   link_seconds=settings.console_link_seconds)
        built = Console(settings, service, sessions, db)
        request.app.state.console = built
    return built


ConsoleDep = Annotated[Console, Depends(console)]


async def signed(request: Request, c: ConsoleDep) -> Signed:
    session_id = request.cookies.get(COOKIE)
    who = await c.sessions.current(session_id)
    if who is None or session_id is None:
        raise Unsigned()
    audit_call.note_caller(who.actor.tenant_id, who.actor.key_id, who.actor.label)
    return Signed(who, session_id, c.sessions.csrf_token(session_id))


SignedDep = Annotated[Signed, Depends(signed)]


def install(app: FastAPI) -> None:
    app.mount(f"{PATH}/static", StaticFiles(directory=HERE / "static"), name="console-static")
    app.include_router(router)

    async def on_unsigned(request: Request, exc: Exception) -> Response:
        return redirect(f"{PATH}/signin")

    app.add_exception_handler(Unsigned, on_unsigned)


@router.get("")
async def home(request: Request, c: ConsoleDep, who: SignedDep) -> Response:
    if not who.actor.is_operator:
        return redirect(f"{PATH}/tenants/{who.actor.tenant_id}")
    overview = await c.service.overview(who.actor)
    return render(request, "overview.html", who, overview=overview)


@router.get("/signin")
async def signin_page(request: Request, c: ConsoleDep) -> Response:
    return _signin_form(request, c)


def _signin_form(request: Request, c: ConsoleDep, error: str = "", status: int = 200) -> Response:
    pre = request.cookies.get(PRE_COOKIE) or secrets.token_urlsafe(24)
    response = render(request, "signin.html", None, status, error=error,
                      signin_csrf=c.sessions.csrf_token("signin:" + pre))
    response.set_cookie(PRE_COOKIE, pre, httponly=True, samesite="strict", secure=is_https(request, c.settings),
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
        session_id = await c.sessions.sign_in(token, address(request, c.settings))
    except (InvalidToken, Forbidden, RateLimited) as exc:
        note_error(exc.code)  # audited as a rejected console call
        message = exc.message if not isinstance(exc, InvalidToken) else "This token or key is not valid."
        return _signin_form(request, c, message, exc.status_code)
    response = redirect(PATH)
    set_session(response, session_id, is_https(request, c.settings))
    return response


@router.get("/welcome/{token}")
async def welcome(request: Request, c: ConsoleDep,
                  token: Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{16,64}$")]) -> Response:
    """The one-time link `serve` prints on the embedded default."""
    try:
        session_id = await c.sessions.redeem(token, address(request, c.settings))
    except (InvalidToken, RateLimited) as exc:
        note_error(exc.code)
        return _signin_form(request, c, exc.message, exc.status_code)
    response = redirect(PATH)
    set_session(response, session_id, is_https(request, c.settings))
    return response


@router.post("/signout")
async def signout(request: Request, c: ConsoleDep, who: SignedDep) -> Response:
    await checked_form(request, c.sessions, who)
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
    media = "text/csv" if format == "csv" else "application/x-ndjson"
    return StreamingResponse(c.service.audit_export(who.actor, selection, format), media_type=media,
                             headers={"Content-Disposition": f'attachment; filename="audit.{format}"',
                                      "Cache-Control": "no-store"})


@router.post("/audit/verify")
async def audit_verify(request: Request, c: ConsoleDep, who: SignedDep) -> Response:
    await checked_form(request, c.sessions, who)
    checked, broken = await c.service.verify_chain(who.actor)
    page = await c.service.audit_page(who.actor, Filters(), None, 50)
    verified = {"checked": checked, "broken": str(broken) if broken else None}
    return render(request, "audit.html", who, page=page, query={}, selection=Filters(), verified=verified)


@router.get("/tenants")
async def tenants(request: Request, c: ConsoleDep, who: SignedDep, q: Annotated[str, Query(max_length=100)] = "",
                  ) -> Response:
    return await _list(request, c, who, q)


async def _list(request: Request, c: ConsoleDep, who: Signed, q: str = "", status: int = 200,
                errors: dict[str, str] | None = None, values: dict[str, Any] | None = None) -> Response:
    rows = await c.service.tenant_rows(who.actor, q)
    return render(request, "tenants.html", who, status, rows=rows, q=q, errors=errors or {}, values=values or {},
                  limit_fields=forms.LIMIT_FIELDS)


@router.post("/tenants")
async def create_tenant(request: Request, c: ConsoleDep, who: SignedDep) -> Response:
    form = await checked_form(request, c.sessions, who)
    values, limits, errors = forms.new_tenant(form)
    if errors or limits is None:
        return await _list(request, c, who, status=422, errors=errors, values=values)
    try:
        tenant = await c.service.create_tenant(who.actor, values["name"], limits)
    except (TenantExists, BadRequest) as exc:
        return await _list(request, c, who, status=exc.status_code, errors={"name": exc.message}, values=values)
    return redirect(f"{PATH}/tenants/{tenant.id}")


@router.get("/tenants/{tenant}")
async def tenant_page(request: Request, c: ConsoleDep, who: SignedDep, tenant: TenantRef) -> Response:
    return await _page(request, c, who, tenant)


async def _page(request: Request, c: ConsoleDep, who: Signed, tenant_ref: str, status: int = 200,
                **extra: Any) -> Response:
    page = await c.service.tenant_page(who.actor, tenant_ref)
    charts = {"day": usage_chart(page.by_day.totals, "Credits by day"),
              "month": usage_chart(page.by_month.totals, "Credits by month")}
    context: dict[str, Any] = {"errors": {}, "created": None, "notice": "", "limit_fields": forms.LIMIT_FIELDS,
                               "scopes": forms.SCOPES, **extra}
    return render(request, "tenant.html", who, status, page=page, charts=charts, **context)


@router.post("/tenants/{tenant}/limits")
async def edit_limits(request: Request, c: ConsoleDep, who: SignedDep, tenant: TenantRef) -> Response:
    form = await checked_form(request, c.sessions, who)
    try:
        changes = TenantSettingsIn.model_validate(forms.limits(form))
    except ValidationError as exc:
        return await _page(request, c, who, tenant, 422, errors=forms.field_errors(exc))
    await c.service.update_limits(who.actor, tenant, changes)
    return redirect(f"{PATH}/tenants/{tenant}")


@router.post("/tenants/{tenant}/suspend")
async def suspend(request: Request, c: ConsoleDep, who: SignedDep, tenant: TenantRef) -> Response:
    await checked_form(request, c.sessions, who)
    await c.service.set_status(who.actor, tenant, "suspended")
    return redirect(f"{PATH}/tenants/{tenant}")


@router.post("/tenants/{tenant}/resume")
async def resume(request: Request, c: ConsoleDep, who: SignedDep, tenant: TenantRef) -> Response:
    await checked_form(request, c.sessions, who)
    await c.service.set_status(who.actor, tenant, "active")
    return redirect(f"{PATH}/tenants/{tenant}")


@router.post("/tenants/{tenant}/delete")
async def delete_tenant(request: Request, c: ConsoleDep, who: SignedDep, tenant: TenantRef) -> Response:
    form = await checked_form(request, c.sessions, who)
    try:
        await c.service.delete_tenant(who.actor, tenant, text(form, "confirm"))
    except (BadRequest, TenantBusy) as exc:
        return await _page(request, c, who, tenant, exc.status_code, errors={"confirm": exc.message})
    return redirect(f"{PATH}/tenants")


@router.post("/tenants/{tenant}/keys")
async def create_key(request: Request, c: ConsoleDep, who: SignedDep, tenant: TenantRef) -> Response:
    """The clear key is in this one answer only; the page's script then points the address bar at
    the plain tenant page, so a reload shows the key no more."""
    form = await checked_form(request, c.sessions, who)
    name, scopes, errors = forms.new_key(form)
    if errors:
        return await _page(request, c, who, tenant, 422, errors=errors)
    try:
        created = await c.service.create_key(who.actor, tenant, name, scopes)
    except GatewayError as exc:
        if exc.status_code != 403:
            raise
        return await _page(request, c, who, tenant, 403, errors={"scopes": exc.message})
    return await _page(request, c, who, tenant, 201, created=created)


@router.post("/tenants/{tenant}/keys/{key_id}/revoke")
async def revoke_key(request: Request, c: ConsoleDep, who: SignedDep, tenant: TenantRef, key_id: KeyId) -> Response:
    await checked_form(request, c.sessions, who)
    await c.service.revoke_key(who.actor, tenant, key_id)
    return redirect(f"{PATH}/tenants/{tenant}")


@router.post("/tenants/{tenant}/keys/{key_id}/rotate")
async def rotate_key(request: Request, c: ConsoleDep, who: SignedDep, tenant: TenantRef, key_id: KeyId) -> Response:
    form = await checked_form(request, c.sessions, who)
    grace = text(form, "grace_seconds")
    if not grace.isdigit() or int(grace) > 86_400:
        return await _page(request, c, who, tenant, 422, errors={f"grace_{key_id}": "0 to 86400 seconds."})
    rotated = await c.service.rotate_key(who.actor, tenant, key_id, int(grace))
    return await _page(request, c, who, tenant, 201, created=rotated.new,
                       notice=f"Key {key_id} keeps working for {grace} seconds.")


@router.post("/tenants/{tenant}/purge")
async def purge(request: Request, c: ConsoleDep, who: SignedDep, tenant: TenantRef) -> Response:
    await checked_form(request, c.sessions, who)
    purged = await c.service.purge_cache(who.actor, tenant)
    return await _page(request, c, who, tenant, notice=f"Purged {purged.purged} cached result(s).")
