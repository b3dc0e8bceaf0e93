"""The budget check: finds thresholds crossed and publishes how much of each budget is used.

Credits charged come from the search ledger, which sits above this package: the composition hands
it in as `charged` (month, tenant ids or None for all -> credits charged per tenant id). Each
crossing becomes one outbox row, unique per (tenant, period, threshold), so it exists once however
many replicas see it.

The full pass (every budget, for the gauge) runs on a timer. The quick pass, run soon after a
search is charged, looks only at tenants with a webhook and a threshold not yet notified this
month: usually none, so it costs one small query.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable

from app.clock import Clock
from app.db import Database
from app.notify import repository as repo
from app.notify.models import PENDING
from app.notify.service import parse_thresholds
from app.observability import metrics
from app.quotas.policy import month_of

ChargedByTenant = Callable[[str, list[str] | None], Awaitable[dict[str, int]]]


class BudgetCheck:
    def __init__(self, db: Database, clock: Clock, charged: ChargedByTenant) -> None:
        self._db = db
        self._clock = clock
        self._charged = charged

    async def run(self, *, full: bool = True) -> int:
        """One pass; the number of thresholds found crossed (new or not)."""
        now = self._clock.now()
        period = month_of(now)
        async with self._db.transaction() as session:
            if full:
                for name in await repo.active_tenant_names(session):
                    metrics.tenant_series(name)
            budgets = await repo.budgets(session, with_webhook=not full)
            if not full:  # only tenants with a threshold still to notify
                done = await repo.notified(session, period, [t.id for t, _ in budgets])
                budgets = [(t, h) for t, h in budgets if h is not None and any(
                    (t.id, n) not in done for n in parse_thresholds(h.thresholds))]  # fmt: skip
        if not budgets:
            return 0
        charged = await self._charged(period, None if full else [t.id for t, _ in budgets])
        rows: list[dict[str, object]] = []
        for tenant, hook in budgets:
            budget, used = tenant.credits_per_month or 0, charged.get(tenant.id, 0)
            if budget == 0:  # a zero budget blocks spending on purpose: nothing to warn about
                continue
            metrics.TENANT_BUDGET_USED.labels(tenant=tenant.name).set(used / budget)
            if hook is None:
                continue
            rows += [
                {"id": secrets.token_hex(16), "tenant_id": tenant.id, "period": period, "threshold": threshold,
                 "credits_used": used, "credits_budget": budget, "created_at": now, "status": PENDING,
                 "attempts": 0, "next_attempt_at": now}
                for threshold in parse_thresholds(hook.thresholds)
                if used * 100 >= threshold * budget
            ]  # fmt: skip
        if rows:
            async with self._db.transaction() as session:
                await repo.add_notifications(session, rows)
        return len(rows)
