"""Console pages for tenants: the list, one tenant's page, and the forms that change them. Thin:
read the form, call the console service, render; errors go back beside their field."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.responses import Response

from app.console.charts import usage_chart
from app.console.web import PATH, ConsoleDep, Signed, SignedDep, checked_form, redirect, render, text
from app.errors import BadRequest, GatewayError
from app.tenants.schemas import TENANT_NAME_PATTERN, LimitsIn, TenantSettingsIn
from app.tenants.service import TenantBusy, TenantExists

router = APIRouter(prefix=f"{PATH}/tenants", include_in_schema=False)
TenantRef = Annotated[str, Path(pattern=TENANT_NAME_PATTERN)]
KeyId = Annotated[str, Path(pattern=r"^[A-Za-z0-9]{1,32}$")]
LIMIT_FIELDS = ("credits_per_month", "searches_per_day", "requests_per_minute", "max_concurrent_searches")
SCOPES = ("search", "info", "admin")


def _limits(form: FormData) -> dict[str, Any]:
    """Blank means unlimited; anything else must be a whole number (the model checks the range)."""
    values: dict[str, Any] = {name: (text(form, name) or None) for name in LIMIT_FIELDS}
    values["demo_only"] = form.get("demo_only") == "on"
    return values


def _field_errors(exc: ValidationError) -> dict[str, str]:
    return {str(e["loc"][0]) if e["loc"] else "form": str(e["msg"]) for e in exc.errors()}


@router.get("")
async def tenants(request: Request, c: ConsoleDep, who: SignedDep, q: Annotated[str, Query(max_length=100)] = "",
                  ) -> Response:
    return await _list(request, c, who, q)


async def _list(request: Request, c: ConsoleDep, who: Signed, q: str = "", status: int = 200,
                errors: dict[str, str] | None = None, values: dict[str, Any] | None = None) -> Response:
    rows = await c.service.tenant_rows(who.actor, q)
    return render(request, "tenants.html", who, status, rows=rows, q=q, errors=errors or {}, values=values or {},
                  limit_fields=LIMIT_FIELDS)


@router.post("")
async def create_tenant(request: Request, c: ConsoleDep, who: SignedDep) -> Response:
    form = await checked_form(request, c, who)
    values = {"name": text(form, "name"), **_limits(form)}
    errors: dict[str, str] = {}
    try:
        TenantSettingsIn.model_validate({"name": values["name"]})
    except ValidationError:
        errors["name"] = "1-100 characters: letters, digits, '.', '_' or '-', starting with a letter or digit."
    if not values["name"]:
        errors["name"] = "Enter a name."
    try:
        limits = LimitsIn.model_validate({k: v for k, v in values.items() if k != "name"})
    except ValidationError as exc:
        errors.update(_field_errors(exc))
    if errors:
        return await _list(request, c, who, status=422, errors=errors, values=values)
    try:
        tenant = await c.service.create_tenant(who.actor, values["name"], limits)
    except (TenantExists, BadRequest) as exc:
        return await _list(request, c, who, status=exc.status_code, errors={"name": exc.message}, values=values)
    return redirect(f"{PATH}/tenants/{tenant.id}")


@router.get("/{tenant}")
async def tenant_page(request: Request, c: ConsoleDep, who: SignedDep, tenant: TenantRef) -> Response:
    return await _page(request, c, who, tenant)


async def _page(request: Request, c: ConsoleDep, who: Signed, tenant_ref: str, status: int = 200,
                **extra: Any) -> Response:
    page = await c.service.tenant_page(who.actor, tenant_ref)
    charts = {"day": usage_chart(page.by_day.totals, "Credits by day"),
              "month": usage_chart(page.by_month.totals, "Credits by month")}
    context: dict[str, Any] = {"errors": {}, "created": None, "notice": "", "limit_fields": LIMIT_FIELDS,
                               "scopes": SCOPES, **extra}
    return render(request, "tenant.html", who, status, page=page, charts=charts, **context)


@router.post("/{tenant}/limits")
async def edit_limits(request: Request, c: ConsoleDep, who: SignedDep, tenant: TenantRef) -> Response:
    form = await checked_form(request, c, who)
    try:
        changes = TenantSettingsIn.model_validate(_limits(form))
    except ValidationError as exc:
        return await _page(request, c, who, tenant, 422, errors=_field_errors(exc))
    await c.service.update_limits(who.actor, tenant, changes)
    return redirect(f"{PATH}/tenants/{tenant}")


@router.post("/{tenant}/suspend")
async def suspend(request: Request, c: ConsoleDep, who: SignedDep, tenant: TenantRef) -> Response:
    await checked_form(request, c, who)
    await c.service.set_status(who.actor, tenant, "suspended")
    return redirect(f"{PATH}/tenants/{tenant}")


@router.post("/{tenant}/resume")
async def resume(request: Request, c: ConsoleDep, who: SignedDep, tenant: TenantRef) -> Response:
    await checked_form(request, c, who)
    await c.service.set_status(who.actor, tenant, "active")
    return redirect(f"{PATH}/tenants/{tenant}")


@router.post("/{tenant}/delete")
async def delete_tenant(request: Request, c: ConsoleDep, who: SignedDep, tenant: TenantRef) -> Response:
    form = await checked_form(request, c, who)
    try:
        await c.service.delete_tenant(who.actor, tenant, text(form, "confirm"))
    except (BadRequest, TenantBusy) as exc:
        return await _page(request, c, who, tenant, exc.status_code, errors={"confirm": exc.message})
    return redirect(f"{PATH}/tenants")


@router.post("/{tenant}/keys")
async def create_key(request: Request, c: ConsoleDep, who: SignedDep, tenant: TenantRef) -> Response:
    """The clear key is in this one answer only; the page's script then points the address bar at
    the plain tenant page, so a reload shows the key no more."""
    form = await checked_form(request, c, who)
    scopes = frozenset(s for s in SCOPES if form.get(f"scope_{s}") == "on")
    name = text(form, "key_name")
    errors: dict[str, str] = {}
    if not scopes:
        errors["scopes"] = "Choose at least one scope."
    if len(name) > 100:
        errors["key_name"] = "At most 100 characters."
    if errors:
        return await _page(request, c, who, tenant, 422, errors=errors)
    try:
        created = await c.service.create_key(who.actor, tenant, name, scopes)
    except GatewayError as exc:
        if exc.status_code != 403:
            raise
        return await _page(request, c, who, tenant, 403, errors={"scopes": exc.message})
    return await _page(request, c, who, tenant, 201, created=created)


@router.post("/{tenant}/keys/{key_id}/revoke")
async def revoke_key(request: Request, c: ConsoleDep, who: SignedDep, tenant: TenantRef, key_id: KeyId) -> Response:
    await checked_form(request, c, who)
    await c.service.revoke_key(who.actor, tenant, key_id)
    return redirect(f"{PATH}/tenants/{tenant}")


@router.post("/{tenant}/keys/{key_id}/rotate")
async def rotate_key(request: Request, c: ConsoleDep, who: SignedDep, tenant: TenantRef, key_id: KeyId) -> Response:
    form = await checked_form(request, c, who)
    grace = text(form, "grace_seconds")
    if not grace.isdigit() or int(grace) > 86_400:
        return await _page(request, c, who, tenant, 422, errors={f"grace_{key_id}": "0 to 86400 seconds."})
    rotated = await c.service.rotate_key(who.actor, tenant, key_id, int(grace))
    return await _page(request, c, who, tenant, 201, created=rotated.new,
                       notice=f"Key {key_id} keeps working for {grace} seconds.")


@router.post("/{tenant}/purge")
async def purge(request: Request, c: ConsoleDep, who: SignedDep, tenant: TenantRef) -> Response:
    await checked_form(request, c, who)
    purged = await c.service.purge_cache(who.actor, tenant)
    return await _page(request, c, who, tenant, notice=f"Purged {purged.purged} cached result(s).")
