"""GET /admin/ledger: the per-day reconciliation of upstream's balance with the gateway's charges."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.deps import Admin, LedgerDep
from app.ledger.schemas import LedgerReport, SettledSearch, SettleRequest
from app.openapi import ADMIN_ERRORS

router = APIRouter(prefix="/admin", tags=["Admin: ledger"], responses=ADMIN_ERRORS)


@router.get("/ledger", summary="Credits upstream's balance dropped by against credits the gateway charged and holds",
            description="Per UTC day, newest last. See docs/money.md for what drift means.")
async def ledger(service: LedgerDep, actor: Admin,
                 days: Annotated[int | None, Query(ge=1, le=366)] = None) -> LedgerReport:
    return await service.report(actor, days)


@router.post("/ledger/searches/{id_search}/settle", summary="Settle an unresolved search: charge it or refund it",
             description="Only a search flagged `unresolved` (upstream never said what became of it) can be "
                         "settled this way; the decision is its one end in the audit log.")
async def settle(id_search: str, decision: SettleRequest, service: LedgerDep, actor: Admin) -> SettledSearch:
    return await service.settle(actor, id_search, charge=decision.charge)
