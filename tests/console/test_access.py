"""Who a console session acts as (rebuilt from its key; the rules are the services', see
tests/tenants/test_roles.py and the console's own tests); and the usage chart the console draws."""

from __future__ import annotations

from app.actors import Actor
from app.console.charts import usage_chart
from app.console.sessions import SignedIn
from app.tenants.schemas import UsageRow


def test_a_key_bound_to_no_tenant_is_an_operator_and_a_tenant_key_its_tenants_admin() -> None:
    operator = Actor.for_key("k0", None, frozenset({"admin"}))
    assert operator.is_operator and operator.label == "key:k0" and operator.tenant_id is None
    admin = Actor.for_key("k1", "t1", frozenset({"admin", "info"}))
    assert not admin.is_operator and admin.tenant_id == "t1" and admin.label == "key:k1"
    assert admin.scopes == {"admin", "info"}
    assert SignedIn(admin, "team").display == "admin of team"
    assert SignedIn(Actor("operator", "admin")).display == "operator"


def test_the_usage_chart_draws_one_bar_per_period_and_escapes_its_text() -> None:
    rows = [UsageRow(period=p, searches=1, demo_searches=0, credits_charged=c, credits_refunded=r)
            for p, c, r in (("2026-11-02", 9, 3), ("2026-11-01", 3, 0))]
    svg = str(usage_chart(rows, "<credits>"))
    assert svg.count('class="bar"') == 2 and "&lt;credits&gt;" in svg and "<credits>" not in svg
    assert svg.index("2026-11-01") < svg.index("2026-11-02") and "6 credits" in svg
    assert "No usage yet" in str(usage_chart([], "empty"))
