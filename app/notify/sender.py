"""Delivers due notifications from the outbox: claim a row, POST it signed, record the attempt.

A claim is a lease (twice the webhook timeout): a sender killed mid-delivery leaves a claim that
expires, and the next sender (another replica, or this one restarted) delivers the same row with
the same idempotency id. Receivers therefore see each notification at least once, and dedupe on id.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

import httpx
import orjson

from app.clock import Clock
from app.db import Database
from app.notify import repository as repo
from app.notify.models import DELIVERED, FAILED, BudgetNotification, BudgetWebhook, DeliveryAttempt
from app.notify.signing import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, sign, signing_secret

log = logging.getLogger("facecheck_gateway.notify")

EVENT = "budget.threshold"
_MAX_BACKOFF_SECONDS = 3600.0
_BATCH = 20


@dataclass(frozen=True)
class DeliveryPolicy:
    timeout_seconds: float
    max_attempts: int
    retry_seconds: float  # the first retry's wait; doubled after each failure, at most an hour

    def backoff(self, attempts: int) -> float:
        return min(self.retry_seconds * 2.0 ** (attempts - 1), _MAX_BACKOFF_SECONDS)


def payload(note: BudgetNotification, tenant: str) -> bytes:
    return orjson.dumps({
        "id": note.id, "type": EVENT, "tenant": tenant, "tenant_id": note.tenant_id, "period": note.period,
        "threshold": note.threshold, "credits_used": note.credits_used, "credits_budget": note.credits_budget,
        "created_at": note.created_at.isoformat(),
    })  # fmt: skip


class Sender:
    def __init__(self, db: Database, http: httpx.AsyncClient, server_secret: bytes, clock: Clock,
                 policy: DeliveryPolicy) -> None:  # fmt: skip
        self._db = db
        self._http = http
        self._secret = server_secret
        self._clock = clock
        self._policy = policy

    async def close(self) -> None:
        await self._http.aclose()

    async def deliver_due(self) -> int:
        """Send what is due and not claimed by a live sender; how many were delivered."""
        async with self._db.transaction() as session:
            ids = await repo.due(session, self._clock.now(), _BATCH)
        delivered = 0
        for notification_id in ids:
            delivered += await self._deliver(notification_id)
        return delivered

    async def _deliver(self, notification_id: str) -> bool:
        token = secrets.token_hex(16)
        now = self._clock.now()
        lease = timedelta(seconds=2 * self._policy.timeout_seconds)
        async with self._db.transaction() as session:
            if not await repo.claim(session, notification_id, token, now, now + lease):
                return False  # another sender has it, or had it first
            found = await repo.claimed(session, notification_id)
        if found is None:
            return False
        note, tenant, hook = found
        status_code, error = await self._post(note, tenant, hook)
        ok = status_code is not None and 200 <= status_code < 300
        now = self._clock.now()
        values: dict[str, object]
        if ok:
            values = {"status": DELIVERED, "delivered_at": now}
        elif hook is None or note.attempts >= self._policy.max_attempts:
            values = {"status": FAILED}
        else:
            values = {"next_attempt_at": now + timedelta(seconds=self._policy.backoff(note.attempts))}
        attempt = DeliveryAttempt(notification_id=note.id, tenant_id=note.tenant_id, attempt=note.attempts, at=now,
                                  status_code=status_code, outcome=DELIVERED if ok else FAILED, error=error)
        async with self._db.transaction() as session:
            await repo.finish(session, note.id, token, values, attempt)
        if not ok:  # never the URL or the secret: the id says which notification
            log.warning("budget webhook attempt failed", extra={"notification": note.id, "attempt": note.attempts,
                                                                 "reason": error})
        return ok

    async def _post(self, note: BudgetNotification, tenant: str,
                    hook: BudgetWebhook | None) -> tuple[int | None, str | None]:  # fmt: skip
        if hook is None:
            return None, "no webhook configured"
        body = payload(note, tenant)
        secret = signing_secret(self._secret, hook.secret_salt)
        signature = sign(secret, int(self._clock.now().timestamp()), body)
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: signature, IDEMPOTENCY_HEADER: note.id,
                   "User-Agent": "facecheck-gateway-webhooks"}
        try:
            response = await self._http.post(hook.url, content=body, headers=headers,
                                             timeout=self._policy.timeout_seconds)
        except httpx.TimeoutException:
            return None, "timeout"
        except httpx.HTTPError as exc:
            return None, f"transport error ({type(exc).__name__})"
        if 200 <= response.status_code < 300:
            return response.status_code, None
        return response.status_code, f"HTTP {response.status_code}"
