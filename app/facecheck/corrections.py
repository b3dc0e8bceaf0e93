"""What happens to a search outside the normal run, each recorded in the audit log with the change:
upstream delivering a search the gateway had refunded (charged after all, never a free result), a
search upstream never settled before the deadline (flagged `unresolved`, its credits still held),
and an operator's decision on such a search (charged or refunded: its one end).

Database changes only, each in one transaction with its event. The quota store follows: a correction
recounts it (the caller does), an operator's decision is settled in it by the tracker's next
reconciliation, so the command line, which has no quota store, settles the same way as the API.
"""

from __future__ import annotations

import logging

from app.audit.writer import AuditWriter
from app.clock import Clock
from app.db import Database
from app.errors import NotFound, NotUnresolved
from app.facecheck import audit_events
from app.facecheck import repository as repo
from app.facecheck.models import FAILED, FINISHED, SUBMITTED, UNCERTAIN, UNRESOLVED, Search
from app.quotas.policy import COMMITTED, REFUNDED
from app.upstream.client import Body

log = logging.getLogger("facecheck_gateway.searches")
OPERATOR_REFUND = "OPERATOR_REFUND"


async def charge_after_refund(db: Database, audit: AuditWriter, clock: Clock, search: Search, body: Body) -> bool:
    """Upstream delivered a search the gateway had refunded: charge it and record the correction.
    True when this call made the correction (the caller recounts the quota store)."""
    async with db.transaction() as session:
        moved = await repo.correct_to_committed(session, search.id, clock.now())
        if moved:
            await audit_events.corrected(audit, search, body, session=session)
    if moved:
        search.status, search.reservation = FINISHED, COMMITTED
        log.warning("a refunded search was delivered upstream; charged", extra={"credits": search.credits_reserved})
    return moved


async def flag_unresolved(db: Database, audit: AuditWriter, search: Search) -> None:
    """Still unknown past the deadline: flagged for an operator, never refunded on a guess."""
    async with db.transaction() as session:
        moved = await repo.transition(session, search.id, (SUBMITTED, UNCERTAIN), status=UNRESOLVED)
        if moved:
            await audit_events.unresolved(audit, search, session=session)
    if moved:
        search.status = UNRESOLVED
        log.warning("search unresolved past the deadline; an operator must settle it")


async def settle_unresolved(db: Database, audit: AuditWriter, clock: Clock, id_search: str, *, charge: bool
                            ) -> Search:
    """An operator's decision on an unresolved search: charged or refunded, recorded as its end."""
    async with db.transaction() as session:
        search = await repo.by_id(session, id_search)
        if search is None:
            raise NotFound()
        status, code = (FINISHED, None) if charge else (FAILED, OPERATOR_REFUND)
        if not await repo.transition(session, search.id, (UNRESOLVED,), status=status, error_code=code,
                                     finished_at=clock.now()):
            raise NotUnresolved()
        await repo.settle_reservation(session, search.id, COMMITTED if charge else REFUNDED)
        search.status, search.error_code = status, code
        await audit_events.ended(audit, search, status, None, code, result_urls=False, session=session)
    return search
