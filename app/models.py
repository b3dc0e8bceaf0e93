"""Imports every table module so Base.metadata knows the whole schema (for Alembic)."""

from app.facecheck.models import Search
from app.tenants.models import ApiKey, Tenant

__all__ = ["ApiKey", "Search", "Tenant"]
