"""Console sign-in and sessions: server-side rows any replica can read, a cookie holding only a
random id (stored hashed), a CSRF token derived from it, and an idle timeout.

Signing in goes through the same authenticator as /admin, so a wrong key or token counts toward
the same brute-force brake, and neither is kept anywhere once the session exists. A session signed in
with a key gets its actor rebuilt from that key on every request: a key revoked, expired, stripped of
`admin` or of a suspended tenant ends the session, and a change of scopes applies at once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from app.actors import Actor
from app.clock import Clock
from app.console import repository as repo
from app.console.models import LINK, SESSION, ConsoleSession
from app.db import Database
from app.errors import InvalidToken
from app.tenants.auth import Authenticator

WELCOME_ACTOR = "welcome-link"


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class SignedIn:
    actor: Actor
    tenant_name: str | None = None  # a tenant admin's tenant, as it is named now

    @property
    def display(self) -> str:
        return "operator" if self.actor.is_operator else f"admin of {self.tenant_name}"


class ConsoleSessions:
    def __init__(self, db: Database, auth: Authenticator, secret: bytes, clock: Clock, *, idle_seconds: float,
                 link_seconds: float) -> None:
        self._db = db
        self._auth = auth
        self._secret = secret
        self._clock = clock
        self._idle = timedelta(seconds=idle_seconds)
        self._link = timedelta(seconds=link_seconds)
        # Writing last_seen_at on every page would be a write per click; a fraction of the timeout is enough.
        self._touch_after = min(timedelta(seconds=60), self._idle / 4)

    async def sign_in(self, token: str, address: str) -> str:
        """ADMIN_TOKEN or an admin-scoped key; the new session's id (for the cookie)."""
        actor = await self._auth.admin(token, address)  # InvalidToken, Forbidden or RateLimited
        return await self._open(actor, SESSION)

    async def redeem(self, token: str, address: str) -> str:
        """Trade a link's token for a session, once; a wrong or used token counts as a failed sign-in."""
        await self._auth.refuse_if_braked(address)
        async with self._db.transaction() as session:
            row = await repo.get(session, _hash(token), LINK)
            fresh = row is not None and row.created_at > self._clock.now() - self._link
            taken = row is not None and await repo.take(session, row.id_hash, LINK)
        if row is None or not fresh or not taken:
            await self._auth.count_failure(address)
            raise InvalidToken("This sign-in link is not valid (each link works once).")
        return await self._open(Actor("operator", row.actor), SESSION)

    async def current(self, session_id: str | None) -> SignedIn | None:
        """The signed-in actor, or None when there is no session, it sat idle too long, or its key
        stopped working. Seen now, so the idle clock restarts."""
        if not session_id:
            return None
        id_hash = _hash(session_id)
        now = self._clock.now()
        async with self._db.transaction() as session:
            row = await repo.get(session, id_hash, SESSION)
            if row is None:
                return None
            key = None if row.key_id is None else await repo.working_key(session, row.key_id, now)
            if row.last_seen_at <= now - self._idle or (row.key_id is not None and key is None):
                await repo.take(session, id_hash, SESSION)
                return None
            if now - row.last_seen_at >= self._touch_after:
                await repo.touch(session, id_hash, now)
        if row.key_id is None or key is None:  # ADMIN_TOKEN or a sign-in link
            return SignedIn(Actor("operator", row.actor))
        return SignedIn(Actor.for_key(row.key_id, key.tenant_id, key.scopes), key.tenant_name)

    async def sign_out(self, session_id: str) -> None:
        async with self._db.transaction() as session:
            await repo.take(session, _hash(session_id), SESSION)

    def csrf_token(self, session_id: str) -> str:
        """Bound to the session, so nothing more is stored and every replica agrees."""
        return hmac.new(self._secret, b"console-csrf:" + session_id.encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, session_id: str, presented: str | None) -> bool:
        return bool(presented) and hmac.compare_digest(self.csrf_token(session_id), presented or "")

    async def _open(self, actor: Actor, kind: str) -> str:
        return await _open(self._db, self._clock, actor, kind, self._idle)


async def new_link(db: Database, clock: Clock, link_seconds: float) -> str:
    """A one-time sign-in link's token for an operator (printed by `serve` on the embedded default)."""
    return await _open(db, clock, Actor("operator", WELCOME_ACTOR), LINK, timedelta(seconds=link_seconds))


async def _open(db: Database, clock: Clock, actor: Actor, kind: str, lifetime: timedelta) -> str:
    """A new row of `kind`; rows of that kind past `lifetime` are cleared on the way. The tenant and
    scopes are recorded as at sign-in; requests go by the key as it is then (see `current`)."""
    clear = secrets.token_urlsafe(32)
    now = clock.now()
    async with db.transaction() as session:
        await repo.expire_idle(session, kind, now - lifetime)
        key = None if actor.key_id is None else await repo.working_key(session, actor.key_id, now)
        await repo.add(session, ConsoleSession(
            id_hash=_hash(clear), kind=kind, actor=actor.label, tenant_id=actor.tenant_id,
            tenant_name=key.tenant_name if key else None, key_id=actor.key_id, scopes=",".join(sorted(actor.scopes)),
            created_at=now, last_seen_at=now,
        ))  # fmt: skip
    return clear
