"""Console sessions, shared by every replica through the database. Only a hash of each id is kept,
so a database dump cannot be replayed as a signed-in browser."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, UTCDateTime

SESSION = "session"
LINK = "link"  # a one-time sign-in link, redeemed once for a session


class ConsoleSession(Base):
    __tablename__ = "console_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), default=SESSION)
    # Who signed in, as the audit log names them ("admin", "key:<id>", "welcome-link").
    actor: Mapped[str] = mapped_column(String(64))
    # The tenant a tenant admin acts for; NULL for an operator.
    tenant_id: Mapped[str | None] = mapped_column(String(32), default=None)
    tenant_name: Mapped[str | None] = mapped_column(String(100), default=None)
    # The key signed in with, re-checked on every request (a revoked key ends its sessions).
    key_id: Mapped[str | None] = mapped_column(String(32), default=None)
    scopes: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
