"""What each console actor may do, decided in one module; and the usage chart it draws."""

from __future__ import annotations

import pytest

from app.console import access
from app.console.access import Actor, actor_for_key
from app.console.charts import usage_chart
from app.errors import Forbidden
from app.tenants.schemas import Principal, UsageRow

OPERATOR = Actor("admin")
TEAM = Actor("key:k1", "t1", "team", "k1", frozenset({"admin", "info"}))


def test_a_key_bound_to_no_tenant_is_an_operator_and_a_tenant_key_its_tenants_admin() -> None:
    assert actor_for_key(Principal("", "", "k0", frozenset({"admin"})), "key:k0").is_operator
    admin = actor_for_key(Principal("t1", "team", "k1", frozenset({"admin"})), "key:k1")
    assert not admin.is_operator and admin.tenant_id == "t1" and admin.label == "admin of team"


def test_operators_may_do_everything() -> None:
    access.require_operator(OPERATOR)
    access.require_tenant(OPERATOR, "any")
    access.grantable(OPERATOR, frozenset({"admin", "search"}))
    assert access.audit_scope(OPERATOR, None) is None and access.audit_scope(OPERATOR, "t9") == "t9"


def test_a_tenant_admin_is_kept_to_its_tenant_and_its_own_scopes() -> None:
    access.require_tenant(TEAM, "t1")
    access.grantable(TEAM, frozenset({"info"}))
    assert access.audit_scope(TEAM, None) == "t1" and access.audit_scope(TEAM, "t1") == "t1"
    with pytest.raises(Forbidden):
        access.require_operator(TEAM)
    with pytest.raises(Forbidden):
        access.require_tenant(TEAM, "t2")
    access.require_tenant_ref(TEAM, "team")
    with pytest.raises(Forbidden):  # refused before any lookup: no telling which tenants exist
        access.require_tenant_ref(TEAM, "no-such-tenant")
    with pytest.raises(Forbidden):
        access.audit_scope(TEAM, "t2")
    with pytest.raises(Forbidden):
        access.grantable(TEAM, frozenset({"search"}))


def test_the_usage_chart_draws_one_bar_per_period_and_escapes_its_text() -> None:
    rows = [UsageRow(period=p, searches=1, demo_searches=0, credits_charged=c, credits_refunded=r)
            for p, c, r in (("2026-11-02", 9, 3), ("2026-11-01", 3, 0))]
    svg = str(usage_chart(rows, "<credits>"))
    assert svg.count('class="bar"') == 2 and "&lt;credits&gt;" in svg and "<credits>" not in svg
    assert svg.index("2026-11-01") < svg.index("2026-11-02") and "6 credits" in svg
    assert "No usage yet" in str(usage_chart([], "empty"))
