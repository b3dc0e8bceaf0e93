"""The admin API for a tenant's budget webhook and its delivery log. Thin: validate, call, return.
An operator sets any tenant's, a tenant admin its own (the service decides); audited with the actor."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.deps import Admin, AuditDep, NotifyDep
from app.notify.schemas import DeliveryOut, WebhookIn, WebhookOut
from app.openapi import ADMIN_ERRORS
from app.tenants.router import TenantRef

router = APIRouter(prefix="/admin/tenants/{tenant}/webhook", tags=["Admin: budget webhooks"],
                   responses=ADMIN_ERRORS)


@router.put("", summary="Set the budget webhook (URL, thresholds); a new signing secret is shown once")
async def set_webhook(
    tenant: TenantRef, body: WebhookIn, notify: NotifyDep, audit: AuditDep, actor: Admin
) -> WebhookOut:
    out = await notify.set_webhook(actor, tenant, body)
    # The URL stays out of the audit log: it may carry a token of the receiver's.
    await audit.admin_action(actor.label, "webhook.set", tenant_id=out.tenant_id,
                             detail={"thresholds": out.thresholds, "rotate_secret": body.rotate_secret})
    return out


@router.get("", summary="The budget webhook (never its secret)")
async def get_webhook(tenant: TenantRef, notify: NotifyDep, actor: Admin) -> WebhookOut:
    return await notify.get_webhook(actor, tenant)


@router.delete("", status_code=204, summary="Remove the budget webhook")
async def remove_webhook(tenant: TenantRef, notify: NotifyDep, audit: AuditDep, actor: Admin) -> Response:
    tenant_id = await notify.remove_webhook(actor, tenant)
    await audit.admin_action(actor.label, "webhook.remove", tenant_id=tenant_id)
    return Response(status_code=204)


@router.get("/deliveries", summary="Budget notifications, newest first, each with its delivery attempts")
async def deliveries(
    tenant: TenantRef,
    notify: NotifyDep,
    actor: Admin,
    limit: Annotated[int, Query(ge=1, le=500, description="at most this many notifications")] = 50,
) -> list[DeliveryOut]:
    return await notify.deliveries(actor, tenant, limit)
