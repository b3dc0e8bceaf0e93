"""Who is acting on the admin surface, and what that role may touch.

Two roles. An operator (ADMIN_TOKEN, an operator key bound to no tenant, or the command line) may
do everything. A tenant admin (a tenant's key with the `admin` scope) acts inside its own tenant
only: its keys (with scopes no wider than its own), its usage, audit events, rejections and cached
results; never its limits, status, name, cache scope or purpose rule, never a new tenant, never
another tenant. Services take an `Actor` and ask it, so the API and the command line are held to
the same rules in one place. Another tenant's things are "not found", as on /api: a tenant admin
cannot learn what exists outside its tenant.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from app.errors import Forbidden, NotFound

Role = Literal["operator", "tenant_admin"]


@dataclass(frozen=True, slots=True)
class Actor:
    role: Role
    # What the audit log records as the actor: "admin" (ADMIN_TOKEN), "cli", or "key:<id>".
    label: str
    tenant_id: str | None = None  # a tenant admin's own tenant
    key_id: str | None = None
    scopes: frozenset[str] = frozenset()

    @classmethod
    def for_key(cls, key_id: str, tenant_id: str | None, scopes: frozenset[str]) -> Actor:
        """An admin-scoped key's actor: bound to no tenant, an operator; bound to one, its tenant's admin."""
        if tenant_id is None:
            return cls("operator", f"key:{key_id}", key_id=key_id, scopes=scopes)
        return cls("tenant_admin", f"key:{key_id}", tenant_id=tenant_id, key_id=key_id, scopes=scopes)

    @property
    def is_operator(self) -> bool:
        return self.role == "operator"

    def operator_only(self, what: str) -> None:
        """Refuse anything a tenant admin may never do (limits, status, tenants, everything at once)."""
        if not self.is_operator:
            raise Forbidden(f"Only an operator may {what}.")

    def own(self, tenant_id: str | None, what: str = "Tenant") -> None:
        """Refuse a tenant admin anything outside its tenant, as if it did not exist."""
        if not self.is_operator and (tenant_id is None or tenant_id != self.tenant_id):
            raise NotFound(f"{what} not found.")

    def tenant_filter(self, requested: str | None) -> str | None:
        """The tenant a listing is limited to: whatever an operator asked; a tenant admin's own."""
        if self.is_operator:
            return requested
        if requested is not None and requested != self.tenant_id:
            raise NotFound("Tenant not found.")
        return self.tenant_id

    def may_grant(self, scopes: frozenset[str]) -> None:
        """A tenant admin mints keys with no scope it does not hold itself."""
        if not self.is_operator and not scopes <= self.scopes:
            wider = ", ".join(sorted(scopes - self.scopes))
            raise Forbidden(f"A tenant admin cannot grant scopes it does not hold: {wider}.")


# The operator token and the command line: fixed actors.
ADMIN_TOKEN_ACTOR = Actor("operator", "admin")
CLI_ACTOR = Actor("operator", "cli")
