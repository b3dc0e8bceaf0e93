"""Admin API input and output for budget webhooks and their delivery log."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

DEFAULT_THRESHOLDS = (50, 80, 100)


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=2000, description="http(s) URL that receives the tenant's budget notifications")
    thresholds: list[int] = Field(default=list(DEFAULT_THRESHOLDS), min_length=1, max_length=10,
                                  description="percents of the monthly budget, each notified once a month")
    rotate_secret: bool = Field(False, description="derive a new signing secret (the old one stops at once)")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http or https URL with a host")
        return value

    @field_validator("thresholds")
    @classmethod
    def _thresholds(cls, value: list[int]) -> list[int]:
        if any(not 1 <= t <= 100 for t in value):
            raise ValueError("each threshold is a percent from 1 to 100")
        return sorted(set(value))


class WebhookOut(BaseModel):
    tenant: str
    tenant_id: str
    url: str
    thresholds: list[int]
    updated_at: datetime
    secret: str | None = Field(None, description="the signing secret, shown only when it is new")


class AttemptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    attempt: int
    at: datetime
    outcome: str
    status_code: int | None
    error: str | None


class DeliveryOut(BaseModel):
    id: str = Field(description="the idempotency id the receiver sees")
    period: str
    threshold: int
    credits_used: int
    credits_budget: int
    status: str = Field(description="pending, delivered or failed")
    attempts: int
    created_at: datetime
    delivered_at: datetime | None
    log: list[AttemptOut]
