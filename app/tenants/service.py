"""Tenant lifecycle and usage reports; key lifecycle lives in key_lifecycle.py, reached as `.keys`.

The command line and the admin API both call this one service.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Literal, Protocol, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.clock import Clock
from app.db import Database
from app.errors import BadRequest, GatewayError
from app.quotas.policy import day_of, month_of
from app.tenants import repository as repo
from app.tenants.key_lifecycle import KeyService
from app.tenants.lookup import existing_tenant, new_id, no_change
from app.tenants.models import Tenant
from app.tenants.schemas import TENANT_NAME_PATTERN, LimitsIn, TenantOut, TenantSettingsIn, UsageReport, UsageRow

TENANT_NAME = re.compile(TENANT_NAME_PATTERN)


class TenantExists(GatewayError):
    status_code = 409
    code = "TENANT_EXISTS"
    default_message = "A tenant with this name already exists."


class TenantBusy(GatewayError):
    status_code = 409
    code = "TENANT_BUSY"
    default_message = "The tenant has searches in flight; delete it once they finish."


Input = TypeVar("Input", bound=BaseModel)
UsageRows = list[tuple[str, str, int, int, int, int, int, int]]


class SearchRecords(Protocol):
    """What tenants need of the search records (kept by the search domain, app.facecheck.ledger)."""

    async def in_flight(self, session: AsyncSession, tenant_id: str) -> int: ...

    async def delete_for_tenant(self, session: AsyncSession, tenant_id: str) -> None: ...

    async def tenant_usage(self, session: AsyncSession, tenant_id: str, month: str, day: str) -> dict[str, int]: ...

    async def usage_by_period(self, session: AsyncSession, tenant_id: str, granularity: str) -> UsageRows: ...


def validated(model: type[Input], values: Mapping[str, object]) -> Input:
    """Operator input from the command line, checked by the same model the admin API uses."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise BadRequest(f"Invalid '{'.'.join(str(p) for p in first['loc'])}': {first['msg']}.") from exc


def _out(tenant: Tenant) -> TenantOut:
    return TenantOut.model_validate(tenant, from_attributes=True)


class TenantService:
    def __init__(self, db: Database, secret: bytes, clock: Clock, records: SearchRecords,
                 on_change: Callable[[], Awaitable[None]] = no_change) -> None:
        self._db = db
        self._records = records
        self._clock = clock
        self._on_change = on_change
        self.keys = KeyService(db, secret, clock, on_change)

    async def create_tenant(self, name: str, limits: LimitsIn | None = None) -> TenantOut:
        if not TENANT_NAME.match(name):
            raise BadRequest("Tenant names are 1-100 characters: letters, digits, '.', '_' or '-'.")
        values = (limits or LimitsIn()).model_dump(exclude_none=True)
        values.pop("name", None)
        async with self._db.transaction() as session:
            if await repo.tenant_by_name(session, name) is not None:
                raise TenantExists()
            tenant = Tenant(id=new_id(), name=name, status="active", created_at=self._clock.now(), **values)
            await repo.add(session, tenant)
        return _out(tenant)

    async def update_tenant(self, tenant_ref: str, changes: TenantSettingsIn) -> TenantOut:
        """Apply the fields the caller set; a limit set to null becomes unlimited. Names stay unique."""
        values = changes.model_dump(exclude_unset=True)
        for field in ("name", "demo_only", "require_purpose"):  # a null cache_scope: CACHE_SCOPE
            if field in values and values[field] is None:
                raise BadRequest(f"'{field}' cannot be null.")
        async with self._db.transaction() as session:
            tenant = await existing_tenant(session, tenant_ref)
            name = values.get("name")
            if name is not None and name != tenant.name and await repo.tenant_by_name(session, name):
                raise TenantExists()
            for field, value in values.items():
                setattr(tenant, field, value)
        await self._on_change()  # principals carry the tenant's name and limits
        return _out(tenant)

    async def set_status(self, tenant_ref: str, status: str) -> TenantOut:
        """`suspended`: every key of the tenant fails at once (on every replica); `active`: back."""
        async with self._db.transaction() as session:
            tenant = await existing_tenant(session, tenant_ref)
            tenant.status = status
        await self._on_change()
        return _out(tenant)

    async def delete_tenant(self, tenant_ref: str) -> None:
        """Remove a tenant, its keys and its search records; refused while a search is in flight."""
        async with self._db.transaction() as session:
            tenant = await existing_tenant(session, tenant_ref)
            if await self._records.in_flight(session, tenant.id):
                raise TenantBusy()
            await self._records.delete_for_tenant(session, tenant.id)
            await repo.delete_tenant(session, tenant.id)
        await self._on_change()

    async def usage(self, tenant_ref: str) -> dict[str, object]:
        """This month's and today's usage as the database records it (the source of truth)."""
        now = self._clock.now()
        async with self._db.transaction() as session:
            tenant = await existing_tenant(session, tenant_ref)
            counts = await self._records.tenant_usage(session, tenant.id, month_of(now), day_of(now))
        return {"tenant": tenant.name, "month": month_of(now), "day": day_of(now),
                "credits_per_month": tenant.credits_per_month, **counts}

    async def usage_report(
        self, tenant_ref: str, granularity: Literal["day", "month"], key_id: str | None = None
    ) -> UsageReport:
        """Per day or month, for the tenant and each of its keys (or only `key_id`)."""
        async with self._db.transaction() as session:
            tenant = await existing_tenant(session, tenant_ref)
            rows = await self._records.usage_by_period(session, tenant.id, granularity)
        if key_id is not None:
            rows = [r for r in rows if r[1] == key_id]
        by_key = [UsageRow(period=p, key_id=k, searches=s, demo_searches=d, credits_charged=c, credits_refunded=r,
                           cache_hits=h, credits_saved=v) for p, k, s, d, c, r, h, v in rows]
        totals: dict[str, UsageRow] = {}
        for row in by_key:
            total = totals.setdefault(row.period, UsageRow(period=row.period, searches=0, demo_searches=0,
                                                           credits_charged=0, credits_refunded=0))
            total.searches += row.searches
            total.demo_searches += row.demo_searches
            total.credits_charged += row.credits_charged
            total.credits_refunded += row.credits_refunded
            total.cache_hits += row.cache_hits
            total.credits_saved += row.credits_saved
        return UsageReport(tenant_id=tenant.id, tenant=tenant.name, granularity=granularity,
                           totals=list(totals.values()), by_key=by_key)

    async def get_tenant(self, tenant_ref: str) -> TenantOut:
        async with self._db.transaction() as session:
            tenant = await existing_tenant(session, tenant_ref)
        return _out(tenant)

    async def list_tenants(self) -> list[TenantOut]:
        async with self._db.transaction() as session:
            rows = await repo.list_tenants(session)
        return [_out(t) for t in rows]

    async def has_tenants(self) -> bool:
        async with self._db.transaction() as session:
            return await repo.any_tenant(session)
