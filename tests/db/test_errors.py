"""Database failures are told apart: a lost connection is SERVICE_UNAVAILABLE (retry later), any
other database error is an INTERNAL_ERROR logged with the request id; query parameters that could
never match (a cursor past 64 bits, a malformed id or date) are refused with 422 before any SQL."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.fixtures.audit_log import sql
from tests.fixtures.services import PostgresServer, wait_for
from tests.fixtures.stack import Stack

BAD_QUERIES = {
    "cursor past 64 bits": ("/admin/audit", {"cursor": str(2**63)}),
    "negative cursor": ("/admin/audit", {"cursor": "-1"}),
    "cursor not a number": ("/admin/audit", {"cursor": "1; DROP TABLE x"}),
    "limit zero": ("/admin/audit", {"limit": "0"}),
    "malformed date": ("/admin/audit", {"since": "yesterday"}),
    "date out of range": ("/admin/audit", {"until": "10000-01-01T00:00:00Z"}),
    "malformed tenant id": ("/admin/audit", {"tenant_id": "a'b"}),
    "rejections without a tenant": ("/admin/audit/rejections", {"since": "2026-01-01T00:00:00Z"}),
    "usage for a malformed key id": ("/admin/tenants/some-tenant/usage", {"key_id": "x" * 40}),
}


@pytest.mark.parametrize("case", list(BAD_QUERIES))
def test_malformed_query_parameters_are_422_before_any_sql(stack: Stack, case: str) -> None:
    path, params = BAD_QUERIES[case]
    response = stack.admin("GET", path, params=params)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "VALIDATION_ERROR"


def test_a_time_without_zone_is_read_as_utc(stack: Stack) -> None:
    response = stack.admin("GET", "/admin/audit", params={"since": "2000-01-01T00:00:00", "limit": "1"})
    assert response.status_code == 200, response.text


@pytest.fixture
def tenants_table_away(stack: Stack, request: pytest.FixtureRequest) -> Iterator[None]:
    """The tenants table renamed behind the gateway's back (a broken migration would do the same)."""
    sql(stack, "ALTER TABLE tenants RENAME TO tenants_away", request)
    try:
        yield
    finally:
        sql(stack, "ALTER TABLE tenants_away RENAME TO tenants", request)


def test_a_statement_error_is_a_logged_internal_error(stack: Stack, tenants_table_away: None) -> None:
    response = stack.admin("GET", "/admin/tenants")
    assert response.status_code == 500, response.text
    assert response.json()["code"] == "INTERNAL_ERROR"
    request_id = response.headers["X-Request-ID"]

    def logged() -> bool:
        for line in stack.gateway.log_path.read_text().splitlines():
            if line.startswith("{"):
                entry = json.loads(line)
                if entry.get("message") == "database error" and entry.get("request_id") == request_id:
                    return bool(entry.get("level") == "error")
        return False

    wait_for(logged, deadline_s=10, what="the database error logged with its request id")


@pytest.mark.parametrize("stack", ["postgres"], indirect=True)  # SQLite has no connection to lose
def test_a_lost_connection_is_service_unavailable(stack: Stack, request: pytest.FixtureRequest) -> None:
    server: PostgresServer = request.getfixturevalue("postgres_server")
    server.stop()
    try:
        response = stack.admin("GET", "/admin/tenants")
        assert response.status_code == 503, response.text
        assert response.json()["code"] == "SERVICE_UNAVAILABLE"
    finally:
        server.start_again()
    wait_for(lambda: stack.admin("GET", "/admin/tenants").status_code == 200, deadline_s=30,
             what="served again once the database is back")
