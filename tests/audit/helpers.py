"""Reading the audit log the way an operator would (over /admin/audit), and raw SQL on the
gateway's own database for the tamper and outage tests."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
import requests

from tests.fixtures.services import PostgresServer
from tests.fixtures.stack import Stack


def events(stack: Stack, **filters: Any) -> list[dict[str, Any]]:
    """Every event matching `filters`, oldest first, following the cursor through every page."""
    found: list[dict[str, Any]] = []
    params: dict[str, Any] = {**filters, "limit": 200}
    while True:
        response = stack.admin("GET", "/admin/audit", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        found.extend(body["events"])
        if body["next_cursor"] is None:
            return found[::-1]
        params["cursor"] = body["next_cursor"]


def one(stack: Stack, response: requests.Response) -> dict[str, Any]:
    """The single event recorded for this call (found by the X-Request-ID it answered with)."""
    recorded = events(stack, request_id=response.headers["X-Request-ID"])
    assert len(recorded) == 1, recorded
    return recorded[0]


def request_ids(stack: Stack, tenant_id: str) -> list[str]:
    """The request ids of the tenant's events made by HTTP calls (not its set-up on the command line)."""
    return [e["request_id"] for e in events(stack, tenant_id=tenant_id) if e["actor"] != "cli"]


def ids(stack: Stack, tenant: str) -> tuple[str, str]:
    """(tenant id, id of its first key)."""
    tenant_id = stack.admin("GET", f"/admin/tenants/{tenant}").json()["id"]
    return tenant_id, stack.admin("GET", f"/admin/tenants/{tenant}/keys").json()[0]["id"]


def sql(stack: Stack, statement: str, request: pytest.FixtureRequest) -> str:
    """Run one statement on the gateway's database, behind its back (as a tamperer would)."""
    url = stack.env["DATABASE_URL"]
    if not url:
        with sqlite3.connect(stack.tmp / "data" / "gateway.db") as conn:
            rows = conn.execute(statement).fetchall()
        return "\n".join("|".join("" if v is None else str(v) for v in row) for row in rows)
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.psql(statement, url.rsplit("/", 1)[1])
