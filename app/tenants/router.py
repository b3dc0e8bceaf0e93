"""The admin API for tenants, keys and usage. Thin: validate, call the tenant service, return."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response

from app.deps import Admin, AuditDep, TenantsDep
from app.openapi import ADMIN_ERRORS
from app.tenants.schemas import (
    TENANT_NAME_PATTERN,
    CreatedKey,
    KeyCreate,
    KeyOut,
    KeyRotate,
    RotatedKey,
    TenantCreate,
    TenantOut,
    TenantSettingsIn,
    UsageReport,
    sent_fields,
)

# Ids are hex, names follow the tenant-name rule: anything else cannot exist, so it is a 422 early.
TenantRef = Annotated[str, Path(pattern=TENANT_NAME_PATTERN, description="tenant id or name")]
KeyId = Annotated[str, Path(pattern=r"^[A-Za-z0-9]{1,32}$", description="key id")]

router = APIRouter(prefix="/admin", tags=["Admin: tenants and keys"], responses=ADMIN_ERRORS)


@router.post("/tenants", status_code=201, summary="Create a tenant",
             responses={409: {"description": "Name taken (TENANT_EXISTS)"}})
async def create_tenant(body: TenantCreate, tenants: TenantsDep, audit: AuditDep, actor: Admin) -> TenantOut:
    out = await tenants.create_tenant(body.name, body)
    await audit.admin_action(actor, "tenant.create", tenant_id=out.id, detail=sent_fields(body))
    return out


@router.get("/tenants", summary="List tenants")
async def list_tenants(tenants: TenantsDep, _: Admin) -> list[TenantOut]:
    return await tenants.list_tenants()


@router.get("/tenants/{tenant}", summary="One tenant")
async def get_tenant(tenant: TenantRef, tenants: TenantsDep, _: Admin) -> TenantOut:
    return await tenants.get_tenant(tenant)


@router.patch("/tenants/{tenant}", summary="Change name, limits, cache scope, require_purpose, demo_only",
              responses={409: {"description": "Name taken (TENANT_EXISTS)"}})
async def update_tenant(
    tenant: TenantRef, body: TenantSettingsIn, tenants: TenantsDep, audit: AuditDep, actor: Admin
) -> TenantOut:
    out = await tenants.update_tenant(tenant, body)
    await audit.admin_action(actor, "tenant.update", tenant_id=out.id, detail=sent_fields(body))
    return out


@router.post("/tenants/{tenant}/suspend", summary="Suspend: every key of the tenant fails at once")
async def suspend_tenant(tenant: TenantRef, tenants: TenantsDep, audit: AuditDep, actor: Admin) -> TenantOut:
    out = await tenants.set_status(tenant, "suspended")
    await audit.admin_action(actor, "tenant.suspend", tenant_id=out.id)
    return out


@router.post("/tenants/{tenant}/resume", summary="Resume a suspended tenant")
async def resume_tenant(tenant: TenantRef, tenants: TenantsDep, audit: AuditDep, actor: Admin) -> TenantOut:
    out = await tenants.set_status(tenant, "active")
    await audit.admin_action(actor, "tenant.resume", tenant_id=out.id)
    return out


@router.delete("/tenants/{tenant}", status_code=204, summary="Delete a tenant with no searches in flight",
               responses={409: {"description": "Searches in flight (TENANT_BUSY)"}})
async def delete_tenant(tenant: TenantRef, tenants: TenantsDep, audit: AuditDep, actor: Admin) -> Response:
    tenant_id = (await tenants.get_tenant(tenant)).id
    await tenants.delete_tenant(tenant)
    await audit.admin_action(actor, "tenant.delete", tenant_id=tenant_id)
    return Response(status_code=204)


@router.get("/tenants/{tenant}/usage", summary="Usage by day or month, for the tenant and each key")
async def tenant_usage(
    tenant: TenantRef,
    tenants: TenantsDep,
    _: Admin,
    by: Annotated[Literal["day", "month"], Query(description="period length")] = "day",
    key_id: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9]{1,32}$", description="only this key")] = None,
) -> UsageReport:
    return await tenants.usage_report(tenant, by, key_id)


@router.post("/tenants/{tenant}/keys", status_code=201, summary="Create a key; the clear key is shown once")
async def create_key(
    tenant: TenantRef, body: KeyCreate, tenants: TenantsDep, audit: AuditDep, actor: Admin
) -> CreatedKey:
    out = await tenants.keys.create_key(
        tenant, name=body.name, scopes=frozenset(body.scopes), expires_at=body.expires_at,
        requests_per_minute=body.requests_per_minute,
    )  # fmt: skip
    await audit.admin_action(actor, "key.create", tenant_id=out.tenant_id, key_id=out.id,
                                       detail={"scopes": out.scopes})
    return out


@router.get("/tenants/{tenant}/keys", summary="List keys (prefix and last four characters only)")
async def list_keys(tenant: TenantRef, tenants: TenantsDep, _: Admin) -> list[KeyOut]:
    return await tenants.keys.list_keys(tenant)


@router.post("/keys/{key_id}/revoke", summary="Revoke a key: refused on every replica within a second")
async def revoke_key(key_id: KeyId, tenants: TenantsDep, audit: AuditDep, actor: Admin) -> KeyOut:
    out = await tenants.keys.revoke_key(key_id)
    await audit.admin_action(actor, "key.revoke", tenant_id=out.tenant_id, key_id=out.id)
    return out


@router.post("/keys/{key_id}/rotate", summary="A new key; the old one works for the grace period, then stops")
async def rotate_key(key_id: KeyId, body: KeyRotate, tenants: TenantsDep, audit: AuditDep, actor: Admin) -> RotatedKey:
    out = await tenants.keys.rotate_key(key_id, body.grace_seconds)
    await audit.admin_action(actor, "key.rotate", tenant_id=out.old.tenant_id, key_id=out.old.id,
                                       detail={"new_key_id": out.new.id, "grace_seconds": body.grace_seconds})
    return out
