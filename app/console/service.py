"""What the console shows and changes, for one actor: every read and change goes through the same
services as /admin, which decide what the actor may do (app/actors.py), and every change is audited
with the actor's label as the API does. Only what is the console's own is decided here: the overview
and the list of tenants (with spend across tenants) are operators' pages."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from app.actors import Actor
from app.audit import service as audit_service
from app.audit.chain import ChainBreak
from app.audit.repository import Filters
from app.audit.service import ExportFormat
from app.audit.writer import AuditWriter
from app.clock import Clock
from app.db import Database
from app.errors import BadRequest, GatewayError, NotFound
from app.facecheck import ledger
from app.facecheck.purge import CachePurge, Purged
from app.ledger.service import LedgerService
from app.quotas.policy import day_of, month_of
from app.tenants.schemas import CreatedKey, KeyOut, LimitsIn, RotatedKey, TenantOut, TenantSettingsIn, UsageReport
from app.tenants.service import TenantService
from app.upstream.info import UpstreamInfo, UpstreamStatus

REJECTIONS_DAYS = 30


@dataclass
class TenantRow:
    tenant: TenantOut
    credits_month: int = 0
    credits_today: int = 0
    in_flight: int = 0


@dataclass
class Overview:
    upstream: UpstreamStatus | None
    upstream_error: str | None
    in_flight: int
    credits_today: int
    credits_month: int
    top: list[TenantRow]
    rejections: dict[str, int]
    spool_depth: int
    circuit: str | None = None
    ledger_drift: int | None = None


@dataclass
class TenantPage:
    tenant: TenantOut
    keys: list[KeyOut]
    by_day: UsageReport
    by_month: UsageReport
    rejections: dict[str, int] = field(default_factory=dict)


class ConsoleService:
    def __init__(self, db: Database, tenants: TenantService, audit: AuditWriter, purge: CachePurge,
                 upstream: UpstreamInfo, ledger: LedgerService, clock: Clock, chain_key: bytes) -> None:
        self._db = db
        self._tenants = tenants
        self._audit = audit
        self._purge = purge
        self._upstream = upstream
        self._ledger = ledger
        self._clock = clock
        self._chain_key = chain_key

    # ----------------------------------------------------------------------------------- reading

    async def overview(self, actor: Actor) -> Overview:
        actor.operator_only("see the overview")
        rows = await self.tenant_rows(actor, "")
        upstream, error = None, None
        try:
            upstream = await self._upstream.status(actor)
        except GatewayError as exc:
            error = exc.message
        drift = None
        with contextlib.suppress(GatewayError):  # the books read the database only; shown when it answers
            drift = (await self._ledger.report(actor, fresh_read=False)).drift
        since = self._clock.now() - timedelta(days=REJECTIONS_DAYS)
        return Overview(
            upstream=upstream, upstream_error=error, circuit=upstream.circuit if upstream else None,
            ledger_drift=drift, in_flight=sum(r.in_flight for r in rows),
            credits_today=sum(r.credits_today for r in rows), credits_month=sum(r.credits_month for r in rows),
            top=sorted(rows, key=lambda r: -r.credits_month)[:5],
            rejections=await audit_service.rejections(self._db, actor, None, since, None),
            spool_depth=self._audit.pending,
        )  # fmt: skip

    async def tenant_rows(self, actor: Actor, search: str) -> list[TenantRow]:
        """Tenants whose name holds `search`, with this month's and today's spend."""
        actor.operator_only("list the tenants")
        now = self._clock.now()
        async with self._db.transaction() as session:
            spend = await ledger.spend_by_tenant(session, month_of(now), day_of(now))
        needle = search.strip().lower()
        return [TenantRow(t, *spend.get(t.id, (0, 0, 0))) for t in await self._tenants.list_tenants(actor)
                if needle in t.name.lower()]

    async def tenant_page(self, actor: Actor, tenant_ref: str) -> TenantPage:
        """Another tenant's page is "not found" to a tenant admin, whether that tenant exists or not."""
        tenant = await self._tenants.get_tenant(actor, tenant_ref)
        since = self._clock.now() - timedelta(days=REJECTIONS_DAYS)
        return TenantPage(
            tenant=tenant, keys=await self._tenants.keys.list_keys(actor, tenant.id),
            by_day=await self._tenants.usage_report(actor, tenant.id, "day"),
            by_month=await self._tenants.usage_report(actor, tenant.id, "month"),
            rejections=await audit_service.rejections(self._db, actor, tenant.id, since, None),
        )  # fmt: skip

    async def audit_page(self, actor: Actor, filters: Filters, cursor: int | None, limit: int) -> dict[str, Any]:
        return await audit_service.page(self._db, actor, filters, cursor, limit)

    def audit_export(self, actor: Actor, filters: Filters, fmt: ExportFormat) -> AsyncIterator[bytes]:
        return audit_service.export(self._db, actor, filters, fmt)

    async def verify_chain(self, actor: Actor) -> tuple[int, ChainBreak | None]:
        """The chain spans every tenant, so only operators walk it."""
        actor.operator_only("verify the whole audit chain")
        return await audit_service.verify(self._db, self._chain_key)

    # ---------------------------------------------------------------------------------- changing

    async def create_tenant(self, actor: Actor, name: str, limits: LimitsIn) -> TenantOut:
        out = await self._tenants.create_tenant(actor, name, limits)
        detail = {"name": name, **limits.model_dump(mode="json", exclude_none=True)}
        await self._audit.admin_action(actor.label, "tenant.create", tenant_id=out.id, detail=detail)
        return out

    async def update_limits(self, actor: Actor, tenant_ref: str, changes: TenantSettingsIn) -> TenantOut:
        out = await self._tenants.update_tenant(actor, tenant_ref, changes)
        await self._audit.admin_action(actor.label, "tenant.update", tenant_id=out.id,
                                       detail=changes.model_dump(mode="json", exclude_unset=True))
        return out

    async def set_status(self, actor: Actor, tenant_ref: str, status: str) -> TenantOut:
        out = await self._tenants.set_status(actor, tenant_ref, status)
        action = "tenant.suspend" if status == "suspended" else "tenant.resume"
        await self._audit.admin_action(actor.label, action, tenant_id=out.id)
        return out

    async def delete_tenant(self, actor: Actor, tenant_ref: str, confirmation: str) -> None:
        actor.operator_only("delete a tenant")  # before the lookup, like the API's delete
        tenant = await self._tenants.get_tenant(actor, tenant_ref)
        if confirmation.strip() != tenant.name:
            raise BadRequest("Type the tenant's name to confirm.")
        await self._tenants.delete_tenant(actor, tenant.id)
        await self._audit.admin_action(actor.label, "tenant.delete", tenant_id=tenant.id)

    async def create_key(self, actor: Actor, tenant_ref: str, name: str, scopes: frozenset[str]) -> CreatedKey:
        out = await self._tenants.keys.create_key(actor, tenant_ref, name=name, scopes=scopes)
        await self._audit.admin_action(actor.label, "key.create", tenant_id=out.tenant_id, key_id=out.id,
                                       detail={"scopes": out.scopes})
        return out

    async def _on_page(self, actor: Actor, tenant_ref: str, key_id: str) -> None:
        """The key is one of the page's tenant's: a form of one tenant's page acts on no other's key."""
        if key_id not in {k.id for k in await self._tenants.keys.list_keys(actor, tenant_ref)}:
            raise NotFound("Key not found.")

    async def revoke_key(self, actor: Actor, tenant_ref: str, key_id: str) -> KeyOut:
        await self._on_page(actor, tenant_ref, key_id)
        out = await self._tenants.keys.revoke_key(actor, key_id)
        await self._audit.admin_action(actor.label, "key.revoke", tenant_id=out.tenant_id, key_id=out.id)
        return out

    async def rotate_key(self, actor: Actor, tenant_ref: str, key_id: str, grace_seconds: int) -> RotatedKey:
        await self._on_page(actor, tenant_ref, key_id)
        out = await self._tenants.keys.rotate_key(actor, key_id, grace_seconds)
        await self._audit.admin_action(actor.label, "key.rotate", tenant_id=out.old.tenant_id, key_id=out.old.id,
                                       detail={"new_key_id": out.new.id, "grace_seconds": grace_seconds})
        return out

    async def purge_cache(self, actor: Actor, tenant_ref: str) -> Purged:
        tenant = await self._tenants.get_tenant(actor, tenant_ref)
        purged = await self._purge.tenant(actor, tenant.id)
        await self._audit.admin_action(actor.label, "cache.purge", tenant_id=tenant.id,
                                       detail={"tenant": tenant.name, "purged": purged.purged})
        return purged
