"""The audit log's tables: one row per event, and the one-row head of the hash chain.

On PostgreSQL `audit_events` is range-partitioned by month on `time` (created by migration 0005
in raw SQL; this model describes its columns for queries). The primary key includes the
partition column, as PostgreSQL requires.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, UTCDateTime

# Outcomes: the call did what was asked, was refused by the gateway (auth, quota, bad input,
# unavailable), or the search it records ended in an upstream failure.
OK, REJECTED, FAILED = "ok", "rejected", "failed"
# Caps on what a caller may make us store.
MAX_PURPOSE, MAX_CASE_ID, MAX_USER_AGENT = 200, 100, 256


class AuditEvent(Base):
    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    time: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(16))
    code: Mapped[str | None] = mapped_column(String(64))
    tenant_id: Mapped[str | None] = mapped_column(String(32))
    key_id: Mapped[str | None] = mapped_column(String(32))
    actor: Mapped[str | None] = mapped_column(String(64))
    id_search: Mapped[str | None] = mapped_column(String(64))
    images: Mapped[list[str] | None] = mapped_column(JSON)
    demo: Mapped[bool | None] = mapped_column(Boolean)
    credits_reserved: Mapped[int] = mapped_column(Integer)
    credits_charged: Mapped[int] = mapped_column(Integer)
    credits_refunded: Mapped[int] = mapped_column(Integer)
    cache: Mapped[str | None] = mapped_column(String(16))
    result_count: Mapped[int | None] = mapped_column(Integer)
    max_score: Mapped[float | None] = mapped_column(Float)
    upstream_ms: Mapped[int | None] = mapped_column(Integer)
    client_ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(MAX_USER_AGENT))
    request_id: Mapped[str | None] = mapped_column(String(64))
    purpose: Mapped[str | None] = mapped_column(String(MAX_PURPOSE))
    case_id: Mapped[str | None] = mapped_column(String(MAX_CASE_ID))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditChain(Base):
    """The chain's head (last seq and hash), locked by every append so concurrent writers on any
    number of replicas extend one chain; and the anchor verification starts from once retention
    has dropped the oldest events."""

    __tablename__ = "audit_chain"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    anchor_seq: Mapped[int] = mapped_column(BigInteger)
    anchor_hash: Mapped[str] = mapped_column(String(64))
