"""What the tenant service hands out: never a key hash, and a clear key only at creation."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.quotas.policy import Limits

MAX_INT = 2_147_483_647  # the columns are 32-bit integers on PostgreSQL
TENANT_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
CacheScope = Literal["none", "tenant", "global"]
Scope = Literal["search", "info", "admin"]


class LimitsIn(BaseModel):
    """Tenant limits as operators set them; a field left out is unchanged (on update) or unlimited."""

    model_config = ConfigDict(extra="forbid")

    credits_per_month: int | None = Field(None, ge=0, le=MAX_INT)
    searches_per_day: int | None = Field(None, ge=0, le=MAX_INT)
    requests_per_minute: int | None = Field(None, ge=1, le=MAX_INT)
    max_concurrent_searches: int | None = Field(None, ge=1, le=MAX_INT)
    demo_only: bool | None = None


class TenantSettingsIn(LimitsIn):
    """Everything an operator may change on a tenant; the cache scope and purpose requirement are
    stored for the result-cache and audit features, which act on them."""

    name: str | None = Field(None, pattern=TENANT_NAME_PATTERN)
    cache_scope: CacheScope | None = None
    require_purpose: bool | None = None


def sent_fields(body: BaseModel) -> dict[str, Any]:
    """The fields an operator actually sent (for the audit log); tenant settings hold no secret."""
    return body.model_dump(mode="json", exclude_unset=True)


class TenantCreate(TenantSettingsIn):
    name: str = Field(pattern=TENANT_NAME_PATTERN)


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field("", max_length=100)
    scopes: list[Scope] = Field(default_factory=lambda: list[Scope](["search", "info"]), min_length=1)
    expires_at: datetime | None = Field(None, description="When the key stops working (UTC if no zone).")
    requests_per_minute: int | None = Field(None, ge=1, le=MAX_INT)


class OperatorKeyCreate(BaseModel):
    """An operator key: bound to no tenant, it may do everything under /admin and nothing on /api."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field("", max_length=100)
    expires_at: datetime | None = Field(None, description="When the key stops working (UTC if no zone).")


class KeyRotate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grace_seconds: int = Field(3600, ge=0, le=86_400, description="How long the old key keeps working.")


class TenantOut(BaseModel):
    id: str
    name: str
    status: str
    created_at: datetime
    credits_per_month: int | None = None
    searches_per_day: int | None = None
    requests_per_minute: int | None = None
    max_concurrent_searches: int | None = None
    demo_only: bool = False
    cache_scope: str | None = Field(None, description="null: the gateway's CACHE_SCOPE")
    require_purpose: bool = False


class KeyOut(BaseModel):
    id: str
    tenant_id: str | None = Field(description="null for an operator key")
    name: str
    prefix: str
    last4: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    requests_per_minute: int | None = None


class CreatedKey(KeyOut):
    key: str = Field(description="The clear key, shown this once.")


class RotatedKey(BaseModel):
    new: CreatedKey
    old: KeyOut


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller of an /api route."""

    tenant_id: str
    tenant_name: str
    key_id: str
    scopes: frozenset[str]
    limits: Limits = field(default_factory=Limits)
    key_requests_per_minute: int | None = None
    require_purpose: bool = False
    cache_scope: str | None = None  # the tenant's own result-cache scope; None: CACHE_SCOPE

    @property
    def is_operator_key(self) -> bool:
        """An operator key is bound to no tenant: it reaches /admin, never /api."""
        return not self.tenant_id


class UsageRow(BaseModel):
    """One period's usage. `searches` are submitted non-demo searches; `cache_hits` are searches
    answered without an upstream search of their own (cache hits and attached identical searches),
    `credits_saved` what those would have cost."""

    period: str
    key_id: str | None = Field(None, description="null: the whole tenant")
    searches: int
    demo_searches: int
    credits_charged: int
    credits_refunded: int
    cache_hits: int = 0
    credits_saved: int = 0


class UsageReport(BaseModel):
    tenant_id: str
    tenant: str
    granularity: Literal["day", "month"]
    totals: list[UsageRow]
    by_key: list[UsageRow]
