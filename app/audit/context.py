"""What the audit log records about the current call, gathered as the call goes.

The audit middleware starts a record from the request (address, user agent, purpose headers);
authentication adds who called; the writer marks it once an event has been written, so a call
that ends in an error is recorded as a rejection only if nothing else recorded it.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from dataclasses import dataclass

from app.audit.models import MAX_CASE_ID, MAX_PURPOSE, MAX_USER_AGENT


@dataclass(slots=True)
class CallFacts:
    client_ip: str
    user_agent: str | None
    request_id: str | None
    purpose: str | None
    case_id: str | None
    tenant_id: str | None = None
    key_id: str | None = None
    actor: str | None = None
    recorded: bool = False


_current: ContextVar[CallFacts | None] = ContextVar("audit_call", default=None)


def clip(value: str | None, limit: int) -> str | None:
    value = (value or "").strip()
    return value[:limit] if value else None


def begin(client_ip: str, user_agent: str | None, request_id: str | None, purpose: str | None,
          case_id: str | None) -> tuple[CallFacts, Token[CallFacts | None]]:
    facts = CallFacts(client_ip, clip(user_agent, MAX_USER_AGENT), request_id, clip(purpose, MAX_PURPOSE),
                      clip(case_id, MAX_CASE_ID))
    return facts, _current.set(facts)


def end(token: Token[CallFacts | None]) -> None:
    _current.reset(token)


def current() -> CallFacts | None:
    return _current.get()


def note_caller(tenant_id: str | None = None, key_id: str | None = None, actor: str | None = None) -> None:
    """Who is calling, once authentication knows (so a later rejection names them)."""
    facts = _current.get()
    if facts is not None:
        facts.tenant_id, facts.key_id, facts.actor = tenant_id, key_id, actor


def purpose() -> str | None:
    facts = _current.get()
    return facts.purpose if facts is not None else None
