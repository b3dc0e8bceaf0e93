"""What the tenant service hands out: never a key hash, and a clear key only at creation."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.quotas.policy import Limits


class LimitsIn(BaseModel):
    """Tenant limits as operators set them; a field left out is unchanged (on update) or unlimited."""

    model_config = ConfigDict(extra="forbid")

    credits_per_month: int | None = Field(None, ge=0)
    searches_per_day: int | None = Field(None, ge=0)
    requests_per_minute: int | None = Field(None, ge=1)
    max_concurrent_searches: int | None = Field(None, ge=1)
    demo_only: bool | None = None


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


class KeyOut(BaseModel):
    id: str
    tenant_id: str
    name: str
    prefix: str
    last4: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    requests_per_minute: int | None = None


class CreatedKey(KeyOut):
    key: str


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller of an /api route."""

    tenant_id: str
    tenant_name: str
    key_id: str
    scopes: frozenset[str]
    limits: Limits = field(default_factory=Limits)
    key_requests_per_minute: int | None = None
