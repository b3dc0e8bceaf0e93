"""Imports every table module so Base.metadata knows the whole schema (for Alembic)."""

from app.audit.models import AuditChain, AuditEvent
from app.facecheck.models import Search
from app.tenants.models import ApiKey, Tenant
from app.upstream.models import BalanceRead

__all__ = ["ApiKey", "AuditChain", "AuditEvent", "BalanceRead", "Search", "Tenant"]
