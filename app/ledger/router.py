"""GET /admin/ledger: the per-day reconciliation of upstream's balance with the gateway's charges."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.deps import Admin, LedgerDep
from app.ledger.schemas import LedgerReport
from app.openapi import ADMIN_ERRORS

router = APIRouter(prefix="/admin", tags=["Admin: ledger"], responses=ADMIN_ERRORS)


@router.get("/ledger", summary="Credits upstream's balance dropped by against credits the gateway charged and holds",
            description="Per UTC day, newest last. See docs/money.md for what drift means.")
async def ledger(service: LedgerDep, _: Admin,
                 days: Annotated[int | None, Query(ge=1, le=366)] = None) -> LedgerReport:
    return await service.report(days)
