"""`audit verify` catches a row altered, deleted (anywhere, including the last) or inserted by
hand, naming the first bad event; and passes again once the tampering is undone."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fixtures.audit_log import events, sql
from tests.fixtures.stack import Stack

Events = list[dict[str, Any]]


@pytest.fixture(scope="module")
def chained(stack: Stack) -> list[dict[str, object]]:
    key = stack.new_tenant("tamper")[1]
    for _ in range(6):
        stack.post("/api/info", key)
    recorded = events(stack)
    assert len(recorded) >= 6
    assert stack.cli("audit", "verify").returncode == 0
    return recorded


def _broken(stack: Stack) -> str:
    result = stack.cli("audit", "verify", check=False)
    assert result.returncode == 1, result.stdout
    return result.stderr


def test_an_altered_row_is_named(stack: Stack, chained: Events, request: pytest.FixtureRequest) -> None:
    victim = chained[2]
    sql(stack, f"UPDATE audit_events SET client_ip = '10.6.6.6' WHERE seq = {victim['seq']}", request)
    assert f"seq {victim['seq']} (event {victim['event_id']})" in _broken(stack)
    sql(stack, f"UPDATE audit_events SET client_ip = '{victim['client_ip']}' WHERE seq = {victim['seq']}", request)
    assert stack.cli("audit", "verify").returncode == 0


@pytest.mark.parametrize("position", [3, -1])
def test_a_deleted_row_is_named(
    stack: Stack, chained: Events, request: pytest.FixtureRequest, position: int
) -> None:
    victim = events(stack)[position]
    saved = sql(stack, f"SELECT event_id FROM audit_events WHERE seq = {victim['seq']}", request)
    assert saved == victim["event_id"]
    sql(stack, f"CREATE TABLE saved_{abs(position)} AS SELECT * FROM audit_events WHERE seq = {victim['seq']}",
        request)
    sql(stack, f"DELETE FROM audit_events WHERE seq = {victim['seq']}", request)
    assert f"seq {victim['seq']}" in _broken(stack)
    sql(stack, f"INSERT INTO audit_events SELECT * FROM saved_{abs(position)}", request)
    sql(stack, f"DROP TABLE saved_{abs(position)}", request)
    assert stack.cli("audit", "verify").returncode == 0


def test_an_inserted_row_is_named(stack: Stack, chained: Events, request: pytest.FixtureRequest) -> None:
    copy = chained[1]
    columns = ("seq, time, event_id, action, outcome, tenant_id, credits_reserved, credits_charged, "
               "credits_refunded, prev_hash, hash")
    forged = (f"{copy['seq']}, '2020-01-01 00:00:00+00', 'forged0000000000', 'info', 'ok', NULL, 0, 0, 0, "
              f"'{copy['prev_hash']}', '{copy['hash']}'")
    sql(stack, f"INSERT INTO audit_events ({columns}) VALUES ({forged})", request)
    assert f"seq {copy['seq']}" in _broken(stack)
    sql(stack, "DELETE FROM audit_events WHERE event_id = 'forged0000000000'", request)
    assert stack.cli("audit", "verify").returncode == 0
    head = int(sql(stack, "SELECT seq FROM audit_chain", request))
    tail = events(stack)[-1]
    sql(stack, f"INSERT INTO audit_events ({columns}) VALUES ({head + 1}, '2030-01-01 00:00:00+00', "
               f"'forged0000000001', 'info', 'ok', NULL, 0, 0, 0, '{tail['hash']}', '{tail['hash']}')", request)
    assert f"seq {head + 1} (event forged0000000001)" in _broken(stack)
