"""Who may see and do what in the console: the one place that decides it.

An actor is an operator (ADMIN_TOKEN, an operator key bound to no tenant, or the first-start link)
or the admin of one tenant (a tenant key with the `admin` scope). Tenant admins act on their own
tenant only: its keys, usage, audit events, rejections and cache; never its limits, status or name,
and never another tenant. Each check raises Forbidden, so a view cannot forget to stop.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.errors import Forbidden
from app.tenants.schemas import Principal


@dataclass(frozen=True, slots=True)
class Actor:
    audit_name: str  # as the audit log's `actor` column names them
    tenant_id: str | None = None  # None: an operator
    tenant_name: str | None = None
    key_id: str | None = None
    scopes: frozenset[str] = frozenset()

    @property
    def is_operator(self) -> bool:
        return self.tenant_id is None

    @property
    def label(self) -> str:
        return "operator" if self.is_operator else f"admin of {self.tenant_name}"


def actor_for_key(principal: Principal, audit_name: str) -> Actor:
    """An admin-scoped key: bound to no tenant, an operator; bound to one, that tenant's admin."""
    if not principal.tenant_id:
        return Actor(audit_name, key_id=principal.key_id)
    return Actor(audit_name, principal.tenant_id, principal.tenant_name, principal.key_id, principal.scopes)


def require_operator(actor: Actor) -> None:
    """The overview, the tenant list, creating, deleting, limits, status, the whole chain."""
    if not actor.is_operator:
        raise Forbidden("Only operators may do this.")


def require_tenant(actor: Actor, tenant_id: str) -> None:
    """A tenant's keys, usage, audit events, rejections and cache."""
    if not actor.is_operator and actor.tenant_id != tenant_id:
        raise Forbidden("You may act on your own tenant only.")


def require_tenant_ref(actor: Actor, tenant_ref: str) -> None:
    """Before any lookup, so a tenant admin cannot tell another tenant that exists from one that does not."""
    if not actor.is_operator and tenant_ref not in (actor.tenant_id, actor.tenant_name):
        raise Forbidden("You may act on your own tenant only.")


def audit_scope(actor: Actor, requested: str | None) -> str | None:
    """The tenant an audit query is limited to: whatever an operator asks, a tenant admin's own."""
    if actor.is_operator:
        return requested
    if requested not in (None, "", actor.tenant_id):
        raise Forbidden("You may read your own tenant's events only.")
    return actor.tenant_id


def grantable(actor: Actor, scopes: frozenset[str]) -> None:
    """A tenant admin hands out no scope wider than its own key's."""
    if not actor.is_operator and not scopes <= actor.scopes:
        raise Forbidden("You may grant only the scopes your own key has.")
