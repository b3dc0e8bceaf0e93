"""Reading the console's tenant forms: blank limits mean unlimited, errors keyed by field."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from starlette.datastructures import FormData

from app.console.web import text
from app.tenants.schemas import LimitsIn, TenantSettingsIn

LIMIT_FIELDS = ("credits_per_month", "searches_per_day", "requests_per_minute", "max_concurrent_searches")
SCOPES = ("search", "info", "admin")
NAME_RULE = "1-100 characters: letters, digits, '.', '_' or '-', starting with a letter or digit."


def limits(form: FormData) -> dict[str, Any]:
    """Blank means unlimited; anything else must be a whole number (the model checks the range)."""
    values: dict[str, Any] = {name: (text(form, name) or None) for name in LIMIT_FIELDS}
    values["demo_only"] = form.get("demo_only") == "on"
    return values


def field_errors(exc: ValidationError) -> dict[str, str]:
    return {str(e["loc"][0]) if e["loc"] else "form": str(e["msg"]) for e in exc.errors()}


def new_tenant(form: FormData) -> tuple[dict[str, Any], LimitsIn | None, dict[str, str]]:
    """The create form's values (to show again), its limits, and the problem with each field."""
    values = {"name": text(form, "name"), **limits(form)}
    errors: dict[str, str] = {}
    try:
        TenantSettingsIn.model_validate({"name": values["name"]})
    except ValidationError:
        errors["name"] = NAME_RULE
    if not values["name"]:
        errors["name"] = "Enter a name."
    parsed = None
    try:
        parsed = LimitsIn.model_validate({k: v for k, v in values.items() if k != "name"})
    except ValidationError as exc:
        errors.update(field_errors(exc))
    return values, parsed, errors


def new_key(form: FormData) -> tuple[str, frozenset[str], dict[str, str]]:
    scopes = frozenset(s for s in SCOPES if form.get(f"scope_{s}") == "on")
    name = text(form, "key_name")
    errors: dict[str, str] = {}
    if not scopes:
        errors["scopes"] = "Choose at least one scope."
    if len(name) > 100:
        errors["key_name"] = "At most 100 characters."
    return name, scopes, errors
