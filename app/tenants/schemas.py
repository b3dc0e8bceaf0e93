"""What the tenant service hands out: never a key hash, and a clear key only at creation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel


class TenantOut(BaseModel):
    id: str
    name: str
    status: str
    created_at: datetime


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


class CreatedKey(KeyOut):
    key: str


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller of an /api route."""

    tenant_id: str
    tenant_name: str
    key_id: str
    scopes: frozenset[str]
