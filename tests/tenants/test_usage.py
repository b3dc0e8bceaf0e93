"""Usage by day and by month, per tenant and per key, from the searches the database records; and a
tenant with a search in flight cannot be deleted."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from app.facecheck.models import FINISHED, SUBMITTED, Search
from app.quotas.policy import COMMITTED, HELD, REFUNDED
from tests.fixtures.admin_gateway import Gateway

RUN = 0


def record(gateway: Gateway, tenant_id: str, key_id: str, day: str, reservation: str, credits: int,
           *, demo: bool = False, status: str = FINISHED) -> None:
    global RUN
    RUN += 1
    row = Search(id=f"s{RUN}", upstream_id=f"u{RUN}", tenant_id=tenant_id, key_id=key_id, status=status, demo=demo,
                 images=[], created_at=datetime.now(UTC), reservation=reservation, credits_reserved=credits,
                 reserved_month=day[:7], reserved_day=day)  # fmt: skip

    async def insert() -> None:
        async with gateway.resources.db.transaction() as session:
            session.add(row)

    assert gateway.client.portal is not None
    gateway.client.portal.call(insert)


def rows(report: dict[str, Any], part: str) -> list[tuple[Any, ...]]:
    return [(r["period"], r["key_id"], r["searches"], r["demo_searches"], r["credits_charged"],
             r["credits_refunded"], r["cache_hits"], r["credits_saved"]) for r in report[part]]


def test_usage_by_day_and_month_per_tenant_and_key(gateway: Gateway) -> None:
    tenant = gateway.tenant("acme")
    a, b = gateway.key("acme")["id"], gateway.key("acme")["id"]
    other = gateway.tenant("other")
    record(gateway, tenant["id"], a, "2026-10-31", COMMITTED, 3)
    record(gateway, tenant["id"], a, "2026-11-01", COMMITTED, 3)
    record(gateway, tenant["id"], a, "2026-11-01", REFUNDED, 3)
    record(gateway, tenant["id"], b, "2026-11-01", COMMITTED, 0, demo=True)
    record(gateway, tenant["id"], b, "2026-11-02", COMMITTED, 3)
    record(gateway, other["id"], "zz", "2026-11-01", COMMITTED, 3)

    daily = gateway.admin("GET", "/admin/tenants/acme/usage").json()
    assert daily["granularity"] == "day" and daily["tenant"] == "acme"
    assert rows(daily, "totals") == [
        ("2026-11-02", None, 1, 0, 3, 0, 0, 0),
        ("2026-11-01", None, 2, 1, 3, 3, 0, 0),
        ("2026-10-31", None, 1, 0, 3, 0, 0, 0),
    ]
    assert ("2026-11-01", b, 0, 1, 0, 0, 0, 0) in rows(daily, "by_key")

    monthly = gateway.admin("GET", f"/admin/tenants/{tenant['id']}/usage", params={"by": "month"}).json()
    assert rows(monthly, "totals") == [("2026-11", None, 3, 1, 6, 3, 0, 0), ("2026-10", None, 1, 0, 3, 0, 0, 0)]
    only_a = gateway.admin("GET", "/admin/tenants/acme/usage", params={"by": "month", "key_id": a}).json()
    assert rows(only_a, "by_key") == [("2026-11", a, 2, 0, 3, 3, 0, 0), ("2026-10", a, 1, 0, 3, 0, 0, 0)]


def test_a_tenant_with_a_search_in_flight_cannot_be_deleted(gateway: Gateway) -> None:
    tenant = gateway.tenant("busy")
    key = gateway.key("busy")["id"]
    record(gateway, tenant["id"], key, "2026-11-23", COMMITTED, 3)
    record(gateway, tenant["id"], key, "2026-11-23", HELD, 3, status=SUBMITTED)
    response = gateway.admin("DELETE", "/admin/tenants/busy")
    assert response.status_code == 409 and response.json()["code"] == "TENANT_BUSY"
    assert gateway.admin("GET", "/admin/tenants/busy").status_code == 200
