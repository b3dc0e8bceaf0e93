"""Imports every table module so Base.metadata knows the whole schema (for Alembic)."""

from app.audit.models import AuditChain, AuditEvent
from app.facecheck.models import Search
from app.notify.models import BudgetNotification, BudgetWebhook, DeliveryAttempt
from app.tenants.models import ApiKey, Tenant

__all__ = ["ApiKey", "AuditChain", "AuditEvent", "BudgetNotification", "BudgetWebhook", "DeliveryAttempt", "Search",
           "Tenant"]
