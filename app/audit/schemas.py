"""What /admin/audit answers (documented in the OpenAPI; the pages are rendered as they are read)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class AuditEventOut(BaseModel):
    seq: int
    time: str
    event_id: str
    action: str
    outcome: str = Field(description="ok, rejected or failed")
    code: str | None
    tenant_id: str | None
    key_id: str | None
    actor: str | None = Field(description="admin actions: 'admin', 'key:<id>' or 'cli'")
    id_search: str | None
    images: list[str] | None = Field(description="sha256 of each input image")
    demo: bool | None
    credits_reserved: int
    credits_charged: int
    credits_refunded: int
    cache: str | None
    result_count: int | None
    max_score: float | None
    upstream_ms: int | None
    client_ip: str | None
    user_agent: str | None
    request_id: str | None
    purpose: str | None
    case_id: str | None
    detail: dict[str, Any] | None
    prev_hash: str
    hash: str


class AuditPage(BaseModel):
    events: list[AuditEventOut]
    next_cursor: str | None = Field(description="pass back as `cursor` for the next page; null at the end")
