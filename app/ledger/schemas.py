"""What /admin/ledger and `facecheck-gateway ledger` report."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel

if TYPE_CHECKING:
    from app.facecheck.models import Search


class LedgerDay(BaseModel):
    """One UTC day. `drift` = upstream_spent - (gateway_charged + gateway_held): positive when
    FaceCheck took credits the gateway did not account for (a refund of a search upstream ran, another
    user of the same FaceCheck account), negative when the gateway holds or charged credits upstream
    never took (an in-flight submit, a charge the next balance read has not seen yet, a top-up)."""

    day: str
    upstream_spent: int
    balance_reads: int
    gateway_charged: int
    gateway_held: int
    drift: int
    uncertain: int
    unresolved: int


class UnsettledSearch(BaseModel):
    """A search whose outcome upstream has not yet told the gateway: still `submitting` (a claim whose
    answer is awaited or was lost), `uncertain`, or `unresolved` past the deadline."""

    id_search: str
    tenant_id: str
    status: str
    submitted_at: datetime | None
    credits_reserved: int


class LedgerReport(BaseModel):
    since: str
    days: list[LedgerDay]
    upstream_spent: int
    gateway_charged: int
    gateway_held: int
    drift: int
    unsettled: list[UnsettledSearch]


class SettleRequest(BaseModel):
    """An operator's decision on an unresolved search: `charge` when upstream ran it, else refunded."""

    charge: bool


class SettledSearch(BaseModel):
    id_search: str
    tenant_id: str
    status: str
    credits_charged: int

    @classmethod
    def of(cls, search: Search) -> SettledSearch:
        charged = search.credits_reserved if search.status == "finished" else 0
        return cls(id_search=search.id, tenant_id=search.tenant_id, status=search.status, credits_charged=charged)
