"""Tenants and their API keys. Keys are stored only as HMAC-SHA256 digests."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db.base import Base, UTCDateTime


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Limits; NULL means unlimited.
    credits_per_month: Mapped[int | None] = mapped_column(Integer, default=None)
    searches_per_day: Mapped[int | None] = mapped_column(Integer, default=None)
    requests_per_minute: Mapped[int | None] = mapped_column(Integer, default=None)
    max_concurrent_searches: Mapped[int | None] = mapped_column(Integer, default=None)
    demo_only: Mapped[bool] = mapped_column(Boolean, default=False)
    # The result cache's sharing scope for this tenant ("none", "tenant", "global"); NULL: CACHE_SCOPE.
    cache_scope: Mapped[str | None] = mapped_column(String(16), default=None)
    # Stored for the audit issue; nothing acts on it yet.
    require_purpose: Mapped[bool] = mapped_column(Boolean, default=False)

    keys: Mapped[list[ApiKey]] = relationship(back_populates="tenant", lazy="raise")


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    # NULL: an operator key, bound to no tenant (only an operator creates one).
    tenant_id: Mapped[str | None] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Enough to recognise a key in a listing, never enough to use it.
    prefix: Mapped[str] = mapped_column(String(16))
    last4: Mapped[str] = mapped_column(String(4))
    scopes: Mapped[str] = mapped_column(String(100), default="search,info")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # An optional per-key rate limit, on top of the tenant's.
    requests_per_minute: Mapped[int | None] = mapped_column(Integer, default=None)

    tenant: Mapped[Tenant | None] = relationship(back_populates="keys", lazy="raise")
