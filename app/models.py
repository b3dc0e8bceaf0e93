"""Imports every table module so Base.metadata knows the whole schema (for Alembic)."""

from app.audit.models import AuditChain, AuditEvent
from app.console.models import ConsoleSession
from app.facecheck.models import Search
from app.tenants.models import ApiKey, Tenant

__all__ = ["ApiKey", "AuditChain", "AuditEvent", "ConsoleSession", "Search", "Tenant"]
