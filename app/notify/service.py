"""Budget webhooks: set, show, remove, and the delivery log. The admin API and the CLI call this.

An operator acts on any tenant's webhook, a tenant admin on its own tenant's only (another
tenant's is "not found"; see app/actors.py)."""

from __future__ import annotations

import secrets

from app.actors import Actor
from app.clock import Clock
from app.db import Database
from app.errors import NotFound
from app.notify import repository as repo
from app.notify.models import BudgetWebhook
from app.notify.schemas import AttemptOut, DeliveryOut, WebhookIn, WebhookOut
from app.notify.signing import signing_secret
from app.tenants.lookup import existing_tenant


def parse_thresholds(text: str) -> list[int]:
    return [int(t) for t in text.split(",") if t]


class NotifyService:
    def __init__(self, db: Database, server_secret: bytes, clock: Clock) -> None:
        self._db = db
        self._secret = server_secret
        self._clock = clock

    async def set_webhook(self, actor: Actor, tenant_ref: str, body: WebhookIn) -> WebhookOut:
        """Create or change the webhook; the signing secret is shown when it is new (first set, rotation)."""
        async with self._db.transaction() as session:
            tenant = await existing_tenant(session, tenant_ref)
            actor.own(tenant.id)
            hook = await repo.webhook(session, tenant.id)
            fresh = hook is None or body.rotate_secret
            salt = secrets.token_hex(16) if fresh or hook is None else hook.secret_salt
            hook = BudgetWebhook(tenant_id=tenant.id, url=body.url, thresholds=",".join(map(str, body.thresholds)),
                                 secret_salt=salt, updated_at=self._clock.now())
            await repo.save_webhook(session, hook)
        secret = signing_secret(self._secret, salt) if fresh else None
        return WebhookOut(tenant=tenant.name, tenant_id=tenant.id, url=hook.url, thresholds=body.thresholds,
                          updated_at=hook.updated_at, secret=secret)

    async def get_webhook(self, actor: Actor, tenant_ref: str) -> WebhookOut:
        async with self._db.transaction() as session:
            tenant = await existing_tenant(session, tenant_ref)
            actor.own(tenant.id)
            hook = await repo.webhook(session, tenant.id)
        if hook is None:
            raise NotFound("This tenant has no budget webhook.")
        return WebhookOut(tenant=tenant.name, tenant_id=tenant.id, url=hook.url,
                          thresholds=parse_thresholds(hook.thresholds), updated_at=hook.updated_at)

    async def remove_webhook(self, actor: Actor, tenant_ref: str) -> str:
        """Remove it (notifications still pending then fail); the tenant's id, for the audit."""
        async with self._db.transaction() as session:
            tenant = await existing_tenant(session, tenant_ref)
            actor.own(tenant.id)
            if not await repo.remove_webhook(session, tenant.id):
                raise NotFound("This tenant has no budget webhook.")
        return tenant.id

    async def deliveries(self, actor: Actor, tenant_ref: str, limit: int = 50) -> list[DeliveryOut]:
        async with self._db.transaction() as session:
            tenant = await existing_tenant(session, tenant_ref)
            actor.own(tenant.id)
            rows = await repo.deliveries(session, tenant.id, limit)
        return [
            DeliveryOut(id=n.id, period=n.period, threshold=n.threshold, credits_used=n.credits_used,
                        credits_budget=n.credits_budget, status=n.status, attempts=n.attempts,
                        created_at=n.created_at, delivered_at=n.delivered_at,
                        log=[AttemptOut.model_validate(a) for a in attempts])
            for n, attempts in rows
        ]  # fmt: skip
