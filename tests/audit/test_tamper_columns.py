"""Every column the audit hash covers is covered: altering any one of them, in turn, on a settled search's
event, makes `audit verify` name that row (a column left out of the hash input would pass unnoticed)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from app.audit import service
from app.audit.chain import chain_key
from app.config import Settings
from app.db import Database
from tests.fixtures.api import search, upload
from tests.fixtures.audit_log import events, sql
from tests.fixtures.images import make_image
from tests.fixtures.stack import GATEWAY_SECRET, Stack

TEXT = {"event_id", "action", "outcome", "code", "tenant_id", "key_id", "actor", "id_search", "cache", "client_ip",
        "user_agent", "request_id", "purpose", "case_id", "prev_hash"}
INTEGER = {"credits_reserved", "credits_charged", "credits_refunded", "result_count", "upstream_ms"}
JSON_COLUMNS = {"images", "detail"}
# Every stored column but `hash`, written out here rather than taken from the code under test: a column
# dropped from the hash input must still be tampered with, and caught.
COLUMNS = ("seq", "time", *sorted(TEXT | INTEGER | JSON_COLUMNS | {"demo", "max_score"}))


def verify(stack: Stack) -> str | None:
    """`audit verify`'s verdict, in this process (the command's own function): the break, or None."""
    settings = Settings(_env_file=None, data_dir=stack.tmp / "data", database_url=stack.env["DATABASE_URL"],
                        gateway_secret=GATEWAY_SECRET)

    async def run() -> str | None:
        db = Database(settings.effective_database_url)
        try:
            _, broken = await service.verify(db, chain_key(settings.secret_bytes))
        finally:
            await db.close()
        return None if broken is None else str(broken)

    return asyncio.run(run())


def statements(stack: Stack, request: pytest.FixtureRequest, *sqls: str) -> None:
    """Several statements behind the gateway's back: one psql call on PostgreSQL."""
    if stack.env["DATABASE_URL"]:
        sql(stack, "; ".join(sqls), request)
    else:
        for one in sqls:
            sql(stack, one, request)


def altered(column: str, current: Any, postgres: bool) -> str:
    """An SQL expression for a value of `column` other than `current`."""
    if column in TEXT:
        return "'Q'" if current != "Q" else "'R'"
    if column in INTEGER:
        return str((current or 0) + 1)
    if column in JSON_COLUMNS:
        return "'[\"tampered\"]'"
    if column == "demo":
        return "FALSE" if current else "TRUE"
    if column == "max_score":
        return str((current or 0) + 0.5)
    if column == "time":
        return "time + interval '1 second'" if postgres else "datetime(time, '+1 second')"
    raise AssertionError(f"no tampering planned for {column}")


@pytest.fixture(scope="module")
def finished_event(stack: Stack) -> dict[str, Any]:
    key = stack.new_tenant("columns")[1]
    sid = upload(stack, key, make_image(901))["id_search"]
    assert search(stack, key, sid, with_progress=False)["output"] is not None
    stack.post("/api/info", key)  # the victim is not the last event: the chain goes on after it
    (event,) = [e for e in events(stack, id_search=sid) if e["action"] == "search.finished"]
    assert verify(stack) is None
    return event


def test_the_list_is_every_stored_column(stack: Stack, request: pytest.FixtureRequest) -> None:
    if stack.env["DATABASE_URL"]:
        query = "SELECT column_name FROM information_schema.columns WHERE table_name = 'audit_events'"
    else:
        query = "SELECT name FROM pragma_table_info('audit_events')"
    assert set(sql(stack, query, request).split()) - {"hash"} == set(COLUMNS)


@pytest.mark.parametrize("column", COLUMNS[1:])
def test_altering_any_hashed_column_is_named(stack: Stack, finished_event: dict[str, Any], column: str,
                                            request: pytest.FixtureRequest) -> None:
    seq = finished_event["seq"]
    postgres = bool(stack.env["DATABASE_URL"])
    value = altered(column, finished_event.get(column), postgres)
    statements(stack, request, f"CREATE TABLE saved_row AS SELECT * FROM audit_events WHERE seq = {seq}",
               f"UPDATE audit_events SET {column} = {value} WHERE seq = {seq}")
    try:
        broken = verify(stack)
        assert broken is not None and f"seq {seq} " in broken, (column, broken)
    finally:
        statements(stack, request, f"DELETE FROM audit_events WHERE seq = {seq}",
                   "INSERT INTO audit_events SELECT * FROM saved_row", "DROP TABLE saved_row")
    assert verify(stack) is None  # restored: the next column starts from a valid chain


def test_altering_seq_breaks_the_chain_there(stack: Stack, finished_event: dict[str, Any],
                                             request: pytest.FixtureRequest) -> None:
    seq = finished_event["seq"]
    sql(stack, f"UPDATE audit_events SET seq = {seq + 1_000_000} WHERE seq = {seq}", request)
    try:
        broken = verify(stack)
        assert broken is not None and (f"seq {seq} " in broken or f"seq {seq + 1_000_000} " in broken), broken
    finally:
        sql(stack, f"UPDATE audit_events SET seq = {seq} WHERE seq = {seq + 1_000_000}", request)
    assert stack.cli("audit", "verify").returncode == 0
